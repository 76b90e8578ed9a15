// The decrypted response the client hands back: a real `Response` whose body is already in
// memory. Portable: only Response, Blob and TextDecoder.
import { bodyInit } from './http.js';

// Fetch standard, "UTF-8 decode": BOM stripped, invalid sequences replaced (not fatal), which is
// what Body.text() and Body.json() do.
const utf8Decode = new TextDecoder();

/**
 * In Node (undici), building a Response body costs a web ReadableStream, and reading it back
 * with `json()` or `text()` costs a pass through that stream: together about a tenth of a
 * 1 KiB encrypted round trip. This subclass serves the body methods straight from the decrypted
 * bytes and builds a real Response only when the stream itself is asked for (`body`) or for
 * `formData()`.
 *
 * Other runtimes (Deno, Bun, workerd, browsers) read a Response's internal body when it is
 * handed to their own APIs (a server returning it, the Cache API), which would see this
 * subclass as empty; there the client builds a plain Response.
 */
class BufferedResponse extends Response {
  readonly #bytes: Uint8Array;
  #used = false;
  #inner: Response | undefined;

  constructor(bytes: Uint8Array, init: { status: number; headers: HeadersInit }) {
    super(null, init);
    this.#bytes = bytes;
  }

  /** The equivalent stream-backed Response, built once; later reads go through it. */
  #materialise(): Response {
    if (!this.#inner) {
      this.#inner = new Response(bodyInit(this.#bytes, this.headers.get('content-type')), {
        status: this.status,
        statusText: this.statusText,
        headers: this.headers,
      });
      // Already consumed through the fast methods: the stream must read as disturbed too.
      if (this.#used) void this.#inner.arrayBuffer().catch(() => {});
    }
    return this.#inner;
  }

  #take(): Uint8Array {
    if (this.#used) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    return this.#bytes;
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    return this.#materialise().body;
  }

  override get bodyUsed(): boolean {
    return this.#inner ? this.#inner.bodyUsed : this.#used;
  }

  override async text(): Promise<string> {
    if (this.#inner) return this.#inner.text();
    return utf8Decode.decode(this.#take());
  }

  override async json(): Promise<unknown> {
    if (this.#inner) return this.#inner.json();
    return JSON.parse(utf8Decode.decode(this.#take()));
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#inner) return this.#inner.arrayBuffer();
    const b = this.#take();
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#inner) return new Uint8Array(await this.#inner.arrayBuffer());
    return Uint8Array.from(this.#take());
  }

  override async blob(): Promise<Blob> {
    if (this.#inner) return this.#inner.blob();
    return new Blob([Uint8Array.from(this.#take())], { type: this.headers.get('content-type') ?? '' });
  }

  override async formData(): Promise<FormData> {
    return this.#materialise().formData();
  }

  override clone(): Response {
    if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
    if (this.#inner) return this.#inner.clone();
    return new BufferedResponse(this.#bytes, { status: this.status, headers: this.headers });
  }
}

// Feature detection only (looked up on globalThis): the client does not need Node.
const runtime = globalThis as { process?: { versions?: { node?: string; bun?: string } }; Deno?: unknown };
const versions = runtime.process?.versions;
const isNode = typeof versions?.node === 'string' && versions.bun === undefined && runtime.Deno === undefined;

/**
 * A Response carrying `bytes` (`null` for a status that has no body). The bytes must not change
 * afterwards: the body methods read them as they are.
 */
export function bufferedResponse(bytes: Uint8Array | null, init: { status: number; headers: HeadersInit }): Response {
  if (bytes === null) return new Response(null, init);
  if (isNode) return new BufferedResponse(bytes, init);
  const headers = new Headers(init.headers);
  return new Response(bodyInit(bytes, headers.get('content-type')), { status: init.status, headers });
}
