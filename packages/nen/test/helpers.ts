// Shared test fixtures: one server identity per test file (ML-DSA keygen + record signing cost
// about 15 ms), an in-process fetch that hands requests straight to a server handler, and a fake
// clock.
import { NodeIdentity } from '@yak/crypto';
import { createNenClient, createNenServer, MemorySessionStore, type NenClientOptions, type NenHandler, type NenServerOptions } from '../src/index.js';

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

export function fixture(opts: { server?: Partial<NenServerOptions>; client?: Partial<NenClientOptions>; app?: NenHandler } = {}): Fixture {
  const clock = new FakeClock();
  const store = new MemorySessionStore({ now: clock.now });
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
