// Reassembly of chunked messages (docs/protocol/annex.md section 5.2) within a per-session count
// and a byte budget shared by all sessions (SPEC section 2, "Resource bounds").
import { ANNEX_DEFAULTS } from './constants.js';
import type { AnnexCore } from './core.js';
import { bodyLength, decodeChunk } from './payload.js';
import type { Session } from './session.js';

export class Reassembly {
  /** Bytes reserved by partial messages of every session, against maxReassemblyBytes. */
  #bytes = 0;

  constructor(readonly core: AnnexCore) {}

  /** One CHUNK plaintext: reserve at the first chunk, check consistency, deliver when complete. */
  onChunk(s: Session, pt: Uint8Array): void {
    const c = this.core;
    let ch: ReturnType<typeof decodeChunk>;
    try {
      ch = decodeChunk(pt);
    } catch {
      return c.reject('malformed chunk');
    }
    const { messageId, index, count, total } = ch.header;
    if (total > bodyLength(c.o.maxPayloadBytes, true) || count > total) return c.reject('chunked message too large');
    let p = s.partial.get(messageId);
    if (!p) {
      while (s.partial.size >= ANNEX_DEFAULTS.maxPartialMessagesPerSession) {
        const [oldest, op] = s.partial.entries().next().value as [number, { total: number }];
        s.partial.delete(oldest);
        s.partialBytes -= op.total;
        this.#bytes -= op.total;
      }
      if (this.#bytes + total > c.o.maxReassemblyBytes) return c.reject('reassembly budget exhausted');
      p = { count, total, received: 0, bytes: 0, parts: new Array(count), startedAt: c.clock.now() };
      s.partial.set(messageId, p);
      s.partialBytes += total;
      this.#bytes += total;
    }
    const drop = (why: string) => {
      s.partial.delete(messageId);
      s.partialBytes -= (p as { total: number }).total;
      this.#bytes -= (p as { total: number }).total;
      c.reject(why);
    };
    if (p.count !== count || p.total !== total) return drop('inconsistent chunk header');
    if (p.parts[index] !== undefined) return drop('duplicate chunk');
    if (p.bytes + ch.data.length > p.total) return drop('chunks exceed the announced length');
    p.parts[index] = ch.data;
    p.received++;
    p.bytes += ch.data.length;
    if (p.received < p.count) return;
    s.partial.delete(messageId);
    s.partialBytes -= p.total;
    this.#bytes -= p.total;
    if (p.bytes !== p.total) return c.reject('chunks do not add up to the announced length');
    const body = new Uint8Array(p.total);
    let o = 0;
    for (const part of p.parts as Uint8Array[]) {
      body.set(part, o);
      o += part.length;
    }
    c.inbox.deliver(s, body);
  }

  /** Drop partial messages of `s` older than reassemblyTimeoutMs. */
  expire(s: Session, now: number): void {
    for (const [id, p] of [...s.partial]) {
      if (now - p.startedAt >= this.core.o.reassemblyTimeoutMs) {
        s.partial.delete(id);
        s.partialBytes -= p.total;
        this.#bytes -= p.total;
      }
    }
  }

  /** Return the budget of a session being torn down (its partials are cleared with its keys). */
  release(s: Session): void {
    for (const p of s.partial.values()) this.#bytes -= p.total;
  }
}
