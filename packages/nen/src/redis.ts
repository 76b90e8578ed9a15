// Redis-backed session store (seed 004), and the Upstash REST variant for edge runtimes. Both
// speak to Redis through one function that sends a raw command, so any client fits: ioredis
// (`client.call`), node-redis (`client.sendCommand`) or Upstash's REST endpoint (`fetch`).
// Atomicity comes from Lua scripts (EVAL): the replay check is SET NX PX (SPEC @yak/nen), and
// rekey/rotate are compare-and-set on the generation.
import { fromBase64url, toBase64url } from '@yak/crypto';
import { NenSessionError } from './errors.js';
import type { AdmitResult, NextSession, SessionStore, StoredSession } from './store.js';

/** Sends one Redis command (name first) and resolves with its reply. */
export type RedisExec = (args: string[], opts?: { signal?: AbortSignal }) => Promise<unknown>;

export interface RedisSessionStoreOptions {
  /** Raw command sender; see {@link ioredisExec} and {@link upstashExec}. */
  exec: RedisExec;
  /** Key prefix (default "nen:"). Keys are `{prefix}{<sid>}:s` and `{prefix}{<sid>}:n:<nonce>`. */
  prefix?: string;
  /** Time limit of one command in ms (default 5000). */
  timeoutMs?: number;
  /** Called by close(), e.g. to quit the connection the store owns. */
  onClose?: () => Promise<void> | void;
  /**
   * Redis Cluster (default false). A session and its nonces share one hash tag, so every script
   * but rotate touches one slot. Rotate moves a session to a new id, which hashes to another slot,
   * and Cluster refuses a script across slots (CROSSSLOT); with `cluster: true` rotate is two
   * single-slot steps instead (nen.md section 8): take the old entry (compare-and-set on the
   * generation), then create the new one. It fails closed: if the second step fails the session
   * is gone and the client opens a new one; the old id never becomes valid again.
   */
  cluster?: boolean;
}

