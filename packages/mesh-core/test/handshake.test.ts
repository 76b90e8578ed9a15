// The link handshake as pure state machines (docs/protocol/link.md sections 3-4): keys agree in
// every mode, every tampered or forged message is refused with a code, tickets are single use.
import { decodeIdentityRecord, encodeIdentityRecord, utf8 } from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type HandshakeConfig,
  type HandshakeResult,
  Initiator,
  type InitiatorOptions,
  type KnownPeer,
  LinkReject,
  RejectCode,
  Responder,
  type Step,
  type Ticket,
  TicketStore,
  ticketKey,
} from '../src/handshake.js';
import { handshakeConfig, identity } from './mesh-helpers.js';

const cfg = handshakeConfig;

interface Run {
  i?: HandshakeResult;
  r?: HandshakeResult;
  error?: LinkReject;
  /** Every message in order, with its direction. */
  wire: { toResponder: boolean; bytes: Uint8Array }[];
}

/** Run a handshake; `mutate` may replace the n-th message before delivery. */
function drive(I: Initiator, R: Responder, mutate?: (n: number, m: Uint8Array) => Uint8Array): Run {
  const run: Run = { wire: [] };
  let msg = I.hello();
  let toResponder = true;
  for (let n = 0; n < 8; n++) {
    const bytes = mutate ? mutate(n, msg) : msg;
    run.wire.push({ toResponder, bytes });
    let step: Step;
    try {
      step = toResponder ? R.receive(bytes) : I.receive(bytes);
    } catch (e) {
      if (!(e instanceof LinkReject)) throw e;
      run.error = e;
      return run;
    }
    if (step.done) {
      if (toResponder) run.r = step.done;
      else run.i = step.done;
    }
    if (!step.send) break;
    msg = step.send;
    toResponder = !toResponder;
  }
  return run;
}

function ticketFrom(res: HandshakeResult, peer: KnownPeer): Ticket {
  return { id: res.resumption.id.slice(), secret: res.resumption.secret.slice(), peer, expiresAt: Date.now() + 60_000 };
}

/** First contact, then file tickets both ways; returns configs and the initiator's ticket. */
function established() {
  const a = cfg(identity(0));
  const b = cfg(identity(1));
  const run = drive(new Initiator(a), new Responder(b));
  const i = run.i as HandshakeResult;
  const r = run.r as HandshakeResult;
  const known = { record: i.peer, hash: i.peerRecordHash };
  b.tickets.put(ticketKey(r.resumption.id), ticketFrom(r, { record: r.peer, hash: r.peerRecordHash }));
  return { a, b, known, ticket: ticketFrom(i, known) };
}

function expectAgreement(run: Run): void {
  expect(run.error).toBeUndefined();
  const i = run.i as HandshakeResult;
  const r = run.r as HandshakeResult;
  expect(i.sendSecret).toEqual(r.recvSecret);
  expect(i.recvSecret).toEqual(r.sendSecret);
  expect(i.sendSecret).not.toEqual(i.recvSecret);
  expect(i.transcriptHash).toEqual(r.transcriptHash);
  expect(i.resumption.id).toEqual(r.resumption.id);
  expect(i.resumption.secret).toEqual(r.resumption.secret);
}

describe('handshake modes', () => {
  it('first contact: 4 messages, both identities proven, keys agree per direction', () => {
    const a = cfg(identity(0));
    const b = cfg(identity(1));
    const run = drive(new Initiator(a), new Responder(b));
    expectAgreement(run);
    expect(run.wire.length).toBe(4);
    expect(run.i?.peer.nodeId).toBe(identity(1).nodeId);
    expect(run.r?.peer.nodeId).toBe(identity(0).nodeId);
    expect(run.i?.mode).toBe('first');
  });

  it('known peer: 3 messages (1 RTT for the initiator), initiator identity never in clear', () => {
    const { a, b, known } = established();
    const run = drive(new Initiator(a, { known }), new Responder(b));
    expectAgreement(run);
    expect(run.wire.length).toBe(3);
    expect(run.r?.mode).toBe('known');
    // The initiator's signing key must not appear in HELLO: it travels encrypted.
    const hello = run.wire[0]?.bytes as Uint8Array;
    expect(Buffer.from(hello).indexOf(Buffer.from(identity(0).signPublicKey.subarray(0, 64)))).toBe(-1);
  });

  it('resume: 3 messages, keys agree, a fresh ticket each time, and a ticket works once', () => {
    const { a, b, ticket, known } = established();
    const hello = new Initiator(a, { ticket: { ...ticket, secret: ticket.secret.slice() } });
    const run = drive(hello, new Responder(b));
    expectAgreement(run);
    expect(run.i?.mode).toBe('resume');
    expect(run.i?.resumption.id).not.toEqual(ticket.id);
    // Replaying the same HELLO (same ticket) to the responder is refused: the ticket was consumed.
    const again = new Responder(b);
    expect(() => again.receive(run.wire[0]?.bytes as Uint8Array)).toThrow(LinkReject);
    const second = drive(new Initiator(a, { ticket: { ...ticket, peer: known } }), new Responder(b));
    expect(second.error?.code).toBe(RejectCode.STALE_RECORD);
  });

  it('different handshakes give different keys', () => {
    const a = cfg(identity(0));
    const b = cfg(identity(1));
    const r1 = drive(new Initiator(a), new Responder(b));
    const r2 = drive(new Initiator(a), new Responder(b));
    expect(r1.i?.sendSecret).not.toEqual(r2.i?.sendSecret);
  });
});

