// SafeJsonParser (seed 001 "Message Validator"; SPEC section 3): JSON parsing with limits on
// size, depth, array length, string length and keys per object, enforced by a linear pre-scan
// before JSON.parse allocates anything, and with prototype-reaching keys dropped.
import { FORBIDDEN_KEYS, SAFE_JSON_DEFAULTS } from './constants.js';
import { optInt, readOptions, utf8Length } from './options.js';

/** A JSON value as produced by the parser. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Stable codes of a failed parse. */
export type SafeJsonErrorCode =
  | 'invalid_input'
  | 'too_large'
  | 'invalid_utf8'
  | 'syntax'
  | 'too_deep'
  | 'array_too_long'
  | 'too_many_keys'
  | 'string_too_long'
  | 'invalid_number';

/** Result of {@link SafeJsonParser.parse} (seed 001 shape `{ success, data | error }`). */
export type SafeJsonResult = SafeJsonSuccess | SafeJsonFailure;

/** A successful parse. */
export interface SafeJsonSuccess {
  success: true;
  data: JsonValue;
  /** How many `__proto__`/`constructor`/`prototype` keys were dropped. */
  droppedKeys: number;
}

/** A failed parse. */
export interface SafeJsonFailure {
  success: false;
  /** Human-readable cause. */
  error: string;
  code: SafeJsonErrorCode;
}

/** Options of {@link SafeJsonParser}; defaults in `SAFE_JSON_DEFAULTS`. */
export interface SafeJsonParserOptions {
  /** Maximum nesting of arrays and objects (a top-level scalar is depth 0). At most 1000. */
  maxDepth?: number;
  maxArrayLength?: number;
  /** Maximum length of any string or key, in UTF-16 code units after unescaping. */
  maxStringLength?: number;
  /** Maximum keys per object. */
  maxKeys?: number;
  /** Maximum input size in UTF-8 bytes. */
  maxSize?: number;
}

const FORBIDDEN = new Set(FORBIDDEN_KEYS);

class Limit {
  constructor(
    readonly code: SafeJsonErrorCode,
    readonly error: string,
  ) {}
}

const fail = (code: SafeJsonErrorCode, error: string): SafeJsonResult => ({ success: false, error, code });

/**
 * JSON parser for untrusted input. `parse` never throws: every failure is a
 * `{ success: false, error, code }` result.
 *
 * Keys `__proto__`, `constructor` and `prototype` are removed from every object (at any depth),
 * so copying the result with `Object.assign` or a recursive merge cannot reach a prototype.
 * Values that merely contain those words are untouched.
 */
export class SafeJsonParser {
  readonly #maxDepth: number;
  readonly #maxArray: number;
  readonly #maxString: number;
  readonly #maxKeys: number;
  readonly #maxSize: number;
  /** Scratch per nesting level: commas seen, and 1 for an array or 0 for an object. */
  readonly #counts: Uint32Array;
  readonly #kinds: Uint8Array;
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(options?: SafeJsonParserOptions) {
    const C = 'SafeJsonParser';
    const o = readOptions(options, C);
    const d = SAFE_JSON_DEFAULTS;
    this.#maxDepth = optInt(o, C, 'maxDepth', d.maxDepth, 1, 1000);
    this.#maxArray = optInt(o, C, 'maxArrayLength', d.maxArrayLength, 0);
    this.#maxString = optInt(o, C, 'maxStringLength', d.maxStringLength, 0);
    this.#maxKeys = optInt(o, C, 'maxKeys', d.maxKeys, 0);
    this.#maxSize = optInt(o, C, 'maxSize', d.maxSize, 1);
    this.#counts = new Uint32Array(this.#maxDepth + 2);
    this.#kinds = new Uint8Array(this.#maxDepth + 2);
  }

  /** The limits in force. */
  get limits(): Required<SafeJsonParserOptions> {
    return {
      maxDepth: this.#maxDepth,
      maxArrayLength: this.#maxArray,
      maxStringLength: this.#maxString,
      maxKeys: this.#maxKeys,
      maxSize: this.#maxSize,
    };
  }

