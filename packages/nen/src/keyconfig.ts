// The server's published key configuration (nen.md section 2): its X-Wing public key, the
// algorithms and a validity period, signed with the server's ML-DSA-65 identity key. Clients
// pin the signing key (or the node id derived from it, or the whole configuration) and encapsulate
// to the KEM key, which authenticates the server without a per-handshake signature.
import {
  type CborValue,
  constantTimeEqual,
  decode,
  encode,
  fromBase64url,
  hybridKem,
  mldsa65,
  NodeIdentity,
  nodeIdFromPublicKey,
  sha256,
  utf8,
} from '@yak/crypto';
import { KEY_CONFIG_MAX_BYTES, LABEL, PROTOCOL_VERSION, SUITE } from './constants.js';
import { NenHandshakeError } from './errors.js';

/** A signed key configuration. Times are Unix milliseconds. */
export interface KeyConfig {
  v: 1;
  /** Node id of the signing key (SPEC section 2, "Identity"). */
  serverId: string;
  signPublicKey: Uint8Array;
  kemPublicKey: Uint8Array;
  kem: typeof SUITE.kem;
  aead: typeof SUITE.aead;
  kdf: typeof SUITE.kdf;
  mac: typeof SUITE.mac;
  sig: typeof SUITE.sig;
  notBefore: number;
  notAfter: number;
  /** ML-DSA-65 over the canonical CBOR of every other field, context "yak/nen/key-config/v1". */
  signature: Uint8Array;
}

/** What signs a key configuration: a `NodeIdentity` fits. */
export interface KeyConfigSigner {
  readonly signPublicKey: Uint8Array;
  readonly kemPublicKey: Uint8Array;
  sign(msg: Uint8Array, context?: Uint8Array): Uint8Array;
}

const CTX = utf8(LABEL.keyConfigContext);
const KEYS = ['v', 'serverId', 'signPublicKey', 'kemPublicKey', 'kem', 'aead', 'kdf', 'mac', 'sig', 'notBefore', 'notAfter', 'signature'];

function unsigned(c: Omit<KeyConfig, 'signature'>): CborValue {
  return {
    v: c.v,
    serverId: c.serverId,
    signPublicKey: c.signPublicKey,
    kemPublicKey: c.kemPublicKey,
    kem: c.kem,
    aead: c.aead,
    kdf: c.kdf,
    mac: c.mac,
    sig: c.sig,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
  };
}

/** Create and sign a key configuration valid in [notBefore, notAfter). One ML-DSA signature. */
export function signKeyConfig(signer: KeyConfigSigner, notBefore: number, notAfter: number): KeyConfig {
  if (!Number.isSafeInteger(notBefore) || !Number.isSafeInteger(notAfter) || notAfter <= notBefore || notBefore < 0) {
    throw new RangeError('notBefore/notAfter must be safe integers with notBefore < notAfter');
  }
  const body = {
    v: PROTOCOL_VERSION as 1,
    serverId: nodeIdFromPublicKey(signer.signPublicKey),
    signPublicKey: Uint8Array.from(signer.signPublicKey),
    kemPublicKey: Uint8Array.from(signer.kemPublicKey),
    ...SUITE,
    notBefore,
    notAfter,
  };
  const signature = signer.sign(encode(unsigned(body)), CTX);
  const cfg: KeyConfig = { ...body, signature };
  checkShape(cfg);
  return cfg;
}

/** Canonical CBOR bytes of a configuration (served at the well-known path, hashed into transcripts). */
export function encodeKeyConfig(c: KeyConfig): Uint8Array {
  checkShape(c);
  return encode({ ...(unsigned(c) as object), signature: c.signature } as CborValue);
}

/** Parse a configuration (structure only; see {@link verifyKeyConfig}). Raises ISO-1105. */
export function decodeKeyConfig(bytes: Uint8Array): KeyConfig {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  if (bytes.length > KEY_CONFIG_MAX_BYTES) throw new NenHandshakeError('ISO-1105', { message: 'key configuration too large' });
  let v: unknown;
  try {
    v = decode(bytes, { maxDepth: 2, maxLength: KEY_CONFIG_MAX_BYTES });
  } catch {
    throw new NenHandshakeError('ISO-1105', { message: 'key configuration is not canonical CBOR' });
  }
  checkShape(v);
  return v;
}

