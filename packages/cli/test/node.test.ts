// Three separate OS processes running `yak node` on loopback WebSockets, in a line A - B - C:
// gossip from A reaches C, and A's sendTo reaches C through B (issue: mesh-core CLI tests). Then
// the same three with auto-dial on (the default): C learns A from B's PEERS frame and dials it.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const bin = join(import.meta.dirname, '../src/bin.ts');

interface Proc {
  child: ChildProcessWithoutNullStreams;
  events: Array<Record<string, unknown>>;
  waitFor(pred: (e: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  send(line: string): void;
}

const procs: Proc[] = [];

function startNode(args: string[]): Proc {
  const dataDir = mkdtempSync(join(tmpdir(), 'yak-node-'));
  const child = spawn(
    tsx,
    ['--conditions=@yak/source', bin, 'node', '--json', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, ...args],
    {
      env: { ...process.env, YAK_PASSPHRASE: 'test-passphrase' },
    },
  );
  const events: Array<Record<string, unknown>> = [];
  const waiters = new Set<{ pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    events.push(e);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.delete(w);
        w.resolve(e);
      }
    }
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const proc: Proc = {
    child,
    events,
    send: (line) => child.stdin.write(`${line}\n`),
    waitFor(pred, ms = 20_000) {
      const hit = events.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.add(w);
        setTimeout(() => {
          if (waiters.delete(w)) reject(new Error(`timed out; events: ${JSON.stringify(events)} stderr: ${stderr}`));
        }, ms);
      });
    },
  };
  procs.push(proc);
  return proc;
}

afterAll(async () => {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.child.exitCode !== null) return resolve();
          p.child.once('exit', () => resolve());
          p.child.kill('SIGTERM');
        }),
    ),
  );
});

describe('yak node: three processes on loopback', () => {
  it('gossip from A reaches C and a routed sendTo from A reaches C through B', async () => {
    // An exact line: without --no-auto-dial, C would dial A, learned from B.
    const a = startNode(['--metrics-port', '0', '--no-auto-dial']);
    const metricsAt = await a.waitFor((e) => e.event === 'metrics');
    const aStart = await a.waitFor((e) => e.event === 'started');
    const b = startNode(['--no-auto-dial', '--peer', aStart.endpoint as string]);
    const bStart = await b.waitFor((e) => e.event === 'started');
    const c = startNode(['--no-auto-dial', '--peer', bStart.endpoint as string]);
    const cStart = await c.waitFor((e) => e.event === 'started');
    const [aId, bId, cId] = [aStart.nodeId, bStart.nodeId, cStart.nodeId] as string[];
    await b.waitFor((e) => e.event === 'peer:joined' && e.peer === cId);
    await a.waitFor((e) => e.event === 'peer:joined' && e.peer === bId);
    expect(a.events.some((e) => e.event === 'peer:joined' && e.peer === cId)).toBe(false);

    // Prometheus export of a running node (SPEC section 2, "Observability").
    const text = await (await fetch(metricsAt.url as string)).text();
    expect(text).toContain(`yak_mesh_peers{node_id="${aId}"} 1`);
    expect(text).toMatch(/^# TYPE yak_mesh_handshakes_completed untyped$/m);

    a.send('broadcast hello from A');
    const g = await c.waitFor((e) => e.event === 'gossip');
    expect(g.origin).toBe(aId);
    expect(g.payload).toEqual({ text: 'hello from A' });
    expect(g.hops).toBe(2);

    // Routes are learned from neighbours' advertisements; retry until C is routable from A.
    let delivered: Record<string, unknown> | undefined;
    for (let i = 0; i < 40 && !delivered; i++) {
      a.send(`send ${cId} routed hello`);
      delivered = await c.waitFor((e) => e.event === 'message', 500).catch(() => undefined);
    }
    expect(delivered?.from).toBe(aId);
    expect(delivered?.payload).toEqual({ text: 'routed hello' });

    c.send('quit');
    await c.waitFor((e) => e.event === 'stopped');
    await b.waitFor((e) => e.event === 'peer:left' && e.peer === cId);
  }, 90_000);

  it('auto-dial (the default): C dials A, learned from the PEERS frame of B', async () => {
    const a = startNode([]);
    const aStart = await a.waitFor((e) => e.event === 'started');
    const b = startNode(['--peer', aStart.endpoint as string]);
    const bStart = await b.waitFor((e) => e.event === 'started');
    await a.waitFor((e) => e.event === 'peer:joined' && e.peer === bStart.nodeId);
    const c = startNode(['--peer', bStart.endpoint as string]);
    const cStart = await c.waitFor((e) => e.event === 'started');
    const dialled = await c.waitFor((e) => e.event === 'autodial' && e.ok === true);
    expect(dialled.peer).toBe(aStart.nodeId);
    expect(dialled.endpoint).toBe(aStart.endpoint);
    const joined = await a.waitFor((e) => e.event === 'peer:joined' && e.peer === cStart.nodeId);
    expect(joined.direction).toBe('inbound');
    for (const p of [a, b, c]) p.send('quit');
    await Promise.all([a, b, c].map((p) => p.waitFor((e) => e.event === 'stopped')));
  }, 90_000);
});
