// Behaviour of the seed 000 API over real MeshNetworks on the in-memory transport.
import { MemoryHub, type MeshNetwork } from '@yak/mesh-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortedError,
  Annex,
  type AnnexMessage,
  ChannelClosedError,
  InvalidArgumentError,
  PayloadTooLargeError,
  SessionLimitError,
  StoppedError,
  TimeoutError,
  UnreachableError,
  verifyAnnexProof,
} from '../src/index.js';
import { annexFor, byNodeId, FakeClock, identity, link, meshNode, stopAll, TapMesh, tappedPair, until } from './helpers.js';

afterEach(stopAll);

async function pair(optsA = {}, optsB = {}, ia = 0, ib = 1) {
  const hub = new MemoryHub();
  const a = await meshNode(ia, hub);
  const b = await meshNode(ib, hub);
  await link(a, b);
  const xa = annexFor(a, ia, optsA);
  const xb = annexFor(b, ib, optsB);
  const inA: AnnexMessage[] = [];
  const inB: AnnexMessage[] = [];
  xa.onMessage((m) => inA.push(m));
  xb.onMessage((m) => inB.push(m));
  return { hub, a, b, xa, xb, inA, inB };
}

describe('channels', () => {
  it('opens a channel, carries objects, strings and bytes both ways, and reports stats', async () => {
    const { a, b, xa, xb, inA, inB } = await pair();
    const s = await xa.openChannel(b.localId);
    expect(s).toMatchObject({ nodeId: b.localId, established: true, role: 'initiator', epoch: 0, signed: false, isExpired: false });
    expect(s.sessionId).toMatch(/^[0-9a-f]{32}$/);
    const r = await xa.send(b.localId, { type: 'private_message', content: 'Hello from the annexed territory!' });
    expect(r).toEqual({ sent: true, sessionId: s.sessionId, sequence: 1 });
    await xa.send(b.localId, 'a string');
    await xa.send(b.localId, new Uint8Array([0, 1, 2, 255]));
    await until(() => inB.length === 3);
    expect(inB[0]).toMatchObject({ from: a.localId, sessionId: s.sessionId, payload: { type: 'private_message' } });
    expect(typeof inB[0]?.timestamp).toBe('number');
    expect(inB[1]?.payload).toBe('a string');
    expect(inB[2]?.payload).toEqual(new Uint8Array([0, 1, 2, 255]));
    const back = await xb.send(a.localId, [1, 'two', null, true]);
    expect(back.sessionId).toBe(s.sessionId);
    await until(() => inA.length === 1);
    expect(inA[0]?.payload).toEqual([1, 'two', null, true]);
    expect(xa.getStats()).toEqual({
      sessionsCreated: 1,
      messagesEncrypted: 3,
      messagesDecrypted: 1,
      handshakesFailed: 0,
      replaysBlocked: 0,
      activeSessions: 1,
      pendingHandshakes: 0,
      envelopesRejected: 0,
      rekeys: 0,
    });
    expect(xb.getStats()).toMatchObject({ sessionsCreated: 1, messagesEncrypted: 1, messagesDecrypted: 3, activeSessions: 1 });
    const list = xb.listAnnexes();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ nodeId: a.localId, sessionId: s.sessionId, established: true, messageCount: 4, isExpired: false });
    expect(Object.keys(list[0] ?? {}).sort()).toEqual(
      ['createdAt', 'established', 'isExpired', 'lastActivity', 'messageCount', 'nodeId', 'sessionId'].sort(),
    );
  });

  it('send opens the channel when needed; openChannel on an open channel returns it', async () => {
    const { b, xa, inB } = await pair();
    const r = await xa.send(b.localId, 'first');
    await until(() => inB.length === 1);
    const s = await xa.openChannel(b.localId);
    expect(s.sessionId).toBe(r.sessionId);
    expect(xa.getStats().sessionsCreated).toBe(1);
  });

  it('offMessage removes a handler; a throwing handler does not stop the others', async () => {
    const { b, xa, xb } = await pair();
    const seen: string[] = [];
    const id1 = xb.onMessage(() => {
      throw new Error('handler bug');
    });
    const id2 = xb.onMessage((m) => seen.push(String(m.payload)));
    expect(id1).not.toBe(id2);
    await xa.send(b.localId, 'one');
    await until(() => seen.length === 1);
    expect(xb.offMessage(id2)).toBe(true);
    expect(xb.offMessage(id2)).toBe(false);
    await xa.send(b.localId, 'two');
    await until(() => xb.getStats().messagesDecrypted === 2);
    expect(seen).toEqual(['one']);
  });

  it('closeChannel releases the session on both sides, and either side may close', async () => {
    const { a, b, xa, xb, inB } = await pair();
    await xa.send(b.localId, 'x');
    await until(() => inB.length === 1);
    expect(await xb.closeChannel(a.localId)).toBe(true);
    await until(() => xa.getStats().activeSessions === 0);
    expect(xb.listAnnexes()).toEqual([]);
    expect(xa.listAnnexes()).toEqual([]);
    expect(await xb.closeChannel(a.localId)).toBe(false);
    // A new channel opens cleanly afterwards, with a new session id.
    const r = await xa.send(b.localId, 'again');
    await until(() => inB.length === 2);
    expect(r.sessionId).not.toBe(inB[0]?.sessionId);
    expect(await xa.closeChannel(b.localId)).toBe(true);
    await until(() => xb.getStats().activeSessions === 0);
  });

  it('both sides opening at once end with one session', async () => {
    const [lo, hi] = byNodeId(0, 1) as [number, number];
    const { a, b, xa, xb } = await pair({}, {}, lo, hi);
    const [sa, sb] = await Promise.all([xa.openChannel(b.localId), xb.openChannel(a.localId)]);
    expect(sa.sessionId).toBe(sb.sessionId);
    // The handshake started by the smaller node id won.
    expect(sa.role).toBe('initiator');
    expect(sb.role).toBe('responder');
    expect(xa.listAnnexes()).toHaveLength(1);
    expect(xb.listAnnexes()).toHaveLength(1);
    expect(xa.getStats().sessionsCreated + xb.getStats().sessionsCreated).toBe(2);
    await until(() => xa.getStats().pendingHandshakes === 0 && xb.getStats().pendingHandshakes === 0);
  });

  it('many concurrent sends in both directions all arrive exactly once', async () => {
    const { a, b, xa, xb, inA, inB } = await pair();
    const n = 200;
    await Promise.all([
      ...Array.from({ length: n }, (_, i) => xa.send(b.localId, { i })),
      ...Array.from({ length: n }, (_, i) => xb.send(a.localId, { i })),
    ]);
    await until(() => inA.length === n && inB.length === n);
    expect(new Set(inB.map((m) => (m.payload as { i: number }).i)).size).toBe(n);
    expect(new Set(inA.map((m) => (m.payload as { i: number }).i)).size).toBe(n);
    expect(new Set([...inA, ...inB].map((m) => m.sessionId)).size).toBe(1);
  });
});

