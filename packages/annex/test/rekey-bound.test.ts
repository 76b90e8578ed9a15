// The hard bound on key use (docs/protocol/annex.md section 6.1): a sender never seals more than
// rekeyAfterMessages + rekeyHardMargin messages under one send key, holds further sends until
// the rekey completes, and a receiver refuses envelopes beyond the bound under one key. The peer
// that withholds its rekey answer is modelled by dropping B's annex:rekey envelopes at its tap.
import { afterEach, describe, expect, it } from 'vitest';
import { type AnnexError, KeyExhaustedError, REKEY_CONTROL_ENVELOPES, type SendResult } from '../src/index.js';
import { FakeClock, inject, stopAll, type TapMesh, tappedPair, until } from './helpers.js';

afterEach(stopAll);

const REKEY = 4;
/** A small hard margin (the default is 2^16), set on both peers as the protocol requires. */
const REKEY_HARD_MARGIN = 1_000;
const isData = (b: Uint8Array) => b[4] === 3 && b[33] === 0;
const epochOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.length).getUint32(21);
/** A few turns of the event loop (no timers, no sleeping). */
const turns = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** Data envelopes A sealed, by epoch. */
function dataEpochs(ta: TapMesh): number[] {
  return ta.sent.filter((x) => isData(x.bytes)).map((x) => epochOf(x.bytes));
}

/** A channel A -> B where B's rekey answers are kept back (returned in `withheld`). */
async function withholdingPair(optsA: Parameters<typeof tappedPair>[0]) {
  const clock = new FakeClock();
  const p = await tappedPair({ clock, rekeyHardMargin: REKEY_HARD_MARGIN, ...optsA }, { clock, rekeyHardMargin: REKEY_HARD_MARGIN });
  await p.xa.openChannel(p.b.localId);
  await until(() => p.xb.getStats().activeSessions === 1);
  const withheld: Uint8Array[] = [];
  p.tb.tap = (_to, bytes) => {
    if (bytes[4] !== REKEY) return undefined;
    withheld.push(bytes.slice());
    return null;
  };
  return { ...p, clock, withheld };
}

/** Send `total` small messages from A as continuous traffic; record how each send settles. */
function traffic(x: { send(to: string, p: unknown): Promise<SendResult> }, to: string, total: number) {
  const settled: (SendResult | AnnexError | undefined)[] = new Array(total).fill(undefined);
  const all = (async () => {
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      ps.push(
        x.send(to, { i }).then(
          (r) => {
            settled[i] = r;
          },
          (e) => {
            settled[i] = e;
          },
        ),
      );
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(ps);
  })();
  return { settled, all };
}

