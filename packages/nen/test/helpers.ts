// Shared test fixtures: one server identity per test file (ML-DSA keygen + record signing cost
// about 15 ms), an in-process fetch that hands requests straight to a server handler, and a fake
// clock.
import { NodeIdentity } from '@yak/crypto';
import {
  createNenClient,
  createNenServer,
  MemorySessionStore,
  type NenClientOptions,
  type NenHandler,
  type NenServerOptions,
} from '../src/index.js';

export const BASE = 'http://nen.test';

export class FakeClock {
  t = 1_750_000_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

let cached: NodeIdentity | undefined;
export function serverIdentity(): NodeIdentity {
  cached ??= NodeIdentity.generate({ networkId: 'nen-test' });
  return cached;
}

/** Echo handler: returns what it decrypted plus context facts. */
export const echo: NenHandler = async (req, ctx) => {
  const url = new URL(req.url);
  const body = await req.text();
  return Response.json({
    method: req.method,
    path: url.pathname,
    query: url.search,
    body,
    json: ctx.json ?? null,
    clientId: ctx.clientId,
    auth: req.headers.get('authorization'),
  });
};

export interface Fixture {
  clock: FakeClock;
  store: MemorySessionStore;
  server: ReturnType<typeof createNenServer>;
  handler: (r: Request) => Promise<Response>;
  /** Every request the client sent, for replay tests. */
  sent: Request[];
  /** Every raw response the client received. */
  received: Response[];
  fetch: typeof fetch;
  client: ReturnType<typeof createNenClient>;
  /** Transform requests in flight (MITM). */
  tamper?: (r: Request) => Request | Promise<Request>;
  /** Transform responses in flight (MITM). */
  tamperResponse?: (r: Response, req: Request) => Response | Promise<Response>;
}

export function fixture(
  opts: { server?: Partial<NenServerOptions>; client?: Partial<NenClientOptions>; app?: NenHandler; maxNonces?: number } = {},
): Fixture {
  const clock = new FakeClock();
  const store = new MemorySessionStore({ now: clock.now, ...(opts.maxNonces ? { maxNonces: opts.maxNonces } : {}) });
  const id = serverIdentity();
  const server = createNenServer({ identity: id, store, now: clock.now, ...opts.server });
  const handler = server.withNen(opts.app ?? echo);
  const f: Fixture = {
    clock,
    store,
    server,
    handler,
    sent: [],
    received: [],
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
      let req = new Request(input, init);
      f.sent.push(req.clone());
      if (f.tamper) req = await f.tamper(req);
      let res = await handler(req);
      if (f.tamperResponse) res = await f.tamperResponse(res, req);
      f.received.push(res.clone());
      return res;
    }) as typeof fetch,
    client: undefined as never,
  };
  f.client = createNenClient({ baseUrl: BASE, serverKey: id.signPublicKey, fetch: f.fetch, now: clock.now, ...opts.client });
  return f;
}

/** Rejects with a NenError whose code is `code`. */
export async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected ${code}, but it succeeded`);
  const got = (err as { code?: string }).code;
  if (got !== code) throw new Error(`expected ${code}, got ${got ?? String(err)}`);
}

/** The ISO code of a server error response. */
export async function codeOf(res: Response): Promise<string | undefined> {
  const t = await res.clone().text();
  try {
    return (JSON.parse(t) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

import { chacha20poly1305, concatBytes, hmac, hybridKem, randomBytes, toBase64url, utf8 } from '@yak/crypto';
import {
  type ClientHello,
  confirmTag,
  decodeServerHello,
  deriveKeys,
  encodeClientHello,
  handshakeTranscript,
  type SessionKeys,
} from '../src/handshake.js';
import { decodeKeyConfig, verifyKeyConfig } from '../src/keyconfig.js';
import {
  encodeRequestEnvelope,
  encodeSealedBody,
  encodeSealedHeader,
  HEADER,
  type RequestEnvelope,
  requestAad,
  requestMacInput,
} from '../src/wire.js';

/** A hand-rolled client with direct access to the session keys, to craft precise attacks. */
export interface RawSession {
  sid: Uint8Array;
  keys: SessionKeys;
  request(
    method: string,
    target: string,
    env?: RequestEnvelope,
    opts?: { timestamp?: number; nonce?: Uint8Array; corruptCiphertext?: boolean; rawPlaintext?: Uint8Array; rawBody?: string },
  ): Request;
}

export async function rawSession(handler: (r: Request) => Promise<Response>, now: () => number): Promise<RawSession> {
  const cfgRes = await handler(new Request(`${BASE}/.well-known/nen/key-config`));
  const { config, keyId } = verifyKeyConfig(decodeKeyConfig(new Uint8Array(await cfgRes.arrayBuffer())), {}, now());
  const eph = hybridKem.generateKeyPair();
  const enc = hybridKem.encapsulate(config.kemPublicKey);
  const hello: ClientHello = { v: 1, kc: keyId, epk: eph.publicKey, ct: enc.cipherText, cn: randomBytes(16), ts: now() };
  const res = await handler(new Request(`${BASE}/api/nen/handshake`, { method: 'POST', body: encodeClientHello(hello) }));
  if (res.status !== 200) throw new Error(`handshake ${res.status} ${await res.text()}`);
  const sh = decodeServerHello(await res.text());
  const ss = hybridKem.decapsulate(sh.ect, eph.secretKey);
  const th = handshakeTranscript(hello, sh);
  const { keys, confirmKey } = deriveKeys(concatBytes(enc.sharedSecret, ss), th);
  if (toBase64url(confirmTag(confirmKey, th)) !== toBase64url(sh.confirm)) throw new Error('confirm');
  const sid = sh.sid;
  return {
    sid,
    keys,
    request(method, target, env = { headers: [['content-type', 'application/json']], body: utf8('{}') }, o = {}) {
      const timestamp = o.timestamp ?? now();
      const nonce = o.nonce ?? randomBytes(16);
      const fields = { sid, method, target, timestamp, nonce };
      const n = randomBytes(12);
      const ct = chacha20poly1305(keys.c2sKey).seal(n, o.rawPlaintext ?? encodeRequestEnvelope(env), requestAad(fields));
      if (o.corruptCiphertext) ct[0]! ^= 1;
      const headers: Record<string, string> = {
        [HEADER.session]: toBase64url(sid),
        [HEADER.timestamp]: String(timestamp),
        [HEADER.nonce]: toBase64url(nonce),
      };
      let body: string | undefined;
      let payload: Uint8Array;
      if (method === 'GET') {
        headers[HEADER.payload] = encodeSealedHeader({ n, ct });
        payload = utf8(headers[HEADER.payload]!);
      } else {
        body = o.rawBody ?? encodeSealedBody({ n, ct });
        payload = utf8(body);
      }
      headers[HEADER.signature] = toBase64url(hmac('sha256', keys.c2sMac, requestMacInput({ ...fields, payload })));
      return new Request(`${BASE}${target}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    },
  };
}
