// Messages after the handshake: round trips, tampering with every field, replay, the window,
// reflection, garbage input, and "a rejected message changes no state".
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  DecryptError,
  type EncryptedMessage,
  MalformedMessageError,
  MeshCrypto,
  MeshCryptoError,
  OutOfWindowError,
  ReplayError,
  UnknownSessionError,
} from '../src/index.js';
import { flipB64, pair, text, thrown } from './helpers.js';

describe('round trip', () => {
  it('carries empty, text and binary payloads both ways, in order and with counters', async () => {
    const p = await pair();
    const payloads = [Buffer.alloc(0), text('hello'), Buffer.from(Array.from({ length: 4096 }, (_, i) => i & 255))];
    for (const [i, pt] of payloads.entries()) {
      const m = p.alice.encrypt(pt, p.aliceSession);
      expect(m.counter).toBe(i);
      expect(m.session_id).toBe(p.aliceSession.session_id);
      expect(Buffer.from(m.nonce, 'base64url')).toHaveLength(12);
      expect(Buffer.from(m.mac, 'base64url')).toHaveLength(16);
      expect(Buffer.from(m.ciphertext, 'base64url')).toHaveLength(pt.length);
      // Fields are unpadded base64url.
      for (const f of [m.nonce, m.ciphertext, m.mac]) expect(f).toMatch(/^[A-Za-z0-9_-]*$/);
      const out = p.bob.decrypt(m, p.bobSession);
      expect(Buffer.isBuffer(out)).toBe(true);
      expect(out.equals(pt)).toBe(true);
    }
    expect(p.aliceSession.counter).toBe(3);
    // Survives JSON transport.
    const m = JSON.parse(JSON.stringify(p.bob.encrypt(text('json'), p.bobSession))) as EncryptedMessage;
    expect(p.alice.decrypt(m, p.aliceSession).toString()).toBe('json');
  });

  it('never repeats a nonce under one key', async () => {
    const p = await pair({ rotateEvery: 50 });
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const m = p.alice.encrypt(text('n'), p.aliceSession);
      expect(seen.has(m.nonce)).toBe(false);
      seen.add(m.nonce);
    }
  });

  it('checks plaintext type and size', async () => {
    const p = await pair({ maxMessageBytes: 1024 });
    expect(thrown(() => p.alice.encrypt('text' as unknown as Buffer, p.aliceSession))).toBeInstanceOf(TypeError);
    expect(thrown(() => p.alice.encrypt(Buffer.alloc(1025), p.aliceSession))).toBeInstanceOf(RangeError);
    expect(p.aliceSession.counter).toBe(0);
  });

  it('refuses session handles that are not its own', async () => {
    const p = await pair();
    const q = await pair();
    expect(thrown(() => p.alice.encrypt(text('x'), q.aliceSession))).toBeInstanceOf(UnknownSessionError);
    const fake = { session_id: p.aliceSession.session_id, encryptKey: Buffer.alloc(32), macKey: Buffer.alloc(32), counter: 0 };
    expect(thrown(() => p.alice.encrypt(text('x'), fake))).toBeInstanceOf(UnknownSessionError);
    expect(thrown(() => p.bob.decrypt(p.alice.encrypt(text('x'), p.aliceSession), fake))).toBeInstanceOf(UnknownSessionError);
  });
});

