// Admission proof of work (docs/protocol/link.md section 3.7; NAVR of seed 001 "Sybil Defense"):
// a node with `admission` on makes initiators it has never verified solve a challenge bound to
// their node id and address before it spends ML-DSA or KEM work on them. Each test attacks it.
import { NodeIdentity } from '@yak/crypto';
import { decodeNavrChallenge, NAVR, solveNavrChallenge } from '@yak/defense';
import { afterEach, describe, expect, it } from 'vitest';
import { Initiator, LinkReject, localRecord, MsgType, RecordCache, RejectCode, Responder } from '../src/handshake.js';
import { HandshakeError, LINK, MemoryHub, MemoryTransport } from '../src/index.js';
import { ep, handshakeConfig, identity, memNode, stopAll, until } from './mesh-helpers.js';

afterEach(stopAll);

const cfg = handshakeConfig;

/** Responder-side parts of a challenge answer: the solved HELLO of `I` for `challengeMsg`. */
function solvedHello(I: Initiator, challengeMsg: Uint8Array, wrong = false): Uint8Array {
  const step = I.receive(challengeMsg);
  if (!step.admission) throw new Error('no admission step');
  const solution = solveNavrChallenge(step.admission.challenge);
  if (!wrong) return step.admission.respond(solution);
  // The solver returns the first counter that works, so the one before it never does (a
  // flipped byte would still work 1 time in 2^difficulty). Counter 0 working is 2^-difficulty;
  // then 1 is used, which works 2^-difficulty of that time.
  const c = BigInt(`0x${solution}`);
  return step.admission.respond((c > 0n ? c - 1n : c + 1n).toString(16).padStart(16, '0'));
}

/** A verification counter around a record cache: how often ML-DSA work would be spent. */
function countingCache(): { cache: RecordCache; verifications: () => number } {
  const cache = new RecordCache();
  let n = 0;
  const verify = cache.verify.bind(cache);
  cache.verify = (bytes, now) => {
    if (!cache.has(bytes)) n++;
    return verify(bytes, now);
  };
  return { cache, verifications: () => n };
}

