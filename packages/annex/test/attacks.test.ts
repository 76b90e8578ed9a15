// Attacks on ANNEX (SPEC section 4, "Security tests"): tamper, replay, reorder, a man in the
// middle on the route, wrong recipient, forged close and notices, and garbage in every state.
// Relays are modelled by the test router, whose origin field is not authenticated: exactly the
// untrusted multi-hop path ANNEX must not rely on.
import { encodeIdentityRecord, hybridKem, randomBytes } from '@yak/crypto';
import { MemoryHub, type MeshNetwork } from '@yak/mesh-core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { type AnnexMessage, decodeEnvelope, encodeEnvelope, HandshakeError, type KeyExchangeEnvelope } from '../src/index.js';
import {
  annexFor,
  FakeClock,
  frameEnds,
  identity,
  inject,
  link,
  meshNode,
  routedBodyOffset,
  routeFrame,
  staticRouter,
  stopAll,
  type TapMesh,
  TEST_ROUTE_KIND,
  tappedPair,
  until,
} from './helpers.js';

afterEach(stopAll);

const DIRECT = 0x40;
const isData = (b: Uint8Array) => b[4] === 3 && b[33] === 0;

async function pair() {
  const p = await tappedPair();
  await p.xa.openChannel(p.b.localId);
  await until(() => p.xb.getStats().activeSessions === 1);
  return p;
}

/** Send `payload` from A but keep the envelope instead of delivering it. */
async function capture(ta: TapMesh, send: () => Promise<unknown>): Promise<Uint8Array> {
  let held: Uint8Array | undefined;
  ta.tap = (_to, bytes) => {
    if (!held && isData(bytes)) {
      held = bytes.slice();
      return null;
    }
    return undefined;
  };
  await send();
  ta.tap = undefined;
  if (!held) throw new Error('nothing captured');
  return held;
}

/** Let queued deliveries run. */
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('tampering', () => {
  it('a flipped bit anywhere in an envelope is rejected; the original still arrives once', async () => {
    const { a, b, ta, xa, xb, inB } = await pair();
    const env = await capture(ta, () => xa.send(b.localId, 'secret'));
    const positions = [...Array.from({ length: 34 }, (_, i) => i), 34, 40, env.length - 17, env.length - 16, env.length - 1];
    let expectRejected = 0;
    for (const p of positions) {
      const t = env.slice();
      t[p] = (t[p] as number) ^ 0x01;
      inject(b, a.localId, t);
      // Bytes 0-2 are the magic: such a message is not annex traffic and is ignored, uncounted.
      if (p > 2) expectRejected++;
    }
    // Flipping the low bit of sequence 1 gives 0, already used by the handshake: blocked as a
    // replay before any decryption. Every other flip fails to parse or to authenticate.
    await until(() => xb.getStats().envelopesRejected + xb.getStats().replaysBlocked === expectRejected);
    expect(xb.getStats().replaysBlocked).toBe(1);
    expect(inB).toHaveLength(0);
    // Truncated and extended copies too.
    inject(b, a.localId, env.subarray(0, env.length - 1));
    inject(b, a.localId, env.subarray(0, 40));
    const longer = new Uint8Array(env.length + 1);
    longer.set(env);
    inject(b, a.localId, longer);
    await until(() => xb.getStats().envelopesRejected === expectRejected - 1 + 3);
    expect(inB).toHaveLength(0);
    inject(b, a.localId, env);
    await until(() => inB.length === 1);
    expect(inB[0]?.payload).toBe('secret');
  });
});

