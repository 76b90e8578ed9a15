import { CryptoError } from '@yak/crypto';
import { expect } from 'vitest';

/**
 * Run `fn` and return the `code` of what it throws (undefined when it does not throw), asserting
 * the thrown value is an instance of `cls` (CryptoError or one of its subclasses).
 */
export function thrownCode(fn: () => unknown, cls: abstract new (...args: never[]) => CryptoError = CryptoError): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(cls);
    return (e as CryptoError).code;
  }
  return undefined;
}

/** Reference base32 (RFC 4648 section 6, lowercase, unpadded), bit by bit, independent of the package's. */
export function refBase32(bytes: Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  while (bits.length % 5 !== 0) bits += '0';
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet[Number.parseInt(bits.slice(i, i + 5), 2)];
  return out;
}