describe('tamper detection', () => {
  it('rejects a change to every field, and the original still decrypts afterwards', async () => {
    const p = await pair();
    const m = p.alice.encrypt(text('attack at dawn'), p.aliceSession);
    const other = p.alice.encrypt(text('other'), p.aliceSession);
    const tampered: Array<[string, EncryptedMessage, string]> = [
      [
        'session_id',
        { ...m, session_id: `${m.session_id.slice(0, -1)}${m.session_id.endsWith('A') ? 'B' : 'A'}` },
        'YAK_E2EE_UNKNOWN_SESSION',
      ],
      ['nonce (counter bytes)', { ...m, nonce: flipB64(m.nonce, 11) }, 'YAK_E2EE_MALFORMED'],
      ['nonce (epoch bytes)', { ...m, nonce: flipB64(m.nonce, 3) }, 'YAK_E2EE_AUTH'],
      ['ciphertext', { ...m, ciphertext: flipB64(m.ciphertext, 4, 7) }, 'YAK_E2EE_AUTH'],
      ['mac', { ...m, mac: flipB64(m.mac, 15) }, 'YAK_E2EE_AUTH'],
      ['counter', { ...m, counter: m.counter + 1 }, 'YAK_E2EE_MALFORMED'],
      ['counter and nonce together', { ...m, counter: 5, nonce: flipCounter(m.nonce, 5) }, 'YAK_E2EE_AUTH'],
      ['ciphertext of another message', { ...m, ciphertext: other.ciphertext }, 'YAK_E2EE_AUTH'],
      ['mac of another message', { ...m, mac: other.mac }, 'YAK_E2EE_AUTH'],
      [
        'truncated ciphertext',
        { ...m, ciphertext: Buffer.from(m.ciphertext, 'base64url').subarray(0, -1).toString('base64url') },
        'YAK_E2EE_AUTH',
      ],
      [
        'extended ciphertext',
        { ...m, ciphertext: Buffer.concat([Buffer.from(m.ciphertext, 'base64url'), Buffer.from([0])]).toString('base64url') },
        'YAK_E2EE_AUTH',
      ],
    ];
    for (const [field, t, code] of tampered) {
      const e = thrown(() => p.bob.decrypt(t, p.bobSession));
      expect(e, field).toBeInstanceOf(MeshCryptoError);
      expect((e as MeshCryptoError).code, field).toBe(code);
      expect(p.bob.describeSession(p.bobSession.session_id).receiveHighest, field).toBe(-1);
    }
    expect(p.bob.decrypt(m, p.bobSession).toString()).toBe('attack at dawn');
    expect(p.bob.decrypt(other, p.bobSession).toString()).toBe('other');
  });

  it('every single-bit flip of ciphertext or tag is rejected', async () => {
    const p = await pair();
    const m = p.alice.encrypt(text('sixteen bytes!!!'), p.aliceSession);
    for (const field of ['ciphertext', 'mac'] as const) {
      const bytes = Buffer.from(m[field], 'base64url');
      for (let i = 0; i < bytes.length * 8; i++) {
        const e = thrown(() => p.bob.decrypt({ ...m, [field]: flipB64(m[field], i >> 3, i & 7) }, p.bobSession));
        expect(e).toBeInstanceOf(AuthenticationError);
      }
    }
    expect(p.bob.decrypt(m, p.bobSession).toString()).toBe('sixteen bytes!!!');
  });

  it('rejects malformed shapes with MalformedMessageError', async () => {
    const p = await pair();
    const m = p.alice.encrypt(text('a longer message so fields have letters'), p.aliceSession);
    const bad: unknown[] = [
      null,
      'message',
      42,
      {},
      { ...m, session_id: 7 },
      { ...m, counter: -1 },
      { ...m, counter: 1.5 },
      { ...m, counter: '0' },
      { ...m, counter: 2 ** 60 },
      { ...m, nonce: undefined },
      { ...m, nonce: `${m.nonce}=` },
      { ...m, nonce: m.nonce.slice(0, 8) },
      { ...m, nonce: m.nonce.replace(/./, '+') },
      { ...m, mac: `${m.mac}AA` },
      { ...m, mac: '' },
      { ...m, ciphertext: `${m.ciphertext}=` },
      { ...m, ciphertext: 'A'.repeat(30_000_000) },
      { ...m, ciphertext: null },
      // Aliases Node's lenient decoder would map to the same bytes: '+' for '-', U+0141 for 'A'.
      { ...m, mac: m.mac.replace(/[A-Za-z]/, (c) => String.fromCharCode(c.charCodeAt(0) + 0x100)) },
      { ...m, ciphertext: m.ciphertext.replace(/[A-Za-z]/, (c) => String.fromCharCode(c.charCodeAt(0) + 0x100)) },
      { ...m, ciphertext: `${m.ciphertext} ` },
    ];
    for (const b of bad) {
      const e = thrown(() => p.bob.decrypt(b as EncryptedMessage, p.bobSession));
      expect(e).toBeInstanceOf(MalformedMessageError);
    }
    expect(p.bob.decrypt(m, p.bobSession).toString()).toBe('a longer message so fields have letters');
  });

  it("rejects the standard-alphabet aliases '+' and '/' that Node's decoder would accept", async () => {
    const p = await pair();
    let m = p.alice.encrypt(text('find a dash'), p.aliceSession);
    while (!/[-_]/.test(m.ciphertext)) m = p.alice.encrypt(text('find a dash'), p.aliceSession);
    const alias = { ...m, ciphertext: m.ciphertext.replace(/[-_]/, (c) => (c === '-' ? '+' : '/')) };
    expect(thrown(() => p.bob.decrypt(alias, p.bobSession))).toBeInstanceOf(MalformedMessageError);
    expect(p.bob.decrypt(m, p.bobSession).toString()).toBe('find a dash');
  });

  it('a reflected message (sent back to its sender) is rejected', async () => {
    const p = await pair();
    const m = p.alice.encrypt(text('mirror'), p.aliceSession);
    expect(thrown(() => p.alice.decrypt(m, p.aliceSession))).toBeInstanceOf(AuthenticationError);
  });

  it('garbage never crashes and never changes state (property)', async () => {
    const p = await pair();
    const msgs = Array.from({ length: 5 }, (_, i) => p.alice.encrypt(text(`m${i}`), p.aliceSession));
    const field = fc.oneof(fc.string(), fc.base64String(), fc.integer(), fc.constant(undefined), fc.constant(null));
    fc.assert(
      fc.property(
        fc.record({
          session_id: fc.oneof(fc.constant(p.bobSession.session_id), fc.string()),
          nonce: field,
          ciphertext: field,
          mac: field,
          counter: field,
        }),
        (g) => {
          const before = p.bob.describeSession(p.bobSession.session_id);
          try {
            p.bob.decrypt(g as EncryptedMessage, p.bobSession);
            return false;
          } catch (e) {
            const after = p.bob.describeSession(p.bobSession.session_id);
            return (
              e instanceof MeshCryptoError && after.receiveHighest === before.receiveHighest && after.receiveEpoch === before.receiveEpoch
            );
          }
        },
      ),
      { numRuns: 300 },
    );
    for (const [i, m] of msgs.entries()) expect(p.bob.decrypt(m, p.bobSession).toString()).toBe(`m${i}`);
  });
});

