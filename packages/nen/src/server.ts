// The Nen server (SPEC @yak/nen; nen.md): a web-standard `Request -> Response` handler for the
// protocol routes and a wrapper that verifies, decrypts and re-encrypts application traffic.
// Portable (web APIs only), so it runs on Node, Bun, Deno and edge runtimes.
import {
  concatBytes,
  constantTimeEqual,
  fromUtf8,
  hmac,
  hybridKem,
  NodeIdentity,
  nodeIdFromPublicKey,
  randomBytes,
  toBase64url,
  utf8,
  wipe,
} from '@yak/crypto';
import {
  AEAD_NONCE_BYTES,
  DEFAULT_BASE_PATH,
  DEFAULT_KEY_CONFIG_PATH,
  KEY_BYTES,
  KEY_CONFIG_BACKDATE_MS,
  KEY_CONFIG_VALIDITY_MS,
  MAC_BYTES,
  MAX_BODY_BYTES,
  MAX_HANDSHAKE_BYTES,
  MAX_HEADER_PAYLOAD_BYTES,
  MAX_RESPONSE_BYTES,
  NONCE_TTL_MS,
  REQUEST_NONCE_BYTES,
  SESSION_ABSOLUTE_TTL_MS,
  SESSION_CACHE_IDLE_MS,
  SESSION_CACHE_MAX,
  SESSION_EXPIRED_GRACE_MS,
  SESSION_IDLE_TTL_MS,
  SID_BYTES,
  TIMESTAMP_WINDOW_MS,
} from './constants.js';
import { NenError, type NenErrorCode, NenPayloadError, nenError } from './errors.js';
import {
  CLIENT_AUTH_CONTEXT,
  type ClientHello,
  clientAuthMessage,
  confirmTag,
  decodeClientHello,
  decodeRekeyRequest,
  deriveKeys,
  encodeRekeyAnswer,
  encodeRotateAnswer,
  encodeServerHello,
  encodeStatus,
  handshakeTranscript,
  rekeyTranscript,
  rotateTranscript,
  wipeKeys,
} from './handshake.js';
import { BodyTooLarge, bodyInit, decodeUtf8, isNullBodyStatus, readBody, requestTarget } from './http.js';
import { encodeKeyConfig, type KeyConfig, type KeyConfigSigner, keyConfigId, signKeyConfig, verifyKeyConfig } from './keyconfig.js';
import { type CachedSession, decodeRecord, encodeRecord, SessionCache, type SessionRecord } from './session.js';
import { MemorySessionStore, type SessionStore } from './store.js';
import { sealStream, streamKey } from './stream.js';
import {
  b64,
  decodeRequestEnvelope,
  decodeSealedBody,
  decodeSealedHeader,
  encodeErrorBody,
  encodeResponseEnvelope,
  encodeSealedBody,
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
  unb64,
} from './wire.js';

/** The server's long-term identity: a `NodeIdentity` (ML-DSA-65 + X-Wing) fits. */
export interface NenServerIdentity extends KeyConfigSigner {
  kemDecapsulate(cipherText: Uint8Array): Uint8Array;
}

