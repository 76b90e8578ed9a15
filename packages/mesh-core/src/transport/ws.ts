// WebSocket transport over `ws`: binary messages only, no compression (compressing before
// encryption leaks plaintext through lengths, and encrypted data does not compress).
import type { IncomingMessage } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import type { DialOptions, ListenOptions, Transport, TransportConnection, TransportListener } from './types.js';

/** Time a closing socket gets to finish the close handshake before it is destroyed. */
const CLOSE_GRACE_MS = 1_000;

class WsConnection implements TransportConnection {
  onMessage: ((data: Uint8Array) => void) | undefined;
  onClose: ((code: number, reason: string) => void) | undefined;
  #closed = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    private readonly release: (c: WsConnection) => void,
  ) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.#closed) return;
      // The link protocol is binary only (SPEC section 2, "Encoding").
      if (!isBinary) {
        this.close(1003, 'binary frames only');
        return;
      }
      this.onMessage?.(data);
    });
    ws.on('close', (code: number, reason: Buffer) => this.#finish(code, reason.toString('utf8')));
    ws.on('error', () => {
      // 'close' always follows 'error' in ws; the error itself carries nothing the link needs.
    });
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(data: Uint8Array): void {
    if (this.#closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data, { binary: true });
  }

  close(code = 1000, reason = ''): void {
    if (this.#closed || this.#graceTimer !== undefined) return;
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
    // ws waits up to 30 s for the peer's close frame; a node shutting down does not.
    this.#graceTimer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    this.#graceTimer.unref?.();
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.ws.removeAllListeners('message');
    this.release(this);
    const cb = this.onClose;
    this.onClose = undefined;
    this.onMessage = undefined;
    cb?.(code, reason);
  }
}

/** Options of {@link WsTransport}. */
export interface WsTransportOptions {
  /** Extra `ws` client options merged into every dial (e.g. TLS settings for wss://). */
  clientOptions?: Record<string, unknown>;
  /**
   * Send client frames with an all-zero masking key (default true), which lets `ws` skip the
   * masking copy on send and the unmasking pass on receive. RFC 6455 section 10.3 masks client
   * frames so that a hostile script cannot place chosen bytes on the wire for a confused proxy
   * to misread; every byte this transport carries is chosen by the link protocol (public keys,
   * ciphertexts, AEAD records), never by a script, so the mask protects nothing here.
   */
  zeroMask?: boolean;
}

const zeroMask = (mask: Uint8Array): void => {
  mask.fill(0);
};

/** WebSocket transport (`ws://host:port`, `wss://` when the URL says so). */
export class WsTransport implements Transport {
  readonly scheme = 'ws';
  readonly #open = new Set<WsConnection>();
  readonly #clientOptions: Record<string, unknown>;

  constructor(opts: WsTransportOptions = {}) {
    this.#clientOptions = { ...(opts.zeroMask === false ? {} : { generateMask: zeroMask }), ...(opts.clientOptions ?? {}) };
  }

  openConnections(): number {
    return this.#open.size;
  }

  #release = (c: WsConnection): void => {
    this.#open.delete(c);
  };

  listen(opts: ListenOptions, onConnection: (conn: TransportConnection) => void): Promise<TransportListener> {
    return new Promise((resolve, reject) => {
      const accepted = new Set<WsConnection>();
      const wss = new WebSocketServer({
        host: opts.host,
        port: opts.port,
        maxPayload: opts.maxPayload,
        perMessageDeflate: false,
        clientTracking: false,
        skipUTF8Validation: true,
      });
      const onError = (err: Error) => {
        wss.close();
        reject(err);
      };
      wss.once('error', onError);
      wss.once('listening', () => {
        wss.off('error', onError);
        wss.on('error', () => {});
        const addr = wss.address();
        const port = typeof addr === 'object' && addr ? addr.port : opts.port;
        wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
          const conn = new WsConnection(ws, req.socket.remoteAddress ?? '', (c) => {
            accepted.delete(c);
            this.#release(c);
          });
          this.#open.add(conn);
          accepted.add(conn);
          onConnection(conn);
        });
        resolve({
          port,
          host: opts.host,
          close: () =>
            new Promise<void>((done) => {
              for (const c of [...accepted]) c.close(1001, 'server closing');
              wss.close(() => done());
            }),
        });
      });
    });
  }

  dial(endpoint: string, opts: DialOptions): Promise<TransportConnection> {
    return new Promise((resolve, reject) => {
      let url: URL;
      try {
        url = new URL(endpoint);
      } catch {
        reject(Object.assign(new Error('malformed endpoint'), { code: 'EINVAL' }));
        return;
      }
      if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
        reject(Object.assign(new Error('endpoint must be ws:// or wss://'), { code: 'EINVAL' }));
        return;
      }
      if (opts.signal?.aborted) {
        reject(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }));
        return;
      }
      const ws = new WebSocket(url, {
        ...this.#clientOptions,
        maxPayload: opts.maxPayload,
        perMessageDeflate: false,
        handshakeTimeout: opts.timeoutMs,
        skipUTF8Validation: true,
      });
      const cleanup = () => {
        ws.off('open', onOpen);
        ws.off('error', onFail);
        ws.off('close', onClosed);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      const onOpen = () => {
        cleanup();
        const raw = (ws as unknown as { _socket?: { remoteAddress?: string } })._socket;
        const conn = new WsConnection(ws, raw?.remoteAddress ?? url.hostname, this.#release);
        this.#open.add(conn);
        resolve(conn);
      };
      const onFail = (err: Error) => {
        cleanup();
        ws.on('error', () => {});
        ws.terminate();
        reject(err);
      };
      const onClosed = () => onFail(Object.assign(new Error('closed during upgrade'), { code: 'ECONNRESET' }));
      const onAbort = () => onFail(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }));
      ws.once('open', onOpen);
      ws.once('error', onFail);
      ws.once('close', onClosed);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
