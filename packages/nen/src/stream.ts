// Encrypted response streams (SSE or chunked; nen.md section 7). The body is a sequence of frames
//   type (1 byte) || length (u32be) || ChaCha20-Poly1305(ciphertext || tag)
// under a per-response key HKDF(s2c key, salt = request MAC), with nonce = 0^32 || u64be(counter)
// and AAD = label || u64be(counter) || type. Frame 0 is the head (status, headers), then data
// frames, then exactly one final frame (total length) or abort frame. A reordered, dropped,
// replayed or altered frame fails the AEAD; a stream that ends before its final frame is
// truncated (ISO-6002). Portable: no Node-only APIs.
import { chacha20poly1305, concatBytes, decode, encode, hkdf, u32be, u64be, utf8, wipe } from '@yak/crypto';
import { LABEL, STREAM_FRAME_BYTES } from './constants.js';
import { NenStreamError } from './errors.js';

export const FRAME = { head: 1, data: 2, final: 3, abort: 4 } as const;
const TAG = 16;
const HEADER = 5;
const MAX_SEALED = STREAM_FRAME_BYTES + TAG;
const LABEL_BYTES = utf8(LABEL.stream);

export function streamKey(s2cKey: Uint8Array, requestMac: Uint8Array): Uint8Array {
  return hkdf('sha256', s2cKey, requestMac, utf8(LABEL.streamKey), 32);
}

function nonce(counter: number): Uint8Array {
  const n = new Uint8Array(12);
  n.set(u64be(counter), 4);
  return n;
}

function aad(counter: number, type: number): Uint8Array {
  return concatBytes(LABEL_BYTES, u64be(counter), Uint8Array.of(type));
}

/** Head of a stream: what a buffered response carries in its envelope, minus the body. */
export interface StreamHead {
  status: number;
  headers: Array<[string, string]>;
}

/** Seals frames in order. */
export class FrameSealer {
  #aead: ReturnType<typeof chacha20poly1305>;
  #counter = 0;
  #total = 0;
  #done = false;
  constructor(key: Uint8Array) {
    this.#aead = chacha20poly1305(key);
  }
  #frame(type: number, pt: Uint8Array): Uint8Array {
    if (this.#done) throw new RangeError('stream already finished');
    const c = this.#counter++;
    const sealed = this.#aead.seal(nonce(c), pt, aad(c, type));
    const out = new Uint8Array(HEADER + sealed.length);
    out[0] = type;
    out.set(u32be(sealed.length), 1);
    out.set(sealed, HEADER);
    return out;
  }
  head(h: StreamHead): Uint8Array {
    return this.#frame(FRAME.head, encode({ s: h.status, h: h.headers.map(([k, v]) => [k, v]) }));
  }
  /** One or more frames for a chunk of any size. */
  data(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let o = 0; o < chunk.length; o += STREAM_FRAME_BYTES) {
      const part = chunk.subarray(o, Math.min(chunk.length, o + STREAM_FRAME_BYTES));
      this.#total += part.length;
      out.push(this.#frame(FRAME.data, part));
    }
    return out;
  }
  final(): Uint8Array {
    const f = this.#frame(FRAME.final, u64be(this.#total));
    this.#done = true;
    return f;
  }
  abort(): Uint8Array {
    const f = this.#frame(FRAME.abort, new Uint8Array(0));
    this.#done = true;
    return f;
  }
}

/** Encrypt a response body as a framed stream; the key is wiped when the stream ends. */
export function sealStream(head: StreamHead, body: ReadableStream<Uint8Array> | null, key: Uint8Array): ReadableStream<Uint8Array> {
  const sealer = new FrameSealer(key);
  wipe(key);
  const reader = body?.getReader();
  let sentHead = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!sentHead) {
        sentHead = true;
        controller.enqueue(sealer.head(head));
        return;
      }
      if (!reader) {
        controller.enqueue(sealer.final());
        controller.close();
        return;
      }
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.enqueue(sealer.final());
          controller.close();
          return;
        }
        for (const f of sealer.data(value)) controller.enqueue(f);
      } catch {
        // The application's stream failed: tell the client with an authenticated abort frame.
        controller.enqueue(sealer.abort());
        controller.close();
      }
    },
    async cancel(reason) {
      void reader?.cancel(reason).catch(() => {});
    },
  });
}

