// Opt-in per-message signatures (seed 000 "Message Authentication"; SPEC section 2, "Signatures
// off the hot path"). Inside a channel the AEAD keys already authenticate the sender; a signature
// adds a proof a third party can check. It covers canonical CBOR, never JSON text.
import { encode, fromHex, isNodeId, NodeIdentity, nodeIdFromPublicKey, sha256, utf8 } from '@yak/crypto';

/** ML-DSA-65 context string of annex message signatures. */
export const PROOF_CONTEXT = utf8('yak/annex/message/v1');

/** A transferable proof that `signer` sent a payload to `recipient` in a session. */
export interface AnnexProof {
  signer: string;
  recipient: string;
  sessionId: string;
  timestamp: number;
  /** Payload type (0 bytes, 1 string, 2 JSON) and SHA-256 of the payload's encoded bytes. */
  payloadType: number;
  payloadHash: Uint8Array;
  /** The signer's ML-DSA-65 public key (its node id commits to it). */
  signPublicKey: Uint8Array;
  signature: Uint8Array;
}

/** The canonical bytes a proof's signature covers. */
export function proofMessage(p: Omit<AnnexProof, 'signature' | 'signPublicKey'>): Uint8Array {
  return encode({
    v: 1,
    signer: p.signer,
    recipient: p.recipient,
    sessionId: fromHex(p.sessionId),
    timestamp: p.timestamp,
    payloadType: p.payloadType,
    payloadHash: p.payloadHash,
  });
}

/**
 * Check a proof: the public key matches the signer's node id and the signature verifies. Pass
 * the payload's encoded bytes to also check the hash. Never throws for malformed proofs.
 */
export function verifyAnnexProof(proof: AnnexProof, payloadBytes?: Uint8Array): boolean {
  try {
    if (!isNodeId(proof.signer) || !isNodeId(proof.recipient)) return false;
    if (nodeIdFromPublicKey(proof.signPublicKey) !== proof.signer) return false;
    if (payloadBytes !== undefined) {
      const h = sha256(payloadBytes);
      if (h.length !== proof.payloadHash.length || h.some((b, i) => b !== proof.payloadHash[i])) return false;
    }
    return NodeIdentity.verify(proof.signPublicKey, proofMessage(proof), proof.signature, PROOF_CONTEXT);
  } catch {
    return false;
  }
}
