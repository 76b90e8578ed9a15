// Option and argument checks shared by every class (SPEC section 2, "Errors": bad input gets a
// clear typed error and changes no state).
import { InvalidArgumentError, InvalidOptionsError } from './errors.js';

/** A clock in milliseconds since the epoch; injectable so tests use a fake clock (house rule 4). */
export type Clock = () => number;

/** A pino-compatible logger; every method optional. The package is silent without one. */
export interface Logger {
  debug?(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
  warn?(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}

export function readOptions(options: unknown, cls: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionsError(`${cls}: options must be an object`);
  }
  return options as Record<string, unknown>;
}

export function optInt(
  o: Record<string, unknown>,
  cls: string,
  name: string,
  def: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidOptionsError(`${cls}: ${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

export function optNum(o: Record<string, unknown>, cls: string, name: string, def: number, min: number, max = Number.MAX_VALUE): number {
  const v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new InvalidOptionsError(`${cls}: ${name} must be a finite number in [${min}, ${max}]`);
  }
  return v;
}

export function optBool(o: Record<string, unknown>, cls: string, name: string, def: boolean): boolean {
  const v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw new InvalidOptionsError(`${cls}: ${name} must be a boolean`);
  return v;
}

export function optClock(o: Record<string, unknown>, cls: string): Clock {
  const v = o.now;
  if (v === undefined) return Date.now;
  if (typeof v !== 'function') throw new InvalidOptionsError(`${cls}: now must be a function returning milliseconds`);
  return v as Clock;
}

export function optLogger(o: Record<string, unknown>, cls: string): Logger | undefined {
  const v = o.logger;
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object') throw new InvalidOptionsError(`${cls}: logger must be an object`);
  return v as Logger;
}

export function argInt(v: unknown, cls: string, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(`${cls}: ${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

export function argNum(v: unknown, cls: string, name: string, min: number, max = Number.MAX_VALUE): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new InvalidArgumentError(`${cls}: ${name} must be a finite number in [${min}, ${max}]`);
  }
  return v;
}

export function argString(v: unknown, cls: string, name: string, maxLength: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) {
    throw new InvalidArgumentError(`${cls}: ${name} must be a non-empty string of at most ${maxLength} characters`);
  }
  return v;
}

/** True for a non-empty string within `maxLength` UTF-16 code units. */
export function isKey(v: unknown, maxLength: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= maxLength;
}

/** UTF-8 byte length of a string without encoding it (lone surrogates count 3, as TextEncoder writes U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
