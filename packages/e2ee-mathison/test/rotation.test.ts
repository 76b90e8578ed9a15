// Key rotation: at the 1000-message boundary, on demand, with messages in flight across a
// rotation, and against forged epochs.
import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  type EncryptedMessage,
  OutOfWindowError,
  ReplayError,
  SessionRevokedError,
  UnknownSessionError,
} from '../src/index.js';
import { flipB64, pair, rejected, text, thrown } from './helpers.js';

const epochOf = (m: EncryptedMessage) => Buffer.from(m.nonce, 'base64url').readUInt32BE(0);

describe('rotation every 1000 messages (default)', () => {
  it('both sides move to the next epoch at the boundary, in both directions', async () => {
    const p = await pair();
    const keyBefore = p.aliceSession.encryptKey;
    const keyCopy = Buffer.from(keyBefore);
    const macCopy = Buffer.from(p.aliceSession.macKey);
    for (let i = 0; i < 999; i++) p.bob.decrypt(p.alice.encrypt(text(`a${i}`), p.aliceSession), p.bobSession);
    expect(p.aliceSession.epoch).toBe(0);
    const last = p.alice.encrypt(text('a999'), p.aliceSession);
    expect(epochOf(last)).toBe(0);
    // The 1000th message closed epoch 0: Alice rotated and zeroed the old key in place.
    expect(p.aliceSession.epoch).toBe(1);
    expect(keyBefore.equals(Buffer.alloc(32))).toBe(true);
    expect(p.aliceSession.encryptKey.equals(keyCopy)).toBe(false);
    expect(p.aliceSession.macKey.equals(macCopy)).toBe(false);
    p.bob.decrypt(last, p.bobSession);
    expect(p.bob.describeSession(p.bobSession.session_id).receiveEpoch).toBe(0);
    const first = p.alice.encrypt(text('a1000'), p.aliceSession);
    expect(first.counter).toBe(1000);
    expect(epochOf(first)).toBe(1);
    expect(p.bob.decrypt(first, p.bobSession).toString()).toBe('a1000');
    expect(p.bob.describeSession(p.bobSession.session_id).receiveEpoch).toBe(1);
    expect(p.alice.describeSession(p.aliceSession.session_id).sendEpoch).toBe(1);

    // The other direction rotates on its own count.
    for (let i = 0; i < 1000; i++) p.alice.decrypt(p.bob.encrypt(text(`b${i}`), p.bobSession), p.aliceSession);
    expect(p.bobSession.epoch).toBe(1);
    expect(p.alice.decrypt(p.bob.encrypt(text('b1000'), p.bobSession), p.aliceSession).toString()).toBe('b1000');
    expect(p.alice.describeSession(p.aliceSession.session_id).receiveEpoch).toBe(1);
    expect(p.alice.getStats().sendRotations).toBe(1);
    expect(p.alice.getStats().receiveRotations).toBe(1);
    expect(p.bob.getStats().receiveRotations).toBe(1);
  });
});

