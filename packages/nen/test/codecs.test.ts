// Codecs (house rule 5): round trips, size limits and fast-check fuzzing. Decoders must answer
// garbage with a NenError (or a TypeError for wrong argument types), never anything else.

import { hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBase64url, hybridKem, NodeIdentity, randomBytes, toBase64url } from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalPath } from '../src/client-core.js';
import { LABEL } from '../src/constants.js';
import {
  decodeClientHello,
  decodeServerHello,
  decodeStatus,
  deriveKeys,
  encodeClientHello,
  encodeServerHello,
  encodeStatus,
} from '../src/handshake.js';
import {
  createNenClient,
  createNenServer,
  decodeKeyConfig,
  encodeKeyConfig,
  keyConfigId,
  NEN_ERRORS,
  NenError,
  signKeyConfig,
  verifyKeyConfig,
} from '../src/index.js';
import { decodeRecord, encodeRecord } from '../src/session.js';
import { FrameOpener, FrameSealer } from '../src/stream.js';
import {
  b64,
  b64ViaBtoa,
  decodeRequestEnvelope,
  decodeResponseEnvelope,
  decodeSealedBody,
  decodeSealedHeader,
  encodeRequestEnvelope,
  encodeResponseEnvelope,
  encodeSealedBody,
  encodeSealedHeader,
  fromB64ViaAtob,
  unb64,
} from '../src/wire.js';
import { BASE, expectCode, FakeClock, serverIdentity } from './helpers.js';

const onlyNenErrors = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof NenError)) throw e;
  }
};

const header = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), fc.stringMatching(/^[ -~]{0,40}$/));

describe('envelopes', () => {
  it('request and response envelopes round-trip', () => {
    fc.assert(
      fc.property(
        fc.array(header, { maxLength: 8 }),
        fc.uint8Array({ maxLength: 512 }),
        fc.integer({ min: 200, max: 599 }),
        (headers, body, status) => {
          expect(decodeRequestEnvelope(encodeRequestEnvelope({ headers, body }))).toEqual({ headers, body });
          expect(decodeResponseEnvelope(encodeResponseEnvelope({ status, headers, body }))).toEqual({ status, headers, body });
        },
      ),
    );
  });

  it('garbage and bad fields are refused with ISO-4004', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (b) => {
        onlyNenErrors(() => decodeRequestEnvelope(b));
        onlyNenErrors(() => decodeResponseEnvelope(b));
      }),
    );
    expect(() => encodeResponseEnvelope({ status: 199, headers: [], body: new Uint8Array() })).toThrow(RangeError);
    expect(() => decodeResponseEnvelope(Uint8Array.of(2, 0, 199, 0, 0))).toThrow(NenError);
    expect(() => decodeResponseEnvelope(Uint8Array.of(1, 0, 0))).toThrow(NenError);
    expect(() => decodeRequestEnvelope(Uint8Array.of(1, 0, 200))).toThrow(NenError);
    expect(() => decodeRequestEnvelope(Uint8Array.of(1, 0, 1, 5, 120))).toThrow(NenError);
    expect(() => decodeRequestEnvelope(encodeRequestEnvelope({ headers: [['bad name', 'x']], body: new Uint8Array() }))).toThrow(NenError);
    expect(() => decodeRequestEnvelope(encodeRequestEnvelope({ headers: [['x', 'a\r\nInjected: 1']], body: new Uint8Array() }))).toThrow(
      NenError,
    );
    const many = Array.from({ length: 200 }, (_, i) => [`h${i}`, 'v'] as [string, string]);
    expect(() => encodeRequestEnvelope({ headers: many, body: new Uint8Array() })).toThrow(RangeError);
  });
});

