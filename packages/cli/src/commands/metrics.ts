import { createServer, type Server } from 'node:http';

/**
 * Prometheus text exposition (format 0.0.4) of a stats object: every finite number, nested
 * objects flattened with `_`, names sanitised to [a-zA-Z0-9_]. Counters and gauges are not
 * told apart by getStats(), so every series is typed `untyped`.
 */
export function toPrometheus(stats: object, prefix = 'yak', labels: Record<string, string> = {}): string {
  const lines: string[] = [];
  const labelText = Object.entries(labels)
    .map(([k, v]) => `${sanitise(k)}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
  const walk = (obj: object, path: string, depth: number) => {
    if (depth > 4) return;
    for (const [k, v] of Object.entries(obj)) {
      const name = `${path}_${sanitise(k)}`;
      if (typeof v === 'number' && Number.isFinite(v)) {
        lines.push(`# TYPE ${name} untyped`, `${name}${labelText ? `{${labelText}}` : ''} ${v}`);
      } else if (typeof v === 'boolean') {
        lines.push(`# TYPE ${name} untyped`, `${name}${labelText ? `{${labelText}}` : ''} ${v ? 1 : 0}`);
      } else if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) {
        walk(v, name, depth + 1);
      }
    }
  };
  walk(stats, sanitise(prefix), 0);
  return `${lines.join('\n')}\n`;
}

function sanitise(s: string): string {
  const out = s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^a-zA-Z0-9_]/g, '_')
    .toLowerCase();
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

/** Serve `GET /metrics` on host:port from `collect()`. Resolves once listening. */
export async function serveMetrics(port: number, host: string, collect: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(collect());
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