describe('messages in flight across a rotation', () => {
  it('old-epoch messages arriving after new-epoch ones are still accepted once', async () => {
    const p = await pair({ rotateEvery: 10 });
    const msgs = Array.from({ length: 25 }, (_, i) => p.alice.encrypt(text(`#${i}`), p.aliceSession));
    expect(msgs.map(epochOf)).toEqual([...Array(10).fill(0), ...Array(10).fill(1), ...Array(5).fill(2)]);
    // Epoch 2 first, then epoch 1, then epoch 0 stragglers.
    for (const i of [20, 21, 15, 12, 3, 9, 24, 0])
      expect(p.bob.decrypt(msgs[i] as EncryptedMessage, p.bobSession).toString()).toBe(`#${i}`);
    for (const i of [20, 15, 3]) expect(thrown(() => p.bob.decrypt(msgs[i] as EncryptedMessage, p.bobSession))).toBeInstanceOf(ReplayError);
  });

  it('old-epoch keys are dropped once the window has passed them', async () => {
    const p = await pair({ rotateEvery: 10, replayWindow: 10 });
    const msgs = Array.from({ length: 30 }, (_, i) => p.alice.encrypt(text(`#${i}`), p.aliceSession));
    const info = () => p.bob.describeSession(p.bobSession.session_id);
    for (let i = 0; i < 15; i++) p.bob.decrypt(msgs[i] as EncryptedMessage, p.bobSession);
    expect(info().receiveEpochsHeld).toEqual([0, 1]);
    // Highest 20: the window's lower edge (10) reaches epoch 1's first counter, so epoch 0 is gone.
    for (let i = 15; i <= 20; i++) p.bob.decrypt(msgs[i] as EncryptedMessage, p.bobSession);
    expect(info().receiveEpochsHeld).toEqual([1, 2]);
    expect(thrown(() => p.bob.decrypt(msgs[9] as EncryptedMessage, p.bobSession))).toBeInstanceOf(OutOfWindowError);
  });

  it('at most two old epochs are held, even when the window would still reach further back', async () => {
    const p = await pair({ rotateEvery: 2 });
    const msgs = Array.from({ length: 10 }, (_, i) => p.alice.encrypt(text(`#${i}`), p.aliceSession));
    p.bob.decrypt(msgs[9] as EncryptedMessage, p.bobSession);
    expect(p.bob.describeSession(p.bobSession.session_id).receiveEpochsHeld).toEqual([2, 3, 4]);
    const e = thrown(() => p.bob.decrypt(msgs[0] as EncryptedMessage, p.bobSession));
    expect(e).toBeInstanceOf(OutOfWindowError);
    expect(p.bob.decrypt(msgs[5] as EncryptedMessage, p.bobSession).toString()).toBe('#5');
  });
});

describe('rotation on demand', () => {
  it('rotateSessionKey moves the sender to a new key; the receiver follows', async () => {
    const p = await pair();
    p.bob.decrypt(p.alice.encrypt(text('before'), p.aliceSession), p.bobSession);
    const old = p.aliceSession.encryptKey;
    const rotated = await p.alice.rotateSessionKey(p.aliceSession.session_id);
    expect(rotated).toBe(p.aliceSession);
    expect(rotated.epoch).toBe(1);
    expect(old.equals(Buffer.alloc(32))).toBe(true);
    const m = p.alice.encrypt(text('after'), p.aliceSession);
    expect(m.counter).toBe(1);
    expect(p.bob.decrypt(m, p.bobSession).toString()).toBe('after');
    expect(p.bob.describeSession(p.bobSession.session_id).receiveEpoch).toBe(1);
  });

  it('several rotations without traffic are followed up to maxEpochSkip', async () => {
    const p = await pair({ maxEpochSkip: 3 });
    for (let i = 0; i < 3; i++) await p.alice.rotateSessionKey(p.aliceSession.session_id);
    expect(p.bob.decrypt(p.alice.encrypt(text('3 ahead'), p.aliceSession), p.bobSession).toString()).toBe('3 ahead');
    for (let i = 0; i < 4; i++) await p.alice.rotateSessionKey(p.aliceSession.session_id);
    const far = p.alice.encrypt(text('4 ahead'), p.aliceSession);
    expect(thrown(() => p.bob.decrypt(far, p.bobSession))).toBeInstanceOf(OutOfWindowError);
    expect(p.bob.describeSession(p.bobSession.session_id).receiveEpoch).toBe(3);
  });

  it('a forged epoch in the nonce does not move the receiver', async () => {
    const p = await pair();
    const m = p.alice.encrypt(text('x'), p.aliceSession);
    const forged = { ...m, nonce: flipB64(m.nonce, 3) }; // epoch 0 -> 1
    expect(thrown(() => p.bob.decrypt(forged, p.bobSession))).toBeInstanceOf(AuthenticationError);
    expect(p.bob.describeSession(p.bobSession.session_id).receiveEpoch).toBe(0);
    expect(p.bob.decrypt(m, p.bobSession).toString()).toBe('x');
  });

  it('rotating an unknown or revoked session fails with a typed error', async () => {
    const p = await pair();
    expect(await rejected(p.alice.rotateSessionKey('nope'))).toBeInstanceOf(UnknownSessionError);
    await p.alice.revokeSessionKey(p.aliceSession.session_id);
    expect(await rejected(p.alice.rotateSessionKey(p.aliceSession.session_id))).toBeInstanceOf(SessionRevokedError);
    expect(await rejected(p.alice.rotateSessionKey(5 as unknown as string))).toBeInstanceOf(TypeError);
  });
});
