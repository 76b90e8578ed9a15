// The message handler registry (seed 000 `onMessage`/`offMessage`). Bounded (SPEC section 2,
// "Resource bounds"); a throwing handler is logged and does not stop the others.
import type { Logger } from '@yak/mesh-core';
import { ANNEX_DEFAULTS } from './constants.js';
import { InvalidArgumentError } from './errors.js';
import type { AnnexMessage, AnnexMessageHandler } from './types.js';

export class HandlerRegistry {
  readonly #handlers = new Map<string, AnnexMessageHandler>();
  #seq = 0;

  constructor(readonly log: Logger) {}

  add(handler: AnnexMessageHandler): string {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    if (this.#handlers.size >= ANNEX_DEFAULTS.maxHandlers) throw new InvalidArgumentError('too many message handlers');
    const id = `annex-handler-${++this.#seq}`;
    this.#handlers.set(id, handler);
    return id;
  }

  remove(id: string): boolean {
    return this.#handlers.delete(id);
  }

  clear(): void {
    this.#handlers.clear();
  }

  /** Call every handler registered now; handlers added or removed meanwhile take effect next time. */
  dispatch(message: AnnexMessage): void {
    for (const h of [...this.#handlers.values()]) {
      try {
        h(message);
      } catch (e) {
        this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'annex message handler threw');
      }
    }
  }
}