function checkShape(c: unknown): asserts c is KeyConfig {
  const bad = (why: string): never => {
    throw new NenHandshakeError('ISO-1105', { message: `key configuration: ${why}` });
  };
  if (typeof c !== 'object' || c === null || Array.isArray(c) || c instanceof Uint8Array) bad('not a map');
  const x = c as Record<string, unknown>;
  for (const k of Object.keys(x)) if (!KEYS.includes(k)) bad(`unknown field ${k}`);
  if (x.v !== PROTOCOL_VERSION) throw new NenHandshakeError('ISO-1002', { message: 'unsupported key configuration version' });
  for (const [k, want] of Object.entries(SUITE)) {
    if (x[k] !== want) throw new NenHandshakeError('ISO-1002', { message: `unsupported ${k}` });
  }
  if (typeof x.serverId !== 'string') bad('serverId');
  if (!(x.signPublicKey instanceof Uint8Array) || x.signPublicKey.length !== mldsa65.publicKeyLength) bad('signPublicKey');
  if (!(x.kemPublicKey instanceof Uint8Array) || x.kemPublicKey.length !== hybridKem.publicKeyLength) bad('kemPublicKey');
  if (!Number.isSafeInteger(x.notBefore) || !Number.isSafeInteger(x.notAfter) || (x.notAfter as number) <= (x.notBefore as number)) {
    bad('validity');
  }
  if (!(x.signature instanceof Uint8Array) || x.signature.length !== mldsa65.signatureLength) bad('signature length');
}

/**
 * Key id: SHA-256 over the keys and algorithms of a configuration, without its validity or
 * signature. Every re-signed configuration of one identity, and every server instance sharing
 * the identity, has the same id, so the transcript binds what matters (the KEM key and the
 * suite) without tying a session to one particular signature (nen.md section 3).
 */
export function keyConfigId(c: Pick<KeyConfig, 'signPublicKey' | 'kemPublicKey'>): Uint8Array {
  return sha256(encode([LABEL.keyId, c.signPublicKey, c.kemPublicKey, SUITE.kem, SUITE.aead, SUITE.kdf, SUITE.mac, SUITE.sig]));
}

/** How the client pins the server (nen.md section 2). */
export interface KeyConfigPin {
  /** The server's ML-DSA-65 public key (bytes or base64url) or its node id (`node-...`). */
  serverKey?: Uint8Array | string;
}

/**
 * Verify a configuration: shape, node id, signature, pin and validity at `now`. Raises
 * ISO-1105 (malformed), ISO-1101 (bad signature), ISO-1102 (not the pinned server) or ISO-1103
 * (outside its validity). Returns the configuration and its key id (which the transcript binds).
 */
export function verifyKeyConfig(c: KeyConfig, pin: KeyConfigPin, now: number): { config: KeyConfig; keyId: Uint8Array } {
  checkShape(c);
  if (nodeIdFromPublicKey(c.signPublicKey) !== c.serverId) {
    throw new NenHandshakeError('ISO-1102', { message: 'serverId does not match the signing key' });
  }
  if (pin.serverKey !== undefined) {
    const k = pin.serverKey;
    let match: boolean;
    if (typeof k === 'string' && k.startsWith('node-')) match = k === c.serverId;
    else {
      let pk: Uint8Array;
      try {
        pk = typeof k === 'string' ? fromBase64url(k) : k;
      } catch {
        throw new TypeError('serverKey must be an ML-DSA-65 public key (bytes or base64url) or a node id');
      }
      match = constantTimeEqual(pk, c.signPublicKey);
    }
    if (!match) throw new NenHandshakeError('ISO-1102');
  }
  if (!NodeIdentity.verify(c.signPublicKey, encode(unsigned(c)), c.signature, CTX)) throw new NenHandshakeError('ISO-1101');
  if (now < c.notBefore || now >= c.notAfter) throw new NenHandshakeError('ISO-1103');
  return { config: c, keyId: keyConfigId(c) };
}
