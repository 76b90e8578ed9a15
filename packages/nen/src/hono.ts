/**
 * `@yak/nen/hono`: Hono middleware. Serves the protocol routes, verifies and decrypts application
 * requests (the route sees a plain `c.req` and `c.get('nen')`), and encrypts the route's response.
 * Hono is a peer dependency; only this entry point imports it (types only).
 * @packageDocumentation
 */
import type { MiddlewareHandler } from 'hono';
import { NenError } from './errors.js';
import type { NenContext, NenServer } from './server.js';

/** Hono environment fragment for typed `c.get('nen')`. */
export interface NenHonoEnv {
  Variables: { nen: NenContext };
}

/** Nen middleware for Hono: `app.use('*', nenHono(server))`. */
export function nenHono(server: NenServer): MiddlewareHandler<NenHonoEnv> {
  if (!server || typeof server.unwrap !== 'function') throw new TypeError('server must be a NenServer');
  return async (c, next) => {
    const raw = c.req.raw;
    if (server.isProtocolRequest(raw)) return server.handle(raw);
    const u = await server.unwrap(raw);
    if (!u.ok) return u.response;
    // The route reads the decrypted request through c.req (Hono reads bodies from c.req.raw).
    c.req.raw = u.request;
    c.set('nen', u.context);
    await next();
    const inner = c.res;
    // Clear first: assigning over an existing c.res makes Hono copy its (plaintext) headers
    // onto the new response.
    c.res = undefined as unknown as Response;
    // A Nen error thrown by the route (e.g. reading ctx.json of a bad body) keeps its code.
    c.res = c.error instanceof NenError ? u.fail(c.error) : await u.wrap(inner);
  };
}