describe('hard bound on messages per key (section 6.1)', () => {
  it('stops sealing at exactly the bound while the rekey answer is withheld, then delivers the rest in order', async () => {
    const R = 100;
    const H = R + REKEY_HARD_MARGIN;
    const extra = 300;
    const { a, b, ta, tb, xa, xb, inB, withheld } = await withholdingPair({ rekeyAfterMessages: R });
    const { settled, all } = traffic(xa, b.localId, H + extra);
    // (a) The first H messages go out under epoch 0; the rest wait.
    await until(() => inB.length === H && withheld.length === 1);
    await turns();
    expect(inB).toHaveLength(H);
    expect(xa.getStats().messagesEncrypted).toBe(H);
    expect(settled.slice(0, H).every((r) => r !== undefined && 'sent' in r)).toBe(true);
    expect(settled.slice(H).every((r) => r === undefined)).toBe(true);
    expect(dataEpochs(ta).every((e) => e === 0)).toBe(true);
    // Exactly one offer went out; B answered (held back) and switched its own sending.
    expect(ta.sent.filter((x) => x.bytes[4] === REKEY)).toHaveLength(1);
    await turns();
    expect(inB).toHaveLength(H);
    // (b) The answer arrives: the held messages follow under epoch 1, in order, none lost.
    tb.tap = undefined;
    inject(a, b.localId, withheld[0] as Uint8Array);
    await all;
    await until(() => inB.length === H + extra);
    expect(inB.map((m) => (m.payload as { i: number }).i)).toEqual(Array.from({ length: H + extra }, (_, i) => i));
    expect(settled.every((r) => r !== undefined && 'sent' in r)).toBe(true);
    expect(new Set(inB.map((m) => m.sessionId)).size).toBe(1);
    const epochs = dataEpochs(ta);
    expect(epochs.filter((e) => e === 1).length).toBeGreaterThan(0);
    expect(epochs).toEqual([...epochs].sort((x, y) => x - y));
    // The new key carried 300 messages, past R again: a second rekey follows, answered normally.
    await until(() => xa.getStats().rekeys === 2 && xb.getStats().rekeys === 2);
    expect(xa.getStats()).toMatchObject({ messagesEncrypted: H + extra, envelopesRejected: 0, activeSessions: 1 });
    expect(xb.getStats()).toMatchObject({ messagesDecrypted: H + extra, envelopesRejected: 0 });
  });

  it('a rekey that times out tears the session down and rejects held sends with YAK_ANNEX_KEY_EXHAUSTED', async () => {
    const R = 50;
    const H = R + REKEY_HARD_MARGIN;
    const extra = 40;
    const { b, xa, xb, inB, tb, clock, withheld } = await withholdingPair({ rekeyAfterMessages: R, rekeyTimeoutMs: 5_000 });
    const { settled, all } = traffic(xa, b.localId, H + extra);
    await until(() => inB.length === H && withheld.length === 1);
    await turns();
    expect(settled.slice(H).every((r) => r === undefined)).toBe(true);
    clock.advance(5_000);
    await all;
    const held = settled.slice(H) as AnnexError[];
    expect(held.every((e) => e instanceof KeyExhaustedError && e.code === 'YAK_ANNEX_KEY_EXHAUSTED')).toBe(true);
    expect(held.every((e) => (e as KeyExhaustedError).reason === 'rekey_failed')).toBe(true);
    // Counters describe what happened: H messages sealed and delivered, no rekey, no session.
    expect(xa.getStats()).toMatchObject({ messagesEncrypted: H, rekeys: 0, activeSessions: 0, pendingHandshakes: 0 });
    await until(() => xb.getStats().activeSessions === 0);
    expect(xb.getStats().messagesDecrypted).toBe(H);
    expect(inB).toHaveLength(H);
    // The next send handshakes again.
    tb.tap = undefined;
    const r = await xa.send(b.localId, 'after');
    expect(r.sessionId).not.toBe(inB[0]?.sessionId);
    await until(() => inB.length === H + 1);
  });

  it('held sends honour their signal and timeout and are never sent afterwards; the hold queue is bounded', async () => {
    const R = 10;
    const H = R + REKEY_HARD_MARGIN;
    const { a, b, xa, inB, clock, withheld } = await withholdingPair({ rekeyAfterMessages: R, maxPayloadBytes: 1024 });
    const { settled } = traffic(xa, b.localId, H);
    await until(() => inB.length === H && withheld.length === 1);
    const ac = new AbortController();
    const aborted = xa.send(b.localId, 'aborted', { signal: ac.signal }).catch((e) => e);
    const timedOut = xa.send(b.localId, 'timed out', { timeoutMs: 2_000 }).catch((e) => e);
    const kept = xa.send(b.localId, 'kept');
    ac.abort();
    expect((await aborted).code).toBe('YAK_ANNEX_ABORTED');
    clock.advance(2_000);
    expect((await timedOut).code).toBe('YAK_ANNEX_TIMEOUT');
    // Held payloads are bounded by 2 x maxPayloadBytes: one more 1 KiB payload does not fit.
    const big = new Uint8Array(1024);
    const fits = xa.send(b.localId, big);
    const full = await xa.send(b.localId, big).catch((e) => e);
    expect(full).toBeInstanceOf(KeyExhaustedError);
    expect(full.reason).toBe('queue_full');
    inject(a, b.localId, withheld[0] as Uint8Array);
    await kept;
    await fits;
    await until(() => inB.length === H + 2);
    expect(inB.slice(H).map((m) => m.payload)).toEqual(['kept', big]);
    expect(settled.every((r) => r !== undefined && 'sent' in r)).toBe(true);
  });

  it('a chunked message sent at the bound is split across the old and the new key and arrives whole', async () => {
    const R = 10;
    const H = R + REKEY_HARD_MARGIN;
    const { a, b, ta, xa, inB, withheld } = await withholdingPair({ rekeyAfterMessages: R, chunkBytes: 4096 });
    const { all } = traffic(xa, b.localId, H - 3);
    await until(() => inB.length === H - 3 && withheld.length === 1);
    // 20 KiB (above the batching size) in 4 KiB chunks: 3 of 6 fit under the old key, the rest
    // waits for the new one.
    const payload = Uint8Array.from({ length: 20 * 1024 }, (_, i) => i & 0xff);
    const big = xa.send(b.localId, payload);
    const after = xa.send(b.localId, 'after');
    await turns();
    expect(inB).toHaveLength(H - 3);
    expect(dataEpochs(ta).filter((e) => e === 1)).toHaveLength(0);
    inject(a, b.localId, withheld[0] as Uint8Array);
    await Promise.all([all, big, after]);
    await until(() => inB.length === H - 1);
    expect(inB[H - 3]?.payload).toEqual(payload);
    expect(inB[H - 2]?.payload).toBe('after');
    expect(dataEpochs(ta).filter((e) => e === 1).length).toBeGreaterThan(0);
  });
});

