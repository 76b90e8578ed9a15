/**
 * `@yak/nen/node`: Node `http` and Express adapters for the web-standard Nen server.
 *
 * - {@link toNodeListener} turns any `Request -> Response` handler (such as
 *   `server.withNen(app)`) into a `(req, res)` listener for `http.createServer`.
 * - {@link nenExpress} is Express/Connect middleware: it serves the protocol routes, verifies and
 *   decrypts application requests (setting `req.body`, `req.headers` and `req.nen`), and encrypts
 *   whatever the route writes with `res.json`, `res.send`, `res.write`/`res.end` (streams too).
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { NenError } from './errors.js';
import { BodyTooLarge, isNullBodyStatus } from './http.js';
import { type Incoming, NEN_FAST, type NenContext, type NenFastPath, type NenServer } from './server.js';

export interface NodeAdapterOptions {
  /** Origin used to build the Request URL (default `http://<Host header>`). Only the path is MACed. */
  origin?: string;
}

function requestUrl(req: IncomingMessage, opts: NodeAdapterOptions): URL {
  const path = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  return new URL(path, opts.origin ?? `http://${req.headers.host ?? 'localhost'}`);
}

/** An AbortSignal that fires when the client goes away before the response finished. */
function clientGone(res: ServerResponse | undefined): AbortSignal {
  const ac = new AbortController();
  res?.once('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}

/**
 * Read a Node request body, refusing more than `max` bytes: a declared Content-Length above it
 * before reading anything, otherwise as soon as the running total passes it.
 */
function readNodeBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let total = 0;
    const done = (err?: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) {
        // Stop reading; Node drops the rest of the body with the connection after the answer.
        req.pause();
        reject(err);
        return;
      }
      resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total));
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > max) done(new BodyTooLarge());
      else parts.push(chunk);
    };
    const onEnd = () => done();
    const onError = (e: Error) => done(e);
    const onClose = () => done(new Error('request closed before its body ended'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * The body was refused part-way: answer, then close the connection instead of reading the rest
 * of an upload that may never end (Node sends `Connection: close` and ends the socket).
 */
function refuseUpload(res: ServerResponse): void {
  res.shouldKeepAlive = false;
}

/** The protocol core's view of a Node request, without building a web Request. */
function nodeIncoming(req: IncomingMessage, res: ServerResponse, url: URL): Incoming {
  let signal: AbortSignal | undefined;
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    url,
    header(name) {
      const v = req.headers[name];
      if (v === undefined) return null;
      return Array.isArray(v) ? v.join(', ') : v;
    },
    body: (max) =>
      readNodeBody(req, max).catch((e: unknown) => {
        if (e instanceof BodyTooLarge) refuseUpload(res);
        throw e;
      }),
    // Built on first use: most handlers never look at ctx.signal, and a signal plus a close
    // listener per request is a measurable part of a small request's cost.
    get signal() {
      signal ??= clientGone(res);
      return signal;
    },
  };
}

/** Convert a Node request to a web Request (streamed body, aborted when the client goes away). */
export function toWebRequest(req: IncomingMessage, res?: ServerResponse, opts: NodeAdapterOptions = {}): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) headers.append(k, x);
    else headers.set(k, v);
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal: clientGone(res) };
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return new Request(requestUrl(req, opts), init);
}

/** Write a web Response to a Node response, streaming with backpressure. */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((v, k) => {
    if (k !== 'set-cookie') headers[k] = v;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies;
  await writeOut(res, response, headers, res.writeHead.bind(res), res.write.bind(res), res.end.bind(res));
}

type WriteHead = (status: number, headers: Record<string, string | string[]>) => unknown;
type Write = (chunk: Uint8Array, cb?: (err?: Error | null) => void) => boolean;
type End = (cb?: () => void) => unknown;

async function writeOut(
  res: ServerResponse,
  response: Response,
  headers: Record<string, string | string[]>,
  writeHead: WriteHead,
  write: Write,
  end: End,
): Promise<void> {
  writeHead(response.status, headers);
  if (!response.body) {
    end();
    return;
  }
  const reader = response.body.getReader();
  const onClose = () => void reader.cancel().catch(() => {});
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!write(value)) await new Promise<void>((r) => res.once('drain', r));
      // Server-sent events must reach the client now, not when a buffer fills.
      (res as ServerResponse & { flush?: () => void }).flush?.();
    }
    end();
  } catch {
    res.destroy();
  } finally {
    res.off('close', onClose);
  }
}

/** A `(req, res)` listener for `http.createServer` running a web-standard handler. */
export function toNodeListener(
  handler: (request: Request) => Promise<Response>,
  opts: NodeAdapterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  if (typeof handler !== 'function') throw new TypeError('handler must be a function');
  // A `withNen` handler is served straight from the Node request: the body is read from the
  // socket stream and a buffered answer is written as it is, with no web Request or Response
  // in between (the application's own Request and Response are still built).
  const fast = (handler as { [NEN_FAST]?: NenFastPath })[NEN_FAST];
  return (req, res) => {
    const run = async () => {
      if (fast) {
        const url = requestUrl(req, opts);
        if (!fast.isProtocol(url)) {
          const out = await fast.serve(nodeIncoming(req, res, url));
          if (out instanceof Response) await sendWebResponse(res, out);
          else res.writeHead(out.status, out.headers).end(out.body);
          return;
        }
      }
      await sendWebResponse(res, await handler(toWebRequest(req, res, opts)));
    };
    run().catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
      } else res.destroy();
    });
  };
}

