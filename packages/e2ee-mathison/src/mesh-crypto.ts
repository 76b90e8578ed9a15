// MeshCrypto: seed 003's interface over the handshake, sessions and identity custody of this
// package (SPEC section 3, @yak/e2ee-mathison).
import { concatBytes, constantTimeEqual, type KeyPair, mlkem768, randomBytes, wipe, x25519 } from '@yak/crypto';
import {
  DEFAULT_AEAD,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_EPOCH_SKIP,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MODE,
  DEFAULT_REPLAY_WINDOW,
  DEFAULT_ROTATE_EVERY,
  HANDSHAKE_NONCE_BYTES,
  MAX_EPOCH,
  MAX_REPLAY_WINDOW,
  REVOKED_IDS_REMEMBERED,
} from './constants.js';
import {
  AbortedError,
  ClosedError,
  HandshakeAbortedError,
  HandshakeAuthError,
  type HandshakeError,
  HandshakeMalformedError,
  HandshakeMismatchError,
  HandshakeTimeoutError,
  HandshakeTransportError,
  MeshCryptoError,
  NoIdentityError,
  SessionLimitError,
  SessionRevokedError,
  UnknownSessionError,
  WrongIdentityError,
} from './errors.js';
import {
  AEAD_NAMES,
  type AeadName,
  confirmation,
  confirmationValid,
  type DirectionKeys,
  decodeFinish,
  decodeInit,
  decodeResponse,
  dh,
  encodeFinish,
  encodeInit,
  encodeResponse,
  type Role,
  sessionKeys,
  signatureInput,
  transcript,
  wipeKeys,
} from './handshake.js';
import {
  checkKeypair,
  createIdentity,
  type IdentityKeypair,
  type Mode,
  type PublicIdentity,
  parsePublicKey,
  publicIdentityFromBytes,
  signWith,
  verifyWith,
} from './identity.js';
import { type Logger, makeLog } from './logger.js';
import {
  type EncryptedMessage,
  type Session,
  type SessionConfig,
  type SessionCounters,
  type SessionInfo,
  type SessionKeys,
  SessionState,
  stateOf,
} from './session.js';
import type { LoadOptions, StorageAdapter } from './storage.js';
import type { HandshakeTransport } from './transport.js';

/** Options of {@link MeshCrypto}. Defaults come from src/constants.ts. */
export interface MeshCryptoOptions {
  /** 'classical' (default): X25519 + Ed25519. 'hybrid': adds ML-KEM-768 and ML-DSA-65. Both peers must agree. */
  mode?: Mode;
  /** AEAD this side proposes when initiating (default 'aes-256-gcm'). */
  aead?: AeadName;
  /** AEADs accepted when responding (default both). */
  acceptAeads?: readonly AeadName[];
  /** Identity to use instead of generating one. */
  identity?: IdentityKeypair;
  /** Messages per key epoch before the sender rotates (default 1000, seed 003). */
  rotateEvery?: number;
  /** Replay window W: counters within +-W of the highest accepted one (default 100, seed 003). */
  replayWindow?: number;
  /** Epochs a receiver derives ahead in one message (default 8). */
  maxEpochSkip?: number;
  /** Largest plaintext (default 16 MiB). */
  maxMessageBytes?: number;
  /** Live sessions (default 1024). */
  maxSessions?: number;
  /** Concurrent handshakes (default 64). */
  maxPendingHandshakes?: number;
  /** Default handshake timeout in ms (default 10 000). */
  handshakeTimeoutMs?: number;
  /** pino-compatible logger; silent when absent. Never receives key material. */
  logger?: Logger;
}

/** Options of {@link MeshCrypto.initiateHandshake}. */
export interface HandshakeOptions {
  /** Carries the three handshake messages to and from the peer. */
  transport: HandshakeTransport;
  signal?: AbortSignal;
  /** Overrides the instance's handshake timeout. */
  timeoutMs?: number;
}

/** Options of {@link MeshCrypto.completeHandshake}. */
export interface CompleteHandshakeOptions extends HandshakeOptions {
  /** Identity public key the initiator must have; any authenticated initiator is accepted when absent. */
  expectedPeer?: string;
}