/** Incremental frame parser and opener (client side). */
export class FrameOpener {
  #aead: ReturnType<typeof chacha20poly1305>;
  #counter = 0;
  #buf: Uint8Array = new Uint8Array(0);
  #total = 0;
  #finished = false;
  #head: StreamHead | undefined;

  constructor(key: Uint8Array) {
    this.#aead = chacha20poly1305(key);
    wipe(key);
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Feed bytes; returns the opened items in order. Throws NenStreamError on any failure. */
  push(chunk: Uint8Array): Array<{ type: 'head'; head: StreamHead } | { type: 'data'; data: Uint8Array }> {
    this.#buf = this.#buf.length ? concatBytes(this.#buf, chunk) : chunk;
    const out: Array<{ type: 'head'; head: StreamHead } | { type: 'data'; data: Uint8Array }> = [];
    for (;;) {
      if (this.#buf.length < HEADER) break;
      if (this.#finished) throw new NenStreamError('ISO-6001', { message: 'data after the final frame' });
      const type = this.#buf[0] as number;
      const len = new DataView(this.#buf.buffer, this.#buf.byteOffset + 1, 4).getUint32(0);
      if (len < TAG || len > MAX_SEALED + 64) throw new NenStreamError('ISO-6001', { message: 'bad frame length' });
      if (this.#buf.length < HEADER + len) break;
      const sealed = this.#buf.subarray(HEADER, HEADER + len);
      this.#buf = this.#buf.subarray(HEADER + len);
      const c = this.#counter++;
      let pt: Uint8Array;
      try {
        pt = this.#aead.open(nonce(c), sealed, aad(c, type));
      } catch {
        throw new NenStreamError('ISO-6001');
      }
      if (c === 0) {
        if (type !== FRAME.head) throw new NenStreamError('ISO-6001', { message: 'stream must start with its head' });
        this.#head = decodeHead(pt);
        out.push({ type: 'head', head: this.#head });
        continue;
      }
      if (type === FRAME.data) {
        this.#total += pt.length;
        out.push({ type: 'data', data: pt });
      } else if (type === FRAME.final) {
        if (pt.length !== 8 || new DataView(pt.buffer, pt.byteOffset, 8).getBigUint64(0) !== BigInt(this.#total)) {
          throw new NenStreamError('ISO-6001', { message: 'final frame length mismatch' });
        }
        this.#finished = true;
      } else if (type === FRAME.abort) {
        this.#finished = true;
        throw new NenStreamError('ISO-6003', { authenticated: true });
      } else {
        throw new NenStreamError('ISO-6001', { message: 'unexpected frame type' });
      }
    }
    return out;
  }

  /** Call at end of input: throws ISO-6002 unless the final frame arrived. */
  end(): void {
    if (!this.#finished || this.#buf.length > 0) throw new NenStreamError('ISO-6002');
  }
}

function decodeHead(pt: Uint8Array): StreamHead {
  let v: unknown;
  try {
    v = decode(pt, { maxDepth: 3, maxLength: pt.length });
  } catch {
    throw new NenStreamError('ISO-6001', { message: 'bad head' });
  }
  const o = v as { s?: unknown; h?: unknown };
  if (
    typeof o !== 'object' ||
    o === null ||
    !Number.isInteger(o.s) ||
    (o.s as number) < 200 ||
    (o.s as number) > 599 ||
    !Array.isArray(o.h)
  ) {
    throw new NenStreamError('ISO-6001', { message: 'bad head' });
  }
  const headers: Array<[string, string]> = [];
  for (const e of o.h) {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || typeof e[1] !== 'string') {
      throw new NenStreamError('ISO-6001', { message: 'bad head header' });
    }
    headers.push([e[0], e[1]]);
  }
  return { status: o.s as number, headers };
}
