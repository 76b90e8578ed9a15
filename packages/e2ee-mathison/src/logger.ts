// Optional injected logger with pino's call shape, silent by default (SPEC section 2,
// "Observability"). Every record this package emits carries ids, counters and codes only:
// never key bytes, plaintext or ciphertext (issue: key custody).

/** The pino-compatible subset we call: `logger.info({ ...fields }, 'message')`. */
export interface Logger {
  debug?(obj: Record<string, unknown>, msg: string): void;
  info?(obj: Record<string, unknown>, msg: string): void;
  warn?(obj: Record<string, unknown>, msg: string): void;
  error?(obj: Record<string, unknown>, msg: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFn = (level: LogLevel, obj: Record<string, unknown>, msg: string) => void;

/** Wrap a caller's logger so that a throwing logger can never break a handshake or a decrypt. */
export function makeLog(logger: Logger | undefined): LogFn {
  if (!logger) return () => {};
  return (level, obj, msg) => {
    try {
      logger[level]?.(obj, msg);
    } catch {
      // A broken logger must not change protocol behaviour.
    }
  };
}
