// Real WebSockets on loopback: two neighbours, and a three-node line A - B - C where A and C are
// not neighbours and B relays. B's recorded frames show relays see only ciphertext.
import { afterEach, describe, expect, it } from 'vitest';
import type { AnnexMessage } from '../src/index.js';
import { annexFor, identity, link, meshNode, routedBodyOffset, staticRouter, stopAll, until } from './helpers.js';

afterEach(stopAll);

const MARK = 'TOP-SECRET-MARKER-7f3a';

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).includes(Buffer.from(needle));
}

describe('ANNEX over loopback ws', () => {
  it('two neighbours: open, both directions, a chunked payload, close', async () => {
    const a = await meshNode(0, 'ws');
    const b = await meshNode(1, 'ws');
    await link(a, b);
    const xa = annexFor(a, 0, { chunkBytes: 128 * 1024 });
    const xb = annexFor(b, 1);
    const inA: AnnexMessage[] = [];
    const inB: AnnexMessage[] = [];
    xa.onMessage((m) => inA.push(m));
    xb.onMessage((m) => inB.push(m));
    const s = await xa.openChannel(b.localId);
    await xa.send(b.localId, { text: MARK });
    await xb.send(a.localId, 'pong');
    const big = new Uint8Array(2 * 1024 * 1024 + 1).fill(0x5a);
    await xa.send(b.localId, big);
    await until(() => inB.length === 2 && inA.length === 1, 10_000);
    expect(inB[0]).toMatchObject({ from: a.localId, sessionId: s.sessionId, payload: { text: MARK } });
    expect((inB[1]?.payload as Uint8Array | undefined)?.length).toBe(big.length);
    expect(inA[0]?.payload).toBe('pong');
    await xb.closeChannel(a.localId);
    await until(() => xa.getStats().activeSessions === 0);
  });

  for (const routing of ['mesh-core Router', 'test router'] as const) {
    it(`A to C through B (${routing}): end to end, and the relay sees only ciphertext`, async () => {
      const [ia, ib, ic] = [0, 1, 2];
      const A = identity(ia).nodeId;
      const B = identity(ib).nodeId;
      const C = identity(ic).nodeId;
      const r = (hops: Record<string, string> = {}) => (routing === 'test router' ? { router: staticRouter(hops) } : {});
      const a = await meshNode(ia, 'ws', r({ [C]: B }));
      const b = await meshNode(ib, 'ws', r());
      const c = await meshNode(ic, 'ws', r({ [A]: B }));
      await link(a, b);
      await link(b, c);
      expect(a.isConnectedTo(C)).toBe(false);
      // Record every routing-layer frame B handles (kinds 0x20-0x2f), after link decryption.
      const relayed: Uint8Array[] = [];
      for (let k = 0x20; k <= 0x2f; k++) b.onFrame(k, (_from, body) => relayed.push(body.slice()));
      const xa = annexFor(a, ia);
      const xb = annexFor(b, ib);
      const xc = annexFor(c, ic);
      const inA: AnnexMessage[] = [];
      const inC: AnnexMessage[] = [];
      xa.onMessage((m) => inA.push(m));
      xc.onMessage((m) => inC.push(m));
      // The router learns the two-hop route within a few update rounds.
      const s = await xa.openChannel(C, { timeoutMs: 15_000 });
      expect(s.nodeId).toBe(C);
      await xa.send(C, { secret: MARK });
      await xa.send(C, MARK);
      await xa.send(C, new TextEncoder().encode(MARK));
      await xc.send(A, `reply ${MARK}`);
      await until(() => inC.length === 3 && inA.length === 1, 10_000);
      expect(inC.map((m) => m.from)).toEqual([A, A, A]);
      expect(inC[0]?.payload).toEqual({ secret: MARK });
      expect(inA[0]?.payload).toBe(`reply ${MARK}`);
      // B relayed the handshake and the envelopes, and none of them contains the plaintext.
      const mark = new TextEncoder().encode(MARK);
      const magic = Uint8Array.of(0x59, 0x41, 0x58, 1);
      const carried = relayed.filter((f) => contains(f, magic));
      expect(carried.length).toBeGreaterThanOrEqual(4 + 4);
      for (const f of relayed) expect(contains(f, mark)).toBe(false);
      if (routing === 'test router') {
        // With the test router's layout, every relayed frame is exactly an annex envelope.
        for (const f of relayed) expect([...f.subarray(routedBodyOffset(f) + 1, routedBodyOffset(f) + 5)]).toEqual([...magic]);
      }
      // The relay's own Annex saw nothing addressed to it and decrypted nothing.
      expect(xb.getStats()).toMatchObject({ messagesDecrypted: 0, sessionsCreated: 0, envelopesRejected: 0 });
    });
  }
});