/** Options of calls that only take a signal. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Counters of {@link MeshCrypto.getStats} (SPEC section 2, "Observability"). */
export interface MeshCryptoStats {
  sessions: number;
  pendingHandshakes: number;
  handshakesCompleted: number;
  handshakesFailed: number;
  messagesEncrypted: number;
  messagesDecrypted: number;
  /** Rejected incoming messages by error code. */
  rejected: Record<string, number>;
  sendRotations: number;
  receiveRotations: number;
  revocations: number;
}

/** Seed 003's MeshCrypto interface (with the handshake transport made explicit). */
export interface MeshCryptoApi {
  generateIdentityKeypair(options?: CallOptions): Promise<IdentityKeypair>;
  initiateHandshake(peerPublicKey: string, options: HandshakeOptions): Promise<SessionKeys>;
  completeHandshake(initiatorEphemeral: string, options: CompleteHandshakeOptions): Promise<SessionKeys>;
  encrypt(plaintext: Buffer | Uint8Array, sessionKey: SessionKeys): EncryptedMessage;
  decrypt(encrypted: EncryptedMessage, sessionKey: SessionKeys): Buffer;
  rotateSessionKey(session_id: string, options?: CallOptions): Promise<SessionKeys>;
  revokeSessionKey(session_id: string, options?: CallOptions): Promise<void>;
}