describe('admission proof of work in the handshake state machines', () => {
  it('a stranger is challenged before any record verification, then admitted with a valid proof', () => {
    const navr = new NAVR({ difficulty: 8 });
    const { cache, verifications } = countingCache();
    const R = new Responder(cfg(identity(1), { admission: navr, records: cache }), undefined, '198.51.100.7');
    const I = new Initiator(cfg(identity(0)));
    const first = R.receive(I.hello());
    expect(first.send?.[0]).toBe(MsgType.CHALLENGE);
    expect(verifications()).toBe(0);
    const challenge = decodeNavrChallenge(first.send!.subarray(3));
    expect(challenge.peerId).toBe(identity(0).nodeId);
    expect(challenge.peerAddress).toBe('198.51.100.7');
    const welcome = R.receive(solvedHello(I, first.send!));
    expect(welcome.send?.[0]).toBe(MsgType.WELCOME);
    expect(verifications()).toBe(1);
    // The rest of the handshake runs over the HELLO with the proof: both transcripts agree.
    const fin = I.receive(welcome.send!);
    const conf = R.receive(fin.send!);
    expect(I.receive(conf.send!).done?.peer.nodeId).toBe(identity(1).nodeId);
    expect(navr.getStats()).toMatchObject({ issued: 1, verified: 1, rejected: 0 });
  });

  it('a peer whose record is already verified is not challenged', () => {
    const navr = new NAVR({ difficulty: 8 });
    const records = new RecordCache();
    records.verify(localRecord(identity(0)).bytes, Date.now());
    const R = new Responder(cfg(identity(1), { admission: navr, records }), undefined, '198.51.100.7');
    const step = R.receive(new Initiator(cfg(identity(0))).hello());
    expect(step.send?.[0]).toBe(MsgType.WELCOME);
    expect(navr.getStats().issued).toBe(0);
  });

  it('refuses a second HELLO without proof, a wrong solution, a proof for another address, and a replayed proof', () => {
    const navr = new NAVR({ difficulty: 12 });
    const expectAdmissionReject = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(LinkReject);
        expect((e as LinkReject).code).toBe(RejectCode.ADMISSION);
        return;
      }
      throw new Error('not rejected');
    };
    // No proof twice.
    let R = new Responder(cfg(identity(1), { admission: navr }), undefined, '198.51.100.7');
    let I = new Initiator(cfg(identity(0)));
    const hello = I.hello();
    R.receive(hello);
    expectAdmissionReject(() => R.receive(hello));
    // Wrong solution, to a challenge of its own.
    R = new Responder(cfg(identity(1), { admission: navr }), undefined, '198.51.100.7');
    I = new Initiator(cfg(identity(0)));
    const bad = solvedHello(I, R.receive(I.hello()).send!, true);
    R = new Responder(cfg(identity(1), { admission: navr }), undefined, '198.51.100.7');
    I = new Initiator(cfg(identity(0)));
    const good = solvedHello(I, R.receive(I.hello()).send!);
    const { cache, verifications } = countingCache();
    const R2 = new Responder(cfg(identity(1), { admission: navr, records: cache }), undefined, '198.51.100.7');
    expectAdmissionReject(() => R2.receive(bad));
    expect(verifications()).toBe(0);
    // The same (valid) proof from another address.
    const R3 = new Responder(cfg(identity(1), { admission: navr }), undefined, '203.0.113.9');
    expectAdmissionReject(() => R3.receive(good));
    // A wrong address fails before the work check, so the challenge is still open: the proof is
    // accepted once from the right address, and a replay of it is refused.
    const R4 = new Responder(cfg(identity(1), { admission: navr }), undefined, '198.51.100.7');
    expect(R4.receive(good).send?.[0]).toBe(MsgType.WELCOME);
    const R5 = new Responder(cfg(identity(1), { admission: navr }), undefined, '198.51.100.7');
    expectAdmissionReject(() => R5.receive(good));
    // A proof from another server's NAVR instance is forged here.
    const other = new NAVR({ difficulty: 8 });
    const R6 = new Responder(cfg(identity(1), { admission: navr }), undefined, '198.51.100.7');
    const I6 = new Initiator(cfg(identity(0)));
    const foreign = solvedHello(
      I6,
      new Responder(cfg(identity(1), { admission: other }), undefined, '198.51.100.7').receive(I6.hello()).send!,
    );
    expectAdmissionReject(() => R6.receive(foreign));
  });

  it('a proof bound to one node id does not admit another identity', () => {
    const navr = new NAVR({ difficulty: 8 });
    const R = new Responder(cfg(identity(1), { admission: navr }), undefined, '198.51.100.7');
    const I = new Initiator(cfg(identity(0)));
    const proofHello = solvedHello(I, R.receive(I.hello()).send!);
    // Graft identity(2)'s record in place of identity(0)'s, keeping the proof.
    const rec0 = localRecord(identity(0)).bytes;
    const rec2 = localRecord(identity(2)).bytes;
    const at = indexOf(proofHello, rec0);
    expect(at).toBeGreaterThan(0);
    const grafted = new Uint8Array(proofHello.length - rec0.length + rec2.length);
    grafted.set(proofHello.subarray(0, at - 2));
    grafted[at - 2] = rec2.length >> 8;
    grafted[at - 1] = rec2.length & 0xff;
    grafted.set(rec2, at);
    grafted.set(proofHello.subarray(at + rec0.length), at + rec2.length);
    const R2 = new Responder(cfg(identity(1), { admission: navr }), undefined, '198.51.100.7');
    expect(() => R2.receive(grafted)).toThrow(expect.objectContaining({ code: RejectCode.ADMISSION }));
  });

  it('the initiator refuses a challenge above its work limit, for another node, or twice', () => {
    const navr = new NAVR({ difficulty: 30 });
    const R = new Responder(cfg(identity(1), { admission: navr }), undefined, '198.51.100.7');
    const I = new Initiator(cfg(identity(0), { maxAdmissionDifficulty: 20 }));
    const ch = R.receive(I.hello()).send!;
    expect(() => I.receive(ch)).toThrow(expect.objectContaining({ code: RejectCode.ADMISSION }));
    // A challenge issued to someone else.
    const R2 = new Responder(cfg(identity(1), { admission: new NAVR({ difficulty: 4 }) }), undefined, '198.51.100.7');
    const forOther = R2.receive(new Initiator(cfg(identity(2))).hello()).send!;
    const I2 = new Initiator(cfg(identity(0)));
    I2.hello();
    expect(() => I2.receive(forOther)).toThrow(expect.objectContaining({ code: RejectCode.ADMISSION }));
    // Twice.
    const R3 = new Responder(cfg(identity(1), { admission: new NAVR({ difficulty: 4 }) }), undefined, '198.51.100.7');
    const I3 = new Initiator(cfg(identity(0)));
    const c3 = R3.receive(I3.hello()).send!;
    I3.receive(c3);
    expect(() => I3.receive(c3)).toThrow(LinkReject);
  });

  it('garbage after a HELLO is refused as malformed, not taken as a proof', () => {
    const navr = new NAVR({ difficulty: 8 });
    const hello = new Initiator(cfg(identity(0))).hello();
    for (const tail of [[0x02, 0, 1, 7, 1, 1], [0x01], [0x01, 0xff, 0xff], [0x01, 0, 2, 1, 2, 0]]) {
      const msg = new Uint8Array(hello.length + tail.length);
      msg.set(hello);
      msg.set(tail, hello.length);
      const R = new Responder(cfg(identity(1), { admission: navr }), undefined, '198.51.100.7');
      expect(() => R.receive(msg)).toThrow(LinkReject);
    }
  });
});

