// Phase 1 and phase 2 of the handshake: round trips in both modes, MITM substitution, wrong
// identities, tampered and malformed handshake messages, timeouts, aborts and bounds.
import { x25519 } from '@yak/crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  confirmation,
  decodeFinish,
  decodeInit,
  decodeResponse,
  dh,
  encodeFinish,
  encodeInit,
  encodeResponse,
  sessionKeys,
  transcript,
} from '../src/handshake.js';
import {
  ClosedError,
  createHandshakePipe,
  HandshakeAbortedError,
  HandshakeAuthError,
  HandshakeError,
  HandshakeMalformedError,
  HandshakeMismatchError,
  HandshakeTimeoutError,
  type HandshakeTransport,
  HandshakeTransportError,
  MeshCrypto,
  NoIdentityError,
  SessionLimitError,
  WrongIdentityError,
} from '../src/index.js';
import { handshake, pair, rejected, text } from './helpers.js';

/** A transport that records what it is given and answers from a script. */
function silentTransport(): HandshakeTransport & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    send(m) {
      sent.push(m);
    },
    receive({ signal }) {
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    },
  };
}

afterEach(() => {
  vi.useRealTimers();
});

function flip(bytes: Uint8Array, i: number, mask: number): void {
  bytes[i] = (bytes[i] as number) ^ mask;
}

