/**
 * Typed errors of @yak/defense (SPEC section 2, "Errors"). Callers branch on `code`, never on
 * message text. Checks of untrusted input never throw: they return `{ allowed|valid: false }`
 * results. Errors are thrown only for programming mistakes (bad options, wrong argument types
 * on methods whose arguments come from local code) and for exhausted local work.
 */

/** Stable codes of {@link DefenseError}. */
export type DefenseErrorCode =
  | 'YAK_DEFENSE_INVALID_OPTIONS'
  | 'YAK_DEFENSE_INVALID_ARGUMENT'
  | 'YAK_DEFENSE_MALFORMED'
  | 'YAK_DEFENSE_POW_EXHAUSTED';

/** Base class of every error thrown by @yak/defense. */
export class DefenseError extends Error {
  readonly code: DefenseErrorCode;
  constructor(code: DefenseErrorCode, message: string) {
    super(message);
    this.name = 'DefenseError';
    this.code = code;
  }
}

/** A constructor option is missing, of the wrong type or out of range. */
export class InvalidOptionsError extends DefenseError {
  constructor(message: string) {
    super('YAK_DEFENSE_INVALID_OPTIONS', message);
    this.name = 'InvalidOptionsError';
  }
}

/** A method argument supplied by local code is of the wrong type or out of range. */
export class InvalidArgumentError extends DefenseError {
  constructor(message: string) {
    super('YAK_DEFENSE_INVALID_ARGUMENT', message);
    this.name = 'InvalidArgumentError';
  }
}

/** Bytes that should hold an encoded structure (a NAVR challenge) do not. */
export class MalformedInputError extends DefenseError {
  constructor(message: string) {
    super('YAK_DEFENSE_MALFORMED', message);
    this.name = 'MalformedInputError';
  }
}

/** `NAVR.solve` ran out of its iteration budget. */
export class PowExhaustedError extends DefenseError {
  constructor(message: string) {
    super('YAK_DEFENSE_POW_EXHAUSTED', message);
    this.name = 'PowExhaustedError';
  }
}
