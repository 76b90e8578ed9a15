// Gossip on a simulated network, and a forger that builds MESSAGE frames by hand, signed with
// whatever key the test chooses (attacks on origin authentication).
import { encodeIdentityRecord, type NodeIdentity, toHex, utf8 } from '@yak/crypto';
import { encodeMessage, headerBytes, leafData, type MessageFrame } from '../../src/gossip/codec.js';
import { BATCH_LABEL, GOSSIP_KIND } from '../../src/gossip/constants.js';
import { Gossip, type GossipIdentity, type GossipMessage, type GossipOptions } from '../../src/gossip/gossip.js';
import { buildTree, leafHash } from '../../src/gossip/merkle.js';
import { SimClock } from './sim-clock.js';
import { type SimLink, SimNetwork, type SimNetworkOptions } from './sim-network.js';

export interface GossipNode {
  id: string;
  link: SimLink;
  gossip: Gossip;
  inbox: GossipMessage[];
}

export interface GossipSim {
  clock: SimClock;
  net: SimNetwork;
  nodes: GossipNode[];
  byId: Map<string, GossipNode>;
  /** Replace a node's gossip instance with a fresh one (a restart: every cache empty). */
  restart(i: number): void;
}

export function gossipSim(
  identities: readonly GossipIdentity[],
  opts: { net?: SimNetworkOptions; gossip?: Partial<GossipOptions> | ((i: number) => Partial<GossipOptions>); clock?: SimClock } = {},
): GossipSim {
  const clock = opts.clock ?? new SimClock();
  const net = new SimNetwork(clock, opts.net);
  const make = (i: number, link: SimLink, inbox: GossipMessage[]) => {
    const extra = typeof opts.gossip === 'function' ? opts.gossip(i) : (opts.gossip ?? {});
    const g = new Gossip({ link, identity: identities[i] as GossipIdentity, clock, ...extra });
    g.onMessage((m) => inbox.push(m));
    g.start();
    return g;
  };
  const nodes = identities.map((identity, i) => {
    const link = net.addNode(identity.nodeId);
    const inbox: GossipMessage[] = [];
    return { id: identity.nodeId, link, inbox, gossip: make(i, link, inbox) };
  });
  const sim: GossipSim = {
    clock,
    net,
    nodes,
    byId: new Map(nodes.map((n) => [n.id, n])),
    restart(i) {
      const n = nodes[i] as GossipNode;
      n.gossip.stop();
      n.gossip = make(i, n.link, n.inbox);
    },
  };
  return sim;
}

export interface ForgeInput {
  /** Key that signs the batch header. */
  signer: NodeIdentity;
  /** Origin written into the frame (defaults to the signer's id). */
  origin?: string;
  /** Identity record bytes attached (defaults to the signer's record). */
  record?: Uint8Array | null;
  payloads: Uint8Array[];
  topic?: string;
  seq?: number;
  ts: number;
  ttl?: number;
  hops?: number;
  networkId?: string;
}

/** Build and sign a batch the way an origin would, with every field under the test's control. */
export function forgeBatch(f: ForgeInput): { frames: Uint8Array[]; ids: string[]; decoded: MessageFrame[] } {
  const origin = f.origin ?? f.signer.nodeId;
  const seq = f.seq ?? 1;
  const ttl = f.ttl ?? 32;
  const leaves = f.payloads.map((p, i) => leafHash(leafData(origin, seq, f.ts, i, f.topic, p)));
  const { root, paths } = buildTree(leaves);
  const header = headerBytes(f.networkId ?? 'yakmesh', origin, seq, f.ts, leaves.length, ttl, root);
  const signature = f.signer.sign(header, utf8(BATCH_LABEL));
  const record = f.record === undefined ? encodeIdentityRecord(f.signer.publicRecord()) : f.record;
  const decoded = f.payloads.map((payload, index) => {
    const m: MessageFrame = {
      hops: f.hops ?? 1,
      ttl,
      origin,
      seq,
      ts: f.ts,
      size: leaves.length,
      index,
      path: paths[index] as Uint8Array[],
      payload,
      signature,
    };
    if (f.topic !== undefined) m.topic = f.topic;
    if (record) m.record = record;
    return m;
  });
  return { frames: decoded.map(encodeMessage), ids: leaves.map(toHex), decoded };
}

/** Deliver a MESSAGE frame to `to` as if `from` had sent it. */
export function inject(sim: GossipSim, from: string, to: string, frame: Uint8Array, kind: number = GOSSIP_KIND.message): void {
  sim.net.link(to).deliver(from, kind, frame);
}