describe('classical handshake', () => {
  it('both sides agree on the session and exchange messages both ways', async () => {
    const p = await pair();
    expect(p.aliceSession.session_id).toBe(p.bobSession.session_id);
    expect(p.aliceSession.session_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(p.aliceSession.role).toBe('initiator');
    expect(p.bobSession.role).toBe('responder');
    expect(p.aliceSession.mode).toBe('classical');
    expect(p.aliceSession.aead).toBe('aes-256-gcm');
    expect(p.bob.decrypt(p.alice.encrypt(text('ping'), p.aliceSession), p.bobSession).toString()).toBe('ping');
    expect(p.alice.decrypt(p.bob.encrypt(text('pong'), p.bobSession), p.aliceSession).toString()).toBe('pong');
    // Keys are per direction: each side's sending key differs.
    expect(p.aliceSession.encryptKey.equals(p.bobSession.encryptKey)).toBe(false);
    expect(p.aliceSession.macKey.equals(p.bobSession.macKey)).toBe(false);
    expect(p.alice.getStats().handshakesCompleted).toBe(1);
    expect(p.bob.getStats().sessions).toBe(1);
  });

  it('two handshakes between the same peers give independent sessions', async () => {
    const p = await pair();
    const second = await handshake(p.alice, p.bob);
    expect(second.aliceSession.session_id).not.toBe(p.aliceSession.session_id);
    expect(second.aliceSession.encryptKey.equals(p.aliceSession.encryptKey)).toBe(false);
    const m = p.alice.encrypt(text('x'), p.aliceSession);
    // A message of session 1 is not accepted on session 2, even with its id rewritten.
    expect(() => p.bob.decrypt(m, second.bobSession)).toThrow(expect.objectContaining({ code: 'YAK_E2EE_UNKNOWN_SESSION' }));
    expect(() => p.bob.decrypt({ ...m, session_id: second.bobSession.session_id }, second.bobSession)).toThrow(
      expect.objectContaining({ code: 'YAK_E2EE_AUTH' }),
    );
  });

  it('negotiates ChaCha20-Poly1305 when the initiator asks for it', async () => {
    const p = await pair({ aead: 'chacha20-poly1305' }, {});
    expect(p.bobSession.aead).toBe('chacha20-poly1305');
    expect(p.bob.decrypt(p.alice.encrypt(text('chacha'), p.aliceSession), p.bobSession).toString()).toBe('chacha');
  });

  it('a responder that does not accept the proposed AEAD refuses', async () => {
    const alice = new MeshCrypto({ aead: 'chacha20-poly1305' });
    const bob = new MeshCrypto({ acceptAeads: ['aes-256-gcm'] });
    await alice.generateIdentityKeypair();
    await bob.generateIdentityKeypair();
    const e = await rejected(handshake(alice, bob));
    expect(e).toBeInstanceOf(HandshakeMismatchError);
  });
});

describe('hybrid handshake', () => {
  it('runs X25519 + ML-KEM-768 and Ed25519 + ML-DSA-65 behind the same API', async () => {
    const p = await pair({ mode: 'hybrid' });
    expect(p.aliceId.privateKey.algorithm).toBe('Ed25519+ML-DSA-65');
    expect(Buffer.from(p.aliceId.publicKey, 'base64url').length).toBe(32 + 1952);
    expect(p.aliceSession.mode).toBe('hybrid');
    expect(p.bob.decrypt(p.alice.encrypt(text('pq'), p.aliceSession), p.bobSession).toString()).toBe('pq');
    expect(p.alice.decrypt(p.bob.encrypt(text('qp'), p.bobSession), p.aliceSession).toString()).toBe('qp');
  });

  it('a classical initiator and a hybrid responder do not talk (no silent downgrade)', async () => {
    const alice = new MeshCrypto();
    const bob = new MeshCrypto({ mode: 'hybrid' });
    await alice.generateIdentityKeypair();
    const bobId = await bob.generateIdentityKeypair();
    // The initiator refuses before sending anything: the peer key is of the other kind.
    await expect(alice.initiateHandshake(bobId.publicKey, { transport: silentTransport() })).rejects.toBeInstanceOf(HandshakeMismatchError);
    // A classical message 1 reaching a hybrid responder is refused too.
    const carol = new MeshCrypto();
    const carolId = await carol.generateIdentityKeypair();
    const t = silentTransport();
    alice.initiateHandshake(carolId.publicKey, { transport: t, timeoutMs: 1000 }).catch(() => {});
    await vi.waitFor(() => expect(t.sent.length).toBe(1));
    await expect(bob.completeHandshake(t.sent[0] as string, { transport: silentTransport() })).rejects.toBeInstanceOf(
      HandshakeMismatchError,
    );
    alice.close();
  });

  it('detects a man in the middle who swaps the ML-KEM public key', async () => {
    const alice = new MeshCrypto({ mode: 'hybrid' });
    const bob = new MeshCrypto({ mode: 'hybrid' });
    await alice.generateIdentityKeypair();
    const bobId = await bob.generateIdentityKeypair();
    const { mlkem768 } = await import('@yak/crypto');
    const mallory = mlkem768.generateKeyPair();
    const out = await mitm(
      alice,
      bob,
      bobId.publicKey,
      (m1) => encodeInit({ ...decodeInit(m1), kemPublicKey: mallory.publicKey }),
      (m2) => m2,
    );
    expect(out.alice).toBeInstanceOf(HandshakeAuthError);
    expect(out.bob).toBeInstanceOf(HandshakeAbortedError);
  });
});

/**
 * Run a handshake through Mallory, who may rewrite message 1 and message 2. Returns what each
 * side's handshake ended with (Bob is aborted if Alice gives up).
 */
async function mitm(
  alice: MeshCrypto,
  bob: MeshCrypto,
  bobPub: string,
  rewrite1: (m: string) => string,
  rewrite2: (m: string) => string,
): Promise<{ alice: unknown; bob: unknown }> {
  const [aliceEnd, malloryA] = createHandshakePipe();
  const [malloryB, bobEnd] = createHandshakePipe();
  const bobAbort = new AbortController();
  const aliceP = alice.initiateHandshake(bobPub, { transport: aliceEnd }).then(
    (s) => s,
    (e) => e,
  );
  const m1 = rewrite1(await malloryA.receive());
  const bobP = bob.completeHandshake(m1, { transport: bobEnd, signal: bobAbort.signal }).then(
    (s) => s,
    (e) => e,
  );
  const m2 = rewrite2(await malloryB.receive());
  malloryA.send(m2);
  const aliceResult = await aliceP;
  bobAbort.abort();
  return { alice: aliceResult, bob: await bobP };
}

describe('man in the middle', () => {
  it('substituting both ephemeral keys is detected by the transcript signatures', async () => {
    const alice = new MeshCrypto();
    const bob = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const bobId = await bob.generateIdentityKeypair();
    const m1Eph = x25519.generateKeyPair();
    const m2Eph = x25519.generateKeyPair();
    const out = await mitm(
      alice,
      bob,
      bobId.publicKey,
      (m1) => encodeInit({ ...decodeInit(m1), ephemeral: m1Eph.publicKey }),
      (m2) => encodeResponse({ ...decodeResponse(m2, 'classical'), ephemeral: m2Eph.publicKey }),
    );
    expect(out.alice).toBeInstanceOf(HandshakeAuthError);
    expect((out.alice as HandshakeAuthError).code).toBe('YAK_E2EE_HANDSHAKE_AUTH');
    expect(out.bob).toBeInstanceOf(HandshakeAbortedError);
    expect(alice.getStats().sessions).toBe(0);
    expect(bob.getStats().sessions).toBe(0);
  });

  it('a MITM who also computes valid key confirmations is stopped by the signatures alone', async () => {
    const alice = new MeshCrypto();
    const bob = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const bobId = await bob.generateIdentityKeypair();
    const mEph = x25519.generateKeyPair();
    let init: ReturnType<typeof decodeInit> | undefined;
    const out = await mitm(
      alice,
      bob,
      bobId.publicKey,
      (m1) => {
        init = decodeInit(m1);
        return m1;
      },
      (m2) => {
        // Mallory runs the responder side towards Alice with her own ephemeral: she derives the
        // keys Alice will derive and MACs correctly, forwarding Bob's signature.
        const r = decodeResponse(m2, 'classical');
        const i = init as ReturnType<typeof decodeInit>;
        const t = transcript({
          mode: 'classical',
          aead: i.aead,
          initiatorNonce: i.nonce,
          responderNonce: r.nonce,
          initiatorIdentity: i.identity,
          responderIdentity: r.identity,
          initiatorEphemeral: i.ephemeral,
          responderEphemeral: mEph.publicKey,
          kemPublicKey: undefined,
          kemCipherText: undefined,
        });
        const keys = sessionKeys(dh(mEph.secretKey, i.ephemeral), t.hash);
        return encodeResponse({ ...r, ephemeral: mEph.publicKey, confirm: confirmation('responder', keys[1].mac, t.hash) });
      },
    );
    expect(out.alice).toBeInstanceOf(HandshakeAuthError);
    expect(alice.getStats().sessions).toBe(0);
  });

  it('substituting only the initiator ephemeral is detected', async () => {
    const alice = new MeshCrypto();
    const bob = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const bobId = await bob.generateIdentityKeypair();
    const eph = x25519.generateKeyPair();
    const out = await mitm(
      alice,
      bob,
      bobId.publicKey,
      (m1) => encodeInit({ ...decodeInit(m1), ephemeral: eph.publicKey }),
      (m2) => m2,
    );
    expect(out.alice).toBeInstanceOf(HandshakeAuthError);
  });

  it('a MITM who answers with her own identity is refused as the wrong identity', async () => {
    const alice = new MeshCrypto();
    const bob = new MeshCrypto();
    const mallory = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const bobId = await bob.generateIdentityKeypair();
    await mallory.generateIdentityKeypair();
    const [aliceEnd, malloryEnd] = createHandshakePipe();
    const a = alice.initiateHandshake(bobId.publicKey, { transport: aliceEnd }).catch((e) => e);
    const m = mallory.completeHandshake(await malloryEnd.receive(), { transport: malloryEnd, timeoutMs: 1000 }).catch((e) => e);
    expect(await a).toBeInstanceOf(WrongIdentityError);
    mallory.close();
    expect(await m).toBeInstanceOf(HandshakeError);
  });

  it('tampering with any signature or confirmation byte fails phase 2', async () => {
    const cases: Array<[string, (m: string) => string, (m: string) => string]> = [
      [
        'responder signature',
        (m) => m,
        (m) => {
          const r = decodeResponse(m, 'classical');
          flip(r.signature, 5, 1);
          return encodeResponse(r);
        },
      ],
      [
        'responder confirmation',
        (m) => m,
        (m) => {
          const r = decodeResponse(m, 'classical');
          flip(r.confirm, 0, 0x80);
          return encodeResponse(r);
        },
      ],
      [
        'initiator nonce',
        (m) => {
          const r = decodeInit(m);
          flip(r.nonce, 3, 1);
          return encodeInit(r);
        },
        (m) => m,
      ],
      [
        'responder nonce',
        (m) => m,
        (m) => {
          const r = decodeResponse(m, 'classical');
          flip(r.nonce, 15, 1);
          return encodeResponse(r);
        },
      ],
    ];
    for (const [, r1, r2] of cases) {
      const alice = new MeshCrypto();
      const bob = new MeshCrypto();
      await alice.generateIdentityKeypair();
      const bobId = await bob.generateIdentityKeypair();
      const out = await mitm(alice, bob, bobId.publicKey, r1, r2);
      expect(out.alice).toBeInstanceOf(HandshakeAuthError);
    }
  });

  it('the responder rejects a tampered or foreign message 3', async () => {
    for (const tamper of ['signature', 'confirm'] as const) {
      const alice = new MeshCrypto();
      const bob = new MeshCrypto();
      await alice.generateIdentityKeypair();
      const bobId = await bob.generateIdentityKeypair();
      const [aliceEnd, mA] = createHandshakePipe();
      const [mB, bobEnd] = createHandshakePipe();
      const a = alice.initiateHandshake(bobId.publicKey, { transport: aliceEnd });
      const b = bob.completeHandshake(await mA.receive(), { transport: bobEnd }).catch((e) => e);
      mA.send(await mB.receive());
      await a;
      const fin = decodeFinish(await mA.receive(), 'classical');
      flip(fin[tamper], 0, 1);
      mB.send(encodeFinish(fin));
      expect(await b).toBeInstanceOf(HandshakeAuthError);
      expect(bob.getStats().sessions).toBe(0);
    }
  });

  it('replaying a recorded handshake to the responder fails (fresh responder nonce)', async () => {
    const alice = new MeshCrypto();
    const bob = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const bobId = await bob.generateIdentityKeypair();
    const [aliceEnd, tapA] = createHandshakePipe();
    const [tapB, bobEnd] = createHandshakePipe();
    const a = alice.initiateHandshake(bobId.publicKey, { transport: aliceEnd });
    const m1 = await tapA.receive();
    const b = bob.completeHandshake(m1, { transport: bobEnd });
    tapA.send(await tapB.receive());
    await a;
    const m3 = await tapA.receive();
    tapB.send(m3);
    await b;
    // Replay messages 1 and 3 to Bob.
    const [replayEnd, bobEnd2] = createHandshakePipe();
    const again = bob.completeHandshake(m1, { transport: bobEnd2 }).catch((e) => e);
    await replayEnd.receive();
    replayEnd.send(m3);
    expect(await again).toBeInstanceOf(HandshakeAuthError);
    expect(bob.getStats().sessions).toBe(1);
  });
});

describe('wrong identity', () => {
  it('initiator reaching someone other than the expected peer', async () => {
    const alice = new MeshCrypto();
    const bob = new MeshCrypto();
    const carol = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const bobId = await bob.generateIdentityKeypair();
    await carol.generateIdentityKeypair();
    const [toPeer, peerEnd] = createHandshakePipe();
    const a = alice.initiateHandshake(bobId.publicKey, { transport: toPeer }).catch((e) => e);
    const c = carol.completeHandshake(await peerEnd.receive(), { transport: peerEnd, timeoutMs: 2000 }).catch((e) => e);
    const err = await a;
    expect(err).toBeInstanceOf(WrongIdentityError);
    expect((err as WrongIdentityError).code).toBe('YAK_E2EE_WRONG_IDENTITY');
    carol.close();
    await c;
  });

  it('responder pinning an initiator refuses anyone else before answering', async () => {
    const alice = new MeshCrypto();
    const bob = new MeshCrypto();
    const carol = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const bobId = await bob.generateIdentityKeypair();
    const carolId = await carol.generateIdentityKeypair();
    const t = silentTransport();
    carol.initiateHandshake(bobId.publicKey, { transport: t }).catch(() => {});
    await vi.waitFor(() => expect(t.sent.length).toBe(1));
    const answer = silentTransport();
    const alicePub = alice.identity?.publicKey as string;
    await expect(bob.completeHandshake(t.sent[0] as string, { transport: answer, expectedPeer: alicePub })).rejects.toBeInstanceOf(
      WrongIdentityError,
    );
    expect(answer.sent).toHaveLength(0);
    expect(carolId.key_id).not.toBe(alice.identity?.key_id);
    carol.close();
  });

  it('a responder without a pin learns the authenticated initiator identity', async () => {
    const alice = new MeshCrypto();
    const bob = new MeshCrypto();
    const aliceId = await alice.generateIdentityKeypair();
    await bob.generateIdentityKeypair();
    const { bobSession } = await handshake(alice, bob);
    expect(bobSession.peerPublicKey).toBe(aliceId.publicKey);
    expect(bobSession.peer_key_id).toBe(aliceId.key_id);
  });
});

describe('malformed handshake input', () => {
  it('rejects garbage, non-canonical encodings, wrong types and low-order keys', async () => {
    const bob = new MeshCrypto();
    await bob.generateIdentityKeypair();
    const alice = new MeshCrypto();
    const aliceId = await alice.generateIdentityKeypair();
    const t = silentTransport();
    const good = encodeInit({
      mode: 'classical',
      aead: 'aes-256-gcm',
      nonce: new Uint8Array(16).fill(1),
      identity: Buffer.from(aliceId.publicKey, 'base64url'),
      ephemeral: x25519.generateKeyPair().publicKey,
      kemPublicKey: undefined,
    });
    const bad = [
      '',
      'not base64!',
      `${good}=`,
      good.slice(0, -4),
      'A'.repeat(40_000),
      encodeFinish({ signature: new Uint8Array(64), pqSignature: undefined, confirm: new Uint8Array(32) }),
      encodeInit({ ...decodeInit(good), ephemeral: new Uint8Array(32) }),
    ];
    for (const m of bad) {
      const e = await rejected(bob.completeHandshake(m, { transport: t }));
      expect(e).toBeInstanceOf(HandshakeMalformedError);
    }
    expect(t.sent).toHaveLength(0);
    await expect(bob.completeHandshake(123 as unknown as string, { transport: t })).rejects.toBeInstanceOf(TypeError);
  });

  it('a future protocol version is a mismatch, not a crash', async () => {
    const { encode } = await import('@yak/crypto');
    const bob = new MeshCrypto();
    await bob.generateIdentityKeypair();
    const v2 = Buffer.from(encode({ t: 1, v: 2 })).toString('base64url');
    await expect(bob.completeHandshake(v2, { transport: silentTransport() })).rejects.toBeInstanceOf(HandshakeMismatchError);
  });

  it('argument checks: missing identity, bad public key, missing transport', async () => {
    const m = new MeshCrypto();
    const other = new MeshCrypto();
    const otherId = await other.generateIdentityKeypair();
    await expect(m.initiateHandshake(otherId.publicKey, { transport: silentTransport() })).rejects.toBeInstanceOf(NoIdentityError);
    await m.generateIdentityKeypair();
    await expect(m.initiateHandshake(42 as unknown as string, { transport: silentTransport() })).rejects.toBeInstanceOf(TypeError);
    await expect(m.initiateHandshake('abc', { transport: silentTransport() })).rejects.toBeInstanceOf(RangeError);
    await expect(m.initiateHandshake(otherId.publicKey, {} as never)).rejects.toBeInstanceOf(TypeError);
    expect(() => new MeshCrypto({ replayWindow: 0 })).toThrow(RangeError);
    expect(() => new MeshCrypto({ rotateEvery: 1.5 })).toThrow(TypeError);
    expect(() => new MeshCrypto({ mode: 'pq' as never })).toThrow(RangeError);
  });
});

describe('timeouts, aborts and bounds', () => {
  it('times out when the peer never answers, and releases the handshake', async () => {
    vi.useFakeTimers();
    const alice = new MeshCrypto({ handshakeTimeoutMs: 5000 });
    const other = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const otherId = await other.generateIdentityKeypair();
    const p = alice.initiateHandshake(otherId.publicKey, { transport: silentTransport() }).catch((e) => e);
    expect(alice.getStats().pendingHandshakes).toBe(1);
    await vi.advanceTimersByTimeAsync(5001);
    expect(await p).toBeInstanceOf(HandshakeTimeoutError);
    expect(alice.getStats().pendingHandshakes).toBe(0);
    expect(alice.getStats().handshakesFailed).toBe(1);
  });

  it('times out even if the transport ignores the abort signal', async () => {
    vi.useFakeTimers();
    const alice = new MeshCrypto();
    const other = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const otherId = await other.generateIdentityKeypair();
    const deaf: HandshakeTransport = { send() {}, receive: () => new Promise(() => {}) };
    const p = alice.initiateHandshake(otherId.publicKey, { transport: deaf, timeoutMs: 100 }).catch((e) => e);
    await vi.advanceTimersByTimeAsync(101);
    expect(await p).toBeInstanceOf(HandshakeTimeoutError);
  });

  it('aborts on the caller signal and on close()', async () => {
    const alice = new MeshCrypto();
    const other = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const otherId = await other.generateIdentityKeypair();
    const ac = new AbortController();
    const p = alice.initiateHandshake(otherId.publicKey, { transport: silentTransport(), signal: ac.signal }).catch((e) => e);
    ac.abort();
    expect(await p).toBeInstanceOf(HandshakeAbortedError);
    await expect(alice.initiateHandshake(otherId.publicKey, { transport: silentTransport(), signal: ac.signal })).rejects.toBeInstanceOf(
      HandshakeAbortedError,
    );
    const q = alice.initiateHandshake(otherId.publicKey, { transport: silentTransport() }).catch((e) => e);
    alice.close();
    expect(await q).toBeInstanceOf(HandshakeAbortedError);
    await expect(alice.initiateHandshake(otherId.publicKey, { transport: silentTransport() })).rejects.toBeInstanceOf(ClosedError);
  });

  it('wraps transport failures', async () => {
    const alice = new MeshCrypto();
    const other = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const otherId = await other.generateIdentityKeypair();
    const broken: HandshakeTransport = {
      send() {
        throw new Error('socket closed');
      },
      receive: () => Promise.reject(new Error('unreachable')),
    };
    const e = await rejected(alice.initiateHandshake(otherId.publicKey, { transport: broken }));
    expect(e).toBeInstanceOf(HandshakeTransportError);
    const [a, b] = createHandshakePipe();
    b.close();
    expect(await rejected(alice.initiateHandshake(otherId.publicKey, { transport: a }))).toBeInstanceOf(HandshakeTransportError);
  });

  it('refuses handshakes beyond the pending and session limits', async () => {
    const alice = new MeshCrypto({ maxPendingHandshakes: 1, maxSessions: 1 });
    const bob = new MeshCrypto();
    await alice.generateIdentityKeypair();
    const bobId = await bob.generateIdentityKeypair();
    const first = alice.initiateHandshake(bobId.publicKey, { transport: silentTransport() }).catch((e) => e);
    await expect(alice.initiateHandshake(bobId.publicKey, { transport: silentTransport() })).rejects.toBeInstanceOf(SessionLimitError);
    alice.close();
    await first;
    const a2 = new MeshCrypto({ maxSessions: 1 });
    await a2.generateIdentityKeypair();
    await handshake(a2, bob);
    await expect(a2.initiateHandshake(bobId.publicKey, { transport: silentTransport() })).rejects.toBeInstanceOf(SessionLimitError);
  });
});
