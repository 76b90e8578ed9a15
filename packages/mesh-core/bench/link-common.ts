// Settings shared by the link benchmark and its receiver process (bench/link-receiver.ts).

export const HOST = '127.0.0.1';

/** Benchmarks measure the protocol, not the abuse limits: every node shares 127.0.0.1. */
export const OPEN = {
  rateLimiter: { maxConnectionsPerMinute: 1e9, maxHandshakesPerMinute: 1e9, maxMessagesPerSecond: 1e9, maxGossipPerSecond: 1e9 },
  maxHandshakesPerIp: 1000,
  maxConcurrentHandshakes: 1000,
  subnetDiversity: false as const,
  gossip: false as const,
};

/** Frame kind the throughput runs send. */
export const BENCH_KIND = 0x50;

/** ws settings of the plaintext baseline, on both ends: the ones WsTransport uses. */
export const WS_OPTS = { perMessageDeflate: false, maxPayload: 512 * 1024 + 64, skipUTF8Validation: true } as const;

/** Messages between the benchmark and its receiver process. */
export type ReceiverMessage = { endpoint: string; nodeId: string } | { port: number } | { armed: number } | { done: number };
