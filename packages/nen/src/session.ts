// Server-side session records and their canonical encoding for the store (nen.md section 5).
// Records hold secret keys; with `sessionEncryptionKey` they are sealed (AES-256-GCM, AAD = label
// and session id) before they leave the process, which matters for shared stores (Redis, Upstash).
import { aes256gcm, concatBytes, decode, encode, randomBytes, utf8, wipe } from '@yak/crypto';
import { KEY_BYTES, LABEL, SID_BYTES } from './constants.js';
import { NenServiceError } from './errors.js';
import type { SessionKeys } from './handshake.js';

export interface SessionRecord {
  sid: Uint8Array;
  /** Generation: +1 on every rekey and rotation. */
  gen: number;
  createdAt: number;
  /** Absolute expiry, fixed at the handshake; rekey and rotate copy it unchanged. */
  expiresAt: number;
  idleTtlMs: number;
  keys: SessionKeys;
  /** When the keys were last replaced (handshake or rekey). */
  keyedAt: number;
  clientKey: Uint8Array | null;
  clientId: string | null;
}

const VERSION = 1;

export function encodeRecord(r: SessionRecord, sealKey?: Uint8Array): Uint8Array {
  const plain = encode({
    v: VERSION,
    gen: r.gen,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    idleTtlMs: r.idleTtlMs,
    keyedAt: r.keyedAt,
    k: [r.keys.c2sKey, r.keys.s2cKey, r.keys.c2sMac, r.keys.s2cMac, r.keys.chain],
    ck: r.clientKey,
    cid: r.clientId,
  });
  if (!sealKey) return plain;
  const n = randomBytes(12);
  const sealed = aes256gcm(sealKey).seal(n, plain, concatBytes(utf8(LABEL.session), r.sid));
  wipe(plain);
  return concatBytes(n, sealed);
}

function corrupt(why: string): NenServiceError {
  return new NenServiceError('ISO-9001', { message: `stored session is unreadable (${why})` });
}

export function decodeRecord(sid: Uint8Array, data: Uint8Array, sealKey?: Uint8Array): SessionRecord {
  let plain = data;
  if (sealKey) {
    if (data.length < 12 + 16) throw corrupt('short');
    try {
      plain = aes256gcm(sealKey).open(data.subarray(0, 12), data.subarray(12), concatBytes(utf8(LABEL.session), sid));
    } catch {
      throw corrupt('seal');
    }
  }
  let v: unknown;
  try {
    v = decode(plain, { maxDepth: 2, maxLength: 16 * 1024 });
  } catch {
    throw corrupt('encoding');
  } finally {
    if (sealKey) wipe(plain);
  }
  const o = v as Record<string, unknown>;
  const int = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  if (typeof o !== 'object' || o === null || o.v !== VERSION) throw corrupt('version');
  if (!int(o.gen) || !int(o.createdAt) || !int(o.expiresAt) || !int(o.idleTtlMs) || !int(o.keyedAt)) throw corrupt('fields');
  const k = o.k as unknown[];
  if (!Array.isArray(k) || k.length !== 5 || !k.every((x) => x instanceof Uint8Array && x.length === KEY_BYTES)) throw corrupt('keys');
  if (o.ck !== null && !(o.ck instanceof Uint8Array)) throw corrupt('client key');
  if (o.cid !== null && typeof o.cid !== 'string') throw corrupt('client id');
  if (sid.length !== SID_BYTES) throw corrupt('sid');
  const [c2sKey, s2cKey, c2sMac, s2cMac, chain] = k as Uint8Array[];
  return {
    sid,
    gen: o.gen as number,
    createdAt: o.createdAt as number,
    expiresAt: o.expiresAt as number,
    idleTtlMs: o.idleTtlMs as number,
    keyedAt: o.keyedAt as number,
    keys: { c2sKey: c2sKey!, s2cKey: s2cKey!, c2sMac: c2sMac!, s2cMac: s2cMac!, chain: chain! },
    clientKey: (o.ck as Uint8Array | null) ?? null,
    clientId: (o.cid as string | null) ?? null,
  };
}
