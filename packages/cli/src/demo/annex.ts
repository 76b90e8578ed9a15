// Demo section: @yak/annex, end-to-end encrypted channels across the mesh (seed 000 "ANNEX").
import { Annex, type AnnexMesh, type AnnexMessage } from '@yak/annex';
import type { MeshNetwork } from '@yak/mesh-core';
import type { DemoUI } from './ui.js';

/** Records what an Annex sends, so the demo can replay and tamper with a captured envelope. */
class RecordingMesh implements AnnexMesh {
  last: Uint8Array | undefined;
  /** When set, the next envelope is kept here instead of being sent (a relay holding it back). */
  holdNext = false;
  held: Uint8Array | undefined;
  constructor(readonly mesh: MeshNetwork) {}
  get localId(): string {
    return this.mesh.localId;
  }
  sendTo(nodeId: string, message: Uint8Array): boolean {
    this.last = message.slice();
    if (this.holdNext) {
      this.holdNext = false;
      this.held = this.last;
      return true;
    }
    return this.mesh.sendTo(nodeId, message);
  }
  on(event: 'message', handler: Parameters<AnnexMesh['on']>[1]): this {
    this.mesh.on(event, handler);
    return this;
  }
  off(event: 'message', handler: Parameters<AnnexMesh['off']>[1]): this {
    this.mesh.off(event, handler);
    return this;
  }
}

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const short = (id: string) => `${id.slice(0, 13)}…`;

/**
 * Open an ANNEX channel between two mesh nodes (two that are not neighbours when the mesh routes),
 * exchange messages both ways, force a rekey, show a replayed and a tampered envelope rejected,
 * and print both nodes' ANNEX stats.
 */
export async function annexDemo(ui: DemoUI, ctx: { meshes: MeshNetwork[] }): Promise<void> {
  ui.section('ANNEX: end-to-end encrypted channels across the mesh');
  const meshes = ctx.meshes.filter((m) => m.running);
  if (meshes.length < 2) throw new Error('the ANNEX demo needs two running mesh nodes');

  // Prefer two nodes that are not neighbours: then relays carry the channel and see only ciphertext.
  const pairs: [MeshNetwork, MeshNetwork][] = [];
  for (const x of meshes) for (const y of meshes) if (x !== y && !x.isConnectedTo(y.localId)) pairs.push([x, y]);
  for (const x of meshes) for (const y of meshes) if (x !== y && x.isConnectedTo(y.localId)) pairs.push([x, y]);

  let alice: Annex | undefined;
  let bob: Annex | undefined;
  let a: MeshNetwork | undefined;
  let b: MeshNetwork | undefined;
  let rec: RecordingMesh | undefined;
  for (const [x, y] of pairs) {
    const routed = !x.isConnectedTo(y.localId);
    if (routed && x.getStats().router === undefined) continue;
    const r = new RecordingMesh(x);
    const ax = new Annex({ identity: x.identity, mesh: r });
    const ay = new Annex({ identity: y.identity, mesh: y });
    try {
      const s = await ui.step(
        `open a channel ${short(x.localId)} -> ${short(y.localId)} (${routed ? 'not neighbours: routed through relays' : 'neighbours'})`,
        () => ax.openChannel(y.localId, { timeoutMs: 15_000 }),
      );
      ui.info(`session ${s.sessionId.slice(0, 16)}…, hybrid X25519 + ML-KEM-768, both identities proven by KEM (4 messages)`);
      [alice, bob, a, b, rec] = [ax, ay, x, y, r];
      break;
    } catch {
      await ax.stop();
      await ay.stop();
      ui.info('no route yet; trying another pair');
    }
  }
  if (!alice || !bob || !a || !b || !rec) throw new Error('no pair of nodes could open a channel');
  const [A, B, x, y, r] = [alice, bob, a, b, rec];

  try {
    const atBob: AnnexMessage[] = [];
    const atAlice: AnnexMessage[] = [];
    B.onMessage((m) => atBob.push(m));
    A.onMessage((m) => atAlice.push(m));

    const sent = await ui.step('send an object (AES-256-GCM, session id and sequence in the AAD)', () =>
      A.send(y.localId, { type: 'private_message', content: 'Hello from the annexed territory!' }),
    );
    const captured = r.last as Uint8Array;
    await waitFor(() => atBob.length === 1, 5_000, 'delivery');
    ui.info(`${short(y.localId)} decrypted: ${JSON.stringify(atBob[0]?.payload)} (sequence ${sent.sequence})`);

    await ui.step('reply the other way', async () => {
      await B.send(x.localId, 'ack: received privately');
      await waitFor(() => atAlice.length === 1, 5_000, 'reply');
    });
    ui.info(`${short(x.localId)} decrypted: "${String(atAlice[0]?.payload)}"`);

    const { epoch } = await ui.step('forced rekey: fresh hybrid KEM exchange inside the channel, old keys wiped', () => A.rekey(y.localId));
    ui.info(`now on key epoch ${epoch}; messages under the old key are accepted only for a 10 s grace period`);
    await ui.step('send under the new keys', async () => {
      await A.send(y.localId, new TextEncoder().encode('bytes after the rekey'));
      await waitFor(() => atBob.length === 2, 5_000, 'delivery after rekey');
    });

    // A relay replays the first envelope it carried: same bytes, same sequence number.
    const replaysBefore = B.getStats().replaysBlocked;
    x.sendTo(y.localId, captured);
    await waitFor(() => B.getStats().replaysBlocked > replaysBefore, 5_000, 'replay rejection');
    ui.blocked('the first envelope sent again', `sequence ${sent.sequence} already seen (replaysBlocked ${B.getStats().replaysBlocked})`);

    // A relay holds back the next envelope and forwards a copy with one bit flipped: the GCM tag
    // no longer verifies. The untouched original, forwarded afterwards, still arrives.
    r.holdNext = true;
    await A.send(y.localId, 'integrity check');
    const held = r.held as Uint8Array;
    const tampered = held.slice();
    tampered[tampered.length - 20] = (tampered[tampered.length - 20] as number) ^ 0x01;
    const rejectedBefore = B.getStats().envelopesRejected;
    x.sendTo(y.localId, tampered);
    await waitFor(() => B.getStats().envelopesRejected > rejectedBefore, 5_000, 'tamper rejection');
    ui.blocked('an envelope with one flipped bit', 'AES-256-GCM authentication failed; no handler saw it');
    x.sendTo(y.localId, held);
    await waitFor(() => atBob.length === 3, 5_000, 'delivery of the original');
    if (atBob[2]?.payload !== 'integrity check') throw new Error('a replayed or tampered envelope reached the handler');
    ui.info('the original envelope, forwarded afterwards, was accepted');

    const cols = [
      'sessionsCreated',
      'messagesEncrypted',
      'messagesDecrypted',
      'handshakesFailed',
      'replaysBlocked',
      'activeSessions',
      'rekeys',
    ] as const;
    const sa = A.getStats();
    const sb = B.getStats();
    ui.table([
      ['node', ...cols],
      [short(x.localId), ...cols.map((k) => sa[k])],
      [short(y.localId), ...cols.map((k) => sb[k])],
    ]);
    ui.summary('ANNEX', `channel ${short(x.localId)} <-> ${short(y.localId)}, epoch ${epoch}, replay and tamper blocked`);

    await ui.step('close the channel (authenticated close; keys wiped on both sides)', async () => {
      await A.closeChannel(y.localId);
      await waitFor(() => B.getStats().activeSessions === 0, 5_000, 'close');
    });
  } finally {
    await A.stop();
    await B.stop();
  }
}