describe('base64url', () => {
  it('native fast path agrees with @yak/crypto and stays strict', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        expect(b64(b)).toBe(toBase64url(b));
        expect(b64ViaBtoa(b)).toBe(toBase64url(b));
        expect(unb64(b64(b), 'ISO-4002')).toEqual(b);
        expect(fromB64ViaAtob(toBase64url(b))).toEqual(b);
      }),
    );
    // Decoding then re-encoding agrees with @yak/crypto's strict decoder: both accept a string or
    // both refuse it. Returns the reference result.
    const agreesWithReference = (s: string): string | undefined => {
      let ours: string | undefined;
      let ref: string | undefined;
      try {
        ours = b64(unb64(s, 'ISO-4002'));
      } catch {}
      try {
        ref = toBase64url(fromBase64url(s));
      } catch {}
      expect(ours).toBe(ref);
      return ref;
    };
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const ref = agreesWithReference(s);
        let viaAtob: string | undefined;
        try {
          viaAtob = toBase64url(fromB64ViaAtob(s));
        } catch {}
        expect(viaAtob).toBe(ref);
      }),
    );
    // Strings over the alphabet itself, around the 64-character switch to the Buffer decoder:
    // every length class and tail, accepted exactly when the reference decoder accepts them.
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{0,70}$/), (s) => {
        agreesWithReference(s);
      }),
      { numRuns: 500 },
    );
    // Wrong length, padding, non-zero trailing bits, the standard alphabet.
    for (const bad of ['A', 'AB=', 'AB', 'AAB', 'a+b/', 'AAAA====']) {
      let threw = false;
      try {
        unb64(bad, 'ISO-4002');
      } catch {
        threw = true;
      }
      expect(threw, bad).toBe(true);
    }
  });
});

describe('sealed payload', () => {
  it('body and header forms round-trip', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.uint8Array({ minLength: 16, maxLength: 300 }), (n, ct) => {
        expect(decodeSealedBody(encodeSealedBody({ n, ct }))).toEqual({ n, ct });
        expect(decodeSealedHeader(encodeSealedHeader({ n, ct }))).toEqual({ n, ct });
      }),
    );
  });

  it('fuzzed text yields ISO-4002 only', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        for (const f of [decodeSealedBody, decodeSealedHeader]) {
          try {
            f(s);
          } catch (e) {
            expect((e as NenError).code).toBe('ISO-4002');
          }
        }
      }),
    );
    expect(() => decodeSealedBody('{"ct":"AAAA","n":"AAAAAAAAAAAAAAAA","x":1}')).toThrow(NenError);
  });
});

describe('handshake messages', () => {
  const eph = hybridKem.generateKeyPair();
  const enc = hybridKem.encapsulate(eph.publicKey);
  const hello = { v: 1 as const, kc: randomBytes(32), epk: eph.publicKey, ct: enc.cipherText, cn: randomBytes(16), ts: 123 };

  it('round-trip', () => {
    expect(decodeClientHello(encodeClientHello(hello))).toEqual(hello);
    const sh = {
      v: 1 as const,
      sid: randomBytes(16),
      ect: enc.cipherText,
      sn: randomBytes(16),
      ts: 1,
      exp: 2,
      idle: 3,
      confirm: randomBytes(32),
    };
    expect(decodeServerHello(encodeServerHello(sh))).toEqual(sh);
    const st = { sid: 'abc', gen: 1, createdAt: 2, expiresAt: 3, idleTtlMs: 4, lastSeen: 5, clientId: null };
    expect(decodeStatus(encodeStatus(st))).toEqual(st);
  });

  it('fuzzed JSON yields ISO-1xxx only; wrong lengths are refused', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 2 }), (j) => {
        try {
          decodeClientHello(j);
        } catch (e) {
          expect((e as NenError).code).toMatch(/^ISO-100[12]$/);
        }
        onlyNenErrors(() => decodeServerHello(j));
      }),
    );
    const o = JSON.parse(encodeClientHello(hello)) as Record<string, unknown>;
    expect(() => decodeClientHello(JSON.stringify({ ...o, epk: 'AAAA' }))).toThrow(NenError);
    expect(() => decodeClientHello(JSON.stringify({ ...o, ck: o.epk }))).toThrow(NenError);
    expect(() => decodeClientHello(JSON.stringify({ ...o, ts: -1 }))).toThrow(NenError);
  });
});