describe('replay and reorder', () => {
  it('a replayed envelope is blocked and counted; so are replayed handshake messages', async () => {
    const { a, b, ta, xa, xb, inB } = await pair();
    const env = await capture(ta, () => xa.send(b.localId, 'secret'));
    inject(b, a.localId, env);
    await until(() => inB.length === 1);
    inject(b, a.localId, env);
    inject(b, a.localId, env);
    await until(() => xb.getStats().replaysBlocked === 2);
    expect(inB).toHaveLength(1);
    // Replaying the whole handshake creates no second session.
    const kx = ta.sent.find((x) => x.bytes[4] === 1)?.bytes as Uint8Array;
    const fin = ta.sent.find((x) => x.bytes[4] === 3 && x.bytes[33] === 1)?.bytes as Uint8Array;
    inject(b, a.localId, kx);
    inject(b, a.localId, fin);
    await settle();
    expect(xb.getStats().sessionsCreated).toBe(1);
    expect(xb.listAnnexes()).toHaveLength(1);
  });

  it('reordering within the window is accepted; beyond the window it is blocked', async () => {
    const { a, b, ta, xa, xb, inB } = await pair();
    const early = await capture(ta, () => xa.send(b.localId, 'secret'));
    for (let i = 0; i < 10; i++) await xa.send(b.localId, i);
    await until(() => inB.length === 10);
    inject(b, a.localId, early);
    await until(() => inB.length === 11);
    expect(inB[10]?.payload).toBe('secret');
    const old = await capture(ta, () => xa.send(b.localId, 'secret'));
    for (let i = 0; i < 2100; i++) await xa.send(b.localId, i);
    await until(() => inB.length === 2111, 10_000);
    inject(b, a.localId, old);
    await until(() => xb.getStats().replaysBlocked === 1);
    expect(inB).toHaveLength(2111);
  });
});

