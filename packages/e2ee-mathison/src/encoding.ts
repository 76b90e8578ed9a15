// base64url helpers for the string fields of EncryptedMessage, handshake messages and public keys.
// The format is RFC 4648 section 5 base64url WITHOUT padding (documented in the README). Node's
// decoder is lenient (skips bad characters, accepts padding and '+/'), so decoding re-encodes and
// compares: every byte string then has exactly one accepted text form.

/** Bytes to unpadded base64url. */
export function b64u(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
}

/**
 * Strict unpadded base64url decode; returns undefined on anything non-canonical or longer than
 * `maxChars` (checked before decoding, so oversize input costs nothing).
 */
export function unb64u(text: unknown, maxChars: number): Buffer | undefined {
  if (typeof text !== 'string' || text.length > maxChars) return undefined;
  const out = Buffer.from(text, 'base64url');
  if (out.toString('base64url') !== text) return undefined;
  return out;
}

/** Characters of the unpadded base64url form of `n` bytes. */
export function b64uLength(n: number): number {
  return Math.ceil((n * 4) / 3);
}