describe('handshake refusals', () => {
  it('wrong network and wrong fingerprint are refused with their codes', () => {
    const a = cfg(identity(0), { networkId: 'othernet' });
    const b = cfg(identity(1));
    expect(drive(new Initiator(a), new Responder(b)).error?.code).toBe(RejectCode.WRONG_NETWORK);
    const c = cfg(identity(0), { fingerprint: utf8('build-2') });
    expect(drive(new Initiator(c), new Responder(b)).error?.code).toBe(RejectCode.WRONG_FINGERPRINT);
  });

  it('a record whose node id does not match its key is refused (BAD_IDENTITY)', () => {
    const a = cfg(identity(0));
    const b = cfg(identity(1));
    // Present identity 0's record with identity 2's node id.
    const rec = decodeIdentityRecord(a.recordBytes);
    const forged = encodeIdentityRecord({ ...rec, nodeId: identity(2).nodeId });
    const run = drive(new Initiator({ ...a, recordBytes: forged }), new Responder(b));
    expect(run.error?.code).toBe(RejectCode.BAD_IDENTITY);
    expect(run.r).toBeUndefined();
  });

  it('a record with a substituted KEM key fails its signature (BAD_IDENTITY)', () => {
    const a = cfg(identity(0));
    const b = cfg(identity(1));
    const rec = decodeIdentityRecord(b.recordBytes);
    const forged = encodeIdentityRecord({ ...rec, kemPublicKey: identity(2).kemPublicKey });
    const run = drive(new Initiator(a), new Responder({ ...b, recordBytes: forged }));
    expect(run.error?.code).toBe(RejectCode.BAD_IDENTITY);
    expect(run.i).toBeUndefined();
  });

  it('an impostor holding a victim record but not its KEM key cannot finish (initiator side)', () => {
    // Identity 2 claims to be identity 0 by sending 0's genuine record in HELLO.
    const victim = cfg(identity(0));
    const mallory = cfg(identity(2), { recordBytes: victim.recordBytes, recordHash: victim.recordHash });
    const b = cfg(identity(1));
    const run = drive(new Initiator(mallory), new Responder(b));
    expect(run.r).toBeUndefined();
    expect(run.error).toBeInstanceOf(LinkReject);
  });

  it('an impostor responder holding a victim record cannot finish (known and first modes)', () => {
    const a = cfg(identity(0));
    const victim = cfg(identity(1));
    const mallory = cfg(identity(2), { recordBytes: victim.recordBytes, recordHash: victim.recordHash });
    const first = drive(new Initiator(a), new Responder(mallory));
    expect(first.i).toBeUndefined();
    expect(first.error).toBeInstanceOf(LinkReject);
    const known = { record: decodeIdentityRecord(victim.recordBytes), hash: victim.recordHash };
    const k = drive(new Initiator(a, { known }), new Responder(mallory));
    expect(k.i).toBeUndefined();
    expect(k.error).toBeInstanceOf(LinkReject);
  });

  it('an unexpected responder is refused when the caller pins a node id', () => {
    const run = drive(new Initiator(cfg(identity(0)), { expectedNodeId: identity(2).nodeId }), new Responder(cfg(identity(1))));
    expect(run.error?.code).toBe(RejectCode.BAD_IDENTITY);
  });

  it('a cached record that no longer matches the responder gives STALE_RECORD', () => {
    const a = cfg(identity(0));
    const b = cfg(identity(1));
    const wrong = { record: decodeIdentityRecord(cfg(identity(2)).recordBytes), hash: cfg(identity(2)).recordHash };
    expect(drive(new Initiator(a, { known: wrong }), new Responder(b)).error?.code).toBe(RejectCode.STALE_RECORD);
  });

  it('the responder peer check can refuse an identified initiator', () => {
    const run = drive(
      new Initiator(cfg(identity(0))),
      new Responder(cfg(identity(1)), () => ({ code: RejectCode.BANNED, detail: 'banned' })),
    );
    expect(run.error?.code).toBe(RejectCode.BANNED);
  });

  it('connecting to yourself is refused', () => {
    const run = drive(new Initiator(cfg(identity(0))), new Responder(cfg(identity(0))));
    expect(run.error?.code).toBe(RejectCode.SELF);
  });

  it('an unknown version is refused with VERSION', () => {
    const run = drive(new Initiator(cfg(identity(0))), new Responder(cfg(identity(1))), (n, m) => {
      if (n !== 0) return m;
      const x = m.slice();
      x[1] = 9;
      return x;
    });
    expect(run.error?.code).toBe(RejectCode.VERSION);
  });
});

