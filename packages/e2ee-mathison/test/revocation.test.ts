// Revocation and close: keys zeroed in place, every later use fails with a typed error.
import { describe, expect, it } from 'vitest';
import {
  ClosedError,
  KeyDestroyedError,
  MemoryStorageAdapter,
  NoIdentityError,
  SessionRevokedError,
  UnknownSessionError,
} from '../src/index.js';
import { handshake, pair, rejected, text, thrown } from './helpers.js';

describe('revokeSessionKey', () => {
  it('zeroes the keys and makes every later use fail', async () => {
    const p = await pair();
    const inFlight = p.alice.encrypt(text('late'), p.aliceSession);
    const enc = p.bobSession.encryptKey;
    const mac = p.bobSession.macKey;
    expect(enc.equals(Buffer.alloc(32))).toBe(false);
    await p.bob.revokeSessionKey(p.bobSession.session_id);
    expect(enc.equals(Buffer.alloc(32))).toBe(true);
    expect(mac.equals(Buffer.alloc(32))).toBe(true);
    expect(p.bobSession.revoked).toBe(true);
    for (const use of [
      () => p.bob.encrypt(text('x'), p.bobSession),
      () => p.bob.decrypt(inFlight, p.bobSession),
      () => p.bobSession.encryptKey,
      () => p.bobSession.macKey,
      () => p.bobSession.counter,
      () => p.bob.describeSession(p.bobSession.session_id),
    ]) {
      const e = thrown(use);
      expect(e).toBeInstanceOf(SessionRevokedError);
      expect((e as SessionRevokedError).code).toBe('YAK_E2EE_SESSION_REVOKED');
    }
    expect(await rejected(p.bob.rotateSessionKey(p.bobSession.session_id))).toBeInstanceOf(SessionRevokedError);
    // Idempotent.
    await p.bob.revokeSessionKey(p.bobSession.session_id);
    expect(p.bob.getStats().revocations).toBe(1);
    expect(p.bob.getStats().sessions).toBe(0);
    expect(p.bob.getSession(p.bobSession.session_id)).toBeUndefined();
    // Alice's side is untouched until she revokes too.
    expect(p.aliceSession.revoked).toBe(false);
  });

  it('unknown ids and wrong types', async () => {
    const p = await pair();
    expect(await rejected(p.alice.revokeSessionKey('unknown'))).toBeInstanceOf(UnknownSessionError);
    expect(await rejected(p.alice.revokeSessionKey(undefined as unknown as string))).toBeInstanceOf(TypeError);
  });
});

describe('close', () => {
  it('revokes every session and refuses further work', async () => {
    const p = await pair();
    const second = await handshake(p.alice, p.bob);
    const keys = [p.aliceSession.encryptKey, second.aliceSession.encryptKey];
    p.alice.close();
    for (const k of keys) expect(k.equals(Buffer.alloc(32))).toBe(true);
    expect(thrown(() => p.alice.encrypt(text('x'), p.aliceSession))).toBeInstanceOf(SessionRevokedError);
    expect(await rejected(p.alice.generateIdentityKeypair())).toBeInstanceOf(ClosedError);
    expect(p.alice.getStats().sessions).toBe(0);
    p.alice.close();
  });
});

describe('identity destruction', () => {
  it('a destroyed identity key cannot handshake or be stored', async () => {
    const p = await pair();
    p.aliceId.privateKey.destroy();
    expect(p.aliceId.privateKey.destroyed).toBe(true);
    const { createHandshakePipe } = await import('../src/index.js');
    const [t] = createHandshakePipe();
    expect(await rejected(p.alice.initiateHandshake(p.bobId.publicKey, { transport: t }))).toBeInstanceOf(NoIdentityError);
    const store = new MemoryStorageAdapter({ scryptN: 2 ** 14 });
    expect(await rejected(store.save(p.aliceId, { passphrase: 'pw' }))).toBeInstanceOf(KeyDestroyedError);
    // Sessions already established are independent of the identity key.
    expect(p.bob.decrypt(p.alice.encrypt(text('still'), p.aliceSession), p.bobSession).toString()).toBe('still');
  });
});