  /** Parses a JSON text given as a string or UTF-8 bytes. */
  parse(raw: string | Uint8Array): SafeJsonResult {
    try {
      let text: string;
      if (typeof raw === 'string') {
        // UTF-8 is never shorter than UTF-16 code units, so long inputs fail before counting.
        if (raw.length > this.#maxSize || (raw.length * 3 > this.#maxSize && utf8Length(raw) > this.#maxSize)) {
          return fail('too_large', `input exceeds ${this.#maxSize} bytes`);
        }
        text = raw;
      } else if (raw instanceof Uint8Array) {
        if (raw.byteLength > this.#maxSize) return fail('too_large', `input exceeds ${this.#maxSize} bytes`);
        try {
          text = this.#decoder.decode(raw);
        } catch {
          return fail('invalid_utf8', 'input is not valid UTF-8');
        }
      } else {
        return fail('invalid_input', 'input must be a string or a Uint8Array');
      }
      const limit = this.#scan(text);
      if (limit) return fail(limit.code, limit.error);
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        return fail('syntax', 'input is not valid JSON');
      }
      const dropped = { n: 0 };
      this.#clean(data, dropped);
      return { success: true, data: data as JsonValue, droppedKeys: dropped.n };
    } catch (e) {
      if (e instanceof Limit) return fail(e.code, e.error);
      return fail('syntax', 'input could not be parsed');
    }
  }

  /**
   * Counts nesting and commas per container over the raw text, skipping string contents. Exact
   * for valid JSON; for invalid JSON JSON.parse rejects afterwards anyway.
   */
  #scan(s: string): Limit | undefined {
    const counts = this.#counts;
    const isArray = this.#kinds;
    let depth = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 34) {
        // Skip to the closing quote; a backslash escapes the next code unit.
        for (i++; i < s.length; i++) {
          const d = s.charCodeAt(i);
          if (d === 92) i++;
          else if (d === 34) break;
        }
      } else if (c === 91 || c === 123) {
        if (++depth > this.#maxDepth) return new Limit('too_deep', `nesting exceeds ${this.#maxDepth}`);
        counts[depth] = 0;
        isArray[depth] = c === 91 ? 1 : 0;
      } else if (c === 93 || c === 125) {
        if (depth > 0) depth--;
      } else if (c === 44 && depth > 0) {
        const n = (counts[depth] as number) + 1;
        counts[depth] = n;
        if (isArray[depth]) {
          if (n >= this.#maxArray) return new Limit('array_too_long', `an array exceeds ${this.#maxArray} elements`);
        } else if (n >= this.#maxKeys) return new Limit('too_many_keys', `an object exceeds ${this.#maxKeys} keys`);
      }
    }
    return undefined;
  }

  /** Enforces limits the scan cannot see (unescaped lengths, numbers) and drops forbidden keys. */
  #clean(v: unknown, dropped: { n: number }): void {
    if (typeof v === 'string') {
      if (v.length > this.#maxString) throw new Limit('string_too_long', `a string exceeds ${this.#maxString} characters`);
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new Limit('invalid_number', 'a number is out of the finite double range');
    } else if (Array.isArray(v)) {
      // The scan bounds element counts, except one-element arrays when maxArrayLength is 0.
      if (v.length > this.#maxArray) throw new Limit('array_too_long', `an array exceeds ${this.#maxArray} elements`);
      for (const x of v) this.#clean(x, dropped);
    } else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length > this.#maxKeys) throw new Limit('too_many_keys', `an object exceeds ${this.#maxKeys} keys`);
      for (const k of keys) {
        if (k.length > this.#maxString) throw new Limit('string_too_long', `a key exceeds ${this.#maxString} characters`);
        if (FORBIDDEN.has(k)) {
          // JSON.parse made these own data properties; deleting the own property is safe.
          delete o[k];
          dropped.n++;
        } else this.#clean(o[k], dropped);
      }
    }
  }
}