describe('tampering with any handshake byte', () => {
  const modes: [string, () => { a: HandshakeConfig; b: HandshakeConfig; opts: () => InitiatorOptions }][] = [
    ['first', () => ({ a: cfg(identity(0)), b: cfg(identity(1)), opts: () => ({}) })],
    [
      'known',
      () => {
        const e = established();
        return { a: e.a, b: e.b, opts: () => ({ known: e.known }) };
      },
    ],
  ];
  for (const [name, setup] of modes) {
    it(`${name}: flipping any byte of any message makes the handshake fail (sampled positions)`, () => {
      const { a, b, opts } = setup();
      const clean = drive(new Initiator(a, opts()), new Responder(b));
      expectAgreement(clean);
      fc.assert(
        fc.property(fc.nat({ max: clean.wire.length - 1 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (n, posSeed, flip) => {
          const len = clean.wire[n]!.bytes.length;
          const pos = posSeed % len;
          const run = drive(new Initiator(a, opts()), new Responder(b), (k, m) => {
            if (k !== n) return m;
            const x = m.slice();
            x[pos] = (x[pos] as number) ^ flip;
            return x;
          });
          // Either side refuses; never do both sides end up with agreeing keys.
          const bothDone = run.i !== undefined && run.r !== undefined;
          expect(bothDone).toBe(false);
        }),
        { numRuns: 40 },
      );
    });
  }

  it('resume: a flipped byte in any message fails', () => {
    for (let n = 0; n < 3; n++) {
      const { a, b, ticket } = established();
      const run = drive(new Initiator(a, { ticket }), new Responder(b), (k, m) => {
        if (k !== n) return m;
        const x = m.slice();
        x[x.length - 1] = (x[x.length - 1] as number) ^ 1;
        return x;
      });
      expect(run.i !== undefined && run.r !== undefined).toBe(false);
    }
  });

  it('truncated and extended messages are refused', () => {
    const a = cfg(identity(0));
    const b = cfg(identity(1));
    for (const cut of [1, 17, 500]) {
      const run = drive(new Initiator(a), new Responder(b), (k, m) => (k === 1 ? m.subarray(0, m.length - cut) : m));
      expect(run.error).toBeInstanceOf(LinkReject);
    }
    const ext = drive(new Initiator(a), new Responder(b), (k, m) => (k === 0 ? Uint8Array.from([...m, 0]) : m));
    expect(ext.error?.code).toBe(RejectCode.HANDSHAKE_FAILED);
  });
});

describe('fuzzed handshake input', () => {
  it('random bytes in every state only ever produce LinkReject', () => {
    const a = cfg(identity(0));
    const b = cfg(identity(1));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 0, max: 5 }), fc.nat({ max: 2 }), (junk, typeByte, state) => {
        const bytes = junk.length ? Uint8Array.from([typeByte, ...junk.subarray(1)]) : junk;
        // state 0: responder awaiting HELLO; 1: initiator awaiting WELCOME; 2: responder awaiting FINISH.
        const I = new Initiator(a);
        const hello = I.hello();
        const R = new Responder(b);
        try {
          if (state === 0) R.receive(bytes);
          else if (state === 1) I.receive(bytes);
          else {
            R.receive(hello);
            R.receive(bytes);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(LinkReject);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a responder that failed refuses everything afterwards', () => {
    const R = new Responder(cfg(identity(1)));
    expect(() => R.receive(new Uint8Array([1, 2, 3]))).toThrow(LinkReject);
    const hello = new Initiator(cfg(identity(0))).hello();
    expect(() => R.receive(hello)).toThrow(LinkReject);
  });
});

describe('ticket store', () => {
  it('is bounded, single use, and drops expired tickets', () => {
    const s = new TicketStore(2);
    const peer = { record: decodeIdentityRecord(cfg(identity(0)).recordBytes), hash: cfg(identity(0)).recordHash };
    const t = (n: number, exp = Date.now() + 1000): Ticket => ({
      id: new Uint8Array(16).fill(n),
      secret: new Uint8Array(32).fill(n),
      peer,
      expiresAt: exp,
    });
    s.put('a', t(1));
    s.put('b', t(2));
    s.put('c', t(3));
    expect(s.size).toBe(2);
    expect(s.take('a', Date.now())).toBeUndefined();
    const c = s.take('c', Date.now());
    expect(c?.secret[0]).toBe(3);
    expect(s.take('c', Date.now())).toBeUndefined();
    s.put('d', t(4, Date.now() - 1));
    expect(s.take('d', Date.now())).toBeUndefined();
  });
});
