// The Nen client (SPEC @yak/nen; nen.md): pins the server, runs the hybrid handshake, and offers
// a drop-in `fetch` that encrypts requests and accepts only responses bound to them. Portable:
// fetch, WebCrypto and web streams only (no Node-only APIs), so it runs in browsers and edges.
import {
  type Aead,
  chacha20poly1305,
  concatBytes,
  constantTimeEqual,
  fromBase64url,
  hmac,
  hybridKem,
  hybridKemEphemeral,
  randomBytes,
  utf8,
  wipe,
} from '@yak/crypto';
import { bufferedResponse } from './buffered.js';
import {
  AEAD_NONCE_BYTES,
  CLIENT_NONCE_BYTES,
  CLIENT_TIMEOUT_MS,
  DEFAULT_BASE_PATH,
  DEFAULT_KEY_CONFIG_PATH,
  KEY_CONFIG_MAX_BYTES,
  MAX_RESPONSE_BYTES,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_MS,
  REQUEST_NONCE_BYTES,
} from './constants.js';
import { isNenErrorCode, NenError, type NenErrorCode, nenError } from './errors.js';
import {
  CLIENT_AUTH_CONTEXT,
  type ClientHello,
  clientAuthMessage,
  confirmTag,
  decodeRekeyAnswer,
  decodeRotateAnswer,
  decodeServerHello,
  decodeStatus,
  deriveKeys,
  encodeClientHello,
  encodeRekeyRequest,
  handshakeTranscript,
  rekeyTranscript,
  rotateTranscript,
  type SessionKeys,
  type SessionStatus,
  wipeKeys,
} from './handshake.js';
import { BodyTooLarge, isNullBodyStatus, readBody, readBodyText, requestTarget } from './http.js';
import { decodeKeyConfig, type KeyConfig, verifyKeyConfig } from './keyconfig.js';
import { FrameOpener, streamKey } from './stream.js';
import {
  b64,
  decodeErrorBody,
  decodeResponseEnvelope,
  decodeSealedBody,
  encodeRequestEnvelope,
  encodeSealedBody,
  encodeSealedHeader,
  envelopeHeaders,
  errorMacInput,
  HEADER,
  nonceBytes,
  payloadInHeader,
  type RequestEnvelope,
  requestAad,
  requestMacInput,
  responseAad,
  STREAM_CONTENT_TYPE,
} from './wire.js';

/** An ML-DSA-65 signer for client authentication (a `NodeIdentity` fits). */
export interface NenClientIdentity {
  readonly signPublicKey: Uint8Array;
  sign(msg: Uint8Array, context?: Uint8Array): Uint8Array;
}

export interface NenClientOptions {
  /** Origin (and optional prefix) of the server, e.g. `https://api.example.com`. */
  baseUrl: string | URL;
  /** Pin: the server's ML-DSA-65 public key (bytes or base64url) or node id. */
  serverKey?: Uint8Array | string;
  /** Pin: the server's signed key configuration itself (bytes, base64url or decoded); no fetch. */
  pinnedKeyConfig?: Uint8Array | string | KeyConfig;
  /** Protocol base path (default `/api/nen/`). */
  basePath?: string;
  /** Key configuration path (default `/.well-known/nen/key-config`). */
  keyConfigPath?: string;
  /** fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Clock (ms). */
  now?: () => number;
  /** Sign handshakes with this ML-DSA-65 key (client authentication, optional). */
  identity?: NenClientIdentity;
  /** Time limit of one operation (default 30 s). */
  timeoutMs?: number;
  /** Re-handshake once and retry when the server reports the session gone (default true). */
  autoRehandshake?: boolean;
  /** Rekey after this long (default 5 min) or this many requests (default 10,000). */
  rekeyAfterMs?: number;
  rekeyAfterMessages?: number;
  /** Largest buffered response accepted (default 16 MiB). */
  maxResponseBytes?: number;
}

/** Public facts about the current session. */
export interface NenSessionInfo {
  sessionId: string;
  generation: number;
  /** Absolute expiry on the server's clock. */
  expiresAt: number;
  idleTtlMs: number;
  /** Server clock minus local clock, measured at the handshake. */
  clockOffsetMs: number;
}

