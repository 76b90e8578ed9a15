// Demo section: the foundation layer (@yak/crypto and @yak/defense).
import {
  aes256gcm,
  backend,
  CryptoError,
  concatBytes,
  encodeIdentityRecord,
  fromUtf8,
  hkdf,
  hybridKem,
  NodeIdentity,
  sha256,
  toHex,
  u64be,
  utf8,
} from '@yak/crypto';
import { ConnectionRateLimiter, SequenceTracker } from '@yak/defense';
import type { DemoUI } from './ui.js';

export async function foundationDemo(ui: DemoUI): Promise<void> {
  ui.section('Foundation: identities, hybrid key exchange, AEAD, defenses');
  const b = backend();
  ui.info(`crypto backend: ${b.name} (AEAD ${b.primitives.aead}; ML-KEM/ML-DSA ${(b.primitives.mlkem768 ?? '').split(' ')[0]})`);

  const alice = await ui.step('generate identity "alice" (ML-DSA-65 + X-Wing)', () => NodeIdentity.generate({ networkId: 'yak-demo' }));
  const bob = await ui.step('generate identity "bob"', () => NodeIdentity.generate({ networkId: 'yak-demo' }));
  ui.info(`alice = ${alice.nodeId}`);
  ui.info(`bob   = ${bob.nodeId}`);

  await ui.step('verify both signed identity records', () => {
    for (const id of [alice, bob]) NodeIdentity.verifyRecord(id.publicRecord(), { networkId: 'yak-demo' });
  });
  ui.info(`record size: ${encodeIdentityRecord(alice.publicRecord()).length} bytes (canonical CBOR, ML-DSA-65 signed)`);

  const forged = { ...bob.publicRecord(), nodeId: alice.nodeId };
  if (!NodeIdentity.isValidRecord(forged)) ui.blocked("record claiming alice's node id with bob's key", 'node id does not match the key');
  else throw new Error('forged record accepted');

  // Alice encapsulates to Bob's static X-Wing key; both derive per-direction keys with HKDF.
  const { cipherText, sharedSecret } = await ui.step('hybrid key exchange: alice encapsulates to bob (X25519 + ML-KEM-768)', () =>
    hybridKem.encapsulate(bob.kemPublicKey),
  );
  const bobSecret = await ui.step('bob decapsulates', () => bob.kemDecapsulate(cipherText));
  const transcript = sha256(concatBytes(utf8('yak-demo/v1'), utf8(alice.nodeId), utf8(bob.nodeId), cipherText));
  const kAlice = hkdf('sha256', sharedSecret, transcript, utf8('yak-demo a->b'), 32);
  const kBob = hkdf('sha256', bobSecret, transcript, utf8('yak-demo a->b'), 32);
  ui.info(
    `ciphertext ${cipherText.length} bytes; both sides derived the same key: ${toHex(sha256(kAlice)) === toHex(sha256(kBob)) ? 'yes' : 'NO'}`,
  );
  sharedSecret.fill(0);
  bobSecret.fill(0);

  const tx = aes256gcm(kAlice);
  const rx = aes256gcm(kBob);
  const seqTracker = new SequenceTracker({ windowSize: 2048 });
  const sealMsg = (seq: number, text: string) => {
    const nonce = concatBytes(new Uint8Array(4), u64be(seq));
    return { seq, sealed: tx.seal(nonce, utf8(text), u64be(seq)) };
  };
  const openMsg = (m: { seq: number; sealed: Uint8Array }) => {
    const nonce = concatBytes(new Uint8Array(4), u64be(m.seq));
    const pt = rx.open(nonce, m.sealed, u64be(m.seq));
    const check = seqTracker.validate(alice.nodeId, m.seq);
    if (!check.valid) throw new Error(`replay: ${check.reason}`);
    return fromUtf8(pt);
  };
  const m1 = sealMsg(1, 'hello bob, this is alice');
  const text = await ui.step('AES-256-GCM round trip (sequence number in the AAD)', () => openMsg(m1));
  ui.info(`bob read: "${text}"`);

  const tampered = { seq: 2, sealed: sealMsg(2, 'pay 10 yak').sealed.slice() };
  tampered.sealed[3] = (tampered.sealed[3] as number) ^ 0x01;
  try {
    openMsg(tampered);
    throw new Error('tampered message accepted');
  } catch (e) {
    if (!(e instanceof CryptoError && e.code === 'YAK_CRYPTO_AUTH')) throw e;
    ui.blocked('message with one flipped bit', e.code);
  }
  try {
    openMsg(m1);
    throw new Error('replay accepted');
  } catch (e) {
    if (!(e as Error).message.startsWith('replay')) throw e;
    ui.blocked('replay of message #1', 'sequence already seen (RFC 6479 window)');
  }

  const limiter = new ConnectionRateLimiter({ maxMessagesPerSecond: 50, banThreshold: 5, banDuration: 300_000 });
  let allowed = 0;
  let refused = 0;
  for (let i = 0; i < 500; i++) {
    if (limiter.checkMessage('flooder').allowed) allowed++;
    else refused++;
  }
  const honest = limiter.checkMessage('honest-peer').allowed;
  ui.blocked(`flooder sending 500 messages at once (${allowed} allowed, ${refused} refused)`, 'rate limit, then ban');
  ui.info(`an honest peer is still allowed: ${honest ? 'yes' : 'no'}`);
  ui.summary('identities verified', 2);
  ui.summary('attacks rejected (foundation)', 4);
}
