// The handshake's message plumbing, which seed 003's test leaves implicit: initiateHandshake()
// and completeHandshake() exchange their messages over a HandshakeTransport that the caller
// supplies (a mesh link, a WebSocket, a queue). createHandshakePipe() is an in-memory pair for
// tests, demos and two peers in one process.
import { PIPE_QUEUE_LIMIT } from './constants.js';
import { HandshakeAbortedError, HandshakeTransportError } from './errors.js';

/** One side of a handshake conversation. Messages are strings (unpadded base64url of canonical CBOR). */
export interface HandshakeTransport {
  /** Deliver one message to the peer. */
  send(message: string, options: { signal: AbortSignal }): void | Promise<void>;
  /** The next message from the peer. Should reject when `signal` aborts. */
  receive(options: { signal: AbortSignal }): Promise<string>;
}

/** An end of {@link createHandshakePipe}. */
export interface HandshakePipeEnd extends HandshakeTransport {
  send(message: string, options?: { signal?: AbortSignal }): void;
  receive(options?: { signal?: AbortSignal }): Promise<string>;
  /** Reject pending and future operations on both ends. */
  close(): void;
}

interface Inbox {
  queue: string[];
  waiter: { resolve(m: string): void; reject(e: unknown): void } | undefined;
}

/**
 * Two connected in-memory transports: what one end sends, the other receives, in order. Each
 * inbox holds at most {@link PIPE_QUEUE_LIMIT} messages and one pending receive (a handshake
 * never has more in flight); sends beyond that fail.
 */
export function createHandshakePipe(): [HandshakePipeEnd, HandshakePipeEnd] {
  const inboxes: [Inbox, Inbox] = [
    { queue: [], waiter: undefined },
    { queue: [], waiter: undefined },
  ];
  let closed = false;
  const closedError = () => new HandshakeTransportError(new Error('handshake pipe closed'));

  const end = (mine: Inbox, theirs: Inbox): HandshakePipeEnd => ({
    send(message) {
      if (closed) throw closedError();
      if (typeof message !== 'string') throw new TypeError('message must be a string');
      if (theirs.waiter) {
        const w = theirs.waiter;
        theirs.waiter = undefined;
        w.resolve(message);
        return;
      }
      if (theirs.queue.length >= PIPE_QUEUE_LIMIT) throw new HandshakeTransportError(new Error('handshake pipe queue is full'));
      theirs.queue.push(message);
    },
    receive(options = {}) {
      const { signal } = options;
      if (closed) return Promise.reject(closedError());
      if (signal?.aborted) return Promise.reject(new HandshakeAbortedError());
      const next = mine.queue.shift();
      if (next !== undefined) return Promise.resolve(next);
      if (mine.waiter) return Promise.reject(new HandshakeTransportError(new Error('a receive is already pending on this end')));
      return new Promise<string>((resolve, reject) => {
        const onAbort = () => {
          mine.waiter = undefined;
          reject(new HandshakeAbortedError());
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        mine.waiter = {
          resolve: (m) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(m);
          },
          reject: (e) => {
            signal?.removeEventListener('abort', onAbort);
            reject(e);
          },
        };
      });
    },
    close() {
      if (closed) return;
      closed = true;
      for (const box of inboxes) {
        box.queue.length = 0;
        const w = box.waiter;
        box.waiter = undefined;
        w?.reject(closedError());
      }
    },
  });

  return [end(inboxes[0], inboxes[1]), end(inboxes[1], inboxes[0])];
}