describe('admission over MeshNetwork (in-memory transport)', () => {
  it('a first contact solves the challenge and connects; the second connection is not challenged', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1, { admission: { difficulty: 10 } });
    const a = await memNode(hub, 0);
    const rec = await a.connect(ep(b), { reconnect: false });
    expect(rec.nodeId).toBe(b.localId);
    await until(() => b.isConnectedTo(a.localId));
    expect(b.getStats().admission).toMatchObject({ issued: 1, verified: 1 });
    a.disconnect(b.localId);
    await until(() => !b.isConnectedTo(a.localId));
    await a.connect(ep(b), { reconnect: false });
    expect(b.getStats().admission?.issued).toBe(1);
  });

  it('a node that will not do that much work is refused with a typed error; honest peers still connect', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1, { admission: { difficulty: 16 } });
    const lazy = await memNode(hub, 0, { maxAdmissionDifficulty: 8 });
    const err = await lazy.connect(ep(b), { reconnect: false }).catch((e: unknown) => e);
    // Refused on our side (the work is over our limit), so a HandshakeError, not a peer's reject.
    expect(err).toBeInstanceOf(HandshakeError);
    expect(b.isConnectedTo(lazy.localId)).toBe(false);
    const honest = await memNode(hub, 2);
    await honest.connect(ep(b), { reconnect: false });
    expect(b.isConnectedTo(honest.localId)).toBe(true);
  });

  it('a flood of fresh identities without proofs costs the node no record verification', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1, {
      admission: { difficulty: 20 },
      maxHandshakesPerIp: 1000,
      rateLimiter: { maxHandshakesPerMinute: 1000, maxConnectionsPerMinute: 1000 },
      subnetDiversity: { maxPerSubnet: 1000 },
    });
    const known = b.getStats().knownRecords;
    const fresh = Array.from({ length: 4 }, () => NodeIdentity.generate());
    for (const [k, id] of fresh.entries()) {
      const t = new MemoryTransport({ hub, address: `10.1.${k}.1` });
      const conn = await t.dial(ep(b), { maxPayload: LINK.maxRecordBytes, timeoutMs: 1000 });
      const inbox: Uint8Array[] = [];
      conn.onMessage = (d) => inbox.push(d);
      const I = new Initiator(cfg(id, { networkId: 'yakmesh', fingerprint: new Uint8Array(0) }));
      const hello = I.hello();
      conn.send(hello);
      await until(() => inbox.length >= 1);
      // Not admitted: a challenge, and the second unsolved HELLO is refused.
      expect(inbox[0]?.[0]).toBe(MsgType.CHALLENGE);
      conn.send(hello);
      await until(() => inbox.length >= 2);
      expect(inbox[1]?.[0]).toBe(MsgType.REJECT);
      expect(inbox[1]?.[1]).toBe(RejectCode.ADMISSION);
      conn.close();
    }
    expect(b.getStats().knownRecords).toBe(known);
    expect(b.getStats().peers).toBe(0);
  });
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
