// The byte-pipe abstraction under the link protocol. A transport moves whole binary messages
// in order between two endpoints; everything above it (handshake, record layer, defense) is the
// same code for every transport (SPEC section 3, "Transports").

/** One established, message-oriented, ordered, reliable connection. */
export interface TransportConnection {
  /** Remote IP address (or the simulated address of an in-memory peer). */
  readonly remoteAddress: string;
  /** Bytes accepted by `send` and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Queue one binary message. Never throws; on a closed connection the data is dropped. */
  send(data: Uint8Array): void;
  /** Close the connection; `onClose` fires once. Idempotent. */
  close(code?: number, reason?: string): void;
  /** Set once by the owner. Each call delivers one whole message. */
  onMessage: ((data: Uint8Array) => void) | undefined;
  /** Set once by the owner; called exactly once when the connection ends for any reason. */
  onClose: ((code: number, reason: string) => void) | undefined;
}

/** A listening endpoint. */
export interface TransportListener {
  /** Bound port (the actual one when 0 was asked for). */
  readonly port: number;
  readonly host: string;
  /** Stop accepting and close every connection it accepted. */
  close(): Promise<void>;
}

export interface ListenOptions {
  host: string;
  port: number;
  /** Largest message the transport accepts; larger ones close the connection. */
  maxPayload: number;
}

export interface DialOptions {
  maxPayload: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** A transport: `ws` over TCP, or the in-memory hub for simulations. */
export interface Transport {
  /** URL scheme of its endpoints: 'ws' or 'mem'. */
  readonly scheme: string;
  /** Bind; rejects with an error whose `code` is 'EADDRINUSE' when the port is taken. */
  listen(opts: ListenOptions, onConnection: (conn: TransportConnection) => void): Promise<TransportListener>;
  /** Open a connection to `endpoint` (`scheme://host:port`). */
  dial(endpoint: string, opts: DialOptions): Promise<TransportConnection>;
  /** Open connections created by this transport (for leak checks). */
  openConnections(): number;
}