describe('small-message batching', () => {
  it('messages sent in one tick share an envelope, arrive in order, and precede a later close', async () => {
    const { b, ta, xa, xb, inB } = await tappedPair();
    await xa.openChannel(b.localId);
    const before = ta.sent.length;
    const sends = Array.from({ length: 300 }, (_, i) => xa.send(b.localId, { i, pad: 'x'.repeat(200) }));
    // A large message in the same tick goes after the batched ones.
    sends.push(xa.send(b.localId, new Uint8Array(20_000)));
    const results = await Promise.all(sends);
    const closed = xa.closeChannel(b.localId);
    await closed;
    await until(() => inB.length === 301 && xb.getStats().activeSessions === 0);
    expect(inB.slice(0, 300).map((m) => (m.payload as { i: number }).i)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect((inB[300]?.payload as Uint8Array | undefined)?.length).toBe(20_000);
    const envelopes = ta.sent.length - before;
    // 300 messages of ~230 bytes fill two 64 KiB batches, then the large one and the close.
    expect(envelopes).toBeLessThanOrEqual(5);
    expect(new Set(results.slice(0, 300).map((r) => r.sequence)).size).toBeLessThanOrEqual(2);
    expect(results[300]?.sequence).toBeGreaterThan(results[299]?.sequence as number);
    expect(xa.getStats().messagesEncrypted).toBe(301);
    expect(xb.getStats().messagesDecrypted).toBe(301);
  });

  it('a replayed batch is blocked as a whole', async () => {
    const { a, b, ta, xa, xb, inB } = await tappedPair();
    await xa.openChannel(b.localId);
    await Promise.all([xa.send(b.localId, 'one'), xa.send(b.localId, 'two')]);
    await until(() => inB.length === 2);
    const batch = ta.sent[ta.sent.length - 1]?.bytes as Uint8Array;
    b.emit('message', { type: 'direct', from: a.localId, payload: batch }, undefined, a.localId);
    await until(() => xb.getStats().replaysBlocked === 1);
    expect(inB).toHaveLength(2);
  });
});

describe('large payloads', () => {
  it('chunks and reassembles a payload above the chunk size', async () => {
    const { b, xa, inB } = await pair({ chunkBytes: 64 * 1024 });
    const big = new Uint8Array(5 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i >>> 12) & 0xff;
    const r = await xa.send(b.localId, big);
    await until(() => inB.length === 1, 20_000);
    const got = inB[0]?.payload as Uint8Array;
    expect(got.length).toBe(big.length);
    expect(Buffer.from(got).equals(Buffer.from(big))).toBe(true);
    expect(r.sequence).toBe(1);
    // Envelope sequence numbers advanced by one per chunk.
    const next = await xa.send(b.localId, 'after');
    expect(next.sequence).toBe(1 + Math.ceil((big.length + 11) / (64 * 1024)));
  });

  it('carries a payload at the default 16 MiB limit through a congested link, and refuses one byte more', async () => {
    const { b, ta, xa, inB } = await tappedPair();
    const max = 16 * 1024 * 1024;
    await expect(xa.send(b.localId, new Uint8Array(max + 1))).rejects.toBeInstanceOf(PayloadTooLargeError);
    const big = new Uint8Array(max);
    big[0] = 1;
    big[max - 1] = 2;
    // 16 MiB exceeds the mesh link's 8 MiB send queue: ANNEX queues and retries (sendTo false).
    await xa.send(b.localId, big);
    await until(() => inB.length === 1, 30_000);
    const got = inB[0]?.payload as Uint8Array;
    expect([got.length, got[0], got[max - 1]]).toEqual([max, 1, 2]);
    expect(ta.busy).toBeGreaterThan(0);
  });

  it('refuses payloads above maxPayloadBytes with a typed error and sends nothing', async () => {
    const { b, xa, xb } = await pair({ maxPayloadBytes: 1024 });
    await expect(xa.send(b.localId, new Uint8Array(1025))).rejects.toBeInstanceOf(PayloadTooLargeError);
    await expect(xa.send(b.localId, 'x'.repeat(2000))).rejects.toMatchObject({ code: 'YAK_ANNEX_PAYLOAD_TOO_LARGE' });
    await expect(xa.send(b.localId, { big: 'y'.repeat(2000) })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(xa.getStats()).toMatchObject({ sessionsCreated: 0, messagesEncrypted: 0, pendingHandshakes: 0 });
    expect(xb.getStats().sessionsCreated).toBe(0);
    await xa.send(b.localId, new Uint8Array(1024));
  });

  it('a receiver refuses a chunked message larger than its own limit', async () => {
    const { b, xa, xb, inB } = await pair({ chunkBytes: 1024 }, { maxPayloadBytes: 4096 });
    await xa.send(b.localId, new Uint8Array(10_000));
    await xa.send(b.localId, 'small');
    await until(() => inB.length === 1);
    expect(inB[0]?.payload).toBe('small');
    expect(xb.getStats().envelopesRejected).toBeGreaterThan(0);
  });
});

describe('argument checks and typed errors', () => {
  it('rejects bad arguments without changing state', async () => {
    const { a, xa } = await pair();
    await expect(xa.openChannel('not-a-node')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(xa.openChannel(a.localId)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(xa.send(identity(1).nodeId, undefined as never)).rejects.toBeInstanceOf(TypeError);
    await expect(xa.send(identity(1).nodeId, (() => 1) as never)).rejects.toBeInstanceOf(TypeError);
    await expect(xa.openChannel(identity(1).nodeId, { timeoutMs: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => xa.onMessage(42 as never)).toThrow(TypeError);
    expect(xa.getStats().pendingHandshakes).toBe(0);
    expect(() => new Annex({ identity: identity(0), mesh: a, chunkBytes: 1 })).toThrow(InvalidArgumentError);
    expect(() => new Annex({ identity: identity(0), mesh: a, rekeyHardMargin: 0 })).toThrow(InvalidArgumentError);
    expect(() => new Annex({ identity: identity(0), mesh: a, rekeyHardMargin: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => new Annex({ identity: identity(0), mesh: a, rekeyAfterMessages: -1 })).toThrow(InvalidArgumentError);
    expect(() => new Annex({ identity: identity(1), mesh: a })).toThrow(InvalidArgumentError);
    expect(() => new Annex({ identity: identity(0), mesh: {} as never })).toThrow(TypeError);
  });

  it('openChannel to an unreachable node rejects with UnreachableError at the timeout', async () => {
    const clock = new FakeClock();
    const hub = new MemoryHub();
    const a = await meshNode(0, hub);
    const xa = annexFor(a, 0, { clock });
    const p = xa.openChannel(identity(2).nodeId);
    const settled = p.catch((e) => e);
    clock.advance(10_000);
    expect(await settled).toBeInstanceOf(UnreachableError);
    expect(xa.getStats()).toMatchObject({ handshakesFailed: 1, pendingHandshakes: 0 });
    expect(clock.pending).toBe(1); // only the housekeeping interval remains
  });

  it('openChannel to a silent peer times out; an aborted call rejects with AbortedError', async () => {
    const clock = new FakeClock();
    const hub = new MemoryHub();
    const a = await meshNode(0, hub);
    const b = await meshNode(1, hub);
    await link(a, b);
    const xa = annexFor(a, 0, { clock });
    const p = xa.openChannel(b.localId, { timeoutMs: 5000 }).catch((e) => e);
    clock.advance(5000);
    expect(await p).toBeInstanceOf(TimeoutError);
    const ctl = new AbortController();
    const q = xa.openChannel(b.localId, { signal: ctl.signal }).catch((e) => e);
    ctl.abort();
    expect(await q).toBeInstanceOf(AbortedError);
    const pre = new AbortController();
    pre.abort();
    await expect(xa.send(b.localId, 'x', { signal: pre.signal })).rejects.toMatchObject({ code: 'YAK_ANNEX_ABORTED' });
    clock.advance(10_000);
    expect(xa.getStats().pendingHandshakes).toBe(0);
  });

  it('maxSessions bounds channels', async () => {
    const hub = new MemoryHub();
    const a = await meshNode(0, hub);
    const b = await meshNode(1, hub);
    const c = await meshNode(2, hub);
    await link(a, b);
    await link(a, c);
    const xa = annexFor(a, 0, { maxSessions: 1 });
    annexFor(b, 1);
    annexFor(c, 2);
    await xa.openChannel(b.localId);
    await expect(xa.openChannel(c.localId)).rejects.toBeInstanceOf(SessionLimitError);
  });

  it('stop rejects pending calls, wipes sessions and leaves no timers', async () => {
    const clock = new FakeClock();
    const { b, xa } = await pair({ clock });
    await xa.openChannel(b.localId);
    const hub2 = new MemoryHub();
    const lonely = await meshNode(3, hub2);
    const xl = annexFor(lonely, 3, { clock });
    const pending = xl.openChannel(identity(4).nodeId).catch((e) => e);
    await xl.stop();
    expect(await pending).toBeInstanceOf(StoppedError);
    await xa.stop();
    expect(xa.getStats()).toMatchObject({ activeSessions: 0, pendingHandshakes: 0 });
    await expect(xa.send(b.localId, 'x')).rejects.toBeInstanceOf(StoppedError);
    expect(clock.pending).toBe(0);
  });
});

describe('robustness', () => {
  it('a lost key_response is retried and the channel opens', async () => {
    const clock = new FakeClock();
    const hub = new MemoryHub();
    const a = await meshNode(0, hub);
    const b = await meshNode(1, hub);
    await link(a, b);
    const tb = new TapMesh(b);
    let dropped = 0;
    tb.tap = (_to, bytes) => (bytes[4] === 2 && dropped++ === 0 ? null : undefined);
    const xa = annexFor(a, 0, { clock });
    annexFor(tb, 1, { clock });
    const p = xa.openChannel(b.localId);
    await until(() => dropped === 1);
    clock.advance(1000);
    const s = await p;
    expect(s.established).toBe(true);
    // Both key_responses were the same bytes: the responder answered the retransmission from its cache.
    const krs = tb.sent.filter((x) => x.bytes[4] === 2);
    expect(krs).toHaveLength(2);
    expect(Buffer.from(krs[0]?.bytes as Uint8Array).equals(Buffer.from(krs[1]?.bytes as Uint8Array))).toBe(true);
  });

  it('a lost finishing envelope and a lost confirmation are retried', async () => {
    const clock = new FakeClock();
    const { b, ta, tb, xa, xb } = await tappedPair({ clock }, { clock });
    let finDropped = 0;
    let confDropped = 0;
    ta.tap = (_to, bytes) => (bytes[4] === 3 && bytes[33] === 1 && finDropped++ === 0 ? null : undefined);
    tb.tap = (_to, bytes) => (bytes[4] === 3 && confDropped++ === 0 ? null : undefined);
    const p = xa.openChannel(b.localId);
    await until(() => finDropped === 1);
    clock.advance(1000);
    await until(() => confDropped === 1);
    clock.advance(2000);
    const s = await p;
    expect(s.established).toBe(true);
    expect(xb.getStats().sessionsCreated).toBe(1);
    expect(xb.getStats().replaysBlocked).toBe(0);
  });

  it('a restarted peer is re-established cleanly from either side', async () => {
    const hub = new MemoryHub();
    const a = await meshNode(0, hub);
    const b = await meshNode(1, hub);
    await link(a, b);
    const xa = annexFor(a, 0);
    let xb = annexFor(b, 1);
    const inB: AnnexMessage[] = [];
    xb.onMessage((m) => inB.push(m));
    const first = await xa.send(b.localId, 'before');
    await until(() => inB.length === 1);
    // B restarts: its Annex (and every key) is gone.
    await xb.stop();
    await until(() => xa.getStats().activeSessions === 0);
    xb = annexFor(b, 1);
    xb.onMessage((m) => inB.push(m));
    const second = await xa.send(b.localId, 'after restart');
    await until(() => inB.length === 2);
    expect(second.sessionId).not.toBe(first.sessionId);

    // A crashes (no close reaches B) and comes back: B's next envelope gets an "unknown session"
    // notice, B re-handshakes, and later messages arrive.
    await crashQuietly(xa, a);
    const fresh = annexFor(a, 0);
    const inA: AnnexMessage[] = [];
    fresh.onMessage((m) => inA.push(m));
    await xb.send(a.localId, 'lost in the dead session');
    await until(() => xb.listAnnexes().some((x) => x.established && x.sessionId !== second.sessionId), 5000, 'rehandshake');
    await xb.send(a.localId, 'after crash');
    await until(() => inA.some((m) => m.payload === 'after crash'));
    expect(fresh.getStats().sessionsCreated).toBe(1);
    expect(inA.map((m) => m.payload)).toEqual(['after crash']);

    // A crashes again and this time sends first: B still holds the old session, accepts the new
    // handshake from the same identity, and replaces the old session with it.
    await crashQuietly(fresh, a);
    const again = annexFor(a, 0);
    const before = xb.listAnnexes()[0]?.sessionId;
    const r = await again.send(b.localId, 'restarted and sending first');
    await until(() => inB.some((m) => m.payload === 'restarted and sending first'));
    expect(r.sessionId).not.toBe(before);
    expect(xb.listAnnexes().map((x) => x.sessionId)).toEqual([r.sessionId]);
    await xb.send(a.localId, 'reply on the new session');
    await until(() => again.getStats().messagesDecrypted === 1);
  });

  it('idle sessions expire on both sides', async () => {
    const clock = new FakeClock();
    const { a, b, xa, xb } = await pair({ clock, idleTimeoutMs: 60_000 }, { clock, idleTimeoutMs: 60_000 });
    await xa.openChannel(b.localId);
    await until(() => xb.getStats().activeSessions === 1);
    clock.advance(59_000);
    expect(xa.listAnnexes()[0]?.isExpired).toBe(false);
    clock.advance(1_000);
    expect(xa.listAnnexes()).toEqual([]);
    await until(() => xb.listAnnexes().length === 0);
    expect(xa.getStats().activeSessions).toBe(0);
    void a;
  });

  it('a closed channel rejects an in-progress open with ChannelClosedError', async () => {
    const clock = new FakeClock();
    const hub = new MemoryHub();
    const a = await meshNode(0, hub);
    const xa = annexFor(a, 0, { clock });
    const target = identity(5).nodeId;
    const p = xa.openChannel(target).catch((e) => e);
    expect(await xa.closeChannel(target)).toBe(true);
    expect(await p).toBeInstanceOf(ChannelClosedError);
  });
});

describe('signed envelopes', () => {
  it('signEnvelopes on either side makes both sign; proofs verify and bind the payload', async () => {
    const { a, b, xa, xb, inA, inB } = await pair({ signEnvelopes: true }, {});
    const s = await xa.openChannel(b.localId);
    expect(s.signed).toBe(true);
    await xa.send(b.localId, 'signed hello');
    await xb.send(a.localId, new Uint8Array([9, 9]));
    await until(() => inB.length === 1 && inA.length === 1);
    const p = inB[0]?.proof;
    expect(p).toBeDefined();
    expect(p?.signer).toBe(a.localId);
    expect(p?.recipient).toBe(b.localId);
    expect(verifyAnnexProof(p as NonNullable<typeof p>, new TextEncoder().encode('signed hello'))).toBe(true);
    expect(verifyAnnexProof(p as NonNullable<typeof p>, new TextEncoder().encode('signed hellO'))).toBe(false);
    expect(verifyAnnexProof({ ...(p as NonNullable<typeof p>), timestamp: (p?.timestamp ?? 0) + 1 })).toBe(false);
    expect(verifyAnnexProof({ ...(p as NonNullable<typeof p>), signer: b.localId })).toBe(false);
    expect(inA[0]?.proof?.signer).toBe(b.localId);
  });

  it('unsigned sessions carry no proof', async () => {
    const { b, xa, inB } = await pair();
    await xa.send(b.localId, 'plain');
    await until(() => inB.length === 1);
    expect(inB[0]?.proof).toBeUndefined();
  });
});

/** Stop an Annex without anything it sends reaching the network, as a crash would. */
async function crashQuietly(x: Annex, mesh: MeshNetwork): Promise<void> {
  const orig = mesh.sendTo.bind(mesh);
  mesh.sendTo = () => true;
  try {
    await x.stop();
  } finally {
    mesh.sendTo = orig;
  }
}