/** pino-compatible logger shape; silent by default. */
export interface NenLogger {
  debug?(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
  warn?(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}

/** An authenticated client (handshake signed with an ML-DSA-65 key). */
export interface NenClientInfo {
  clientId: string;
  publicKey: Uint8Array;
}

export interface NenServerOptions {
  identity: NenServerIdentity;
  /** Protocol routes live under this path (default `/api/nen/`; must start and end with `/`). */
  basePath?: string;
  /** Where the signed key configuration is served (default `/.well-known/nen/key-config`). */
  keyConfigPath?: string;
  /** Session store (default: a new {@link MemorySessionStore} using `now`). */
  store?: SessionStore;
  /** Clock in ms (default Date.now). */
  now?: () => number;
  /** Accepted timestamp difference (default 30 s, seed 004). */
  timestampWindowMs?: number;
  /** Absolute session lifetime (default 1 h); rekey and rotate never extend it. */
  sessionTtlMs?: number;
  /** Idle lifetime (default 15 min). */
  idleTtlMs?: number;
  /** Validity of the signed key configuration (default 30 days; re-signed at half-life). */
  keyConfigValidityMs?: number;
  /**
   * A configuration signed ahead of time (e.g. once per deployment, so every instance serves the
   * same bytes). It must belong to `identity`; the server then never signs by itself.
   */
  keyConfig?: KeyConfig;
  /** 'optional' (default): clients may sign the handshake; 'required': they must. */
  clientAuth?: 'optional' | 'required';
  /** Decide whether an authenticated client key may open a session. */
  authorizeClient?: (client: NenClientInfo) => boolean | Promise<boolean>;
  /** Largest request body (default 1 MiB). */
  maxBodyBytes?: number;
  /** Largest buffered response (default 16 MiB; streamed responses have no limit). */
  maxResponseBytes?: number;
  /** 32-byte key sealing session records before they reach the store (recommended for shared stores). */
  sessionEncryptionKey?: Uint8Array;
  /**
   * Decoded sessions kept in memory with their prepared keys (default 10,000). The store is still
   * read on every request and an entry is used only while the stored record is unchanged.
   */
  sessionCacheSize?: number;
  logger?: NenLogger;
}

/** What the application handler learns about the request. */
export interface NenContext {
  sessionId: string;
  /** Node id of the client's ML-DSA key when the handshake was signed, else null. */
  clientId: string | null;
  clientKey: Uint8Array | null;
  /** Decrypted body. */
  body: Uint8Array;
  /** Parsed body when the inner content type is JSON (undefined otherwise). */
  json: unknown;
  /** Aborted when the client goes away (the signal of the incoming request). */
  signal: AbortSignal;
}

/** Application handler: sees a plain Request (decrypted body, inner headers only). */
export type NenHandler = (request: Request, ctx: NenContext) => Response | Promise<Response>;

/** Result of {@link NenServer.unwrap}. */
export type NenUnwrapResult =
  | {
      ok: true;
      /** The decrypted request for the application. */
      request: Request;
      context: NenContext;
      /** Encrypt the application's response for this request (call once). */
      wrap(response: Response): Promise<Response>;
      /** Answer this request with an authenticated Nen error instead (call once, instead of wrap). */
      fail(error: NenError): Response;
    }
  | { ok: false; response: Response; error: NenError };

export interface NenServerStats {
  handshakes: number;
  requests: number;
  rekeys: number;
  rotations: number;
  terminations: number;
  streams: number;
  /** Decoded sessions held in this instance's cache. */
  cachedSessions: number;
  rejected: Record<string, number>;
}

export interface NenServer {
  /** Serve the protocol routes and the key configuration; anything else gets ISO-7001. */
  handle(request: Request): Promise<Response>;
  /** Wrap an application handler: protocol routes go to `handle`, the rest is decrypted for `handler`. */
  withNen(handler: NenHandler): (request: Request) => Promise<Response>;
  /** Verify and decrypt one application request (what `withNen` and the adapters build on). */
  unwrap(request: Request): Promise<NenUnwrapResult>;
  /** True for the protocol routes and the key configuration path. */
  isProtocolRequest(request: Request | URL | string): boolean;
  /** The current signed key configuration (re-signed when past half its validity). */
  keyConfig(): KeyConfig;
  getStats(): NenServerStats;
  /** Close the store when the server created it. */
  close(): Promise<void>;
}

const CONTROL = new Set(['handshake', 'rekey', 'rotate', 'terminate', 'status']);
const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/**
 * One incoming request as the protocol core reads it. Built from a web Request, or directly from
 * a runtime's own request object by an adapter (node.ts), which spares the Request and Response
 * objects the web-standard path needs only as carriers.
 */
export interface Incoming {
  /** Upper-case method. */
  method: string;
  url: URL;
  /** A header value (lower-case name), or null. */
  header(name: string): string | null;
  /** The body, refusing more than `max` bytes with BodyTooLarge. */
  body(max: number): Promise<Uint8Array>;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** A sealed buffered answer, ready to write as it is. */
export interface SealedOut {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Internal fast path of a `withNen` handler, found under {@link NEN_FAST} (not public API). */
export interface NenFastPath {
  /** True for the protocol routes and the key configuration path (served by `handle`). */
  isProtocol(url: URL): boolean;
  /** Verify, decrypt, run the handler, encrypt: a sealed answer, or a Response (errors, streams). */
  serve(incoming: Incoming): Promise<SealedOut | Response>;
}

/** Symbol under which `withNen` handlers carry their {@link NenFastPath}. */
export const NEN_FAST: unique symbol = Symbol('yak.nen.fast');

/** The Incoming view of a web Request. */
function incomingOf(request: Request, url: URL): Incoming {
  return {
    method: request.method.toUpperCase(),
    url,
    header: (name) => request.headers.get(name),
    body: (max) => readBody(request, max),
    signal: request.signal,
  };
}

/** A sealed answer as a web Response. */
function outResponse(o: SealedOut | Response): Response {
  return o instanceof Response ? o : new Response(o.body, { status: o.status, headers: o.headers });
}

interface Verified {
  /** The cached session; released (once) when the request is answered. */
  session: CachedSession;
  record: SessionRecord;
  sidStr: string;
  requestMac: Uint8Array;
  envelope: RequestEnvelope;
  url: URL;
  method: string;
}

/** Keys an error response is authenticated with (when a session was found). */
interface ErrorAuth {
  sid: Uint8Array;
  s2cMac: Uint8Array;
  requestMac: Uint8Array;
}

/** Error-authentication material; copies the MAC key because the record's keys are wiped early. */
function authOf(r: SessionRecord, requestMac: Uint8Array | undefined): ErrorAuth {
  return { sid: r.sid, s2cMac: r.keys.s2cMac.slice(), requestMac: requestMac ?? new Uint8Array(0) };
}

class Rejection extends Error {
  constructor(
    readonly error: NenError,
    readonly auth?: ErrorAuth,
  ) {
    super(error.message);
  }
}

function checkPath(p: string, name: string, trailing: boolean): string {
  if (typeof p !== 'string' || !p.startsWith('/') || (trailing && !p.endsWith('/'))) {
    throw new TypeError(`${name} must start with '/'${trailing ? " and end with '/'" : ''}`);
  }
  return p;
}

function posInt(v: number | undefined, dflt: number, name: string): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n)) throw new TypeError(`${name} must be an integer`);
  if (n <= 0) throw new RangeError(`${name} must be positive`);
  return n;
}

/** Create a Nen server. Signs the key configuration once (about 10 ms). */
export function createNenServer(options: NenServerOptions): NenServer {
  const id = options?.identity;
  if (!id || typeof id.sign !== 'function' || typeof id.kemDecapsulate !== 'function') {
    throw new TypeError('identity must provide sign, kemDecapsulate, signPublicKey and kemPublicKey (a NodeIdentity does)');
  }
  const basePath = checkPath(options.basePath ?? DEFAULT_BASE_PATH, 'basePath', true);
  const keyConfigPath = checkPath(options.keyConfigPath ?? DEFAULT_KEY_CONFIG_PATH, 'keyConfigPath', false);
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('now must be a function');
  const windowMs = posInt(options.timestampWindowMs, TIMESTAMP_WINDOW_MS, 'timestampWindowMs');
  const nonceTtl = Math.max(NONCE_TTL_MS, 2 * windowMs + 1000);
  const sessionTtl = posInt(options.sessionTtlMs, SESSION_ABSOLUTE_TTL_MS, 'sessionTtlMs');
  const idleTtl = posInt(options.idleTtlMs, SESSION_IDLE_TTL_MS, 'idleTtlMs');
  const validity = posInt(options.keyConfigValidityMs, KEY_CONFIG_VALIDITY_MS, 'keyConfigValidityMs');
  const maxBody = posInt(options.maxBodyBytes, MAX_BODY_BYTES, 'maxBodyBytes');
  const maxResponse = posInt(options.maxResponseBytes, MAX_RESPONSE_BYTES, 'maxResponseBytes');
  const clientAuth = options.clientAuth ?? 'optional';
  if (clientAuth !== 'optional' && clientAuth !== 'required') throw new TypeError("clientAuth must be 'optional' or 'required'");
  const sealKey = options.sessionEncryptionKey ? Uint8Array.from(options.sessionEncryptionKey) : undefined;
  if (sealKey && sealKey.length !== KEY_BYTES) throw new RangeError('sessionEncryptionKey must be 32 bytes');
  const ownsStore = !options.store;
  const store = options.store ?? new MemorySessionStore({ now });
  const cache = new SessionCache(posInt(options.sessionCacheSize, SESSION_CACHE_MAX, 'sessionCacheSize'), SESSION_CACHE_IDLE_MS, now);
  const log = options.logger ?? {};
  const stats: NenServerStats = {
    handshakes: 0,
    requests: 0,
    rekeys: 0,
    rotations: 0,
    terminations: 0,
    streams: 0,
    cachedSessions: 0,
    rejected: {},
  };

  // The signed key configuration, re-signed at half its validity. Handshakes name the key id,
  // which does not change on re-signing (nen.md section 2), so any configuration of this identity
  // served by any instance leads to the same sessions.
  const keyId = keyConfigId(id);
  let pinned = options.keyConfig;
  if (pinned) {
    if (!constantTimeEqual(keyConfigId(pinned), keyId)) throw new TypeError('keyConfig does not belong to identity');
    pinned = verifyKeyConfig(pinned, { serverKey: id.signPublicKey }, pinned.notBefore).config;
  }
  let current: { config: KeyConfig; bytes: Uint8Array } | undefined;
  function currentConfig(): { config: KeyConfig; bytes: Uint8Array } {
    if (pinned) {
      current ??= { config: pinned, bytes: encodeKeyConfig(pinned) };
      return current;
    }
    const t = now();
    if (current && t < current.config.notAfter - Math.floor(validity / 2) && t >= current.config.notBefore) return current;
    const config = signKeyConfig(id, Math.max(0, t - KEY_CONFIG_BACKDATE_MS), t + validity);
    current = { config, bytes: encodeKeyConfig(config) };
    return current;
  }
  currentConfig();

  const routeOf = (url: URL): string | undefined => {
    if (url.pathname === keyConfigPath) return 'key-config';
    if (!url.pathname.startsWith(basePath)) return undefined;
    const r = url.pathname.slice(basePath.length);
    return CONTROL.has(r) ? r : undefined;
  };

  function reject(code: NenErrorCode, auth?: ErrorAuth, message?: string): never {
    throw new Rejection(nenError(code, message !== undefined ? { message } : {}), auth);
  }

  function errorResponse(err: NenError, auth?: ErrorAuth): Response {
    stats.rejected[err.code] = (stats.rejected[err.code] ?? 0) + 1;
    const headers: Record<string, string> = { ...JSON_HEADERS };
    if (auth) {
      headers[HEADER.session] = toBase64url(auth.sid);
      headers[HEADER.signature] = toBase64url(hmac('sha256', auth.s2cMac, errorMacInput(auth.sid, auth.requestMac, err.status, err.code)));
    }
    log.debug?.({ code: err.code, authenticated: !!auth }, 'nen request rejected');
    return new Response(encodeErrorBody({ code: err.code, reason: err.reason, message: err.message }), { status: err.status, headers });
  }

  function toResponse(e: unknown): Response {
    if (e instanceof Rejection) return errorResponse(e.error, e.auth);
    if (e instanceof NenError) return errorResponse(e);
    log.error?.({ err: e instanceof Error ? e.name : typeof e }, 'nen internal error');
    return errorResponse(nenError('ISO-9001'));
  }

  /** The session as stored now, acquired from the cache (the caller releases it). */
  async function loadSession(sidStr: string, sid: Uint8Array): Promise<{ session: CachedSession; lastSeen: number } | undefined> {
    const stored = await store.get(sidStr).catch((e: unknown) => {
      throw e instanceof NenError ? e : nenError('ISO-2005', { cause: e });
    });
    if (!stored) {
      cache.drop(sidStr);
      cache.sweep();
      return undefined;
    }
    const hit = cache.acquire(sidStr, stored.gen, stored.data);
    if (hit) return { session: hit, lastSeen: stored.lastSeen };
    const record = decodeRecord(sid, stored.data, sealKey);
    if (record.gen !== stored.gen) {
      wipeKeys(record.keys);
      throw nenError('ISO-9001', { message: 'stored session generation mismatch' });
    }
    return { session: cache.insert(sidStr, stored.data, record), lastSeen: stored.lastSeen };
  }

  function storeTtl(r: SessionRecord, lastSeen: number, t: number): number {
    return Math.max(1, Math.min(r.expiresAt, lastSeen + r.idleTtlMs) - t) + SESSION_EXPIRED_GRACE_MS;
  }

  /**
   * The request checks, in the fixed order of nen.md section 5:
   * signature header (3001), session header (2001), timestamp (3003) and nonce (3004) headers,
   * payload size (4003), session lookup (2002/2005) and lifetime (2003/2004), MAC (3002),
   * timestamp window (3003), payload shape (4002), AEAD (4001), envelope (4004), replay (5001).
   */
  async function verify(inc: Incoming): Promise<Verified> {
    const h = { get: inc.header };
    const sigHeader = h.get(HEADER.signature);
    if (!sigHeader) reject('ISO-3001');
    const sidStr = h.get(HEADER.session);
    if (!sidStr) reject('ISO-2001');
    let sid: Uint8Array;
    try {
      sid = unb64(sidStr, 'ISO-2001', SID_BYTES, 'session');
    } catch {
      reject('ISO-2001');
    }
    const tsHeader = h.get(HEADER.timestamp);
    if (!tsHeader || !/^\d{1,15}$/.test(tsHeader)) reject('ISO-3003');
    const timestamp = Number(tsHeader);
    const nonceStr = h.get(HEADER.nonce);
    let nonce: Uint8Array;
    try {
      nonce = unb64(nonceStr ?? '', 'ISO-3004', REQUEST_NONCE_BYTES, 'nonce');
    } catch {
      reject('ISO-3004');
    }
    let mac: Uint8Array | undefined;
    try {
      mac = unb64(sigHeader, 'ISO-3002', MAC_BYTES, 'signature');
    } catch {
      mac = undefined;
    }
    const method = inc.method;
    const url = inc.url;
    let payload: Uint8Array;
    if (payloadInHeader(method)) {
      const p = h.get(HEADER.payload) ?? '';
      if (p.length > MAX_HEADER_PAYLOAD_BYTES) reject('ISO-4003');
      payload = utf8(p);
    } else {
      try {
        payload = await inc.body(maxBody);
      } catch (e) {
        if (e instanceof BodyTooLarge) reject('ISO-4003');
        throw e;
      }
    }
    const loaded = await loadSession(sidStr, sid);
    if (!loaded) reject('ISO-2002');
    const { session, lastSeen } = loaded;
    const record = session.record;
    try {
      // Built only on a rejection: it copies a MAC key.
      const auth = () => authOf(record, mac);
      const t = now();
      if (t >= record.expiresAt) reject('ISO-2003', auth());
      if (t >= lastSeen + record.idleTtlMs) reject('ISO-2004', auth());
      const fields = { sid, method, target: requestTarget(url), timestamp, nonce };
      const expected = hmac('sha256', record.keys.c2sMac, requestMacInput({ ...fields, payload }));
      if (!mac || !constantTimeEqual(expected, mac)) reject('ISO-3002', auth());
      if (Math.abs(t - timestamp) > windowMs) reject('ISO-3003', auth());
      const text = decodeUtf8(payload);
      if (text === undefined) reject('ISO-4002', auth());
      let sealed: { n: Uint8Array; ct: Uint8Array };
      try {
        sealed = payloadInHeader(method) ? decodeSealedHeader(text) : decodeSealedBody(text);
      } catch {
        reject('ISO-4002', auth());
      }
      let plain: Uint8Array;
      try {
        plain = session.c2s.open(sealed.n, sealed.ct, requestAad(fields));
      } catch {
        reject('ISO-4001', auth());
      }
      let envelope: RequestEnvelope;
      try {
        envelope = decodeRequestEnvelope(plain);
      } catch {
        reject('ISO-4004', auth());
      }
      let admitted: Awaited<ReturnType<SessionStore['admit']>>;
      try {
        admitted = await store.admit(sidStr, nonceStr as string, t, nonceTtl, storeTtl(record, t, t));
      } catch {
        reject('ISO-2005', auth());
      }
      if (admitted === 'replay') reject('ISO-5001', auth());
      if (admitted === 'full') reject('ISO-5002', auth());
      return { session, record, sidStr, requestMac: mac as Uint8Array, envelope, url, method };
    } catch (e) {
      cache.release(session);
      throw e;
    }
  }

  /** Encrypt a buffered envelope answering request `v`. */
  function sealResponse(v: Verified, status: number, headers: Array<[string, string]>, body: Uint8Array): Response {
    return outResponse(sealOut(v, status, headers, body));
  }

  function sealOut(v: Verified, status: number, headers: Array<[string, string]>, body: Uint8Array): SealedOut {
    const n = nonceBytes(AEAD_NONCE_BYTES);
    const plain = encodeResponseEnvelope({ status, headers, body });
    const ct = v.session.s2c.seal(n, plain, responseAad(v.record.sid, v.requestMac));
    wipe(plain);
    // The outer status mirrors the inner one for logs and proxies; the client trusts only the
    // inner one. Statuses that cannot carry a body become 200.
    const outer = isNullBodyStatus(status) || (status >= 300 && status < 400) ? 200 : status;
    // The body is ASCII, so its length is known: declaring it spares HTTP/1.1 chunking and lets
    // the client read the body in one piece.
    const text = encodeSealedBody({ n, ct });
    // No X-Nen-Session here: the client knows its session, and every header costs both sides.
    return {
      status: outer,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': String(text.length) },
      body: text,
    };
  }

  async function wrapFor(v: Verified, wantsStream: boolean, res: Response): Promise<SealedOut | Response> {
    if (!(res instanceof Response)) {
      cache.release(v.session);
      return errorResponse(nenError('ISO-9001', { message: 'handler did not return a Response' }));
    }
    try {
      const headers = envelopeHeaders(res.headers);
      const status = res.status >= 200 && res.status <= 599 ? res.status : 500;
      const isEventStream = (res.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
      if ((wantsStream || isEventStream) && res.body && !isNullBodyStatus(status)) {
        stats.streams++;
        const key = streamKey(v.record.keys.s2cKey, v.requestMac);
        const body = sealStream({ status, headers }, res.body, key);
        return new Response(body, {
          status: 200,
          headers: { 'content-type': STREAM_CONTENT_TYPE, 'cache-control': 'no-store' },
        });
      }
      let body: Uint8Array;
      try {
        body = await readBody(res, maxResponse);
      } catch (e) {
        // Too large, or the application's body stream failed: answer with an authenticated error.
        log.warn?.({ err: e instanceof Error ? e.name : typeof e }, 'nen could not read the application response');
        return errorResponse(nenError(e instanceof BodyTooLarge ? 'ISO-4005' : 'ISO-9001'), authOf(v.record, v.requestMac));
      }
      return sealOut(v, status, headers, isNullBodyStatus(status) ? new Uint8Array(0) : body);
    } finally {
      cache.release(v.session);
    }
  }

  function appRequest(v: Verified, inc: Incoming): { request: Request; context: NenContext } {
    const hasBody = v.method !== 'GET' && v.method !== 'HEAD';
    if (!hasBody && v.envelope.body.length > 0) reject('ISO-4004', authOf(v.record, v.requestMac), 'a GET request carries no body');
    // The envelope's header list goes to the Request as it is (names were checked when it was
    // decoded; the Request validates values): one Headers object per request, not two.
    let contentType: string | null = null;
    for (const [k, val] of v.envelope.headers)
      if (k === 'content-type') contentType = contentType === null ? val : `${contentType}, ${val}`;
    // The original signal is exposed as ctx.signal rather than linked into the new Request:
    // linking costs a second AbortSignal per request on the hot path.
    const init: RequestInit = { method: v.method, headers: v.envelope.headers };
    if (hasBody) init.body = bodyInit(v.envelope.body, contentType);
    const request = new Request(v.url, init);
    const isJson = /^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType ?? '') && v.envelope.body.length > 0;
    const body = v.envelope.body;
    let parsed: { value: unknown } | undefined;
    const context: NenContext = {
      sessionId: v.sidStr,
      clientId: v.record.clientId,
      clientKey: v.record.clientKey,
      body,
      get signal() {
        return inc.signal;
      },
      // Parsed on first use: most handlers call req.json() themselves, and parsing twice is
      // a measurable part of a small request's cost.
      get json(): unknown {
        if (!isJson) return undefined;
        if (!parsed) {
          try {
            parsed = { value: JSON.parse(fromUtf8(body)) };
          } catch {
            throw new NenPayloadError('ISO-4004', { message: 'body is not valid JSON' });
          }
        }
        return parsed.value;
      },
    };
    return { request, context };
  }

  /** {@link NenUnwrapResult}, with `wrap` giving a sealed answer or a Response. */
  type Unwrapped =
    | (Omit<Extract<NenUnwrapResult, { ok: true }>, 'wrap'> & { wrap(response: Response): Promise<SealedOut | Response> })
    | Extract<NenUnwrapResult, { ok: false }>;

  async function unwrap(inc: Incoming): Promise<Unwrapped> {
    let v: Verified | undefined;
    try {
      v = await verify(inc);
      const { request: req, context } = appRequest(v, inc);
      stats.requests++;
      const verified = v;
      const wantsStream = inc.header(HEADER.stream) === '1';
      let used = false;
      return {
        ok: true,
        request: req,
        context,
        wrap: (res: Response) => {
          if (used) throw new Error('wrap() or fail() may be called once per request');
          used = true;
          return wrapFor(verified, wantsStream, res);
        },
        fail: (error: NenError) => {
          if (used) throw new Error('wrap() or fail() may be called once per request');
          used = true;
          const auth = authOf(verified.record, verified.requestMac);
          cache.release(verified.session);
          return errorResponse(error, auth);
        },
      };
    } catch (e) {
      if (v) cache.release(v.session);
      const response = toResponse(e);
      const error = e instanceof Rejection ? e.error : e instanceof NenError ? e : nenError('ISO-9001');
      return { ok: false, response, error };
    }
  }

  async function handshake(request: Request): Promise<Response> {
    let body: Uint8Array;
    try {
      body = await readBody(request, MAX_HANDSHAKE_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLarge) reject('ISO-4003');
      throw e;
    }
    const text = decodeUtf8(body);
    if (text === undefined) reject('ISO-1001');
    const hello: ClientHello = decodeClientHello(text);
    const t = now();
    if (!constantTimeEqual(keyId, hello.kc)) reject('ISO-1003');
    let clientId: string | null = null;
    if (hello.ck && hello.cs) {
      // A signed hello is a transferable statement, so it must be fresh (seed 004 step 3).
      if (Math.abs(t - hello.ts) > windowMs) reject('ISO-3003');
      if (!NodeIdentity.verify(hello.ck, clientAuthMessage(hello), hello.cs, CLIENT_AUTH_CONTEXT)) reject('ISO-1006');
      clientId = nodeIdFromPublicKey(hello.ck);
      if (options.authorizeClient && !(await options.authorizeClient({ clientId, publicKey: Uint8Array.from(hello.ck) }))) {
        reject('ISO-1007');
      }
    } else if (clientAuth === 'required') {
      reject('ISO-1005');
    }
    let ssS: Uint8Array;
    let enc: { cipherText: Uint8Array; sharedSecret: Uint8Array };
    try {
      ssS = id.kemDecapsulate(hello.ct);
      enc = hybridKem.encapsulate(hello.epk);
    } catch {
      reject('ISO-1004');
    }
    const sid = randomBytes(SID_BYTES);
    const server = { v: 1 as const, sid, ect: enc.cipherText, sn: randomBytes(16), ts: t, exp: t + sessionTtl, idle: idleTtl };
    const th = handshakeTranscript(hello, server);
    const ikm = concatBytes(ssS, enc.sharedSecret);
    const { keys, confirmKey } = deriveKeys(ikm, th);
    wipe(ssS, enc.sharedSecret, ikm);
    const confirm = confirmTag(confirmKey, th);
    wipe(confirmKey);
    const record: SessionRecord = {
      sid,
      gen: 0,
      createdAt: t,
      expiresAt: server.exp,
      idleTtlMs: idleTtl,
      keys,
      keyedAt: t,
      clientKey: hello.ck ? Uint8Array.from(hello.ck) : null,
      clientId,
    };
    const sidStr = b64(sid);
    const data = encodeRecord(record, sealKey);
    wipeKeys(keys);
    let created: boolean;
    try {
      created = await store.create(sidStr, 0, data, t, storeTtl(record, t, t));
    } catch (e) {
      throw e instanceof NenError ? e : nenError('ISO-2005', { cause: e });
    } finally {
      wipe(data);
    }
    if (!created) reject('ISO-9001', undefined, 'session id collision');
    stats.handshakes++;
    log.debug?.({ sid: sidStr, clientId }, 'nen session opened');
    return new Response(encodeServerHello({ ...server, confirm }), { status: 200, headers: JSON_HEADERS });
  }

  async function control(route: string, request: Request, url: URL): Promise<Response> {
    const v = await verify(incomingOf(request, url));
    const auth = (): ErrorAuth => authOf(v.record, v.requestMac);
    try {
      const r = v.record;
      const cbor: Array<[string, string]> = [['content-type', 'application/cbor']];
      if (route === 'status') {
        return sealResponse(
          v,
          200,
          cbor,
          encodeStatus({
            sid: v.sidStr,
            gen: r.gen,
            createdAt: r.createdAt,
            expiresAt: r.expiresAt,
            idleTtlMs: r.idleTtlMs,
            // This very request just refreshed last-seen (store.admit).
            lastSeen: now(),
            clientId: r.clientId,
          }),
        );
      }
      if (route === 'terminate') {
        await store.delete(v.sidStr).catch((e: unknown) => {
          throw new Rejection(nenError('ISO-2005', { cause: e }), auth());
        });
        cache.drop(v.sidStr);
        stats.terminations++;
        return sealResponse(v, 200, [], new Uint8Array(0));
      }
      const t = now();
      const newGen = r.gen + 1;
      let nextSid = r.sid;
      let answer: Uint8Array;
      let derived: ReturnType<typeof deriveKeys>;
      if (route === 'rekey') {
        let epk: Uint8Array;
        try {
          epk = decodeRekeyRequest(v.envelope.body).epk;
        } catch {
          reject('ISO-4004', auth());
        }
        let enc: { cipherText: Uint8Array; sharedSecret: Uint8Array };
        try {
          enc = hybridKem.encapsulate(epk);
        } catch {
          reject('ISO-1004', auth());
        }
        const th = rekeyTranscript(r.sid, r.gen, newGen, epk, enc.cipherText, v.requestMac);
        const ikm = concatBytes(r.keys.chain, enc.sharedSecret);
        derived = deriveKeys(ikm, th);
        wipe(ikm, enc.sharedSecret);
        answer = encodeRekeyAnswer({ ect: enc.cipherText, gen: newGen, confirm: confirmTag(derived.confirmKey, th) });
      } else {
        nextSid = randomBytes(SID_BYTES);
        const th = rotateTranscript(r.sid, nextSid, r.gen, newGen, v.requestMac);
        derived = deriveKeys(r.keys.chain, th);
        answer = encodeRotateAnswer({ sid: nextSid, gen: newGen, confirm: confirmTag(derived.confirmKey, th) });
      }
      wipe(derived.confirmKey);
      // Absolute expiry and creation time are copied, never recomputed (SPEC @yak/nen).
      const next: SessionRecord = { ...r, sid: nextSid, gen: newGen, keys: derived.keys, keyedAt: route === 'rekey' ? t : r.keyedAt };
      const data = encodeRecord(next, sealKey);
      wipeKeys(derived.keys);
      const nextSidStr = toBase64url(nextSid);
      let replaced: boolean;
      try {
        replaced = await store.replace(v.sidStr, r.gen, { sid: nextSidStr, gen: newGen, data }, storeTtl(r, t, t));
      } catch {
        reject('ISO-2005', auth());
      } finally {
        wipe(data);
      }
      if (!replaced) reject('ISO-2007', auth());
      // The old keys go as soon as this answer (sealed under them) is built.
      cache.drop(v.sidStr);
      if (route === 'rekey') stats.rekeys++;
      else stats.rotations++;
      return sealResponse(v, 200, cbor, answer);
    } finally {
      cache.release(v.session);
    }
  }

  async function handle(request: Request): Promise<Response> {
    try {
      const url = new URL(request.url);
      const route = routeOf(url);
      if (!route) reject('ISO-7001');
      if (route === 'key-config') {
        if (request.method !== 'GET') reject('ISO-7002');
        const c = currentConfig();
        return new Response(c.bytes as BodyInit, {
          status: 200,
          headers: { 'content-type': 'application/cbor', 'cache-control': 'public, max-age=300' },
        });
      }
      if (request.method !== 'POST') reject('ISO-7002');
      if (route === 'handshake') return await handshake(request);
      return await control(route, request, url);
    } catch (e) {
      return toResponse(e);
    }
  }

  function isProtocolRequest(r: Request | URL | string): boolean {
    const url = r instanceof Request ? new URL(r.url) : new URL(r.toString(), 'http://x');
    return routeOf(url) !== undefined || url.pathname.startsWith(basePath);
  }

  return {
    handle,
    unwrap: async (request: Request): Promise<NenUnwrapResult> => {
      const u = await unwrap(incomingOf(request, new URL(request.url)));
      if (!u.ok) return u;
      return { ...u, wrap: async (res: Response) => outResponse(await u.wrap(res)) };
    },
    isProtocolRequest,
    withNen(handler: NenHandler) {
      if (typeof handler !== 'function') throw new TypeError('handler must be a function');
      const isProtocol = (url: URL) => routeOf(url) !== undefined || url.pathname.startsWith(basePath);
      const serve = async (inc: Incoming): Promise<SealedOut | Response> => {
        const u = await unwrap(inc);
        if (!u.ok) return u.response;
        let res: Response;
        try {
          res = await handler(u.request, u.context);
        } catch (e) {
          // A Nen error raised inside the handler (e.g. ctx.json on a bad body) keeps its code.
          if (e instanceof NenError) return u.fail(e);
          log.error?.({ err: e instanceof Error ? e.name : typeof e }, 'nen application handler threw');
          res = new Response('internal error', { status: 500, headers: { 'content-type': 'text/plain' } });
        }
        return u.wrap(res);
      };
      const fast: NenFastPath = { isProtocol, serve };
      const web = async (request: Request): Promise<Response> => {
        // One URL parse serves the routing decision and the MAC check.
        const url = new URL(request.url);
        if (isProtocol(url)) return handle(request);
        return outResponse(await serve(incomingOf(request, url)));
      };
      return Object.assign(web, { [NEN_FAST]: fast });
    },
    keyConfig: () => currentConfig().config,
    getStats: () => ({ ...stats, cachedSessions: cache.size, rejected: { ...stats.rejected } }),
    async close() {
      cache.clear();
      if (ownsStore) await store.close();
    },
  };
}
