// The CLI's ANNEX demo section (packages/cli/src/demo/annex.ts) on a three-node line over the
// in-memory transport with the mesh-core Router: the channel runs between the two ends.
import { MemoryHub, type MeshNetwork } from '@yak/mesh-core';
import { afterEach, expect, it } from 'vitest';
import type { DemoUI } from '../../cli/src/demo/ui.js';
import { link, meshNode, stopAll } from './helpers.js';

afterEach(stopAll);

type AnnexDemo = (ui: DemoUI, ctx: { meshes: MeshNetwork[] }) => Promise<void>;

it('the demo opens a routed channel, rekeys, and shows replay and tamper blocked', async () => {
  const demoPath = new URL('../../cli/src/demo/annex.ts', import.meta.url).pathname;
  const { annexDemo } = (await import(/* @vite-ignore */ demoPath)) as { annexDemo: AnnexDemo };
  const hub = new MemoryHub();
  const a = await meshNode(0, hub);
  const b = await meshNode(1, hub);
  const c = await meshNode(2, hub);
  await link(a, b);
  await link(b, c);
  const lines: string[] = [];
  const blocked: string[] = [];
  const tables: Array<Array<Array<string | number>>> = [];
  const ui: DemoUI = {
    section: (t) => lines.push(`# ${t}`),
    step: async (label, fn) => {
      lines.push(label);
      return fn();
    },
    info: (t) => lines.push(t),
    blocked: (what, why) => blocked.push(`${what}: ${why}`),
    table: (rows) => tables.push(rows),
    summary: (k, v) => lines.push(`${k}=${v}`),
  };
  await annexDemo(ui, { meshes: [a, b, c] });
  expect(lines.some((l) => l.includes('not neighbours'))).toBe(true);
  expect(blocked).toHaveLength(2);
  expect(blocked[0]).toContain('already seen');
  const rows = tables[0] as Array<Array<string | number>>;
  expect(rows[0]).toContain('replaysBlocked');
  const col = (rows[0] as Array<string | number>).indexOf('replaysBlocked');
  expect(rows[2]?.[col]).toBe(1);
});