describe('session records', () => {
  const rec = () => ({
    sid: randomBytes(16),
    gen: 3,
    createdAt: 1,
    expiresAt: 2,
    idleTtlMs: 3,
    keyedAt: 4,
    keys: { c2sKey: randomBytes(32), s2cKey: randomBytes(32), c2sMac: randomBytes(32), s2cMac: randomBytes(32), chain: randomBytes(32) },
    clientKey: null,
    clientId: null,
  });

  it('round-trip plain and sealed; sealed records bind the session id', () => {
    const r = rec();
    expect(decodeRecord(r.sid, encodeRecord(r))).toEqual(r);
    const key = randomBytes(32);
    const sealed = encodeRecord(r, key);
    expect(decodeRecord(r.sid, sealed, key)).toEqual(r);
    expect(() => decodeRecord(randomBytes(16), sealed, key)).toThrow(NenError);
    expect(() => decodeRecord(r.sid, sealed, randomBytes(32))).toThrow(NenError);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyNenErrors(() => decodeRecord(r.sid, b))));
  });
});

describe('stream frames', () => {
  it('round-trip in arbitrary chunkings', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 6 }), fc.integer({ min: 1, max: 50 }), (chunks, step) => {
        const key = randomBytes(32);
        const s = new FrameSealer(key.slice());
        const wire = [s.head({ status: 200, headers: [['a', 'b']] }), ...chunks.flatMap((c) => s.data(c)), s.final()];
        const all = new Uint8Array(wire.reduce((a, w) => a + w.length, 0));
        let o = 0;
        for (const w of wire) {
          all.set(w, o);
          o += w.length;
        }
        const open = new FrameOpener(key);
        const got: Uint8Array[] = [];
        for (let i = 0; i < all.length; i += step)
          for (const it of open.push(all.subarray(i, i + step))) if (it.type === 'data') got.push(it.data);
        open.end();
        expect(Buffer.concat(got)).toEqual(Buffer.concat(chunks));
      }),
    );
  });

  it('garbage yields stream errors only; oversize frame lengths are refused before buffering', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const open = new FrameOpener(randomBytes(32));
        try {
          open.push(b);
          open.end();
        } catch (e) {
          expect((e as NenError).code).toMatch(/^ISO-600[123]$/);
        }
      }),
    );
    const open = new FrameOpener(randomBytes(32));
    expect(() => open.push(Uint8Array.of(2, 0xff, 0xff, 0xff, 0xff))).toThrow(NenError);
  });
});

describe('key configuration', () => {
  const id = serverIdentity();
  const cfg = signKeyConfig(id, 1000, 2000);

  it('round-trips, verifies, and has a key id independent of signature and validity', () => {
    const bytes = encodeKeyConfig(cfg);
    expect(decodeKeyConfig(bytes)).toEqual(cfg);
    const v = verifyKeyConfig(decodeKeyConfig(bytes), { serverKey: id.nodeId }, 1500);
    expect(v.keyId).toEqual(keyConfigId(signKeyConfig(id, 5000, 9000)));
    expect(() => verifyKeyConfig(cfg, {}, 2000)).toThrow(NenError);
    expect(() => verifyKeyConfig({ ...cfg, notAfter: 3000 }, {}, 1500)).toThrow(NenError);
  });

  it('garbage, oversize and foreign suites are refused', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyNenErrors(() => decodeKeyConfig(b))));
    expect(() => decodeKeyConfig(new Uint8Array(20_000))).toThrow(NenError);
    expect(() => encodeKeyConfig({ ...cfg, aead: 'AES-128-CBC' as never })).toThrow(NenError);
    expect(() => decodeKeyConfig('x' as never)).toThrow(TypeError);
  });

  it('a pre-signed configuration is served as is; a foreign one is refused', async () => {
    const s = createNenServer({ identity: id, keyConfig: cfg, now: () => 1500 });
    expect(s.keyConfig()).toBe(cfg);
    expect(() => createNenServer({ identity: NodeIdentity.generate(), keyConfig: cfg })).toThrow(TypeError);
  });

  it('a client pinned to another server key id gets ISO-1003; re-signing keeps sessions working', async () => {
    const clock = new FakeClock();
    const other = createNenServer({ identity: NodeIdentity.generate(), now: clock.now });
    const server = createNenServer({ identity: id, now: clock.now });
    const f = ((u: string, i: RequestInit) => server.handle(new Request(u, i))) as typeof fetch;
    const pinnedElsewhere = createNenClient({
      baseUrl: BASE,
      pinnedKeyConfig: encodeKeyConfig(other.keyConfig()),
      fetch: f,
      now: clock.now,
    });
    await expectCode(pinnedElsewhere.handshake(), 'ISO-1003');
    const c = createNenClient({ baseUrl: BASE, serverKey: id.signPublicKey, fetch: f, now: clock.now });
    await c.handshake();
    const before = server.keyConfig();
    clock.advance(16 * 24 * 3600_000);
    expect(server.keyConfig()).not.toBe(before);
    await c.handshake();
  });
});

