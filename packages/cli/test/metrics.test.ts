import { describe, expect, it } from 'vitest';
import { serveMetrics, toPrometheus } from '../src/index.js';

describe('toPrometheus', () => {
  it('flattens numbers and booleans, snake-cases names, escapes labels and skips everything else', () => {
    const text = toPrometheus(
      { peers: 3, bytesSent: 10, running: true, nested: { rateLimiter: { bans: 2 } }, endpoint: 'ws://x', list: [1, 2], nan: Number.NaN },
      'yak_mesh',
      { node_id: 'a"b\\c' },
    );
    const lines = text.trim().split('\n');
    expect(lines).toContain('yak_mesh_peers{node_id="a\\"b\\\\c"} 3');
    expect(lines).toContain('yak_mesh_bytes_sent{node_id="a\\"b\\\\c"} 10');
    expect(lines).toContain('yak_mesh_running{node_id="a\\"b\\\\c"} 1');
    expect(lines).toContain('yak_mesh_nested_rate_limiter_bans{node_id="a\\"b\\\\c"} 2');
    expect(text).not.toMatch(/endpoint|list|nan/);
    for (const l of lines) expect(l).toMatch(/^(# TYPE [a-z_][a-z0-9_]* untyped|[a-z_][a-z0-9_]*\{.*\} -?[0-9.e+]+)$/);
  });

  it('serveMetrics answers GET /metrics and 404 elsewhere', async () => {
    const server = await serveMetrics(0, '127.0.0.1', () => 'x 1\n');
    try {
      const a = server.address();
      const base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
      const r = await fetch(`${base}/metrics`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/plain');
      expect(await r.text()).toBe('x 1\n');
      expect((await fetch(`${base}/other`)).status).toBe(404);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
