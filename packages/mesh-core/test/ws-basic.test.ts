import { afterAll, describe, expect, it } from 'vitest';
import { MessageTypes } from '../src/index.js';
import { ep, identity, next, node, stopAll, until } from './mesh-helpers.js';

afterAll(stopAll);

describe('two nodes over loopback ws', () => {
  it('connects, proves identities, and exchanges messages both ways', async () => {
    const a = await node(0);
    const b = await node(1);
    const rec = await a.connect(ep(b));
    expect(rec.nodeId).toBe(identity(1).nodeId);
    await until(() => b.isConnectedTo(a.localId));
    expect(a.isConnectedTo(b.localId)).toBe(true);
    const got = next(b, 'message');
    expect(a.sendTo(b.localId, { hello: 'world' })).toBe(true);
    const [msg, , from] = await got;
    expect(from).toBe(a.localId);
    expect(msg).toEqual({ type: 'direct', from: a.localId, payload: { hello: 'world' } });
    const g = next(a, MessageTypes.GOSSIP);
    b.broadcast(new Uint8Array([1, 2, 3]));
    const [gm] = (await g) as [{ payload: Uint8Array; origin: string }];
    expect(gm.origin).toBe(b.localId);
    expect([...gm.payload]).toEqual([1, 2, 3]);
  });
});
