// Bounded map with approximate least-recently-used eviction (SPEC section 2, "Resource bounds").
// Two generations instead of a reordered map: a hit in the young generation is one Map lookup
// (reordering a Map on every hit cost two thirds of a rate-limit check). When the young
// generation is full, the old one is dropped whole and the young one becomes old; an entry used
// since then is promoted back. So any key touched within the last `capacity / 2` insertions
// survives, and the total never exceeds `capacity`.

export class TwoGenerationCache<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #generation: number;
  /** Entries dropped with an old generation, in total. */
  evictions = 0;

  /** `capacity` >= 2. */
  constructor(capacity: number) {
    this.#generation = Math.max(1, Math.floor(capacity / 2));
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  /** The value of `key`, marking it recently used. */
  get(key: K): V | undefined {
    const v = this.#young.get(key);
    if (v !== undefined) return v;
    const o = this.#old.get(key);
    if (o !== undefined) {
      this.#old.delete(key);
      this.#insert(key, o);
    }
    return o;
  }

  /** Adds or replaces `key`. */
  set(key: K, value: V): void {
    if (this.#young.has(key)) {
      this.#young.set(key, value);
      return;
    }
    this.#old.delete(key);
    this.#insert(key, value);
  }

  delete(key: K): boolean {
    return this.#young.delete(key) || this.#old.delete(key);
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
  }

  #insert(key: K, value: V): void {
    if (this.#young.size >= this.#generation) {
      this.evictions += this.#old.size;
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }
}
