// Small web-standard HTTP helpers: bounded body reads (SPEC section 2, "Resource bounds").
// Portable: only Request/Response/ReadableStream.

/** Thrown by {@link readBounded} when the body exceeds the limit. */
export class BodyTooLarge extends Error {
  constructor() {
    super('body too large');
    this.name = 'BodyTooLarge';
  }
}

/**
 * Read a body into memory, refusing more than `max` bytes (without reading the excess). A
 * declared Content-Length above the limit is refused before reading anything.
 */
export async function readBounded(body: ReadableStream<Uint8Array> | null, max: number, declared?: string | null): Promise<Uint8Array> {
  if (declared) {
    const n = Number(declared);
    if (Number.isFinite(n) && n > max) {
      void body?.cancel().catch(() => {});
      throw new BodyTooLarge();
    }
  }
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        void reader.cancel().catch(() => {});
        throw new BodyTooLarge();
      }
      parts.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const dec = new TextDecoder('utf-8', { fatal: true });

/**
 * Read the body of a Request or Response with the limit. When the length is declared and within
 * the limit, `arrayBuffer()` is used (much cheaper than a reader loop on web streams); the
 * runtime enforces the declared length.
 */
export async function readBody(r: Request | Response, max: number): Promise<Uint8Array> {
  const declared = r.headers.get('content-length');
  if (declared !== null && /^\d{1,15}$/.test(declared) && Number(declared) <= max) {
    const b = new Uint8Array(await r.arrayBuffer());
    if (b.length > max) throw new BodyTooLarge();
    return b;
  }
  return readBounded(r.body, max, declared);
}

/**
 * {@link readBody} as text (UTF-8 decoded as `Body.text()` does: invalid sequences replaced).
 * With a declared length within the limit, `text()` skips the byte copy and the separate decode.
 */
export function readBodyText(r: Request | Response, max: number): Promise<string> {
  const declared = r.headers.get('content-length');
  if (declared !== null && /^\d{1,15}$/.test(declared) && Number(declared) <= max) return r.text();
  return readBounded(r.body, max, declared).then((b) => lenient.decode(b));
}

const lenient = new TextDecoder();

/** Strict UTF-8 decode; undefined on invalid input. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return dec.decode(bytes);
  } catch {
    return undefined;
  }
}

const exact = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A body for a Request/Response built from decrypted bytes. Text-like content is passed as a
 * string (undici builds string bodies about twice as fast as byte bodies); the decode is strict
 * and keeps a BOM, so the bytes the application reads are exactly the ones that were sent.
 */
export function bodyInit(bytes: Uint8Array, contentType: string | null): BodyInit {
  if (bytes.length > 0 && contentType && /^(text\/|application\/([a-z0-9.+-]*\+)?json\b)/i.test(contentType)) {
    try {
      return exact.decode(bytes);
    } catch {
      // Not UTF-8 after all: fall through to bytes.
    }
  }
  return bytes as BodyInit;
}

/** Statuses that cannot carry a body (Fetch standard "null body status"). */
export function isNullBodyStatus(s: number): boolean {
  return s === 101 || s === 103 || s === 204 || s === 205 || s === 304;
}

/** "path?query" of a URL, as the request MAC covers it. */
export function requestTarget(url: URL): string {
  return url.pathname + url.search;
}
