// Argument checks (habit 2): wrong type -> TypeError, wrong length -> RangeError, naming the
// argument. Never echo the value: it may be a key.

export function abytes(value: unknown, name: string, ...lengths: number[]): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describe(value)}`);
  }
  if (lengths.length > 0 && !lengths.includes(value.length)) {
    throw new RangeError(`${name} must be ${lengths.join(' or ')} bytes, got ${value.length}`);
  }
}

export function aoptbytes(value: unknown, name: string): asserts value is Uint8Array | undefined {
  if (value !== undefined) abytes(value, name);
}

export function aint(value: unknown, name: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`${name} must be in [${min}, ${max}], got ${value}`);
}

export function astring(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describe(value)}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
