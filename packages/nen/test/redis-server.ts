// Starts a throwaway redis-server on a free loopback port for the store tests. When the binary
// is missing the tests are skipped with a loud warning, unless REQUIRE_REDIS=1 (CI sets it), in
// which case they fail.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer, Socket } from 'node:net';

export const redisAvailable = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

if (!redisAvailable) {
  if (process.env.REQUIRE_REDIS === '1') throw new Error('REQUIRE_REDIS=1 but redis-server is not installed');
  console.warn(
    '\n!!! redis-server not found: SKIPPING the Redis and Upstash store tests (install redis-server, or set REQUIRE_REDIS=1 to make this fatal) !!!\n',
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = new Socket();
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.connect(port, '127.0.0.1', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export interface RedisProcess {
  port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('redis-server did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A free port p whose cluster bus port p + 10000 is free too (Redis Cluster's default offset). */
async function freeClusterPort(): Promise<number> {
  const canListen = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let i = 0; i < 200; i++) {
    const p = 20_000 + Math.floor((Number(process.hrtime.bigint() % 35_000n) + i * 7919) % 35_000);
    if ((await canListen(p)) && (await canListen(p + 10_000))) return p;
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

/** Send one command over a fresh connection and return the raw reply text. */
function command(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let out = '';
    sock.setTimeout(2000, () => {
      sock.destroy();
      reject(new Error(`redis ${args[0]} timed out`));
    });
    sock.once('error', reject);
    sock.connect(port, '127.0.0.1', () =>
      sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`),
    );
    sock.on('data', (d) => {
      out += d.toString();
      // Simple and bulk replies are all these commands give; a bulk reply is complete when its
      // announced length has arrived.
      const bulk = /^\$(\d+)\r\n/.exec(out);
      if (!bulk || out.length >= bulk[0].length + Number(bulk[1]) + 2) {
        sock.destroy();
        resolve(out);
      }
    });
  });
}

export interface RedisClusterProcess {
  ports: number[];
  stop(): Promise<void>;
}

/**
 * A throwaway three-master Redis Cluster on loopback (slots split evenly, no replicas), set up
 * with CLUSTER ADDSLOTS and CLUSTER MEET so that no redis-cli is needed.
 */
export async function startRedisCluster(dir: string): Promise<RedisClusterProcess> {
  const ports: number[] = [];
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freeClusterPort();
      ports.push(port);
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `${dir}/nodes-${port}.conf`,
          '--cluster-node-timeout',
          '2000',
        ],
        { stdio: 'ignore', cwd: dir },
      );
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      nodes.push({
        port,
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
      const deadline = Date.now() + 10_000;
      while (!(await ping(port))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error('redis-server (cluster) did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const per = Math.ceil(16384 / 3);
    for (let i = 0; i < 3; i++) {
      const slots: string[] = [];
      for (let s = i * per; s < Math.min(16384, (i + 1) * per); s++) slots.push(String(s));
      await command(ports[i] as number, ['CLUSTER', 'ADDSLOTS', ...slots]);
    }
    for (let i = 1; i < 3; i++) await command(ports[0] as number, ['CLUSTER', 'MEET', '127.0.0.1', String(ports[i])]);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const states = await Promise.all(ports.map((p) => command(p, ['CLUSTER', 'INFO'])));
      if (states.every((s) => s.includes('cluster_state:ok') && s.includes('cluster_known_nodes:3'))) break;
      if (Date.now() > deadline) throw new Error('redis cluster did not converge');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw e;
  }
  return {
    ports,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