export interface NenClientStats {
  handshakes: number;
  requests: number;
  rekeys: number;
  rotations: number;
  rehandshakes: number;
  errors: Record<string, number>;
}

interface Session {
  sid: Uint8Array;
  sidStr: string;
  gen: number;
  keys: SessionKeys;
  /** AEADs of the current keys, prepared once per key (c2s seals requests, s2c opens responses). */
  c2s: Aead;
  s2c: Aead;
  expiresAt: number;
  idleTtlMs: number;
  lastUsed: number;
  keyedAt: number;
  messages: number;
}

interface OpOptions {
  signal?: AbortSignal;
}

const SESSION_GONE = new Set<NenErrorCode>(['ISO-2002', 'ISO-2003', 'ISO-2004']);

/** Create a client. No network traffic until the first call. */
export function createNenClient(options: NenClientOptions): NenClient {
  return new NenClient(options);
}

export class NenClient {
  readonly #base: URL;
  readonly #basePath: string;
  readonly #keyConfigPath: string;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #identity: NenClientIdentity | undefined;
  readonly #timeoutMs: number;
  readonly #auto: boolean;
  readonly #rekeyMs: number;
  readonly #rekeyMsgs: number;
  readonly #maxResponse: number;
  readonly #serverKey: Uint8Array | string | undefined;
  readonly #pinned: KeyConfig | undefined;
  #config: { config: KeyConfig; keyId: Uint8Array } | undefined;
  #session: Session | undefined;
  #offset = 0;
  #handshaking: Promise<Session> | undefined;
  #inflight = 0;
  #idleWaiters: Array<() => void> = [];
  #exclusive: Promise<void> | undefined;
  readonly #stats: NenClientStats = { handshakes: 0, requests: 0, rekeys: 0, rotations: 0, rehandshakes: 0, errors: {} };

