import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, inject, stopAll, tappedPair, until } from './helpers.js';

afterEach(stopAll);

const setup = tappedPair;

const isData = (b: Uint8Array) => b[4] === 3 && b[33] === 0;

describe('rekey', () => {
  it('rekeys every N messages under continuous two-way traffic without losing a message', async () => {
    const { a, b, xa, xb, inA, inB } = await setup({ rekeyAfterMessages: 50 }, { rekeyAfterMessages: 50 });
    await xa.openChannel(b.localId);
    const n = 600;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      sends.push(xa.send(b.localId, { i }));
      if (i % 3 === 0) sends.push(xb.send(a.localId, { i }));
      // Let envelopes and rekey messages interleave with new sends. A rekey is started after 50
      // envelopes and completes one round trip later; sending continues under the old key meanwhile.
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(sends);
    await until(() => inB.length === n && inA.length === n / 3, 10_000);
    expect(inB.map((m) => (m.payload as { i: number }).i)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(xa.getStats().rekeys).toBeGreaterThanOrEqual(10);
    expect(xb.getStats().rekeys).toBe(xa.getStats().rekeys);
    expect(xa.getStats().envelopesRejected + xb.getStats().envelopesRejected).toBe(0);
    const s = await xa.openChannel(b.localId);
    expect(s.epoch).toBe(xa.getStats().rekeys);
    expect(new Set(inB.map((m) => m.sessionId)).size).toBe(1);
  });

  it('rekeys after rekeyIntervalMs (fake clock)', async () => {
    const clock = new FakeClock();
    const { b, xa, xb } = await setup({ clock }, { clock });
    const s0 = await xa.openChannel(b.localId);
    expect(s0.epoch).toBe(0);
    clock.advance(299_000);
    expect(xa.getStats().rekeys).toBe(0);
    clock.advance(1_000);
    await until(() => xa.getStats().rekeys === 1 && xb.getStats().rekeys === 1);
    expect((await xa.openChannel(b.localId)).epoch).toBe(1);
    clock.advance(300_000);
    await until(() => xa.getStats().rekeys === 2 && xb.getStats().rekeys === 2);
    expect(xa.getStats().activeSessions).toBe(1);
  });

  it('both sides rekeying at once agree on one new epoch', async () => {
    const { a, b, xa, xb, inA, inB } = await setup();
    await xa.openChannel(b.localId);
    await until(() => xb.getStats().activeSessions === 1);
    const [ra, rb] = await Promise.all([xa.rekey(b.localId), xb.rekey(a.localId)]);
    expect(ra.epoch).toBe(1);
    expect(rb.epoch).toBe(1);
    await xa.send(b.localId, 'after');
    await xb.send(a.localId, 'after');
    await until(() => inA.length === 1 && inB.length === 1);
  });

  it('accepts an envelope under the previous key during the grace period, and not after', async () => {
    const clock = new FakeClock();
    const { a, b, ta, xa, inB, xb } = await setup({ clock }, { clock, rekeyGraceMs: 10_000 });
    await xa.openChannel(b.localId);
    const held: Uint8Array[] = [];
    ta.tap = (_to, bytes) => {
      if (isData(bytes) && held.length < 2) {
        held.push(bytes.slice());
        return null;
      }
      return undefined;
    };
    await xa.send(b.localId, 'in flight 1');
    await xa.send(b.localId, 'in flight 2');
    ta.tap = undefined;
    expect(held).toHaveLength(2);
    await xa.rekey(b.localId);
    await until(() => xb.getStats().rekeys === 1);
    await xa.send(b.localId, 'new key');
    await until(() => inB.length === 1);
    // Within the grace period the old epoch's key still opens the delayed envelope.
    inject(b, a.localId, held[0] as Uint8Array);
    await until(() => inB.length === 2);
    expect(inB.map((m) => m.payload)).toEqual(['new key', 'in flight 1']);
    // After it the key is wiped: the second delayed envelope is rejected (not delivered).
    clock.advance(11_000);
    const before = xb.getStats().envelopesRejected;
    inject(b, a.localId, held[1] as Uint8Array);
    await until(() => xb.getStats().envelopesRejected === before + 1);
    expect(inB).toHaveLength(2);
  });

  it('an unanswered rekey closes the session and the next send opens a fresh one', async () => {
    const clock = new FakeClock();
    const { b, tb, xa, inB } = await setup({ clock, rekeyTimeoutMs: 5_000 }, { clock });
    const first = await xa.send(b.localId, 'one');
    await until(() => inB.length === 1);
    // B's accept is lost.
    tb.tap = (_to, bytes) => (bytes[4] === 4 ? null : undefined);
    const r = xa.rekey(b.localId).catch((e) => e);
    await until(() => tb.sent.some((x) => x.bytes[4] === 4));
    clock.advance(5_000);
    expect((await r).code).toBe('YAK_ANNEX_CHANNEL_CLOSED');
    tb.tap = undefined;
    const second = await xa.send(b.localId, 'two');
    expect(second.sessionId).not.toBe(first.sessionId);
    await until(() => inB.length === 2);
  });
});
