// Shared plumbing of the async calls (SPEC section 2, "Resource bounds"): every call takes an
// AbortSignal and a timeout on the injected clock, and releases its timer and listener in finally.
import type { Clock } from '@yak/mesh-core';
import { AbortedError, type AnnexError, InvalidArgumentError, TimeoutError } from './errors.js';
import type { CallOptions } from './types.js';

/** Check the call options and return the timeout to use (`def` when none is given). */
export function callTimeout(opts: CallOptions, def: number): number {
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  const t = opts.timeoutMs ?? def;
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1) throw new InvalidArgumentError('timeoutMs must be a positive integer');
  if (opts.signal?.aborted) throw new AbortedError({ cause: opts.signal.reason });
  return t;
}

/**
 * Await `p` with an abort signal and a timeout on `clock`; cleans up in finally. At the deadline
 * the error is `cause()` when it names one (why the operation is stuck), else a TimeoutError.
 */
export async function race<T>(
  clock: Clock,
  p: Promise<T>,
  signal: AbortSignal | undefined,
  timeoutMs: number,
  what: string,
  cause?: () => AnnexError | undefined,
): Promise<T> {
  let timer: unknown;
  let onAbort: (() => void) | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(cause?.() ?? new TimeoutError(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
    if (signal) {
      onAbort = () => reject(new AbortedError({ cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([p, guard]);
  } finally {
    clock.clearTimeout(timer);
    if (signal && onAbort) signal.removeEventListener('abort', onAbort);
  }
}
