// MessageValidator (seed 001 "Message Validator"; SPEC section 3): per-type size limits checked
// on raw input before any parsing (amplification defense), then a structural check of the parsed
// object against a schema table that higher layers (mesh-core) extend with their own types.

import { FORBIDDEN_KEYS, MESSAGE_SIZE_LIMITS } from './constants.js';
import { InvalidArgumentError, InvalidOptionsError } from './errors.js';
import { argInt, argString, readOptions, utf8Length } from './options.js';

/** Stable codes of a failed validation. */
export type ValidationCode =
  | 'invalid_input'
  | 'unknown_type'
  | 'empty'
  | 'too_large'
  | 'not_object'
  | 'forbidden_key'
  | 'missing_field'
  | 'wrong_type'
  | 'out_of_range'
  | 'unknown_field';

/** Result of a validation (seed 001 shape `{ valid, reason }`). */
export interface ValidationResult {
  valid: boolean;
  /** Stable machine-readable cause when invalid. */
  code?: ValidationCode;
  /** Human-readable cause when invalid. */
  reason?: string;
}

/** JSON types a field may hold; `integer` is a safe integer, `any` accepts every value. */
export type FieldType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null' | 'any';

/** Rule for one field of a message. */
export interface FieldRule {
  /** One type or a list of accepted types. */
  type: FieldType | readonly FieldType[];
  /** Default false. */
  required?: boolean;
  /** Strings: maximum length in UTF-16 code units; arrays: maximum element count. */
  maxLength?: number;
  /** Strings: minimum length; arrays: minimum element count. */
  minLength?: number;
  /** Numbers: inclusive bounds. */
  min?: number;
  max?: number;
}

/** Structure of one message type. */
export interface MessageSchema {
  fields: Readonly<Record<string, FieldRule>>;
  /** Whether fields outside `fields` are accepted (default true, for forward compatibility). */
  allowUnknownFields?: boolean;
}

/** A message type: its raw size limit and optional schema. */
export interface MessageTypeDefinition {
  /** Maximum raw size in bytes (UTF-8 for strings). */
  maxSize: number;
  schema?: MessageSchema;
}

/** Options of {@link MessageValidator}. */
export interface MessageValidatorOptions {
  /** Overrides of the size limits, by type name (built-in or new). */
  limits?: Readonly<Record<string, number>>;
  /** Overrides or additions of schemas, by type name. A type named here needs a limit (built-in or in `limits`). */
  schemas?: Readonly<Record<string, MessageSchema>>;
  /** Start without the built-in types (default false). */
  noDefaults?: boolean;
}

const ID = { type: 'string', maxLength: 128, minLength: 1 } as const;
const TS = { type: 'integer', min: 0 } as const;
const TYPE = { type: 'string', required: true, minLength: 1, maxLength: 64 } as const;

/**
 * Built-in schemas (chosen: seed 001 names the types and their sizes only). Every built-in
 * message has a `type` string; unknown fields are accepted. mesh-core registers its own.
 */
export const DEFAULT_SCHEMAS: Readonly<Record<keyof typeof MESSAGE_SIZE_LIMITS, MessageSchema>> = {
  gossip: {
    fields: {
      type: TYPE,
      id: { ...ID, required: true },
      origin: { ...ID, required: true },
      payload: { type: 'any', required: true },
      timestamp: TS,
      ttl: { type: 'integer', min: 0, max: 255 },
    },
  },
  handshake: {
    fields: {
      type: TYPE,
      nodeId: { ...ID, required: true },
      timestamp: TS,
      nonce: ID,
      networkId: ID,
    },
  },
  listing: {
    fields: { type: TYPE, id: { ...ID, required: true }, owner: ID, timestamp: TS },
  },
  data: {
    fields: { type: TYPE, payload: { type: 'any' } },
  },
};

