// The ANNEX key schedule (docs/protocol/annex.md sections 3-4, 6). Pure and synchronous.
//
// The handshake is KEM-authenticated in the style of KEMTLS / PQNoise XX, because an initiator
// several hops away does not know the responder's KEM key in advance:
//   1 key_exchange  I -> R  record_I, ephemeral X-Wing pk_e
//   2 key_response  R -> I  record_R, ct_E = Encaps(pk_e), ct_I = Encaps(kem_I)
//   3 encrypted     I -> R  header carries ct_R = Encaps(kem_R); body sealed with the new keys
//   4 encrypted     R -> I  first envelope sealed with the new keys (key confirmation)
// ss_E gives forward secrecy; ss_I can only be recovered by the holder of I's static key and ss_R
// by the holder of R's, so the AEAD keys, derived from all three, authenticate both identities.
// @yak/mesh-core keeps its own link handshake internal (not exported), and its layout is
// specific to links (network id, fingerprint, resumption tickets); this schedule follows the
// same construction with its own labels so link and annex keys can never coincide.
import { hkdfExpand, hkdfExtract, sha256, u32be, utf8, wipe } from '@yak/crypto';

const LABEL = utf8('yak/annex/v1');
const REKEY_LABEL = utf8('yak/annex/v1 rekey');
const INFO_I2R = utf8('yak/annex/v1 key i2r');
const INFO_R2I = utf8('yak/annex/v1 key r2i');
const INFO_CHAIN = utf8('yak/annex/v1 chain');

/** Directional AEAD keys and the chain key rekeys start from. */
export interface SessionKeys {
  /** Initiator -> responder. */
  i2r: Uint8Array;
  /** Responder -> initiator. */
  r2i: Uint8Array;
  /** Input to the next rekey (annex.md section 6); never used as an AEAD key. */
  chain: Uint8Array;
}

/** SHA-256 over the label and every part, each length-prefixed (annex.md section 4). */
function hashParts(label: Uint8Array, parts: Uint8Array[]): Uint8Array {
  let n = label.length;
  for (const p of parts) n += 4 + p.length;
  const buf = new Uint8Array(n);
  buf.set(label, 0);
  let o = label.length;
  for (const p of parts) {
    buf.set(u32be(p.length), o);
    buf.set(p, o + 4);
    o += 4 + p.length;
  }
  return sha256(buf);
}

/**
 * Transcript hash over the whole key_exchange and key_response envelopes (session id, flags,
 * both identity records, the ephemeral key and both ciphertexts) and the finishing ct_R.
 */
export function transcriptHash(keyExchange: Uint8Array, keyResponse: Uint8Array, ctR: Uint8Array): Uint8Array {
  return hashParts(LABEL, [keyExchange, keyResponse, ctR]);
}

function expand(ikm: Uint8Array, salt: Uint8Array): SessionKeys {
  // Three HKDF outputs over one ikm and salt: one extraction (RFC 5869 section 2), three expansions.
  const prk = hkdfExtract('sha256', ikm, salt);
  try {
    return {
      i2r: hkdfExpand('sha256', prk, INFO_I2R, 32),
      r2i: hkdfExpand('sha256', prk, INFO_R2I, 32),
      chain: hkdfExpand('sha256', prk, INFO_CHAIN, 32),
    };
  } finally {
    wipe(prk, ikm);
  }
}

/** Keys of epoch 0: HKDF(ss_E || ss_I || ss_R, salt = transcript hash). Wipes the three secrets. */
export function deriveSessionKeys(ssE: Uint8Array, ssI: Uint8Array, ssR: Uint8Array, th: Uint8Array): SessionKeys {
  const ikm = new Uint8Array(ssE.length + ssI.length + ssR.length);
  ikm.set(ssE, 0);
  ikm.set(ssI, ssE.length);
  ikm.set(ssR, ssE.length + ssI.length);
  wipe(ssE, ssI, ssR);
  return expand(ikm, th);
}

/**
 * Keys of epoch `epoch` after a rekey: HKDF(chain || ss, salt = H(session id, epoch, pk, ct)).
 * The fresh hybrid secret gives forward secrecy for the new epoch; the chain key binds it to
 * everything before. Wipes `ss` (the caller wipes the old chain key with the old epoch).
 */
export function deriveRekeyKeys(
  chain: Uint8Array,
  ss: Uint8Array,
  sessionId: Uint8Array,
  epoch: number,
  ephemeralKey: Uint8Array,
  cipherText: Uint8Array,
): SessionKeys {
  const ikm = new Uint8Array(chain.length + ss.length);
  ikm.set(chain, 0);
  ikm.set(ss, chain.length);
  wipe(ss);
  const salt = hashParts(REKEY_LABEL, [sessionId, u32be(epoch), ephemeralKey, cipherText]);
  return expand(ikm, salt);
}

/** AES-GCM nonce of an envelope: epoch (u32) || sequence (u64). Unique per key (annex.md section 5). */
export function nonceFor(epoch: number, seq: number): Uint8Array {
  const n = new Uint8Array(12);
  const v = new DataView(n.buffer);
  v.setUint32(0, epoch);
  v.setUint32(4, Math.floor(seq / 0x1_0000_0000));
  v.setUint32(8, seq >>> 0);
  return n;
}