// KEYS[1] session. ARGV gen, data, seen, ttl.
const CREATE = `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'g', ARGV[1], 'd', ARGV[2], 's', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

// KEYS[1] old session, KEYS[2] new session. ARGV expected gen, new gen, data, ttl.
const REPLACE = `local g = redis.call('HGET', KEYS[1], 'g')
if not g or g ~= ARGV[1] then return 0 end
local s = redis.call('HGET', KEYS[1], 's')
if KEYS[1] ~= KEYS[2] then
  if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[2], 'g', ARGV[2], 'd', ARGV[3], 's', s)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1`;

// Cluster rotate, step 1, on the old slot. KEYS[1] old session. ARGV expected gen.
// Deletes the entry and returns its last-seen, or false when the generation does not match.
const TAKE = `local g = redis.call('HGET', KEYS[1], 'g')
if not g or g ~= ARGV[1] then return false end
local s = redis.call('HGET', KEYS[1], 's')
redis.call('DEL', KEYS[1])
return s`;

// KEYS[1] nonce, KEYS[2] session. ARGV nonce ttl, now, session ttl.
const ADMIT = `if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then
  local s = tonumber(redis.call('HGET', KEYS[2], 's') or '0')
  if tonumber(ARGV[2]) > s then redis.call('HSET', KEYS[2], 's', ARGV[2]) end
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1`;

const SID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Redis store. Works with Redis >= 6 and with Redis-compatible servers that run Lua. */
export class RedisSessionStore implements SessionStore {
  readonly #exec: RedisExec;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #onClose: (() => Promise<void> | void) | undefined;
  readonly #cluster: boolean;
  readonly #stats = { commands: 0, errors: 0, replays: 0, rotateLost: 0 };
  #closed = false;

  constructor(opts: RedisSessionStoreOptions) {
    if (typeof opts?.exec !== 'function') throw new TypeError('exec must be a function');
    this.#exec = opts.exec;
    this.#prefix = opts.prefix ?? 'nen:';
    if (typeof this.#prefix !== 'string' || this.#prefix.length > 64) throw new TypeError('prefix must be a short string');
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#onClose = opts.onClose;
    if (opts.cluster !== undefined && typeof opts.cluster !== 'boolean') throw new TypeError('cluster must be a boolean');
    this.#cluster = opts.cluster ?? false;
  }

  #skey(sid: string): string {
    if (!SID_RE.test(sid)) throw new NenSessionError('ISO-2001');
    // The hash tag keeps a session and its nonces in one cluster slot (one Lua script touches both).
    return `${this.#prefix}{${sid}}:s`;
  }

  async #run(args: string[]): Promise<unknown> {
    if (this.#closed) throw new NenSessionError('ISO-2005', { message: 'store closed' });
    this.#stats.commands++;
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          ac.abort();
          reject(new NenSessionError('ISO-2005', { message: 'session store timed out' }));
        }, this.#timeoutMs);
      });
      return await Promise.race([this.#exec(args, { signal: ac.signal }), timeout]);
    } catch (e) {
      this.#stats.errors++;
      if (e instanceof NenSessionError) throw e;
      throw new NenSessionError('ISO-2005', { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  async create(sid: string, gen: number, data: Uint8Array, lastSeen: number, ttlMs: number): Promise<boolean> {
    const r = await this.#run(['EVAL', CREATE, '1', this.#skey(sid), String(gen), toBase64url(data), String(lastSeen), String(ttl(ttlMs))]);
    return Number(r) === 1;
  }

  async get(sid: string): Promise<StoredSession | undefined> {
    const r = await this.#run(['HMGET', this.#skey(sid), 'g', 'd', 's']);
    if (!Array.isArray(r) || r.length !== 3) throw new NenSessionError('ISO-2005', { message: 'unexpected store reply' });
    const [g, d, s] = r.map((x) => (x === null || x === undefined ? null : String(x)));
    if (g == null || d == null || s == null) return undefined;
    let data: Uint8Array;
    try {
      data = fromBase64url(d);
    } catch {
      throw new NenSessionError('ISO-2005', { message: 'corrupted store entry' });
    }
    const gen = Number(g);
    const lastSeen = Number(s);
    if (!Number.isSafeInteger(gen) || !Number.isSafeInteger(lastSeen))
      throw new NenSessionError('ISO-2005', { message: 'corrupted store entry' });
    return { data, gen, lastSeen };
  }

  async replace(sid: string, expectedGen: number, next: NextSession, ttlMs: number): Promise<boolean> {
    if (this.#cluster && next.sid !== sid) return this.#move(sid, expectedGen, next, ttlMs);
    const r = await this.#run([
      'EVAL',
      REPLACE,
      '2',
      this.#skey(sid),
      this.#skey(next.sid),
      String(expectedGen),
      String(next.gen),
      toBase64url(next.data),
      String(ttl(ttlMs)),
    ]);
    return Number(r) === 1;
  }

  /** Cluster rotate: two single-slot steps (see {@link RedisSessionStoreOptions.cluster}). */
  async #move(sid: string, expectedGen: number, next: NextSession, ttlMs: number): Promise<boolean> {
    const oldKey = this.#skey(sid);
    const newKey = this.#skey(next.sid);
    const seen = await this.#run(['EVAL', TAKE, '1', oldKey, String(expectedGen)]);
    if (seen === null || seen === undefined || seen === false || seen === 0) return false;
    let created: unknown;
    try {
      created = await this.#run(['EVAL', CREATE, '1', newKey, String(next.gen), toBase64url(next.data), String(seen), String(ttl(ttlMs))]);
    } catch (e) {
      this.#stats.rotateLost++;
      throw e;
    }
    if (Number(created) !== 1) {
      // The new id is taken (a 128-bit collision, or a retried step): the session is lost, closed.
      this.#stats.rotateLost++;
      return false;
    }
    return true;
  }

  async delete(sid: string): Promise<boolean> {
    return Number(await this.#run(['DEL', this.#skey(sid)])) === 1;
  }

  async admit(sid: string, nonce: string, now: number, nonceTtlMs: number, sessionTtlMs: number): Promise<AdmitResult> {
    if (!SID_RE.test(nonce)) throw new TypeError('nonce must be base64url');
    const r = await this.#run([
      'EVAL',
      ADMIT,
      '2',
      `${this.#prefix}{${sid}}:n:${nonce}`,
      this.#skey(sid),
      String(ttl(nonceTtlMs)),
      String(now),
      String(ttl(sessionTtlMs)),
    ]);
    if (Number(r) === 1) return 'ok';
    this.#stats.replays++;
    return 'replay';
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#onClose?.();
  }

  getStats(): Record<string, number> {
    return { ...this.#stats };
  }
}

function ttl(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

/** The part of an ioredis client the store uses. */
export interface IoredisLike {
  call(command: string, ...args: string[]): Promise<unknown>;
}

/** Command sender over an ioredis client: `new RedisSessionStore({ exec: ioredisExec(redis) })`. */
export function ioredisExec(client: IoredisLike): RedisExec {
  if (typeof client?.call !== 'function') throw new TypeError('client must be an ioredis client');
  return ([cmd, ...rest]) => client.call(cmd as string, ...rest);
}

export interface UpstashOptions {
  /** REST URL of the database, e.g. https://<db>.upstash.io */
  url: string;
  /** REST token (sent as a bearer token). */
  token: string;
  /** fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
}

/**
 * Command sender over Upstash's REST API: POST the command as a JSON array to the database URL,
 * read `{ result }` or `{ error }`. Uses only `fetch`, so it runs on edge runtimes.
 */
export function upstashExec(opts: UpstashOptions): RedisExec {
  if (typeof opts?.url !== 'string' || !/^https?:\/\//.test(opts.url)) throw new TypeError('url must be an http(s) URL');
  if (typeof opts.token !== 'string' || opts.token.length === 0) throw new TypeError('token must be a non-empty string');
  const f = opts.fetch ?? globalThis.fetch;
  const url = opts.url;
  const auth = `Bearer ${opts.token}`;
  return async (args, o) => {
    const res = await f(url, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(args),
      ...(o?.signal ? { signal: o.signal } : {}),
    });
    const text = await res.text();
    let body: { result?: unknown; error?: unknown };
    try {
      body = JSON.parse(text) as { result?: unknown; error?: unknown };
    } catch {
      throw new Error(`upstash: HTTP ${res.status} with a non-JSON body`);
    }
    if (!res.ok || body.error !== undefined) throw new Error(`upstash: HTTP ${res.status}`);
    return body.result;
  };
}

/** Upstash REST store: a {@link RedisSessionStore} whose commands go over `fetch`. */
export function createUpstashStore(opts: UpstashOptions & { prefix?: string; timeoutMs?: number }): RedisSessionStore {
  return new RedisSessionStore({
    exec: upstashExec(opts),
    ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
}