const FIELD_TYPES = new Set<FieldType>(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null', 'any']);
const FORBIDDEN = new Set(FORBIDDEN_KEYS);
const MAX_TYPE_SIZE = 64 * 1024 * 1024;
const hasOwn = (o: object, k: string) => Object.hasOwn(o, k);

interface CompiledRule {
  name: string;
  types: ReadonlySet<FieldType>;
  required: boolean;
  minLength: number;
  maxLength: number;
  min: number;
  max: number;
}

interface CompiledType {
  maxSize: number;
  rules?: readonly CompiledRule[];
  known?: ReadonlySet<string>;
}

const bad = (code: ValidationCode, reason: string): ValidationResult => ({ valid: false, code, reason });
const OK: ValidationResult = Object.freeze({ valid: true });

function typeOf(v: unknown): FieldType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  if (t === 'number') return Number.isSafeInteger(v) ? 'integer' : 'number';
  if (t === 'string' || t === 'boolean' || t === 'object') return t;
  return 'any';
}

function compileSchema(
  name: string,
  schema: unknown,
  cls: string,
  Err: typeof InvalidArgumentError | typeof InvalidOptionsError,
): CompiledRule[] {
  if (schema === null || typeof schema !== 'object') throw new Err(`${cls}: schema of '${name}' must be an object`);
  const fields = (schema as MessageSchema).fields;
  if (fields === null || typeof fields !== 'object') throw new Err(`${cls}: schema of '${name}' needs a fields object`);
  const rules: CompiledRule[] = [];
  for (const field of Object.keys(fields)) {
    const r = (fields as Record<string, FieldRule>)[field];
    if (FORBIDDEN.has(field)) throw new Err(`${cls}: field '${field}' of '${name}' is a forbidden key`);
    if (r === null || typeof r !== 'object') throw new Err(`${cls}: rule '${name}.${field}' must be an object`);
    const ts = Array.isArray(r.type) ? r.type : [r.type];
    if (ts.length === 0 || !ts.every((t) => FIELD_TYPES.has(t as FieldType)))
      throw new Err(`${cls}: rule '${name}.${field}' has an unknown type`);
    const num = (v: unknown, def: number) => {
      if (v === undefined) return def;
      if (typeof v !== 'number' || Number.isNaN(v)) throw new Err(`${cls}: bounds of '${name}.${field}' must be numbers`);
      return v;
    };
    rules.push({
      name: field,
      types: new Set(ts as FieldType[]),
      required: r.required === true,
      minLength: num(r.minLength, 0),
      maxLength: num(r.maxLength, Number.POSITIVE_INFINITY),
      min: num(r.min, Number.NEGATIVE_INFINITY),
      max: num(r.max, Number.POSITIVE_INFINITY),
    });
  }
  return rules;
}

/**
 * Size and structure checks for messages (seed 001). `validateRaw` and `validateStructure`
 * never throw, whatever they are given; `registerType` throws {@link InvalidArgumentError} on a
 * malformed definition.
 */
export class MessageValidator {
  readonly #types = new Map<string, CompiledType>();

  constructor(options?: MessageValidatorOptions) {
    const C = 'MessageValidator';
    const o = readOptions(options, C);
    if (o.noDefaults !== undefined && typeof o.noDefaults !== 'boolean')
      throw new InvalidOptionsError(`${C}: noDefaults must be a boolean`);
    if (!o.noDefaults) {
      for (const [name, maxSize] of Object.entries(MESSAGE_SIZE_LIMITS)) {
        this.#set(name, maxSize, DEFAULT_SCHEMAS[name as keyof typeof MESSAGE_SIZE_LIMITS], InvalidOptionsError);
      }
    }
    const limits = o.limits;
    if (limits !== undefined) {
      if (limits === null || typeof limits !== 'object') throw new InvalidOptionsError(`${C}: limits must be an object`);
      for (const [name, maxSize] of Object.entries(limits)) {
        if (typeof maxSize !== 'number' || !Number.isSafeInteger(maxSize) || maxSize < 1 || maxSize > MAX_TYPE_SIZE) {
          throw new InvalidOptionsError(`${C}: limit of '${name}' must be an integer in [1, ${MAX_TYPE_SIZE}]`);
        }
        const prev = this.#types.get(name);
        this.#types.set(name, { ...prev, maxSize });
      }
    }
    const schemas = o.schemas;
    if (schemas !== undefined) {
      if (schemas === null || typeof schemas !== 'object') throw new InvalidOptionsError(`${C}: schemas must be an object`);
      for (const [name, schema] of Object.entries(schemas)) {
        const prev = this.#types.get(name);
        if (!prev) throw new InvalidOptionsError(`${C}: schema '${name}' has no size limit; add it to limits`);
        this.#set(name, prev.maxSize, schema as MessageSchema, InvalidOptionsError);
      }
    }
  }

