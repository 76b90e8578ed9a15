// Fixed binary layouts (SPEC section 2, "Encoding") through @yak/crypto's bounds-checked
// ByteReader/ByteWriter. WireError marks a semantic layout violation found by ANNEX's own
// decoders; it is an EncodingError like the reader's truncation and trailing-byte errors, so one
// `instanceof EncodingError` check turns both into a MalformedEnvelopeError.
import { EncodingError } from '@yak/crypto';

export { ByteReader as Reader, ByteWriter as Writer } from '@yak/crypto';

/** A malformed ANNEX layout (unknown type, bad flags, bad lengths). */
export class WireError extends EncodingError {
  constructor(message: string) {
    super('YAK_CRYPTO_DECODE', message);
    this.name = 'WireError';
  }
}