function intOption(value: unknown, name: string, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name} must be an integer`);
  if (value < min || value > max) throw new RangeError(`${name} must be in [${min}, ${max}]`);
  return value;
}

interface HandshakeIO {
  send(message: string): Promise<void>;
  receive(): Promise<string>;
  check(): void;
}

interface Established {
  sessionId: string;
  hash: Uint8Array;
  keys: [DirectionKeys, DirectionKeys];
  peer: PublicIdentity;
  aead: AeadName;
}

/**
 * End-to-end encryption between two mesh peers (seed 003). One instance holds one identity and
 * any number of sessions (bounded). See the package README for the message flow.
 */
export class MeshCrypto implements MeshCryptoApi {
  readonly mode: Mode;
  readonly aead: AeadName;
  private readonly acceptAeads: readonly AeadName[];
  private readonly config: SessionConfig;
  private readonly maxSessions: number;
  private readonly maxPending: number;
  private readonly timeoutMs: number;
  private readonly log: ReturnType<typeof makeLog>;
  private current: IdentityKeypair | undefined;
  private currentPublic: PublicIdentity | undefined;
  private readonly sessions = new Map<string, SessionState>();
  private readonly revokedIds = new Set<string>();
  private readonly pending = new Set<AbortController>();
  private closed = false;
  private readonly counters: SessionCounters = { sendRotations: 0, receiveRotations: 0 };
  private readonly stats = {
    handshakesCompleted: 0,
    handshakesFailed: 0,
    messagesEncrypted: 0,
    messagesDecrypted: 0,
    revocations: 0,
    rejected: {} as Record<string, number>,
  };

  constructor(options: MeshCryptoOptions = {}) {
    const mode = options.mode ?? DEFAULT_MODE;
    if (mode !== 'classical' && mode !== 'hybrid') throw new RangeError(`mode must be 'classical' or 'hybrid'`);
    this.mode = mode;
    const aead = options.aead ?? DEFAULT_AEAD;
    if (!AEAD_NAMES.includes(aead)) throw new RangeError(`aead must be one of ${AEAD_NAMES.join(', ')}`);
    this.aead = aead;
    const accept = options.acceptAeads ?? AEAD_NAMES;
    if (!Array.isArray(accept) || accept.length === 0 || !accept.every((a) => AEAD_NAMES.includes(a))) {
      throw new RangeError(`acceptAeads must be a non-empty list of ${AEAD_NAMES.join(', ')}`);
    }
    this.acceptAeads = [...accept];
    this.config = {
      rotateEvery: intOption(options.rotateEvery, 'rotateEvery', DEFAULT_ROTATE_EVERY, 1, MAX_EPOCH),
      replayWindow: intOption(options.replayWindow, 'replayWindow', DEFAULT_REPLAY_WINDOW, 1, MAX_REPLAY_WINDOW),
      maxEpochSkip: intOption(options.maxEpochSkip, 'maxEpochSkip', DEFAULT_MAX_EPOCH_SKIP, 0, 1024),
      maxMessageBytes: intOption(options.maxMessageBytes, 'maxMessageBytes', DEFAULT_MAX_MESSAGE_BYTES, 0, 256 * 1024 * 1024),
    };
    this.maxSessions = intOption(options.maxSessions, 'maxSessions', DEFAULT_MAX_SESSIONS, 1, 1_000_000);
    this.maxPending = intOption(options.maxPendingHandshakes, 'maxPendingHandshakes', DEFAULT_MAX_PENDING_HANDSHAKES, 1, 65_536);
    this.timeoutMs = intOption(options.handshakeTimeoutMs, 'handshakeTimeoutMs', DEFAULT_HANDSHAKE_TIMEOUT_MS, 1, 3_600_000);
    this.log = makeLog(options.logger);
    if (options.identity !== undefined) this.useIdentity(options.identity);
  }

  // -------------------------------------------------------------------------------------------
  // Identity

  /** The identity in use, if any. */
  get identity(): IdentityKeypair | undefined {
    return this.current;
  }

  /**
   * Generate a fresh identity for this instance's mode and use it for later handshakes
   * (existing sessions keep theirs).
   */
  async generateIdentityKeypair(options: CallOptions = {}): Promise<IdentityKeypair> {
    this.assertOpen();
    if (options.signal?.aborted) throw new AbortedError();
    const kp = createIdentity(this.mode);
    this.useIdentity(kp);
    this.log('info', { key_id: kp.key_id, mode: this.mode }, 'identity generated');
    return kp;
  }

  /** Use an existing identity (e.g. one loaded from a StorageAdapter). Its kind must match the mode. */
  useIdentity(identity: IdentityKeypair): void {
    this.assertOpen();
    const pub = checkKeypair(identity, 'identity');
    if (pub.mode !== this.mode) throw new RangeError(`identity is a ${pub.mode} identity but this instance runs in ${this.mode} mode`);
    this.current = identity;
    this.currentPublic = pub;
  }

  /** Load an identity from storage and use it. */
  async loadIdentity(storage: StorageAdapter, keyId: string, options: LoadOptions): Promise<IdentityKeypair> {
    this.assertOpen();
    const kp = await storage.load(keyId, options);
    this.useIdentity(kp);
    return kp;
  }

  private requireIdentity(): { kp: IdentityKeypair; pub: PublicIdentity } {
    if (!this.current || !this.currentPublic) throw new NoIdentityError();
    if (this.current.privateKey.destroyed) throw new NoIdentityError('the identity private key has been destroyed');
    return { kp: this.current, pub: this.currentPublic };
  }

  // -------------------------------------------------------------------------------------------
  // Handshake

  /**
   * Initiator side. Sends message 1 (our ephemeral and identity keys) over `transport`, waits for
   * message 2, checks that the responder is `peerPublicKey` and verifies its signature and key
   * confirmation, sends message 3 (our signature) and returns the session.
   */
  async initiateHandshake(peerPublicKey: string, options: HandshakeOptions): Promise<Session> {
    this.assertOpen();
    const peer = parsePublicKey(peerPublicKey, 'peerPublicKey');
    const { kp, pub: me } = this.requireIdentity();
    if (peer.mode !== this.mode)
      throw new HandshakeMismatchError(`peer identity is ${peer.mode} but this instance runs in ${this.mode} mode`);
    return this.runHandshake('initiator', options, async (io) => {
      const eph = x25519.generateKeyPair();
      const kem: KeyPair | undefined = this.mode === 'hybrid' ? mlkem768.generateKeyPair() : undefined;
      const nonce = randomBytes(HANDSHAKE_NONCE_BYTES);
      const secrets: Array<Uint8Array | undefined> = [eph.secretKey, kem?.secretKey];
      try {
        await io.send(
          encodeInit({
            mode: this.mode,
            aead: this.aead,
            nonce,
            identity: me.bytes,
            ephemeral: eph.publicKey,
            kemPublicKey: kem?.publicKey,
          }),
        );
        const res = decodeResponse(await io.receive(), this.mode);
        const responder = publicIdentityFromBytes(res.identity) as PublicIdentity;
        if (responder.mode !== this.mode) throw new HandshakeMismatchError('responder identity does not match the mode');
        if (!constantTimeEqual(responder.bytes, peer.bytes)) throw new WrongIdentityError('responder is not the expected peer');
        const ss = dh(eph.secretKey, res.ephemeral);
        secrets.push(ss);
        let ikm = ss;
        if (kem && res.kemCipherText) {
          // ML-KEM decapsulation never fails on a well-formed ciphertext (implicit rejection): a
          // substituted ciphertext yields another secret and the checks below fail.
          const kss = mlkem768.decapsulate(res.kemCipherText, kem.secretKey);
          ikm = concatBytes(ss, kss);
          secrets.push(kss, ikm);
        }
        const t = transcript({
          mode: this.mode,
          aead: this.aead,
          initiatorNonce: nonce,
          responderNonce: res.nonce,
          initiatorIdentity: me.bytes,
          responderIdentity: responder.bytes,
          initiatorEphemeral: eph.publicKey,
          responderEphemeral: res.ephemeral,
          kemPublicKey: kem?.publicKey,
          kemCipherText: res.kemCipherText,
        });
        const keys = sessionKeys(ikm, t.hash);
        try {
          io.check();
          // Phase 2: the responder signed this exact transcript and derived the same keys.
          if (!verifyWith(responder, signatureInput('responder', t.hash), { ed: res.signature, pq: res.pqSignature })) {
            throw new HandshakeAuthError('responder transcript signature is invalid');
          }
          if (!confirmationValid('responder', keys[1].mac, t.hash, res.confirm))
            throw new HandshakeAuthError('responder key confirmation failed');
          const sigs = signWith(kp.privateKey, signatureInput('initiator', t.hash));
          io.check();
          await io.send(
            encodeFinish({ signature: sigs.ed, pqSignature: sigs.pq, confirm: confirmation('initiator', keys[0].mac, t.hash) }),
          );
          return this.register('initiator', { sessionId: t.sessionId, hash: t.hash, keys, peer: responder, aead: this.aead });
        } catch (e) {
          wipeKeys(keys[0]);
          wipeKeys(keys[1]);
          throw e;
        }
      } finally {
        wipe(...secrets);
      }
    });
  }

  /**
   * Responder side. `initiatorEphemeral` is message 1 as received from the initiator. Sends
   * message 2 over `transport`, waits for message 3, verifies the initiator's signature and key
   * confirmation, and returns the session.
   */
  async completeHandshake(initiatorEphemeral: string, options: CompleteHandshakeOptions): Promise<Session> {
    this.assertOpen();
    if (typeof initiatorEphemeral !== 'string') throw new TypeError('initiatorEphemeral must be a string (handshake message 1)');
    const expected = options?.expectedPeer !== undefined ? parsePublicKey(options.expectedPeer, 'expectedPeer') : undefined;
    const { kp, pub: me } = this.requireIdentity();
    return this.runHandshake('responder', options, async (io) => {
      const init = decodeInit(initiatorEphemeral);
      if (init.mode !== this.mode)
        throw new HandshakeMismatchError(`initiator asked for ${init.mode} mode; this instance runs ${this.mode}`);
      if (!this.acceptAeads.includes(init.aead)) throw new HandshakeMismatchError('initiator proposed an AEAD this side does not accept');
      const initiator = publicIdentityFromBytes(init.identity) as PublicIdentity;
      if (initiator.mode !== this.mode) throw new HandshakeMismatchError('initiator identity does not match the mode');
      if (expected && !constantTimeEqual(expected.bytes, initiator.bytes))
        throw new WrongIdentityError('initiator is not the expected peer');
      const eph = x25519.generateKeyPair();
      const secrets: Array<Uint8Array | undefined> = [eph.secretKey];
      try {
        const ss = dh(eph.secretKey, init.ephemeral);
        secrets.push(ss);
        let ikm = ss;
        let kemCipherText: Uint8Array | undefined;
        if (init.kemPublicKey) {
          let enc: { cipherText: Uint8Array; sharedSecret: Uint8Array };
          try {
            enc = mlkem768.encapsulate(init.kemPublicKey);
          } catch {
            throw new HandshakeMalformedError('initiator ML-KEM public key is invalid');
          }
          kemCipherText = enc.cipherText;
          ikm = concatBytes(ss, enc.sharedSecret);
          secrets.push(enc.sharedSecret, ikm);
        }
        const nonce = randomBytes(HANDSHAKE_NONCE_BYTES);
        const t = transcript({
          mode: this.mode,
          aead: init.aead,
          initiatorNonce: init.nonce,
          responderNonce: nonce,
          initiatorIdentity: initiator.bytes,
          responderIdentity: me.bytes,
          initiatorEphemeral: init.ephemeral,
          responderEphemeral: eph.publicKey,
          kemPublicKey: init.kemPublicKey,
          kemCipherText,
        });
        const keys = sessionKeys(ikm, t.hash);
        try {
          const sigs = signWith(kp.privateKey, signatureInput('responder', t.hash));
          io.check();
          await io.send(
            encodeResponse({
              nonce,
              identity: me.bytes,
              ephemeral: eph.publicKey,
              kemCipherText,
              signature: sigs.ed,
              pqSignature: sigs.pq,
              confirm: confirmation('responder', keys[1].mac, t.hash),
            }),
          );
          const fin = decodeFinish(await io.receive(), this.mode);
          if (!verifyWith(initiator, signatureInput('initiator', t.hash), { ed: fin.signature, pq: fin.pqSignature })) {
            throw new HandshakeAuthError('initiator transcript signature is invalid');
          }
          if (!confirmationValid('initiator', keys[0].mac, t.hash, fin.confirm))
            throw new HandshakeAuthError('initiator key confirmation failed');
          io.check();
          return this.register('responder', { sessionId: t.sessionId, hash: t.hash, keys, peer: initiator, aead: init.aead });
        } catch (e) {
          wipeKeys(keys[0]);
          wipeKeys(keys[1]);
          throw e;
        }
      } finally {
        wipe(...secrets);
      }
    });
  }

  /** Timeout, abort and bounds around one handshake; resources are released in finally. */
  private async runHandshake<T>(role: Role, options: HandshakeOptions, body: (io: HandshakeIO) => Promise<T>): Promise<T> {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object with a transport');
    const { transport, signal } = options;
    if (typeof transport?.send !== 'function' || typeof transport?.receive !== 'function') {
      throw new TypeError('options.transport must have send() and receive()');
    }
    const timeoutMs = intOption(options.timeoutMs, 'timeoutMs', this.timeoutMs, 1, 3_600_000);
    if (signal?.aborted) throw new HandshakeAbortedError();
    if (this.pending.size >= this.maxPending) throw new SessionLimitError('too many handshakes in progress');
    if (this.sessions.size >= this.maxSessions) throw new SessionLimitError('session limit reached');

    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    const onAbort = () => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.pending.add(ac);
    const stopError = (): HandshakeError => (timedOut ? new HandshakeTimeoutError(timeoutMs) : new HandshakeAbortedError());
    let onStop: (() => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      onStop = () => reject(stopError());
      ac.signal.addEventListener('abort', onStop, { once: true });
    });
    stopped.catch(() => {});
    const check = () => {
      if (ac.signal.aborted) throw stopError();
    };
    const wrap = async <R>(fn: () => R | Promise<R>): Promise<R> => {
      check();
      try {
        return await Promise.race([Promise.resolve().then(fn), stopped]);
      } catch (e) {
        if (ac.signal.aborted) throw stopError();
        if (e instanceof MeshCryptoError) throw e;
        throw new HandshakeTransportError(e);
      }
    };
    const io: HandshakeIO = {
      send: (m) => wrap(() => transport.send(m, { signal: ac.signal })).then(() => undefined),
      receive: () => wrap(() => transport.receive({ signal: ac.signal })),
      check,
    };
    try {
      const result = await body(io);
      this.stats.handshakesCompleted++;
      return result;
    } catch (e) {
      this.stats.handshakesFailed++;
      const code = e instanceof MeshCryptoError ? e.code : 'TypeError';
      this.log('warn', { role, code }, 'handshake failed');
      throw e;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (onStop) ac.signal.removeEventListener('abort', onStop);
      this.pending.delete(ac);
    }
  }

  private register(role: Role, est: Established): Session {
    if (this.closed) throw new HandshakeAbortedError();
    if (this.sessions.size >= this.maxSessions) throw new SessionLimitError('session limit reached');
    // Both nonces are fresh random values, so a repeat means a replayed or forged exchange.
    if (this.sessions.has(est.sessionId)) throw new HandshakeAuthError('session id already in use');
    const state = new SessionState(
      { sessionId: est.sessionId, role, mode: this.mode, aead: est.aead, peer: est.peer, transcriptHash: est.hash, keys: est.keys },
      this.config,
      this.counters,
      this.log,
      this,
    );
    this.sessions.set(est.sessionId, state);
    this.log(
      'info',
      { session_id: est.sessionId, role, mode: this.mode, aead: est.aead, peer_key_id: est.peer.keyId },
      'session established',
    );
    return state.handle;
  }

  // -------------------------------------------------------------------------------------------
  // Messages

  private stateFor(sessionKey: unknown): SessionState {
    const state = stateOf(sessionKey);
    if (!state || state.owner !== this) throw new UnknownSessionError('sessionKey is not a session of this MeshCrypto instance');
    if (state.revoked) throw new SessionRevokedError();
    return state;
  }

  /** Encrypt under the session's current sending key. Rotates after every `rotateEvery` messages. */
  encrypt(plaintext: Buffer | Uint8Array, sessionKey: SessionKeys): EncryptedMessage {
    const state = this.stateFor(sessionKey);
    const msg = state.encrypt(plaintext);
    this.stats.messagesEncrypted++;
    return msg;
  }

  /**
   * Authenticate and decrypt. Throws a DecryptError subclass (malformed, authentication, replay,
   * out of window) or a SessionError; a rejected message leaves the session unchanged.
   */
  decrypt(encrypted: EncryptedMessage, sessionKey: SessionKeys): Buffer {
    const state = this.stateFor(sessionKey);
    try {
      const pt = state.decrypt(encrypted);
      this.stats.messagesDecrypted++;
      return pt;
    } catch (e) {
      const code = e instanceof MeshCryptoError ? e.code : 'TypeError';
      this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1;
      this.log('debug', { session_id: state.sessionId, code }, 'message rejected');
      throw e;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Key management

  private lookup(sessionId: unknown): SessionState {
    if (typeof sessionId !== 'string') throw new TypeError('session_id must be a string');
    const state = this.sessions.get(sessionId);
    if (state) return state;
    if (this.revokedIds.has(sessionId)) throw new SessionRevokedError();
    throw new UnknownSessionError();
  }

  /** The live session with this id, if any. */
  getSession(sessionId: string): Session | undefined {
    return this.sessions.get(sessionId)?.handle;
  }

  /** Non-secret facts about a session (epochs, counters, peer). */
  describeSession(sessionId: string): SessionInfo {
    return this.lookup(sessionId).info();
  }

  /**
   * Rotate this side's sending key now (on demand). The peer follows when the first message of
   * the new epoch reaches it; its own sending direction rotates when it calls this or reaches
   * `rotateEvery`.
   */
  async rotateSessionKey(session_id: string, options: CallOptions = {}): Promise<Session> {
    if (options.signal?.aborted) throw new AbortedError();
    const state = this.lookup(session_id);
    state.rotateSend('demand');
    return state.handle;
  }

  /**
   * Revoke a session: every key is zeroed at once and any later use of the session (by id or
   * through its SessionKeys) throws SessionRevokedError. Revoking twice is a no-op.
   */
  async revokeSessionKey(session_id: string, options: CallOptions = {}): Promise<void> {
    if (options.signal?.aborted) throw new AbortedError();
    if (typeof session_id !== 'string') throw new TypeError('session_id must be a string');
    if (this.revokedIds.has(session_id) && !this.sessions.has(session_id)) return;
    const state = this.lookup(session_id);
    this.dropSession(state);
    this.log('info', { session_id }, 'session revoked');
  }

  private dropSession(state: SessionState): void {
    state.revoke();
    this.sessions.delete(state.sessionId);
    this.revokedIds.add(state.sessionId);
    // Bounded memory of revoked ids (oldest forgotten first); the handles stay revoked regardless.
    if (this.revokedIds.size > REVOKED_IDS_REMEMBERED) {
      const oldest = this.revokedIds.values().next().value;
      if (oldest !== undefined) this.revokedIds.delete(oldest);
    }
    this.stats.revocations++;
  }

  /** Counters for monitoring. */
  getStats(): MeshCryptoStats {
    return {
      sessions: this.sessions.size,
      pendingHandshakes: this.pending.size,
      handshakesCompleted: this.stats.handshakesCompleted,
      handshakesFailed: this.stats.handshakesFailed,
      messagesEncrypted: this.stats.messagesEncrypted,
      messagesDecrypted: this.stats.messagesDecrypted,
      rejected: { ...this.stats.rejected },
      sendRotations: this.counters.sendRotations,
      receiveRotations: this.counters.receiveRotations,
      revocations: this.stats.revocations,
    };
  }

  /**
   * Abort handshakes in progress and revoke (zero) every session. The identity is left to its
   * owner (call `identity.privateKey.destroy()` to zero it too). Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ac of this.pending) ac.abort();
    for (const state of [...this.sessions.values()]) this.dropSession(state);
    this.log('info', {}, 'closed');
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError();
  }
}