describe('misaddressed and forged envelopes', () => {
  it('an envelope delivered to the wrong node, or claiming the wrong sender, is rejected', async () => {
    const { hub, a, b, ta, xa, xb, inB } = await pair();
    const c = await meshNode(2, hub);
    await link(c, b);
    const xc = annexFor(c, 2);
    const inC: AnnexMessage[] = [];
    xc.onMessage((m) => inC.push(m));
    const env = await capture(ta, () => xa.send(b.localId, 'secret'));
    // Wrong recipient: C has no such session.
    inject(c, a.localId, env);
    await until(() => xc.getStats().envelopesRejected === 1);
    // Wrong sender: B's session with A does not accept it from C.
    inject(b, c.localId, env);
    await until(() => xb.getStats().envelopesRejected === 1);
    expect(inC).toHaveLength(0);
    expect(inB).toHaveLength(0);
    inject(b, a.localId, env);
    await until(() => inB.length === 1);
  });

  it('a forged close is ignored; a real close from the peer is honoured', async () => {
    const { a, b, xa, xb } = await pair();
    const sid = xb.listAnnexes()[0]?.sessionId as string;
    const forged = encodeEnvelope({
      type: 'annex:close',
      sessionId: Buffer.from(sid, 'hex'),
      epoch: 0,
      seq: 99,
      flags: 0,
      sealed: randomBytes(17),
    });
    inject(b, a.localId, forged);
    await until(() => xb.getStats().envelopesRejected === 1);
    expect(xb.getStats().activeSessions).toBe(1);
    const r = await xa.send(b.localId, 'still open');
    expect(r.sessionId).toBe(sid);
    await xa.closeChannel(b.localId);
    await until(() => xb.getStats().activeSessions === 0);
  });

  it('a forged "unknown session" notice only causes a fresh handshake; no message is lost', async () => {
    const { a, b, xa, xb, inB, inA } = await pair();
    const sid = xb.listAnnexes()[0]?.sessionId as string;
    inject(b, a.localId, encodeEnvelope({ type: 'annex:close', notice: true, sessionId: Buffer.from(sid, 'hex') }));
    const sends = Array.from({ length: 20 }, (_, i) => xb.send(a.localId, i));
    await Promise.all(sends);
    await until(() => inA.length === 20);
    expect(inA.map((m) => m.payload)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(xb.getStats().activeSessions).toBe(1);
    await xa.send(b.localId, 'ok');
    await until(() => inB.length === 1);
  });

  it('a key_exchange carrying another node’s record, or a bad ephemeral key, creates nothing', async () => {
    const { hub, a, b, xb } = await pair();
    const c = await meshNode(2, hub);
    void c;
    const base = decodeEnvelope(
      encodeEnvelope({
        type: 'annex:key_exchange',
        sessionId: randomBytes(16),
        flags: 0,
        record: encodeIdentityRecord(identity(2).publicRecord()),
        ephemeralKey: hybridKem.generateKeyPair().publicKey,
      }),
    ) as KeyExchangeEnvelope;
    // C's record, delivered as coming from A.
    inject(b, a.localId, encodeEnvelope(base));
    // A's record with a corrupted signature.
    const rec = encodeIdentityRecord(identity(0).publicRecord());
    rec[rec.length - 5] = (rec[rec.length - 5] as number) ^ 1;
    inject(b, a.localId, encodeEnvelope({ ...base, sessionId: randomBytes(16), record: rec }));
    await until(() => xb.getStats().envelopesRejected === 2);
    expect(xb.getStats().handshakesFailed).toBe(2);
    expect(xb.getStats().pendingHandshakes).toBe(0);
  });
});

describe('a man in the middle on the route', () => {
  /** A - M - B, with M relaying through the test router and `tap` deciding what it forwards. */
  async function line(tap: (f: Uint8Array, m: MeshNetwork) => Uint8Array | null) {
    const hub = new MemoryHub();
    let mRef: MeshNetwork | undefined;
    const a = await meshNode(0, hub, { router: staticRouter({ [identity(1).nodeId]: identity(2).nodeId }) });
    const m = await meshNode(2, hub, { router: staticRouter({}, (f) => tap(f, mRef as MeshNetwork)) });
    mRef = m;
    const b = await meshNode(1, hub, { router: staticRouter({ [identity(0).nodeId]: identity(2).nodeId }) });
    await link(a, m);
    await link(m, b);
    const clock = new FakeClock();
    const xa = annexFor(a, 0, { clock });
    const xb = annexFor(b, 1, { clock });
    return { a, m, b, xa, xb, clock };
  }

  const annexBytes = (f: Uint8Array) => f.subarray(routedBodyOffset(f) + 1);

  it('a relay answering with its own identity cannot complete the channel', async () => {
    const mIdentity = identity(2);
    let forged = 0;
    const { a, b, xa, xb, clock } = await line((f, m) => {
      const body = annexBytes(f);
      if (f[2] !== DIRECT || body[4] !== 1) return f;
      // Swallow A's key_exchange and answer in the relay's own name.
      const kx = decodeEnvelope(body) as KeyExchangeEnvelope;
      const e = hybridKem.encapsulate(kx.ephemeralKey);
      const i = hybridKem.encapsulate(identity(0).kemPublicKey);
      const kr = encodeEnvelope({
        type: 'annex:key_response',
        sessionId: kx.sessionId,
        flags: 0,
        record: encodeIdentityRecord(mIdentity.publicRecord()),
        ctEphemeral: e.cipherText,
        ctStatic: i.cipherText,
      });
      const { origin } = frameEnds(f);
      // Claim to be B at the routing layer too.
      m.send(origin, TEST_ROUTE_KIND, routeFrame(identity(1).nodeId, origin, DIRECT, Uint8Array.of(0, ...kr)));
      forged++;
      return null;
    });
    const p = xa.openChannel(b.localId).catch((e) => e);
    await until(() => forged >= 1 && xa.getStats().envelopesRejected >= 1);
    clock.advance(10_000);
    expect(await p).toBeInstanceOf(HandshakeError);
    expect(xa.getStats()).toMatchObject({ sessionsCreated: 0, activeSessions: 0 });
    expect(xb.getStats().sessionsCreated).toBe(0);
    void a;
  });

  it("a relay presenting B's record cannot produce B's confirmation", async () => {
    let finishSeen = false;
    const { b, xa, xb, clock } = await line((f, m) => {
      const body = annexBytes(f);
      if (f[2] !== DIRECT) return f;
      if (body[4] === 1) {
        const kx = decodeEnvelope(body) as KeyExchangeEnvelope;
        // The relay knows ss_E and ss_I (it made both encapsulations) but not B's static secret.
        const e = hybridKem.encapsulate(kx.ephemeralKey);
        const i = hybridKem.encapsulate(identity(0).kemPublicKey);
        const kr = encodeEnvelope({
          type: 'annex:key_response',
          sessionId: kx.sessionId,
          flags: 0,
          record: encodeIdentityRecord(identity(1).publicRecord()),
          ctEphemeral: e.cipherText,
          ctStatic: i.cipherText,
        });
        const { origin } = frameEnds(f);
        m.send(origin, TEST_ROUTE_KIND, routeFrame(identity(1).nodeId, origin, DIRECT, Uint8Array.of(0, ...kr)));
        return null;
      }
      if (body[4] === 3) finishSeen = true;
      return null;
    });
    const p = xa.openChannel(b.localId).catch((e) => e);
    await until(() => finishSeen);
    clock.advance(10_000);
    const err = await p;
    expect(err.code).toBe('YAK_ANNEX_TIMEOUT');
    expect(xa.getStats().sessionsCreated).toBe(0);
    expect(xb.getStats().sessionsCreated).toBe(0);
  });

  it('a relay swapping the ephemeral key or a ciphertext breaks the handshake, never a session', async () => {
    for (const target of ['ephemeral', 'ctStatic'] as const) {
      const { b, xa, xb, clock } = await line((f) => {
        const body = annexBytes(f);
        if (f[2] !== DIRECT) return f;
        if (target === 'ephemeral' && body[4] === 1) {
          const kx = decodeEnvelope(body) as KeyExchangeEnvelope;
          const swapped = encodeEnvelope({ ...kx, ephemeralKey: hybridKem.generateKeyPair().publicKey });
          return new Uint8Array([...f.subarray(0, routedBodyOffset(f) + 1), ...swapped]);
        }
        if (target === 'ctStatic' && body[4] === 2) {
          const t = f.slice();
          t[t.length - 100] = (t[t.length - 100] as number) ^ 1;
          return t;
        }
        return f;
      });
      const p = xa.openChannel(b.localId).catch((e) => e);
      await until(() => xb.getStats().envelopesRejected >= 1, 5000, `rejection (${target})`);
      clock.advance(10_000);
      expect((await p).code).toMatch(/YAK_ANNEX_(TIMEOUT|HANDSHAKE_FAILED)/);
      expect(xa.getStats().sessionsCreated + xb.getStats().sessionsCreated).toBe(0);
      await stopAll();
    }
  });
});

describe('garbage in every state', () => {
  it('random envelopes never crash, never reach a handler, and leave the channel working', async () => {
    const { a, b, ta, xa, xb, inB } = await tappedPair();
    const prefix = [0x59, 0x41, 0x58, 0x01];
    const garbage = fc
      .tuple(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.boolean())
      .map(([type, rest, withPrefix]) => (withPrefix ? Uint8Array.of(...prefix, type, ...rest) : Uint8Array.from(rest)));
    // Structured garbage too: valid layouts around random contents, with a live session id.
    const structured = (sid: Uint8Array) =>
      fc
        .record({
          type: fc.constantFrom('annex:encrypted', 'annex:rekey', 'annex:close'),
          epoch: fc.integer({ min: 0, max: 3 }),
          seq: fc.integer({ min: 0, max: 5000 }),
          sealed: fc.uint8Array({ minLength: 16, maxLength: 600 }),
        })
        .map((r) => encodeEnvelope({ ...r, type: r.type as 'annex:encrypted', sessionId: sid, flags: 0 }));
    const spray = (samples: Uint8Array[]) => {
      for (const g of samples) {
        inject(b, a.localId, g);
        inject(a, b.localId, g);
      }
    };
    // State 1: no session.
    spray(fc.sample(garbage, 150));
    // State 2: B has a pending inbound handshake (A's finishing envelope held back).
    let heldFinish: Uint8Array | undefined;
    ta.tap = (_to, bytes) => {
      if (bytes[4] === 3 && bytes[33] === 1 && !heldFinish) {
        heldFinish = bytes.slice();
        return null;
      }
      return undefined;
    };
    const opening = xa.openChannel(b.localId);
    await until(() => heldFinish !== undefined);
    const sid = (heldFinish as Uint8Array).subarray(5, 21).slice();
    spray(fc.sample(garbage, 100));
    spray(fc.sample(structured(sid), 100));
    ta.tap = undefined;
    inject(b, a.localId, heldFinish as Uint8Array);
    await opening;
    // State 3: established.
    spray(fc.sample(garbage, 100));
    spray(fc.sample(structured(sid), 200));
    await xa.send(b.localId, 'works');
    await until(() => inB.length === 1);
    // State 4: a rekey in flight.
    const rk = xa.rekey(b.localId);
    spray(fc.sample(structured(sid), 100));
    await rk;
    // State 5: after close.
    await xa.closeChannel(b.localId);
    spray(fc.sample(structured(sid), 100));
    await settle();
    expect(inB.map((m) => m.payload)).toEqual(['works']);
    await xa.send(b.localId, 'new channel');
    await until(() => inB.length === 2);
    expect(xb.getStats().envelopesRejected).toBeGreaterThan(100);
    expect(xb.getStats().messagesDecrypted).toBe(2);
  });
});
