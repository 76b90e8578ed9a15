// The README's example, verbatim apart from console.log captured into `out` (house rule 9).
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import {
  ConnectionRateLimiter,
  MessageValidator,
  NAVR,
  NonceRegistry,
  ReputationTracker,
  SafeJsonParser,
  SequenceTracker,
  SubnetDiversity,
  TimestampValidator,
} from '../src/index.js';

it('README example runs and prints what it says', () => {
  const out: unknown[][] = [];
  const console = { log: (...a: unknown[]) => out.push(a) };

  // Connection gate: rate limit, subnet diversity, proof of work.
  const limiter = new ConnectionRateLimiter({ maxConnectionsPerMinute: 10, banThreshold: 5, banDuration: 300_000 });
  const subnets = new SubnetDiversity({ maxPerSubnet: 3 });
  const navr = new NAVR({ difficulty: 16 });
  const reputation = new ReputationTracker();

  const ip = '::ffff:203.0.113.7'; // treated as 203.0.113.7
  if (!limiter.checkConnection(ip).allowed) throw new Error('rate limited');
  if (!subnets.addConnection(ip).allowed) throw new Error('too many connections from this subnet');

  const challenge = navr.createChallenge('node-peer', ip); // sent to the peer
  const solution = navr.solve(challenge); // computed by the peer
  const proof = navr.verify(challenge, solution, { peerId: 'node-peer', peerAddress: ip });
  console.log(proof.valid); // true
  console.log(navr.verify(challenge, solution, { peerId: 'node-peer', peerAddress: ip }).code); // 'unknown_or_used'
  reputation.registerNode('node-peer', proof);
  console.log(reputation.getTrustLevel('node-peer')); // 'normal'

  // Message gate: size before parsing, safe parse, structure, replay.
  const validator = new MessageValidator();
  const parser = new SafeJsonParser();
  const nonces = new NonceRegistry({ maxAge: 3_600_000 });
  const timestamps = new TimestampValidator({ maxAge: 600_000 });
  const sequences = new SequenceTracker();

  const raw = JSON.stringify({
    type: 'gossip',
    id: 'msg-1',
    origin: 'node-peer',
    payload: { hello: 'mesh' },
    nonce: nonces.generate(),
    timestamp: Date.now(),
    sequence: 1,
    __proto__x: 'kept',
    constructor: 'dropped',
  });
  const size = validator.validateRaw(raw, 'gossip');
  const parsed = parser.parse(raw);
  if (!size.valid || !parsed.success) throw new Error('rejected');
  const msg = parsed.data as { nonce: string; timestamp: number; sequence: number; origin: string };
  console.log(validator.validateStructure(msg, 'gossip').valid); // true
  console.log(nonces.validate(msg.nonce, msg.timestamp).valid, timestamps.validate(msg.timestamp).valid); // true true
  console.log(sequences.validate(msg.origin, msg.sequence).valid); // true
  console.log(sequences.validate(msg.origin, msg.sequence).code); // 'replay'

  expect(out).toEqual([[true], ['unknown_or_used'], ['normal'], [true], [true, true], [true], ['replay']]);
  expect(parsed.success && (parsed.data as Record<string, unknown>).constructor).toBe(Object);
  expect(parsed.success && parsed.droppedKeys).toBe(1);
});

it('README code block is the same code as this test', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const self = readFileSync(new URL(import.meta.url), 'utf8').split('\n');
  const from = self.findIndex((l) => l.includes('const console =')) + 2;
  const to = self.findIndex((l) => l.trim().startsWith('expect(out)')) - 1;
  const body = self
    .slice(from, to)
    .map((l) => l.replace(/^ {2}/, ''))
    .join('\n');
  expect(block.slice(block.indexOf('\n\n') + 2).trimEnd()).toBe(body.trimEnd());
});