  constructor(o: NenClientOptions) {
    if (!o || (typeof o.baseUrl !== 'string' && !(o.baseUrl instanceof URL))) throw new TypeError('baseUrl must be a string or URL');
    this.#base = new URL(o.baseUrl.toString());
    if (this.#base.protocol !== 'http:' && this.#base.protocol !== 'https:') throw new TypeError('baseUrl must be http(s)');
    if (o.serverKey === undefined && o.pinnedKeyConfig === undefined) {
      throw new TypeError('pin the server: give serverKey or pinnedKeyConfig (there is no trust-on-first-use)');
    }
    this.#basePath = o.basePath ?? DEFAULT_BASE_PATH;
    this.#keyConfigPath = o.keyConfigPath ?? DEFAULT_KEY_CONFIG_PATH;
    if (!this.#basePath.startsWith('/') || !this.#basePath.endsWith('/')) throw new TypeError("basePath must start and end with '/'");
    if (!this.#keyConfigPath.startsWith('/')) throw new TypeError("keyConfigPath must start with '/'");
    const f = o.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('no fetch implementation available');
    this.#fetch = f;
    this.#now = o.now ?? Date.now;
    this.#identity = o.identity;
    if (this.#identity && (typeof this.#identity.sign !== 'function' || !(this.#identity.signPublicKey instanceof Uint8Array))) {
      throw new TypeError('identity must have signPublicKey and sign()');
    }
    this.#timeoutMs = o.timeoutMs ?? CLIENT_TIMEOUT_MS;
    this.#auto = o.autoRehandshake ?? true;
    this.#rekeyMs = o.rekeyAfterMs ?? REKEY_AFTER_MS;
    this.#rekeyMsgs = o.rekeyAfterMessages ?? REKEY_AFTER_MESSAGES;
    this.#maxResponse = o.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    for (const [n, v] of [
      ['timeoutMs', this.#timeoutMs],
      ['rekeyAfterMs', this.#rekeyMs],
      ['rekeyAfterMessages', this.#rekeyMsgs],
      ['maxResponseBytes', this.#maxResponse],
    ] as const) {
      if (!Number.isSafeInteger(v)) throw new TypeError(`${n} must be an integer`);
      if (v <= 0) throw new RangeError(`${n} must be positive`);
    }
    this.#serverKey = o.serverKey;
    if (o.pinnedKeyConfig !== undefined) {
      const p = o.pinnedKeyConfig;
      this.#pinned = typeof p === 'string' ? decodeKeyConfig(fromBase64url(p)) : p instanceof Uint8Array ? decodeKeyConfig(p) : p;
    }
  }

  /** The current session, if any. */
  get session(): NenSessionInfo | undefined {
    const s = this.#session;
    return s
      ? { sessionId: s.sidStr, generation: s.gen, expiresAt: s.expiresAt, idleTtlMs: s.idleTtlMs, clockOffsetMs: this.#offset }
      : undefined;
  }

  getStats(): NenClientStats {
    return { ...this.#stats, errors: { ...this.#stats.errors } };
  }

  /** Fetch (unless pinned) and verify the server's key configuration. */
  async keyConfig(opts: OpOptions = {}): Promise<KeyConfig> {
    return this.#op(opts.signal, async (signal) => (await this.#loadConfig(signal, false)).config);
  }

  /** Open a new session (replacing any current one). */
  async handshake(opts: OpOptions = {}): Promise<NenSessionInfo> {
    await this.#op(opts.signal, (signal) => this.#newSession(signal));
    return this.session as NenSessionInfo;
  }

  /**
   * Drop-in `fetch`: encrypts method-bound headers and body, and resolves with the decrypted
   * response. Throws {@link NenError} when the server rejects the request or when the response
   * is not authentic. Re-handshakes once if the session is gone.
   */
  async fetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    return this.#request(input, init, false);
  }

  /** Like {@link NenClient.fetch}, asking the server to stream the response in authenticated frames. */
  async stream(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    return this.#request(input, init, true);
  }

  /** Fresh hybrid KEM exchange inside the session (forward secrecy); the absolute expiry stays. */
  async rekey(opts: OpOptions = {}): Promise<NenSessionInfo> {
    await this.#op(opts.signal, (signal) => this.#exclusiveRun(() => this.#rekey(signal)));
    return this.session as NenSessionInfo;
  }

  /** New session id and keys ratcheted from the current ones; the absolute expiry stays. */
  async rotate(opts: OpOptions = {}): Promise<NenSessionInfo> {
    await this.#op(opts.signal, (signal) => this.#exclusiveRun(() => this.#rotate(signal)));
    return this.session as NenSessionInfo;
  }

  /** The server's view of the session (authenticated). */
  async status(opts: OpOptions = {}): Promise<SessionStatus> {
    return this.#op(opts.signal, (signal) =>
      this.#shared(async () => {
        const s = this.#requireSession();
        return decodeStatus(await this.#control(s, 'status', new Uint8Array(0), signal));
      }),
    );
  }

  /** End the session on the server and wipe its keys here. */
  async terminate(opts: OpOptions = {}): Promise<void> {
    await this.#op(opts.signal, (signal) =>
      this.#exclusiveRun(async () => {
        const s = this.#session;
        if (!s) return;
        try {
          await this.#control(s, 'terminate', new Uint8Array(0), signal);
        } finally {
          this.#drop(s);
        }
      }),
    );
  }

  /** Forget the session locally (wipes keys; sends nothing). */
  close(): void {
    if (this.#session) this.#drop(this.#session);
  }

  // --- internals -----------------------------------------------------------------------------

  #count(e: unknown): void {
    if (e instanceof NenError) this.#stats.errors[e.code] = (this.#stats.errors[e.code] ?? 0) + 1;
  }

  /**
   * Run `fn` under a timeout linked to the caller's signal (house rule 4). A streamed response
   * outlives the call: `fn` may call `defer()` to keep the caller's signal linked until the
   * stream ends, calling the returned function then.
   */
  async #op<T>(userSignal: AbortSignal | undefined, fn: (signal: AbortSignal, defer: () => () => void) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    const onAbort = () => ac.abort(userSignal?.reason);
    if (userSignal?.aborted) throw nenError('ISO-9002', { message: 'aborted', cause: userSignal.reason });
    userSignal?.addEventListener('abort', onAbort, { once: true });
    const release = () => userSignal?.removeEventListener('abort', onAbort);
    let deferred = false;
    const defer = () => {
      deferred = true;
      return release;
    };
    const timer = setTimeout(() => ac.abort(nenError('ISO-9002')), this.#timeoutMs);
    try {
      return await fn(ac.signal, defer);
    } catch (e) {
      deferred = false;
      const err = ac.signal.aborted && !(e instanceof NenError) ? nenError('ISO-9002', { cause: e }) : e;
      this.#count(err);
      throw err;
    } finally {
      clearTimeout(timer);
      if (!deferred) release();
    }
  }

  async #shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive;
    this.#inflight++;
    try {
      return await fn();
    } finally {
      this.#leave();
    }
  }