/** Express/Connect request after {@link nenExpress}: `req.nen` holds the session facts. */
export interface NenExpressRequest extends IncomingMessage {
  nen?: NenContext;
  body?: unknown;
}

type Next = (err?: unknown) => void;

/**
 * Express/Connect middleware. Mount it before body parsers (it reads the body itself and marks it
 * parsed). Only the headers inside the encrypted envelope reach the routes.
 */
export function nenExpress(
  server: NenServer,
  opts: NodeAdapterOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  if (!server || typeof server.unwrap !== 'function') throw new TypeError('server must be a NenServer');
  return (req, res, next) => {
    const run = async () => {
      const request = toWebRequest(req, res, opts);
      if (server.isProtocolRequest(request)) {
        await sendWebResponse(res, await server.handle(request));
        return;
      }
      const u = await server.unwrap(request);
      if (!u.ok) {
        if (u.error.code === 'ISO-4003') refuseUpload(res);
        await sendWebResponse(res, u.response);
        return;
      }
      const r = req as NenExpressRequest & { _body?: boolean };
      let json: unknown;
      try {
        json = u.context.json;
      } catch (e) {
        if (!(e instanceof NenError)) throw e;
        await sendWebResponse(res, u.fail(e));
        return;
      }
      r.nen = u.context;
      r.body = json !== undefined ? json : Buffer.from(u.context.body);
      // body-parser skips requests already marked as parsed.
      r._body = true;
      const inner: Record<string, string> = {};
      u.request.headers.forEach((v, k) => {
        inner[k] = v;
      });
      if (req.headers.host) inner.host = req.headers.host;
      req.headers = inner;
      encryptResponse(res, u.wrap);
      next();
    };
    run().catch(next);
  };
}

/**
 * Capture what a route writes (status, headers, chunks) into a web Response, encrypt it with
 * `wrap`, and send the result with the original methods. Chunks flow as they are written, so a
 * streaming route becomes an encrypted stream.
 */
function encryptResponse(res: ServerResponse, wrap: (r: Response) => Promise<Response>): void {
  const origWriteHead = res.writeHead.bind(res) as WriteHead;
  const origWrite = res.write.bind(res) as Write;
  const origEnd = res.end.bind(res) as End;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  let started = false;
  let closed = false;
  let finished: Promise<void> = Promise.resolve();

  const start = () => {
    if (started) return;
    started = true;
    const status = res.statusCode;
    const headers = new Headers();
    for (const name of res.getHeaderNames()) {
      const v = res.getHeader(name);
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) headers.append(name, String(x));
      else headers.set(name, String(v));
      res.removeHeader(name);
    }
    const inner = new Response(isNullBodyStatus(status) ? null : body, { status: status >= 200 && status <= 599 ? status : 500, headers });
    finished = wrap(inner).then(
      (outer) => {
        const h: Record<string, string | string[]> = {};
        outer.headers.forEach((v, k) => {
          h[k] = v;
        });
        return writeOut(res, outer, h, origWriteHead, origWrite, origEnd);
      },
      () => {
        res.destroy();
      },
    );
  };

  const toBytes = (chunk: unknown, encoding?: unknown): Uint8Array => {
    if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    if (chunk instanceof Uint8Array) return Uint8Array.from(chunk);
    throw new TypeError('chunk must be a string or Uint8Array');
  };

  const patched = res as unknown as Record<string, unknown>;
  patched.writeHead = (code: number, a?: unknown, b?: unknown) => {
    res.statusCode = code;
    const h = (typeof a === 'object' && a !== null ? a : b) as Record<string, string | number | string[]> | string[] | undefined;
    if (Array.isArray(h)) for (let i = 0; i + 1 < h.length; i += 2) res.setHeader(h[i] as string, h[i + 1] as string);
    else if (h) for (const [k, v] of Object.entries(h)) res.setHeader(k, v);
    return res;
  };
  patched.flushHeaders = () => start();
  patched.write = (chunk: unknown, encoding?: unknown, cb?: unknown) => {
    start();
    if (!closed) controller.enqueue(toBytes(chunk, encoding));
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
    return true;
  };
  patched.end = (chunk?: unknown, encoding?: unknown, cb?: unknown) => {
    let done = cb;
    if (typeof chunk === 'function') {
      done = chunk;
      chunk = undefined;
    } else if (typeof encoding === 'function') done = encoding;
    start();
    if (!closed) {
      if (chunk !== undefined && chunk !== null) controller.enqueue(toBytes(chunk, encoding));
      closed = true;
      controller.close();
    }
    void finished.then(() => {
      if (typeof done === 'function') (done as () => void)();
    });
    return res;
  };
}