  /** Adds or replaces a message type. */
  registerType(name: string, definition: MessageTypeDefinition): void {
    const C = 'MessageValidator';
    argString(name, C, 'name', 64);
    if (definition === null || typeof definition !== 'object') throw new InvalidArgumentError(`${C}: definition must be an object`);
    const maxSize = argInt(definition.maxSize, C, 'definition.maxSize', 1, MAX_TYPE_SIZE);
    this.#set(name, maxSize, definition.schema, InvalidArgumentError);
  }

  /** True when `name` is a registered type. */
  hasType(name: string): boolean {
    return typeof name === 'string' && this.#types.has(name);
  }

  /** Raw size limit of a type in bytes, or undefined when unknown. */
  getLimit(name: string): number | undefined {
    return typeof name === 'string' ? this.#types.get(name)?.maxSize : undefined;
  }

  /** Names of the registered types. */
  types(): string[] {
    return [...this.#types.keys()];
  }

  /** Checks the raw size of a message of `type` before it is parsed. */
  validateRaw(raw: string | Uint8Array, type: string): ValidationResult {
    try {
      const t = typeof type === 'string' ? this.#types.get(type) : undefined;
      if (!t) return bad('unknown_type', 'unknown message type');
      let size: number;
      if (typeof raw === 'string') {
        // UTF-8 is never shorter than the UTF-16 length, so long strings fail without counting.
        if (raw.length > t.maxSize) return bad('too_large', `message exceeds ${t.maxSize} bytes`);
        size = raw.length * 3 <= t.maxSize ? raw.length : utf8Length(raw);
      } else if (raw instanceof Uint8Array) {
        size = raw.byteLength;
      } else return bad('invalid_input', 'message must be a string or a Uint8Array');
      if (size === 0) return bad('empty', 'message is empty');
      if (size > t.maxSize) return bad('too_large', `message exceeds ${t.maxSize} bytes`);
      return OK;
    } catch {
      return bad('invalid_input', 'message could not be measured');
    }
  }

  /** Checks a parsed message of `type` against its schema. */
  validateStructure(obj: unknown, type: string): ValidationResult {
    try {
      const t = typeof type === 'string' ? this.#types.get(type) : undefined;
      if (!t) return bad('unknown_type', 'unknown message type');
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return bad('not_object', 'message must be an object');
      const o = obj as Record<string, unknown>;
      for (const k of FORBIDDEN) if (hasOwn(o, k)) return bad('forbidden_key', `message has a forbidden key`);
      if (!t.rules) return OK;
      for (const r of t.rules) {
        if (!hasOwn(o, r.name)) {
          if (r.required) return bad('missing_field', `missing field '${r.name}'`);
          continue;
        }
        const v = o[r.name];
        const vt = typeOf(v);
        const okType = r.types.has('any') || r.types.has(vt) || (vt === 'integer' && r.types.has('number'));
        if (!okType) return bad('wrong_type', `field '${r.name}' has the wrong type`);
        if (vt === 'string' || vt === 'array') {
          const n = (v as string | unknown[]).length;
          if (n < r.minLength || n > r.maxLength) return bad('out_of_range', `length of field '${r.name}' is out of range`);
        } else if (vt === 'integer' || vt === 'number') {
          if (!((v as number) >= r.min && (v as number) <= r.max)) return bad('out_of_range', `field '${r.name}' is out of range`);
        }
      }
      if (t.known) {
        for (const k of Object.keys(o)) if (!t.known.has(k)) return bad('unknown_field', `unexpected field`);
      }
      return OK;
    } catch {
      return bad('invalid_input', 'message could not be inspected');
    }
  }

  #set(
    name: string,
    maxSize: number,
    schema: MessageSchema | undefined,
    Err: typeof InvalidArgumentError | typeof InvalidOptionsError,
  ): void {
    if (schema === undefined) {
      this.#types.set(name, { maxSize });
      return;
    }
    const rules = compileSchema(name, schema, 'MessageValidator', Err);
    const entry: CompiledType = { maxSize, rules };
    if (schema.allowUnknownFields === false) entry.known = new Set(rules.map((r) => r.name));
    this.#types.set(name, entry);
  }
}
