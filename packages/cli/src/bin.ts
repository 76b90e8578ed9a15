#!/usr/bin/env node
// The `yak` command.
import { parseArgs } from 'node:util';
import { quickBench } from './commands/bench.js';
import { runDemo } from './commands/demo.js';
import { keygen } from './commands/keygen.js';
import { runNode } from './commands/node.js';
import { getPassphrase } from './commands/passphrase.js';

const USAGE = `usage: yak <command> [options]

commands:
  demo                      run a local mesh on loopback showing the stack end to end
  keygen                    create an identity in the encrypted key store
      --data-dir DIR        where the key store lives (default ./.yak)
      --name NAME           identity name in the store (default "default")
      --network-id ID       network the identity belongs to (default "yakmesh")
      --force               replace an existing identity of that name
  node                      run a mesh node with a persistent identity
      --port N              WebSocket port (default 9001, next free port if taken)
      --host ADDR           interface to bind (default 0.0.0.0)
      --peer URL            peer to connect to and keep connected (repeatable)
      --no-auto-dial        only the --peer links: do not dial peers learned from neighbours
      --data-dir DIR        key store location (default ./.yak); an identity is created if absent
      --name NAME           identity name in the store (default "default")
      --network-id ID       network id (default "yakmesh")
      --public-host HOST    host name to advertise
      --json                one JSON object per output line
      --metrics-port N      serve Prometheus metrics at http://HOST:N/metrics
      commands on stdin: broadcast TEXT | send NODE_ID TEXT | peers | stats | quit
  bench                     quick primitive benchmarks (the full suite: pnpm bench)

The key store passphrase comes from $YAK_PASSPHRASE, or is asked for on the terminal.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'demo': {
      const { values } = parseArgs({ args: rest, options: { only: { type: 'string', multiple: true } } });
      const r = await runDemo(values.only ? { only: values.only } : {});
      return r.ok ? 0 : 1;
    }
    case 'keygen': {
      const { values } = parseArgs({
        args: rest,
        options: {
          'data-dir': { type: 'string', default: '.yak' },
          name: { type: 'string', default: 'default' },
          'network-id': { type: 'string', default: 'yakmesh' },
          force: { type: 'boolean', default: false },
        },
      });
      const passphrase = await getPassphrase();
      const r = await keygen({
        dataDir: values['data-dir'] as string,
        name: values.name as string,
        networkId: values['network-id'] as string,
        passphrase,
        force: values.force === true,
      });
      process.stdout.write(`created identity '${r.name}': ${r.nodeId}\nkey store: ${r.path} (encrypted, mode 0600)\n`);
      return 0;
    }
    case 'node': {
      const { values } = parseArgs({
        args: rest,
        options: {
          port: { type: 'string', default: '9001' },
          host: { type: 'string', default: '0.0.0.0' },
          peer: { type: 'string', multiple: true, default: [] },
          'data-dir': { type: 'string', default: '.yak' },
          name: { type: 'string', default: 'default' },
          'network-id': { type: 'string', default: 'yakmesh' },
          'public-host': { type: 'string' },
          json: { type: 'boolean', default: false },
          'no-auto-dial': { type: 'boolean', default: false },
          'metrics-port': { type: 'string' },
        },
      });
      const metricsPort = values['metrics-port'] === undefined ? undefined : Number(values['metrics-port']);
      if (metricsPort !== undefined && (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)) {
        throw new Error('--metrics-port must be 0..65535');
      }
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be 0..65535');
      await runNode({
        port,
        host: values.host as string,
        peers: values.peer as string[],
        dataDir: values['data-dir'] as string,
        name: values.name as string,
        networkId: values['network-id'] as string,
        ...(values['public-host'] ? { publicHost: values['public-host'] as string } : {}),
        passphrase: await getPassphrase(),
        json: values.json === true,
        autoDial: values['no-auto-dial'] !== true,
        ...(metricsPort !== undefined ? { metricsPort } : {}),
        input: process.stdin,
      });
      return 0;
    }
    case 'bench': {
      for (const [k, v] of quickBench()) process.stdout.write(`${k.padEnd(42)} ${v}\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command: ${cmd}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`yak: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