describe('hard bound on key age (section 6.1)', () => {
  it('no message is sealed under a key older than rekeyIntervalMs + rekeyTimeoutMs', async () => {
    // Sweeps every 4 s: the time-based rekey starts at 12 s and would time out at 17 s, but the
    // key reaches its age bound at 15 s.
    const { b, xa, inB, clock, withheld } = await withholdingPair({
      rekeyIntervalMs: 10_000,
      rekeyTimeoutMs: 5_000,
      sweepIntervalMs: 4_000,
    });
    clock.advance(12_000);
    await until(() => withheld.length === 1);
    await xa.send(b.localId, 'in time');
    await until(() => inB.length === 1);
    clock.advance(3_000);
    const late = xa.send(b.localId, 'too late').catch((e) => e);
    await turns();
    expect(inB).toHaveLength(1);
    expect(xa.getStats().messagesEncrypted).toBe(1);
    clock.advance(1_000);
    const err = await late;
    expect(err).toBeInstanceOf(KeyExhaustedError);
    expect(err.reason).toBe('rekey_failed');
    expect(xa.getStats().activeSessions).toBe(0);
    expect(inB).toHaveLength(1);
  });
});

describe('receiver enforcement (section 6.1)', () => {
  it('refuses envelopes whose sequence span under one key exceeds the bound, from a sender that ignores it', async () => {
    // A is configured never to rekey (its own bound is out of reach): to B it is a sender that
    // keeps using one key. B's bound: 1 + REKEY_HARD_MARGIN messages plus the control envelopes,
    // counted by sequence number from the finishing envelope (seq 0).
    const clock = new FakeClock();
    const { a, b, ta, xa, xb, inB } = await tappedPair(
      { clock, rekeyAfterMessages: 2 ** 40, rekeyHardMargin: REKEY_HARD_MARGIN },
      { clock, rekeyAfterMessages: 1, rekeyHardMargin: REKEY_HARD_MARGIN },
    );
    await xa.openChannel(b.localId);
    await until(() => xb.getStats().activeSessions === 1);
    const limit = 1 + REKEY_HARD_MARGIN + REKEY_CONTROL_ENVELOPES;
    const sent = limit + 5;
    // One envelope per message: each send is awaited, so no two share a batch.
    for (let i = 1; i <= sent; i++) await xa.send(b.localId, i);
    await until(() => xb.getStats().envelopesRejected === sent - (limit - 1));
    expect(inB).toHaveLength(limit - 1);
    expect(inB.at(-1)?.payload).toBe(limit - 1);
    expect(xb.getStats().messagesDecrypted).toBe(limit - 1);
    // Replaying an accepted envelope is still counted as a replay, not as a bound violation.
    const rejected = xb.getStats().envelopesRejected;
    inject(b, a.localId, ta.sent.find((x) => isData(x.bytes))?.bytes as Uint8Array);
    await until(() => xb.getStats().replaysBlocked === 1);
    expect(xb.getStats().envelopesRejected).toBe(rejected);
    // The key is spent for good: even the sender's rekey offer under it is refused, so the rekey
    // times out, the session ends and only a fresh handshake gets the sender heard again.
    const rekeyed = xa.rekey(b.localId, { timeoutMs: 60_000 }).catch((e) => e);
    await until(() => xb.getStats().envelopesRejected === rejected + 1);
    clock.advance(30_000);
    expect((await rekeyed).code).toBe('YAK_ANNEX_CHANNEL_CLOSED');
    expect(xb.getStats().rekeys).toBe(0);
    await xa.send(b.localId, 'fresh session');
    await until(() => inB.length === limit);
    expect(inB.at(-1)?.payload).toBe('fresh session');
    expect(inB.at(-1)?.sessionId).not.toBe(inB[0]?.sessionId);
  });
});
