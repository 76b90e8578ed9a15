// The primitive surface a backend must provide. Everything above it (argument checks, the
// all-zero X25519 check, X-Wing, identities) is shared, so every backend runs the same code
// and passes the same vectors (SPEC section 2, "Crypto backends").

export type HashName = 'sha256' | 'sha384' | 'sha512';
export type AeadName = 'aes-256-gcm' | 'chacha20-poly1305';
/** An AEAD key in the form its backend prefers; only ever passed back to the backend that made it. */
export type AeadKey = object;

export interface Backend {
  /** Stable backend name: 'node' or 'noble'. */
  readonly name: 'node' | 'noble';
  /** What implements each primitive, for `backend()`. */
  readonly report: Readonly<Record<string, string>>;
  /** Prepare a 32-byte AEAD key once for many calls (a KeyObject on node, a copy on noble). */
  aeadKey(alg: AeadName, key: Uint8Array): AeadKey;
  /**
   * Seal the concatenation of `parts`; the result is `headroom` zero bytes, then ciphertext,
   * then the 16-byte tag, in one fresh allocation.
   */
  aeadSeal(
    alg: AeadName,
    key: AeadKey,
    nonce: Uint8Array,
    parts: readonly Uint8Array[],
    aad: Uint8Array | undefined,
    headroom: number,
  ): Uint8Array;
  /** Returns null on authentication failure (the caller throws the typed error). */
  aeadOpen(alg: AeadName, key: AeadKey, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | null;
  hash(alg: HashName | 'sha3-256', data: Uint8Array): Uint8Array;
  hmac(alg: HashName, key: Uint8Array, data: Uint8Array): Uint8Array;
  /** X25519 scalar multiplication with the base point. */
  x25519Public(secretKey: Uint8Array): Uint8Array;
  /** X25519 DH; may return all zeros (the caller rejects that). */
  x25519(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /**
   * An X25519 secret key loaded once for its public key and several DH operations. On node,
   * loading a raw private key into OpenSSL costs a scalar multiplication of its own (the public
   * key is computed on import), as much as the DH itself: X-Wing loads each key once, not twice.
   */
  x25519Secret(secretKey: Uint8Array): X25519Secret;
  ed25519Public(secretKey: Uint8Array): Uint8Array;
  ed25519Sign(secretKey: Uint8Array, msg: Uint8Array): Uint8Array;
  ed25519Verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
  /** scrypt key derivation for the key store. */
  scrypt(passphrase: Uint8Array, salt: Uint8Array, N: number, r: number, p: number, dkLen: number): Uint8Array;
}

/** A loaded X25519 secret key (see {@link Backend.x25519Secret}). */
export interface X25519Secret {
  /** X25519(secretKey, 9): the public key. */
  readonly publicKey: Uint8Array;
  /** X25519 DH with `publicKey`; may return all zeros (the caller rejects that). */
  dh(publicKey: Uint8Array): Uint8Array;
  /** Forget the key (wipes the copy a backend keeps in memory it owns). */
  destroy(): void;
}