  #leave(): void {
    this.#inflight--;
    if (this.#inflight === 0 && this.#idleWaiters.length > 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  async #exclusiveRun<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive;
    let release!: () => void;
    this.#exclusive = new Promise<void>((r) => {
      release = r;
    });
    try {
      while (this.#inflight > 0) await new Promise<void>((r) => this.#idleWaiters.push(r));
      return await fn();
    } finally {
      this.#exclusive = undefined;
      release();
    }
  }

  async #transport(url: URL | string, init: RequestInit, signal: AbortSignal): Promise<Response> {
    try {
      return await this.#fetch(url, { ...init, signal, redirect: 'manual' });
    } catch (e) {
      if (signal.aborted) throw nenError('ISO-9002', { cause: e });
      throw nenError('ISO-9003', { cause: e });
    }
  }

  async #loadConfig(signal: AbortSignal, refresh: boolean): Promise<{ config: KeyConfig; keyId: Uint8Array }> {
    const t = this.#now();
    const c = this.#config;
    if (c && !refresh && t < c.config.notAfter) return c;
    let cfg: KeyConfig;
    if (this.#pinned) cfg = this.#pinned;
    else {
      const res = await this.#transport(new URL(this.#keyConfigPath, this.#base), { method: 'GET' }, signal);
      if (res.status !== 200) {
        void res.body?.cancel().catch(() => {});
        throw nenError('ISO-1105', { message: `key configuration request failed with HTTP ${res.status}` });
      }
      let bytes: Uint8Array;
      try {
        bytes = await readBody(res, KEY_CONFIG_MAX_BYTES);
      } catch (e) {
        if (e instanceof BodyTooLarge) throw nenError('ISO-1105', { message: 'key configuration too large' });
        throw nenError('ISO-9003', { cause: e });
      }
      cfg = decodeKeyConfig(bytes);
    }
    this.#config = verifyKeyConfig(cfg, this.#serverKey !== undefined ? { serverKey: this.#serverKey } : {}, t);
    return this.#config;
  }

  #newSession(signal: AbortSignal): Promise<Session> {
    if (!this.#handshaking) {
      this.#handshaking = this.#doHandshake(signal, false).finally(() => {
        this.#handshaking = undefined;
      });
    }
    return this.#handshaking;
  }

  async #doHandshake(signal: AbortSignal, retried: boolean): Promise<Session> {
    const { config, keyId } = await this.#loadConfig(signal, retried);
    const eph = hybridKemEphemeral();
    const enc = hybridKem.encapsulate(config.kemPublicKey);
    const hello: ClientHello = {
      v: 1,
      kc: keyId,
      epk: eph.publicKey,
      ct: enc.cipherText,
      cn: randomBytes(CLIENT_NONCE_BYTES),
      ts: Math.round(this.#now() + this.#offset),
    };
    try {
      if (this.#identity) {
        hello.ck = Uint8Array.from(this.#identity.signPublicKey);
        hello.cs = this.#identity.sign(clientAuthMessage(hello), CLIENT_AUTH_CONTEXT);
      }
      const t0 = this.#now();
      const res = await this.#transport(
        new URL(`${this.#basePath}handshake`, this.#base),
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: encodeClientHello(hello) },
        signal,
      );
      const t1 = this.#now();
      const text = await this.#readText(res);
      if (res.status !== 200) {
        const err = decodeErrorBody(text);
        const code = err && isNenErrorCode(err.code) ? err.code : undefined;
        // The server moved to another key: fetch its configuration again once.
        if (code === 'ISO-1003' && !retried && !this.#pinned) return await this.#doHandshake(signal, true);
        throw code ? nenError(code) : nenError('ISO-1104', { message: `handshake failed with HTTP ${res.status}` });
      }
      const sh = decodeServerHello(text);
      let ssE: Uint8Array;
      try {
        ssE = eph.decapsulate(sh.ect);
      } catch {
        throw nenError('ISO-1104');
      }
      const th = handshakeTranscript(hello, sh);
      const ikm = concatBytes(enc.sharedSecret, ssE);
      const { keys, confirmKey } = deriveKeys(ikm, th);
      wipe(ikm, ssE);
      const ok = constantTimeEqual(confirmTag(confirmKey, th), sh.confirm);
      wipe(confirmKey);
      if (!ok) {
        wipeKeys(keys);
        throw nenError('ISO-1104');
      }
      this.#offset = Math.round(sh.ts - (t0 + t1) / 2);
      const old = this.#session;
      this.#session = {
        sid: sh.sid,
        sidStr: b64(sh.sid),
        gen: 0,
        keys,
        c2s: chacha20poly1305(keys.c2sKey),
        s2c: chacha20poly1305(keys.s2cKey),
        expiresAt: sh.exp,
        idleTtlMs: sh.idle,
        lastUsed: t1,
        keyedAt: t1,
        messages: 0,
      };
      if (old) wipeSession(old);
      this.#stats.handshakes++;
      return this.#session;
    } finally {
      eph.destroy();
      wipe(enc.sharedSecret);
    }
  }

  async #readText(res: Response): Promise<string> {
    try {
      return await readBodyText(res, this.#maxResponse + 1024);
    } catch (e) {
      if (e instanceof BodyTooLarge) throw nenError('ISO-4102', { message: 'response too large' });
      throw nenError('ISO-9003', { cause: e });
    }
  }

  #requireSession(): Session {
    if (!this.#session) throw nenError('ISO-2002', { message: 'no session: call handshake() first' });
    return this.#session;
  }

  #drop(s: Session): void {
    wipeSession(s);
    if (this.#session === s) this.#session = undefined;
  }

  /** Whether {@link #ready} has work to do (the same checks, without a promise). */
  #needsReady(): boolean {
    const t = this.#now();
    const s = this.#session;
    return (
      !s ||
      t + this.#offset >= s.expiresAt ||
      t - s.lastUsed >= s.idleTtlMs ||
      s.messages >= this.#rekeyMsgs ||
      t - s.keyedAt >= this.#rekeyMs
    );
  }

  /** A usable session: handshake if there is none or it is (locally) expired; rekey when due. */
  async #ready(signal: AbortSignal): Promise<void> {
    const t = this.#now();
    const s = this.#session;
    if (!s || t + this.#offset >= s.expiresAt || t - s.lastUsed >= s.idleTtlMs) {
      if (s && !this.#handshaking) this.#stats.rehandshakes++;
      await this.#newSession(signal);
      return;
    }
    if (s.messages >= this.#rekeyMsgs || t - s.keyedAt >= this.#rekeyMs) {
      await this.#exclusiveRun(async () => {
        // Another caller may have rekeyed while we waited.
        const cur = this.#session;
        if (cur && (cur.messages >= this.#rekeyMsgs || this.#now() - cur.keyedAt >= this.#rekeyMs)) await this.#rekey(signal);
      });
    }
  }

  async #request(input: string | URL | Request, init: RequestInit, stream: boolean): Promise<Response> {
    let url: URL | Target | string;
    let method: string;
    let headers: Headers;
    let body: Uint8Array;
    if (input instanceof Request) {
      url = new URL(input.url);
      method = (init.method ?? input.method).toUpperCase();
      headers = new Headers(init.headers ?? input.headers);
      body = init.body !== undefined ? await bodyBytes(init.body, headers) : new Uint8Array(await input.arrayBuffer());
    } else {
      url = normalPath(input) ?? new URL(input.toString(), this.#base);
      method = (init.method ?? 'GET').toUpperCase();
      headers = new Headers(init.headers);
      // A string body needs no await (the common JSON case); the rest may read a Blob.
      body = typeof init.body === 'string' ? stringBody(init.body, headers) : await bodyBytes(init.body, headers);
    }
    if (typeof url === 'string') url = { href: this.#base.origin + url, target: url };
    else if (url.origin !== this.#base.origin) throw new TypeError('the Nen client only talks to its own server (origin of baseUrl)');
    if (method === 'HEAD' || method === 'CONNECT' || method === 'TRACE') throw new TypeError(`method ${method} is not supported`);
    if (method === 'GET' && body.length > 0) throw new TypeError('a GET request cannot have a body');
    const envelope: RequestEnvelope = { headers: envelopeHeaders(headers), body };
    const userSignal = init.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
    return this.#op(userSignal, async (signal, defer) => {
      for (let attempt = 0; ; attempt++) {
        // Checked here first: on the hot path there is nothing to wait for, and every await
        // is a turn of the microtask queue.
        if (this.#needsReady()) await this.#ready(signal);
        try {
          while (this.#exclusive) await this.#exclusive;
          this.#inflight++;
          try {
            const s = this.#requireSession();
            const r = await this.#send(s, method, url, envelope, stream, signal);
            return await this.#open(r.res, s, r.mac, signal, defer);
          } finally {
            this.#leave();
          }
        } catch (e) {
          if (attempt === 0 && this.#auto && e instanceof NenError && SESSION_GONE.has(e.code)) {
            this.#count(e);
            const s = this.#session;
            if (s) this.#drop(s);
            this.#stats.rehandshakes++;
            continue;
          }
          throw e;
        }
      }
    });
  }

  /** Seal and send one request; returns the raw response and the request MAC it must be bound to. */
  async #send(
    s: Session,
    method: string,
    url: URL | Target,
    env: RequestEnvelope,
    stream: boolean,
    signal: AbortSignal,
  ): Promise<{ res: Response; mac: Uint8Array }> {
    const t = this.#now();
    const timestamp = Math.round(t + this.#offset);
    const nonce = nonceBytes(REQUEST_NONCE_BYTES);
    const fields = { sid: s.sid, method, target: 'target' in url ? url.target : requestTarget(url), timestamp, nonce, payload: EMPTY };
    const n = nonceBytes(AEAD_NONCE_BYTES);
    const plain = encodeRequestEnvelope(env);
    const ct = s.c2s.seal(n, plain, requestAad(fields));
    wipe(plain);
    const headers: Record<string, string> = {
      [HEADER.session]: s.sidStr,
      [HEADER.timestamp]: String(timestamp),
      [HEADER.nonce]: b64(nonce),
    };
    let payload: Uint8Array;
    let body: string | undefined;
    if (payloadInHeader(method)) {
      const p = encodeSealedHeader({ n, ct });
      headers[HEADER.payload] = p;
      payload = utf8(p);
    } else {
      // Sent as the (ASCII) string: undici copies a byte body, a string it does not.
      body = encodeSealedBody({ n, ct });
      payload = utf8(body);
      headers['content-type'] = 'application/json';
    }
    fields.payload = payload;
    const mac = hmac('sha256', s.keys.c2sMac, requestMacInput(fields));
    headers[HEADER.signature] = b64(mac);
    if (stream) headers[HEADER.stream] = '1';
    s.messages++;
    s.lastUsed = t;
    this.#stats.requests++;
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = body;
    const res = await this.#transport(url.href, init, signal);
    return { res, mac };
  }

  /** Accept only a response encrypted for this request, or an error; everything else is ISO-4102. */
  async #open(res: Response, s: Session, mac: Uint8Array, signal: AbortSignal, defer?: () => () => void): Promise<Response> {
    const type = (res.headers.get('content-type') ?? '').toLowerCase();
    if (type.startsWith(STREAM_CONTENT_TYPE) && res.status === 200 && res.body) return this.#openStream(res, s, mac, signal, defer);
    const text = await this.#readText(res);
    let sealed: { n: Uint8Array; ct: Uint8Array } | undefined;
    try {
      sealed = decodeSealedBody(text);
    } catch {
      sealed = undefined;
    }
    if (sealed) {
      let env: ReturnType<typeof decodeResponseEnvelope>;
      try {
        const plain = s.s2c.open(sealed.n, sealed.ct, responseAad(s.sid, mac));
        env = decodeResponseEnvelope(plain);
      } catch {
        throw nenError('ISO-4101');
      }
      // The envelope's header list goes to the Response as it is: one Headers object, not two.
      return bufferedResponse(isNullBodyStatus(env.status) ? null : env.body, { status: env.status, headers: env.headers });
    }
    const err = decodeErrorBody(text);
    if (err && isNenErrorCode(err.code)) {
      const sig = res.headers.get(HEADER.signature);
      let authenticated = false;
      if (sig) {
        const expected = hmac('sha256', s.keys.s2cMac, errorMacInput(s.sid, mac, res.status, err.code));
        try {
          authenticated = constantTimeEqual(expected, fromBase64url(sig));
        } catch {
          authenticated = false;
        }
      }
      throw nenError(err.code, { authenticated });
    }
    throw nenError('ISO-4102');
  }

  async #openStream(res: Response, s: Session, mac: Uint8Array, signal: AbortSignal, defer?: () => () => void): Promise<Response> {
    const opener = new FrameOpener(streamKey(s.keys.s2cKey, mac));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const pending: Uint8Array[] = [];
    let head: { status: number; headers: Array<[string, string]> } | undefined;
    const fail = async (e: unknown): Promise<never> => {
      void reader.cancel().catch(() => {});
      throw e;
    };
    while (!head) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        return fail(signal.aborted ? nenError('ISO-9002', { cause: e }) : nenError('ISO-6002', { cause: e }));
      }
      if (r.done) return fail(nenError('ISO-6002'));
      let items: ReturnType<FrameOpener['push']>;
      try {
        items = opener.push(r.value);
      } catch (e) {
        return fail(e);
      }
      for (const it of items) {
        if (it.type === 'head') head = it.head;
        else pending.push(it.data);
      }
    }
    const count = (e: unknown) => this.#count(e);
    // Keep the caller's signal linked until the stream ends, then unlink it.
    const release = defer?.() ?? (() => {});
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (pending.length) {
          controller.enqueue(pending.shift() as Uint8Array);
          return;
        }
        for (;;) {
          let r: ReadableStreamReadResult<Uint8Array>;
          try {
            r = await reader.read();
          } catch (e) {
            const err = nenError(signal.aborted ? 'ISO-9002' : 'ISO-6002', { cause: e });
            count(err);
            release();
            controller.error(err);
            return;
          }
          try {
            if (r.done) {
              release();
              opener.end();
              controller.close();
              return;
            }
            const items = opener.push(r.value);
            let produced = false;
            for (const it of items) {
              if (it.type === 'data') {
                controller.enqueue(it.data);
                produced = true;
              }
            }
            if (produced) return;
          } catch (e) {
            count(e);
            release();
            void reader.cancel().catch(() => {});
            controller.error(e);
            return;
          }
        }
      },
      async cancel(reason) {
        release();
        void reader.cancel(reason).catch(() => {});
      },
    });
    if (isNullBodyStatus(head.status)) {
      release();
      void reader.cancel().catch(() => {});
      return new Response(null, { status: head.status, headers: head.headers });
    }
    return new Response(body, { status: head.status, headers: head.headers });
  }

  /** A control request (status, terminate, rekey, rotate): returns the decrypted answer body. */
  async #control(s: Session, route: string, body: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    return (await this.#controlWithMac(s, route, body, signal)).answer;
  }

  async #controlWithMac(
    s: Session,
    route: string,
    body: Uint8Array,
    signal: AbortSignal,
  ): Promise<{ answer: Uint8Array; mac: Uint8Array }> {
    const url = new URL(`${this.#basePath}${route}`, this.#base);
    const env: RequestEnvelope = { headers: [['content-type', 'application/cbor']], body };
    const { res, mac } = await this.#send(s, 'POST', url, env, false, signal);
    const out = await this.#open(res, s, mac, signal);
    const answer = new Uint8Array(await out.arrayBuffer());
    if (out.status !== 200) throw nenError('ISO-4101', { message: `control answer with status ${out.status}` });
    return { answer, mac };
  }

  async #rekey(signal: AbortSignal): Promise<void> {
    const s = this.#session;
    if (!s) {
      await this.#newSession(signal);
      return;
    }
    const eph = hybridKemEphemeral();
    try {
      const { answer, mac } = await this.#controlWithMac(s, 'rekey', encodeRekeyRequest(eph.publicKey), signal);
      const a = decodeRekeyAnswer(answer);
      if (a.gen !== s.gen + 1) throw nenError('ISO-1104', { message: 'unexpected generation' });
      let ss: Uint8Array;
      try {
        ss = eph.decapsulate(a.ect);
      } catch {
        throw nenError('ISO-1104');
      }
      const th = rekeyTranscript(s.sid, s.gen, a.gen, eph.publicKey, a.ect, mac);
      const ikm = concatBytes(s.keys.chain, ss);
      const d = deriveKeys(ikm, th);
      wipe(ikm, ss);
      this.#install(s, d, th, a.confirm, s.sid, a.gen, true);
      this.#stats.rekeys++;
    } finally {
      eph.destroy();
    }
  }

  async #rotate(signal: AbortSignal): Promise<void> {
    const s = this.#requireSession();
    const { answer, mac } = await this.#controlWithMac(s, 'rotate', new Uint8Array(0), signal);
    const a = decodeRotateAnswer(answer);
    if (a.gen !== s.gen + 1) throw nenError('ISO-1104', { message: 'unexpected generation' });
    const th = rotateTranscript(s.sid, a.sid, s.gen, a.gen, mac);
    this.#install(s, deriveKeys(s.keys.chain, th), th, a.confirm, a.sid, a.gen, false);
    this.#stats.rotations++;
  }

  #install(
    s: Session,
    d: ReturnType<typeof deriveKeys>,
    th: Uint8Array,
    confirm: Uint8Array,
    sid: Uint8Array,
    gen: number,
    rekeyed: boolean,
  ): void {
    const ok = constantTimeEqual(confirmTag(d.confirmKey, th), confirm);
    wipe(d.confirmKey);
    if (!ok) {
      wipeKeys(d.keys);
      throw nenError('ISO-1104');
    }
    wipeSession(s);
    s.keys = d.keys;
    s.c2s = chacha20poly1305(d.keys.c2sKey);
    s.s2c = chacha20poly1305(d.keys.s2cKey);
    s.sid = sid;
    s.sidStr = b64(sid);
    s.gen = gen;
    if (rekeyed) {
      s.keyedAt = this.#now();
      s.messages = 0;
    }
  }
}