describe('catalogue and portability', () => {
  it('every code has a status, a YAK_NEN_ reason and a class by its range', () => {
    for (const [code, e] of Object.entries(NEN_ERRORS)) {
      expect(code).toMatch(/^ISO-\d{4}$/);
      expect(e.reason).toMatch(/^YAK_NEN_[A-Z_]+$/);
      expect(e.status).toBeGreaterThanOrEqual(400);
    }
    expect(NEN_ERRORS['ISO-3001'].status).toBe(401);
    expect(NEN_ERRORS['ISO-5001'].status).toBe(409);
  });

  it('the client entry point imports no Node-only module', () => {
    const src = join(dirname(fileURLToPath(import.meta.url)), '../src');
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(src, file), 'utf8');
      expect(text, file).not.toMatch(/from ['"]node:/);
      expect(text, file).not.toMatch(/\bBuffer\.|\bprocess\./);
      for (const m of text.matchAll(/from '\.\/([\w-]+)\.js'/g)) visit(`${m[1]}.ts`);
    };
    visit('client.ts');
    expect(seen.has('client-core.ts')).toBe(true);
    expect(seen.has('server.ts')).toBe(false);
  });
});

describe('request targets the client does not re-parse', () => {
  it('normalPath accepts a string only when the URL parser would give it back unchanged', () => {
    const base = new URL('http://127.0.0.1:8080/base/');
    fc.assert(
      fc.property(fc.stringMatching(/^[/?.%a-z0-9#\\ '"<>`{}@:=&+é-]{0,24}$/), (s) => {
        const fast = normalPath(s);
        if (fast === undefined) return;
        const u = new URL(s, base);
        expect(u.origin).toBe(base.origin);
        expect(u.pathname + u.search).toBe(fast);
      }),
      { numRuns: 3000 },
    );
    // Dot segments, percent escapes in the path, backslashes, protocol-relative and relative
    // references all take the full parse.
    for (const s of ['/a/../b', '/a/./b', '/a/..', '/.', '/%2e%2e/x', '/a\\b', '//evil.example/x', 'x/y', '/a b', '/a#b']) {
      expect(normalPath(s), s).toBeUndefined();
    }
    expect(normalPath('/api/items?page=2&q=a%20b')).toBe('/api/items?page=2&q=a%20b');
  });
});

describe('key schedule (nen.md section 4)', () => {
  it('every session key is HKDF-SHA256(ikm, salt = transcript, info = its label), checked with node:crypto hkdfSync', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ minLength: 1, maxLength: 200 }), (ikm, th) => {
        const { keys, confirmKey } = deriveKeys(ikm, th);
        const ref = (label: string) => new Uint8Array(hkdfSync('sha256', ikm, th, label, 32));
        expect(keys.c2sKey).toEqual(ref(LABEL.c2sKey));
        expect(keys.s2cKey).toEqual(ref(LABEL.s2cKey));
        expect(keys.c2sMac).toEqual(ref(LABEL.c2sMac));
        expect(keys.s2cMac).toEqual(ref(LABEL.s2cMac));
        expect(keys.chain).toEqual(ref(LABEL.chain));
        expect(confirmKey).toEqual(ref(LABEL.confirm));
      }),
      { numRuns: 50 },
    );
  });
});
