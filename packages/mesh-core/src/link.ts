// One link to a neighbour: drives the handshake over a transport connection, then carries
// batched frames in AEAD records (docs/protocol/link.md sections 3-6). Transport-agnostic: the
// same code runs over `ws` and the in-memory transport.
import { type IdentityRecord, utf8 } from '@yak/crypto';
import { solveNavrChallengeAsync } from '@yak/defense';
import { LINK } from './constants.js';
import {
  encodeReject,
  type HandshakeConfig,
  type HandshakeMode,
  type HandshakeResult,
  Initiator,
  type KnownPeer,
  LinkReject,
  MsgType,
  type PeerCheck,
  RejectCode,
  Responder,
  type Step,
  type Ticket,
} from './handshake.js';
import type { Clock } from './link-layer.js';
import { RecordLayer, type RecordLayerOptions } from './record.js';
import type { TransportConnection } from './transport/types.js';

/** Link-control frame kinds (0x00-0x0f, link-layer.ts). */
export const LinkKind = {
  PING: 0x00,
  PONG: 0x01,
  CLOSE: 0x02,
  PEERS: 0x03,
  INFO: 0x04,
  /**
   * The sender's next record is under its next key epoch; body u32(new epoch). Always the last
   * frame of its record, never dispatched to the host (link.md section 6.1).
   */
  KEY_UPDATE: 0x05,
} as const;

/** KEY_UPDATE body: the new send epoch, u32. */
const KEY_UPDATE_BODY = 4;

/** Frame header inside a record: kind (u8) + body length (u32). */
const FRAME_HEADER = 5;

/** Why a link ended. `code` is stable; `reject` is set when a handshake was refused. */
export interface CloseInfo {
  code: 'local' | 'remote' | 'transport' | 'timeout' | 'rejected' | 'violation' | 'replaced' | 'stopped' | 'dead';
  detail: string;
  reject?: LinkReject;
}

/** What the link needs from its owner. */
export interface LinkHost {
  readonly handshake: HandshakeConfig;
  readonly clock: Clock;
  readonly handshakeTimeoutMs: number;
  /** Responder-side checks once the initiator is identified (bans, limits, duplicates). */
  readonly peerCheck: PeerCheck;
  onUp(link: Link): void;
  onFrame(link: Link, kind: number, body: Uint8Array): void;
  onClose(link: Link, info: CloseInfo): void;
  /** Protocol violation by the remote side. `fatal` ones also close the link. */
  onViolation(link: Link, reason: string, severity: number): void;
  /**
   * Record-layer limits (key update after records or time, epoch bound). Absent: the `LINK`
   * defaults. The key age is always measured with `clock`.
   */
  readonly recordOptions?: Omit<RecordLayerOptions, 'now'>;
}

export interface LinkStats {
  recordsSent: number;
  recordsReceived: number;
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  replaysBlocked: number;
  /** Updates of our send key (KEY_UPDATE frames sent, link.md section 6.1). */
  keyUpdates: number;
  /** Updates of the peer's send key (KEY_UPDATE frames received and applied). */
  keyUpdatesReceived: number;
}

let nextLinkId = 1;
/** Header of a frame sealed alone; sealing reads it synchronously, so one serves every link. */
const soloHeader = new Uint8Array(FRAME_HEADER);
/** The KEY_UPDATE frame appended to a record; shared like `soloHeader`. */
const keyUpdateFrame = new Uint8Array(FRAME_HEADER + KEY_UPDATE_BODY);

export class Link {
  readonly id = nextLinkId++;
  readonly initiator: boolean;
  state: 'handshaking' | 'up' | 'closed' = 'handshaking';
  /** Verified peer identity (after the handshake). */
  peer: IdentityRecord | undefined;
  peerRecordHash: Uint8Array | undefined;
  mode: HandshakeMode | undefined;
  /** The next resumption ticket (id and secret) once up; the owner files it and clears this. */
  resumption: { id: Uint8Array; secret: Uint8Array } | undefined;
  /** Endpoint we dialed, or the one the peer advertised in INFO. */
  endpoint: string | undefined;
  readonly remoteAddress: string;
  upAt = 0;
  lastRecv: number;
  rttMs: number | undefined;
  readonly stats: LinkStats = {
    recordsSent: 0,
    recordsReceived: 0,
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    replaysBlocked: 0,
    keyUpdates: 0,
    keyUpdatesReceived: 0,
  };

  readonly #conn: TransportConnection;
  readonly #host: LinkHost;
  #hs: Initiator | Responder | undefined;
  #records: RecordLayer | undefined;
  #timer: unknown;
  #batch: Uint8Array | undefined;
  #batchLen = 0;
  #flushQueued = false;
  /** The admission proof of work in progress, if any. */
  #solving: AbortController | undefined;
  #closeInfo: CloseInfo | undefined;
  #settle: ((err?: CloseInfo) => void) | undefined;
  /** Resolves when the link is up; rejects with the CloseInfo when it ends before. */
  readonly ready: Promise<void>;

