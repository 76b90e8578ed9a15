import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidOptionsError, MESSAGE_SIZE_LIMITS, MessageValidator } from '../src/index.js';

const KiB = 1024;

describe('MessageValidator.validateRaw', () => {
  const v = new MessageValidator();

  it('enforces the seed limits per type at the exact boundary', () => {
    const limits = { gossip: 64 * KiB, handshake: 8 * KiB, listing: 128 * KiB, data: 512 * KiB };
    expect(MESSAGE_SIZE_LIMITS).toEqual(limits);
    for (const [type, max] of Object.entries(limits)) {
      expect(v.validateRaw('a'.repeat(max), type).valid).toBe(true);
      const over = v.validateRaw('a'.repeat(max + 1), type);
      expect(over.valid).toBe(false);
      expect(over.code).toBe('too_large');
      expect(v.validateRaw(new Uint8Array(max), type).valid).toBe(true);
      expect(v.validateRaw(new Uint8Array(max + 1), type).code).toBe('too_large');
    }
  });

  it('measures strings in UTF-8 bytes', () => {
    const v8 = new MessageValidator({ limits: { handshake: 8 } });
    expect(v8.validateRaw('€€', 'handshake').valid).toBe(true); // 6 bytes
    expect(v8.validateRaw('€€€', 'handshake').code).toBe('too_large'); // 9 bytes, 3 code units
    expect(v8.validateRaw('😀😀', 'handshake').valid).toBe(true); // 8 bytes
    expect(v8.validateRaw('😀😀a', 'handshake').code).toBe('too_large');
  });

  it('rejects unknown types, empty and non-string input', () => {
    expect(v.validateRaw('{}', 'nope').code).toBe('unknown_type');
    expect(v.validateRaw('{}', '__proto__').code).toBe('unknown_type');
    expect(v.validateRaw('{}', 'constructor').code).toBe('unknown_type');
    expect(v.validateRaw('', 'gossip').code).toBe('empty');
    expect(v.validateRaw(42 as never, 'gossip').code).toBe('invalid_input');
    expect(v.validateRaw(null as never, 'gossip').code).toBe('invalid_input');
  });

  it('limits are overridable and new types can be registered', () => {
    const custom = new MessageValidator({ limits: { gossip: 10, pulse: 100 } });
    expect(custom.validateRaw('x'.repeat(11), 'gossip').code).toBe('too_large');
    expect(custom.getLimit('pulse')).toBe(100);
    expect(custom.validateStructure({ anything: 1 }, 'pulse').valid).toBe(true);
    custom.registerType('beacon', { maxSize: 4, schema: { fields: { id: { type: 'string', required: true } } } });
    expect(custom.hasType('beacon')).toBe(true);
    expect(custom.validateRaw('12345', 'beacon').code).toBe('too_large');
    expect(custom.validateStructure({}, 'beacon').code).toBe('missing_field');
    expect(new MessageValidator({ noDefaults: true }).types()).toEqual([]);
  });

  it('never throws on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.anything(), fc.oneof(fc.string(), fc.constantFrom('gossip', 'data', '__proto__'), fc.anything()), (raw, type) => {
        const r = v.validateRaw(raw as string, type as string);
        expect(typeof r.valid).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});

describe('MessageValidator.validateStructure', () => {
  const v = new MessageValidator();
  const gossip = { type: 'gossip', id: 'm1', origin: 'node-a', payload: { x: 1 }, timestamp: 1, ttl: 5 };

  it('accepts well-formed built-in messages', () => {
    expect(v.validateStructure(gossip, 'gossip')).toEqual({ valid: true });
    expect(v.validateStructure({ type: 'hello', nodeId: 'node-a' }, 'handshake').valid).toBe(true);
    expect(v.validateStructure({ type: 'listing', id: 'l1' }, 'listing').valid).toBe(true);
    expect(v.validateStructure({ type: 'data', payload: [1, 2] }, 'data').valid).toBe(true);
  });

  it('reports missing fields, wrong types and ranges', () => {
    const { id: _id, ...noId } = gossip;
    expect(v.validateStructure(noId, 'gossip').code).toBe('missing_field');
    expect(v.validateStructure({ ...gossip, id: 5 }, 'gossip').code).toBe('wrong_type');
    expect(v.validateStructure({ ...gossip, id: '' }, 'gossip').code).toBe('out_of_range');
    expect(v.validateStructure({ ...gossip, id: 'x'.repeat(129) }, 'gossip').code).toBe('out_of_range');
    expect(v.validateStructure({ ...gossip, ttl: 256 }, 'gossip').code).toBe('out_of_range');
    expect(v.validateStructure({ ...gossip, ttl: 1.5 }, 'gossip').code).toBe('wrong_type');
    expect(v.validateStructure({ ...gossip, timestamp: -1 }, 'gossip').code).toBe('out_of_range');
  });

  it('rejects non-objects and forbidden own keys', () => {
    for (const x of [null, 1, 'str', [gossip], undefined]) expect(v.validateStructure(x, 'gossip').code).toBe('not_object');
    const polluted = JSON.parse('{"type":"gossip","id":"a","origin":"b","payload":1,"__proto__":{"admin":true}}');
    expect(v.validateStructure(polluted, 'gossip').code).toBe('forbidden_key');
  });

  it('ignores inherited properties when checking required fields', () => {
    const proto = { type: 'gossip', id: 'a', origin: 'b', payload: 1 };
    expect(v.validateStructure(Object.create(proto), 'gossip').code).toBe('missing_field');
  });

  it('can refuse unknown fields', () => {
    const strict = new MessageValidator({
      limits: { ping: 64 },
      schemas: { ping: { fields: { n: { type: 'integer' } }, allowUnknownFields: false } },
    });
    expect(strict.validateStructure({ n: 1 }, 'ping').valid).toBe(true);
    expect(strict.validateStructure({ n: 1, extra: true }, 'ping').code).toBe('unknown_field');
  });

  it('accepts union types and integer-as-number', () => {
    const u = new MessageValidator({
      limits: { u: 64 },
      schemas: { u: { fields: { a: { type: ['string', 'null'], required: true }, b: { type: 'number' } } } },
    });
    expect(u.validateStructure({ a: null, b: 3 }, 'u').valid).toBe(true);
    expect(u.validateStructure({ a: 'x', b: 3.5 }, 'u').valid).toBe(true);
    expect(u.validateStructure({ a: 1 }, 'u').code).toBe('wrong_type');
  });

  it('never throws, even on hostile objects (property)', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
        ownKeys() {
          throw new Error('boom');
        },
        getOwnPropertyDescriptor() {
          throw new Error('boom');
        },
      },
    );
    expect(v.validateStructure(hostile, 'gossip').valid).toBe(false);
    const getter = Object.defineProperty({ type: 'g', origin: 'o', payload: 1 }, 'id', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    expect(v.validateStructure(getter, 'gossip').code).toBe('invalid_input');
    fc.assert(
      fc.property(
        fc.anything({ withObjectString: true, withNullPrototype: true, withMap: true }),
        fc.constantFrom('gossip', 'handshake', 'listing', 'data', 'x'),
        (x, t) => {
          expect(typeof v.validateStructure(x, t).valid).toBe('boolean');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects malformed registrations with typed errors and keeps the old definition', () => {
    const m = new MessageValidator();
    expect(() => m.registerType('', { maxSize: 1 })).toThrow(InvalidArgumentError);
    expect(() => m.registerType('gossip', { maxSize: 0 })).toThrow(InvalidArgumentError);
    expect(() => m.registerType('gossip', { maxSize: 10, schema: { fields: { a: { type: 'date' as never } } } })).toThrow(
      InvalidArgumentError,
    );
    expect(() => m.registerType('gossip', { maxSize: 10, schema: { fields: { __proto__: { type: 'any' } } as never } })).not.toThrow();
    expect(() => m.registerType('gossip', { maxSize: 10, schema: JSON.parse('{"fields":{"__proto__":{"type":"any"}}}') })).toThrow(
      InvalidArgumentError,
    );
    expect(new MessageValidator().getLimit('gossip')).toBe(64 * KiB);
    expect(() => new MessageValidator({ limits: { gossip: -1 } })).toThrow(InvalidOptionsError);
    expect(() => new MessageValidator({ schemas: { nolimit: { fields: {} } } })).toThrow(InvalidOptionsError);
    expect(() => new MessageValidator({ limits: 5 as never })).toThrow(InvalidOptionsError);
  });
});
