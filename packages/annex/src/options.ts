// Validation of the constructor options (SPEC section 2: bad input is a clear typed error). Every
// default and its source is in constants.ts.
import { ANNEX_DEFAULTS, WIRE } from './constants.js';
import { InvalidArgumentError } from './errors.js';
import type { AnnexOptions } from './types.js';

/** The numeric and boolean options with defaults applied. */
export interface Resolved {
  rekeyIntervalMs: number;
  rekeyAfterMessages: number;
  rekeyHardMargin: number;
  rekeyGraceMs: number;
  rekeyTimeoutMs: number;
  handshakeTimeoutMs: number;
  handshakeRetryMs: number;
  idleTimeoutMs: number;
  maxPayloadBytes: number;
  chunkBytes: number;
  maxSessions: number;
  maxPendingHandshakes: number;
  handshakesPerMinute: number;
  maxReassemblyBytes: number;
  reassemblyTimeoutMs: number;
  sendTimeoutMs: number;
  maxClockSkewMs: number;
  sweepIntervalMs: number;
  signEnvelopes: boolean;
}

const DAY = 86_400_000;

/** Apply defaults and range-check every option; throws InvalidArgumentError naming the option. */
export function resolveOptions(options: AnnexOptions): Resolved {
  const d = ANNEX_DEFAULTS;
  const int = (name: keyof Resolved, min: number, max: number): number => {
    const v = (options as unknown as Record<string, unknown>)[name];
    if (v === undefined) return d[name] as number;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}]`);
    }
    return v;
  };
  const o: Resolved = {
    rekeyIntervalMs: int('rekeyIntervalMs', 1, 30 * DAY),
    rekeyAfterMessages: int('rekeyAfterMessages', 1, 2 ** 40),
    rekeyHardMargin: int('rekeyHardMargin', 1, 2 ** 40),
    rekeyGraceMs: int('rekeyGraceMs', 0, DAY),
    rekeyTimeoutMs: int('rekeyTimeoutMs', 1, DAY),
    handshakeTimeoutMs: int('handshakeTimeoutMs', 1, DAY),
    handshakeRetryMs: int('handshakeRetryMs', 1, DAY),
    idleTimeoutMs: int('idleTimeoutMs', 1, 365 * DAY),
    maxPayloadBytes: int('maxPayloadBytes', 1, 1024 * 1024 * 1024),
    chunkBytes: int('chunkBytes', 64, WIRE.maxChunkBytes),
    maxSessions: int('maxSessions', 1, 1_000_000),
    maxPendingHandshakes: int('maxPendingHandshakes', 1, 1_000_000),
    handshakesPerMinute: int('handshakesPerMinute', 1, 1_000_000),
    maxReassemblyBytes: int('maxReassemblyBytes', 1, 2 ** 40),
    reassemblyTimeoutMs: int('reassemblyTimeoutMs', 1, DAY),
    sendTimeoutMs: int('sendTimeoutMs', 1, DAY),
    maxClockSkewMs: int('maxClockSkewMs', 0, 365 * DAY),
    sweepIntervalMs: int('sweepIntervalMs', 1, 3_600_000),
    signEnvelopes: options.signEnvelopes ?? d.signEnvelopes,
  };
  if (typeof o.signEnvelopes !== 'boolean') throw new InvalidArgumentError('signEnvelopes must be a boolean');
  return o;
}