  constructor(
    host: LinkHost,
    conn: TransportConnection,
    opts: { initiator: boolean; known?: KnownPeer; ticket?: Ticket; expectedNodeId?: string; endpoint?: string },
  ) {
    this.#host = host;
    this.#conn = conn;
    this.initiator = opts.initiator;
    this.endpoint = opts.endpoint;
    this.remoteAddress = conn.remoteAddress;
    this.lastRecv = host.clock.now();
    this.ready = new Promise<void>((resolve, reject) => {
      this.#settle = (err) => (err ? reject(err) : resolve());
    });
    // A failed handshake is reported through `ready` and onClose; nobody may be awaiting it.
    this.ready.catch(() => {});
    conn.onMessage = (data) => this.#receive(data);
    conn.onClose = (code, reason) => this.#closed({ code: 'transport', detail: `transport closed (${code}${reason ? ` ${reason}` : ''})` });
    this.#timer = host.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.state === 'handshaking') this.close({ code: 'timeout', detail: 'handshake timed out' });
    }, host.handshakeTimeoutMs);
    if (opts.initiator) {
      const hs = new Initiator(host.handshake, { known: opts.known, ticket: opts.ticket, expectedNodeId: opts.expectedNodeId });
      this.#hs = hs;
      this.#sendRaw(hs.hello());
    } else {
      this.#hs = new Responder(host.handshake, host.peerCheck, conn.remoteAddress);
    }
  }

  get nodeId(): string | undefined {
    return this.peer?.nodeId;
  }

  get bufferedAmount(): number {
    return this.#conn.bufferedAmount + this.#batchLen;
  }

  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  #sendRaw(bytes: Uint8Array): void {
    this.stats.bytesSent += bytes.length;
    this.#conn.send(bytes);
  }

  #receive(data: Uint8Array): void {
    if (this.state === 'closed') return;
    this.stats.bytesReceived += data.length;
    if (this.state === 'handshaking') {
      this.#handshakeMessage(data);
      return;
    }
    const records = this.#records as RecordLayer;
    const pt = records.open(data);
    if (typeof pt === 'string') {
      if (pt === 'replay' || pt === 'old') {
        // A reliable ordered transport never repeats a record: someone injected it. Drop it.
        this.stats.replaysBlocked++;
        this.#host.onViolation(this, `replayed record (${pt})`, 1);
        return;
      }
      this.#host.onViolation(this, `record ${pt}`, 5);
      this.close({ code: 'violation', detail: `record ${pt}` });
      return;
    }
    this.lastRecv = this.#host.clock.now();
    this.stats.recordsReceived++;
    // Validate every frame header before dispatching, so a malformed record dispatches nothing;
    // the second pass reads the same (already checked) headers without building a frame list.
    // KEY_UPDATE must be the last frame (link.md section 6.1).
    let o = 0;
    let update = -1;
    while (o < pt.length) {
      if (update >= 0 || pt.length - o < FRAME_HEADER) return this.#malformed();
      const len = frameLength(pt, o);
      if (pt[o] === LinkKind.KEY_UPDATE) {
        if (len !== KEY_UPDATE_BODY || pt.length - o < FRAME_HEADER + KEY_UPDATE_BODY) return this.#malformed();
        update = readU32(pt, o + FRAME_HEADER);
      }
      o += FRAME_HEADER;
      if (len > LINK.maxFrameBytes || len > pt.length - o) return this.#malformed();
      o += len;
    }
    if (pt.length === 0) return this.#malformed();
    // The next record from the peer is under its next key: switch now, before any handler runs.
    if (update >= 0) {
      if (!records.updateRecv(update)) {
        this.#host.onViolation(this, 'key update to an unexpected epoch', 5);
        this.close({ code: 'violation', detail: 'bad key update' });
        return;
      }
      this.stats.keyUpdatesReceived++;
    }
    for (o = 0; o < pt.length; ) {
      if (this.state !== 'up') return;
      const kind = pt[o] as number;
      const len = frameLength(pt, o);
      const body = pt.subarray(o + FRAME_HEADER, o + FRAME_HEADER + len);
      o += FRAME_HEADER + len;
      this.stats.framesReceived++;
      if (kind === LinkKind.KEY_UPDATE) return;
      if (kind === LinkKind.CLOSE) {
        this.#remoteClose(body);
        return;
      }
      this.#host.onFrame(this, kind, body);
    }
  }

  #malformed(): void {
    this.#host.onViolation(this, 'malformed frames in record', 5);
    this.close({ code: 'violation', detail: 'malformed frames' });
  }

  #remoteClose(body: Uint8Array): void {
    const detail = new TextDecoder('utf-8', { fatal: false }).decode(body.subarray(0, 200));
    this.#terminate({ code: 'remote', detail: detail || 'closed by peer' }, 1000, 'closed');
  }

  #handshakeMessage(data: Uint8Array): void {
    if (data.length > LINK.maxHandshakeBytes) {
      this.#host.onViolation(this, 'oversized handshake message', 3);
      this.#fail(new LinkReject(RejectCode.HANDSHAKE_FAILED, 'handshake message too large'));
      return;
    }
    if (data[0] === MsgType.RECORD) {
      // Never decrypt or dispatch anything before the handshake completed (link.md section 3).
      this.#host.onViolation(this, 'record before handshake', 3);
      this.#fail(new LinkReject(RejectCode.HANDSHAKE_FAILED, 'record before handshake'));
      return;
    }
    let step: ReturnType<Initiator['receive']>;
    try {
      step = (this.#hs as Initiator | Responder).receive(data);
    } catch (e) {
      if (e instanceof LinkReject) {
        if (!e.remote && e.code !== RejectCode.DUPLICATE) this.#host.onViolation(this, e.message, 1);
        this.#fail(e);
        return;
      }
      throw e;
    }
    if (step.send) this.#sendRaw(step.send);
    if (step.done) this.#up(step.done);
    if (step.admission) this.#solve(step.admission);
  }

  /**
   * Answer an admission challenge (link.md section 3.7): the proof of work runs in slices beside
   * the node's other work and stops if the link closes (or the handshake times out) first.
   */
  #solve(admission: NonNullable<Step['admission']>): void {
    const ac = new AbortController();
    this.#solving = ac;
    solveNavrChallengeAsync(admission.challenge, { signal: ac.signal }).then(
      (solution) => {
        this.#solving = undefined;
        if (this.state === 'handshaking') this.#sendRaw(admission.respond(solution));
      },
      () => {
        this.#solving = undefined;
        if (this.state === 'handshaking') this.#fail(new LinkReject(RejectCode.ADMISSION, 'admission proof of work not found'));
      },
    );
  }

  #up(r: HandshakeResult): void {
    this.#hs = undefined;
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.peer = r.peer;
    this.peerRecordHash = r.peerRecordHash;
    this.mode = r.mode;
    this.resumption = r.resumption;
    const clock = this.#host.clock;
    this.#records = new RecordLayer(r.sendSecret, r.recvSecret, { ...this.#host.recordOptions, now: () => clock.now() });
    this.state = 'up';
    this.upAt = this.#host.clock.now();
    this.lastRecv = this.upAt;
    this.#host.onUp(this);
    if (this.state === 'up') this.#settle?.();
    this.#settle = undefined;
  }

  /** The handshake failed: tell the peer why (unless it told us), then close. */
  #fail(e: LinkReject): void {
    if (!e.remote) this.#sendRaw(encodeReject(e.code, e.detail));
    this.#terminate({ code: 'rejected', detail: e.message, reject: e }, 1008, 'handshake failed');
  }

  /**
   * Queue one frame. Small frames are copied into a batch sealed as one record at the end of
   * the current task (or when it reaches `LINK.batchBytes`); large ones are sealed at once.
   */
  send(kind: number, body: Uint8Array): boolean {
    if (this.state !== 'up') return false;
    if (body.length > LINK.maxFrameBytes) return false;
    if (this.#conn.bufferedAmount + this.#batchLen > LINK.maxBufferedBytes) return false;
    const need = FRAME_HEADER + body.length;
    if (this.#batchLen > 0 && this.#batchLen + need > LINK.batchBytes) {
      this.flush();
      // Sealing the batch closes the link when a key limit is reached.
      if (this.state !== 'up') return false;
    }
    if (need >= LINK.batchBytes) {
      // Sealed as header and body parts: the body is encrypted where it lies, never copied.
      writeFrameHeader(soloHeader, 0, kind, body.length);
      this.#seal([soloHeader, body], 1);
      return this.state === 'up';
    }
    let b = this.#batch;
    if (!b || b.length < this.#batchLen + need) {
      const grown = new Uint8Array(Math.min(LINK.batchBytes, Math.max(1024, (this.#batchLen + need) * 2)));
      if (b && this.#batchLen > 0) grown.set(b.subarray(0, this.#batchLen));
      b = grown;
      this.#batch = b;
    }
    writeFrame(b, this.#batchLen, kind, body);
    this.#batchLen += need;
    this.#pendingFrames++;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        this.flush();
      });
    }
    return true;
  }

  #pendingFrames = 0;

  /** Seal and send the pending batch now. */
  flush(): void {
    if (this.#batchLen === 0 || this.state !== 'up') return;
    const n = this.#pendingFrames;
    const pt = (this.#batch as Uint8Array).subarray(0, this.#batchLen);
    this.#batchLen = 0;
    this.#pendingFrames = 0;
    this.#seal([pt], n);
    // A batch that filled up means a busy link: keep the buffer for the next burst. Otherwise give
    // it back, so idle links hold no batch memory.
    if (pt.length < LINK.batchBytes / 2) this.#batch = undefined;
  }

  /**
   * Seal one record. When the send key is due for an update (link.md section 6.1), KEY_UPDATE
   * rides as the record's last frame and the key changes right after sealing: the peer receives
   * records in order, so it switches at exactly the same record.
   */
  #seal(frameParts: readonly Uint8Array[], frameCount: number): void {
    const records = this.#records as RecordLayer;
    if (records.exhausted) {
      this.close({ code: 'local', detail: 'record limit reached, re-handshake' });
      return;
    }
    let parts = frameParts;
    let frames = frameCount;
    const update = records.keyUpdateDue;
    if (update) {
      if (!records.canUpdateSend) {
        // Epochs never wrap: a new handshake brings fresh secrets.
        this.close({ code: 'local', detail: 'key epoch limit reached, re-handshake' });
        return;
      }
      writeFrameHeader(keyUpdateFrame, 0, LinkKind.KEY_UPDATE, KEY_UPDATE_BODY);
      writeU32(keyUpdateFrame, FRAME_HEADER, records.sendEpoch + 1);
      parts = [...parts, keyUpdateFrame];
      frames++;
    }
    const rec = records.sealParts(parts);
    if (update) {
      records.updateSend();
      this.stats.keyUpdates++;
    }
    this.stats.recordsSent++;
    this.stats.framesSent += frames;
    this.#sendRaw(rec);
  }

  /** Current key epochs of both directions (link.md section 6.1), once up. */
  get keyEpochs(): { send: number; recv: number } | undefined {
    const r = this.#records;
    return r ? { send: r.sendEpoch, recv: r.recvEpoch } : undefined;
  }

  /** Close the link; an established link first tells the peer why (inside a record). */
  close(info: CloseInfo = { code: 'local', detail: 'closed' }): void {
    if (this.state === 'closed') return;
    if (this.state === 'up') {
      this.flush();
      // Sealing the last batch may itself have closed the link (a key limit reached).
      if (this.state !== 'up') return;
      const reason = utf8(info.detail.slice(0, 200));
      const pt = new Uint8Array(FRAME_HEADER + reason.length);
      writeFrame(pt, 0, LinkKind.CLOSE, reason);
      const records = this.#records as RecordLayer;
      if (!records.exhausted) this.#sendRaw(records.seal(pt));
    } else if (this.state === 'handshaking' && info.code !== 'transport') {
      const code = info.code === 'stopped' ? RejectCode.SHUTTING_DOWN : RejectCode.HANDSHAKE_FAILED;
      this.#sendRaw(encodeReject(code, info.detail));
    }
    this.#terminate(info, info.code === 'violation' ? 1008 : 1000, info.code);
  }

  #terminate(info: CloseInfo, wsCode: number, wsReason: string): void {
    if (this.state === 'closed') return;
    this.#closed(info);
    this.#conn.close(wsCode, wsReason);
  }

  #closed(info: CloseInfo): void {
    if (this.state === 'closed') return;
    const wasUp = this.state === 'up';
    this.state = 'closed';
    this.#closeInfo = info;
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#hs?.destroy();
    this.#hs = undefined;
    this.#solving?.abort();
    this.#solving = undefined;
    this.#records?.destroy();
    this.#records = undefined;
    this.#batch = undefined;
    this.#batchLen = 0;
    this.#conn.onMessage = undefined;
    this.#settle?.(info);
    this.#settle = undefined;
    void wasUp;
    this.#host.onClose(this, info);
  }
}

function frameLength(pt: Uint8Array, o: number): number {
  return readU32(pt, o + 1);
}

function readU32(b: Uint8Array, o: number): number {
  return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

function writeFrameHeader(buf: Uint8Array, off: number, kind: number, len: number): void {
  buf[off] = kind;
  buf[off + 1] = len >>> 24;
  buf[off + 2] = (len >>> 16) & 0xff;
  buf[off + 3] = (len >>> 8) & 0xff;
  buf[off + 4] = len & 0xff;
}

function writeFrame(buf: Uint8Array, off: number, kind: number, body: Uint8Array): void {
  writeFrameHeader(buf, off, kind, body.length);
  buf.set(body, off + FRAME_HEADER);
}