function wipeSession(s: Session): void {
  wipeKeys(s.keys);
  s.c2s.destroy();
  s.s2c.destroy();
}

/** Bytes of a fetch body; sets the content type fetch would set. Streams and FormData are refused. */
/** A request URL already in the form the URL parser would give: its full URL and MACed target. */
interface Target {
  href: string;
  target: string;
}

const EMPTY: Uint8Array = new Uint8Array(0);

// Path-absolute targets made only of characters the WHATWG URL parser leaves as they are (no
// percent signs, backslashes or dot segments in the path; nothing it escapes in the query, which
// is not empty: `/x?` reads back as `/x`):
// for these, parsing a URL object would give back the same string, so it is skipped. Anything
// else takes the full parse.
const NORMAL_TARGET = /^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:@/]*(\?[A-Za-z0-9\-._~!$&()*+,;=:@/?%]+)?$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|\?|$)/;

/** @internal exported for tests */
export function normalPath(input: string | URL): string | undefined {
  if (typeof input !== 'string' || !NORMAL_TARGET.test(input) || DOT_SEGMENT.test(input)) return undefined;
  return input;
}

function stringBody(body: string, headers: Headers): Uint8Array {
  if (!headers.has('content-type')) headers.set('content-type', 'text/plain;charset=UTF-8');
  return utf8(body);
}

async function bodyBytes(body: BodyInit | null | undefined, headers: Headers): Promise<Uint8Array> {
  if (body === undefined || body === null) return new Uint8Array(0);
  const setType = (t: string) => {
    if (!headers.has('content-type')) headers.set('content-type', t);
  };
  if (typeof body === 'string') return stringBody(body, headers);
  if (body instanceof URLSearchParams) {
    setType('application/x-www-form-urlencoded;charset=UTF-8');
    return utf8(body.toString());
  }
  if (body instanceof ArrayBuffer) return new Uint8Array(body.slice(0));
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer);
  if (typeof Blob !== 'undefined' && body instanceof Blob) {
    if (body.type) setType(body.type);
    return new Uint8Array(await body.arrayBuffer());
  }
  throw new TypeError('body must be a string, URLSearchParams, ArrayBuffer, typed array or Blob');
}