function flipCounter(nonce: string, counter: number): string {
  const b = Buffer.from(nonce, 'base64url');
  b.writeUInt32BE(0, 4);
  b.writeUInt32BE(counter, 8);
  return b.toString('base64url');
}

describe('replay', () => {
  it('a message is accepted once', async () => {
    const p = await pair();
    const m = p.alice.encrypt(text('once'), p.aliceSession);
    p.bob.decrypt(m, p.bobSession);
    const e = thrown(() => p.bob.decrypt(m, p.bobSession));
    expect(e).toBeInstanceOf(ReplayError);
    expect((e as ReplayError).code).toBe('YAK_E2EE_REPLAY');
    expect(p.bob.getStats().rejected.YAK_E2EE_REPLAY).toBe(1);
  });

  it('accepts out-of-order delivery within the window and rejects every replay', async () => {
    const p = await pair();
    const msgs = Array.from({ length: 60 }, (_, i) => p.alice.encrypt(text(`#${i}`), p.aliceSession));
    const order = fc.sample(fc.shuffledSubarray(msgs, { minLength: 60, maxLength: 60 }), { numRuns: 1, seed: 7 })[0] as EncryptedMessage[];
    for (const m of order) expect(p.bob.decrypt(m, p.bobSession).toString()).toBe(`#${m.counter}`);
    for (const m of msgs) expect(thrown(() => p.bob.decrypt(m, p.bobSession))).toBeInstanceOf(ReplayError);
  });

  it('rejects counters behind the window and too far ahead of it', async () => {
    const p = await pair();
    const msgs = Array.from({ length: 210 }, (_, i) => p.alice.encrypt(text(`#${i}`), p.aliceSession));
    p.bob.decrypt(msgs[0] as EncryptedMessage, p.bobSession);
    // Window +-100: from highest 0, counter 101 (100 skipped) is the furthest acceptable.
    expect(thrown(() => p.bob.decrypt(msgs[102] as EncryptedMessage, p.bobSession))).toBeInstanceOf(OutOfWindowError);
    p.bob.decrypt(msgs[101] as EncryptedMessage, p.bobSession);
    for (let i = 102; i <= 200; i++) p.bob.decrypt(msgs[i] as EncryptedMessage, p.bobSession);
    // highest = 200: counter 100 is the edge, 99 is behind.
    expect(p.bob.decrypt(msgs[100] as EncryptedMessage, p.bobSession).toString()).toBe('#100');
    const e = thrown(() => p.bob.decrypt(msgs[99] as EncryptedMessage, p.bobSession));
    expect(e).toBeInstanceOf(OutOfWindowError);
    expect((e as OutOfWindowError).code).toBe('YAK_E2EE_OUT_OF_WINDOW');
  });

  it('the window only moves after authentication', async () => {
    const p = await pair();
    const msgs = Array.from({ length: 60 }, (_, i) => p.alice.encrypt(text(`#${i}`), p.aliceSession));
    const forged = { ...(msgs[50] as EncryptedMessage), mac: flipB64((msgs[50] as EncryptedMessage).mac) };
    expect(thrown(() => p.bob.decrypt(forged, p.bobSession))).toBeInstanceOf(DecryptError);
    expect(p.bob.describeSession(p.bobSession.session_id).receiveHighest).toBe(-1);
    // Counter 50 was not marked seen by the forgery.
    expect(p.bob.decrypt(msgs[50] as EncryptedMessage, p.bobSession).toString()).toBe('#50');
    expect(p.bob.decrypt(msgs[0] as EncryptedMessage, p.bobSession).toString()).toBe('#0');
  });

  it('honours a configured window', async () => {
    const p = await pair({ replayWindow: 4 });
    const msgs = Array.from({ length: 12 }, (_, i) => p.alice.encrypt(text(`#${i}`), p.aliceSession));
    expect(thrown(() => p.bob.decrypt(msgs[6] as EncryptedMessage, p.bobSession))).toBeInstanceOf(OutOfWindowError);
    p.bob.decrypt(msgs[4] as EncryptedMessage, p.bobSession);
    p.bob.decrypt(msgs[8] as EncryptedMessage, p.bobSession);
    expect(thrown(() => p.bob.decrypt(msgs[3] as EncryptedMessage, p.bobSession))).toBeInstanceOf(OutOfWindowError);
    expect(p.bob.decrypt(msgs[5] as EncryptedMessage, p.bobSession).toString()).toBe('#5');
  });
});

describe('AEAD choice', () => {
  it('ChaCha20-Poly1305 sessions detect tampering the same way', async () => {
    const p = await pair({ aead: 'chacha20-poly1305' });
    const m = p.alice.encrypt(text('chacha'), p.aliceSession);
    expect(thrown(() => p.bob.decrypt({ ...m, ciphertext: flipB64(m.ciphertext, 2) }, p.bobSession))).toBeInstanceOf(AuthenticationError);
    expect(p.bob.decrypt(m, p.bobSession).toString()).toBe('chacha');
    expect(new MeshCrypto().aead).toBe('aes-256-gcm');
  });
});
