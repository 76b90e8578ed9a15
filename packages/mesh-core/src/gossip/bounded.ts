// Bounded containers (SPEC section 2, "Resource bounds": every map, set, queue and cache has a
// bound and an eviction rule). Shared by gossip and routing.

/**
 * First-in first-out ring buffer. Eviction order is kept here rather than in a Map's insertion
 * order: V8 leaves deleted Map entries in place until a rehash, so repeatedly taking "the oldest
 * entry" of a Map skips over ever more holes (measured: 8-15 us per eviction at 10k entries).
 */
class Queue<T> {
  #buf: (T | undefined)[] = new Array(16);
  #head = 0;
  #len = 0;

  get length(): number {
    return this.#len;
  }

  push(v: T): void {
    if (this.#len === this.#buf.length) {
      const next: (T | undefined)[] = new Array(this.#buf.length * 2);
      for (let i = 0; i < this.#len; i++) next[i] = this.#buf[(this.#head + i) % this.#buf.length];
      this.#buf = next;
      this.#head = 0;
    }
    this.#buf[(this.#head + this.#len) % this.#buf.length] = v;
    this.#len++;
  }

  peek(): T | undefined {
    return this.#len === 0 ? undefined : this.#buf[this.#head];
  }

  shift(): T | undefined {
    if (this.#len === 0) return undefined;
    const v = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#buf.length;
    this.#len--;
    return v;
  }

  /** Keep only the items `keep` accepts, in order. */
  filter(keep: (v: T) => boolean): void {
    const items: T[] = [];
    for (let i = 0; i < this.#len; i++) {
      const v = this.#buf[(this.#head + i) % this.#buf.length] as T;
      if (keep(v)) items.push(v);
    }
    this.#buf = new Array(Math.max(16, items.length * 2));
    for (let i = 0; i < items.length; i++) this.#buf[i] = items[i];
    this.#head = 0;
    this.#len = items.length;
  }

  clear(): void {
    this.#buf = new Array(16);
    this.#head = 0;
    this.#len = 0;
  }
}

interface Slot<V> {
  v: V;
}

/**
 * A map with a capacity; inserting a new key into a full map evicts the oldest insertion (or,
 * with {@link BoundedMap.touch}, the least recently used key).
 */
export class BoundedMap<K, V> {
  readonly capacity: number;
  readonly #map = new Map<K, Slot<V>>();
  readonly #order = new Queue<[K, Slot<V>]>();
  /** Entries dropped to make room. */
  evictions = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key)?.v;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Insert or replace; a replaced key keeps its age. Returns the evicted entry, if any. */
  set(key: K, value: V): [K, V] | undefined {
    const slot = this.#map.get(key);
    if (slot) {
      slot.v = value;
      return undefined;
    }
    let evicted: [K, V] | undefined;
    if (this.#map.size >= this.capacity) {
      evicted = this.#evictOldest();
      if (evicted) this.evictions++;
    }
    this.#insert(key, { v: value });
    return evicted;
  }

  /** Make an existing key the youngest (least-recently-used eviction for caches). */
  touch(key: K): void {
    const slot = this.#map.get(key);
    if (!slot) return;
    this.#map.delete(key);
    this.#insert(key, { v: slot.v });
  }

  #insert(key: K, slot: Slot<V>): void {
    this.#map.set(key, slot);
    this.#order.push([key, slot]);
    // Deleted and touched keys leave stale queue items; compact so the queue stays O(capacity).
    if (this.#order.length > 2 * this.capacity + 16) this.#order.filter(([k, s]) => this.#map.get(k) === s);
  }

  #evictOldest(): [K, V] | undefined {
    for (;;) {
      const item = this.#order.shift();
      if (!item) return undefined;
      const [k, s] = item;
      if (this.#map.get(k) === s) {
        this.#map.delete(k);
        return [k, s.v];
      }
    }
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
    this.#order.clear();
  }

  *keys(): IterableIterator<K> {
    yield* this.#map.keys();
  }

  *values(): IterableIterator<V> {
    for (const s of this.#map.values()) yield s.v;
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [k, s] of this.#map) yield [k, s.v];
  }
}

/** A set with a capacity and oldest-first eviction. */
export class BoundedSet<T> {
  readonly #map: BoundedMap<T, true>;

  constructor(capacity: number) {
    this.#map = new BoundedMap(capacity);
  }

  get size(): number {
    return this.#map.size;
  }

  has(v: T): boolean {
    return this.#map.has(v);
  }

  add(v: T): void {
    this.#map.set(v, true);
  }

  delete(v: T): boolean {
    return this.#map.delete(v);
  }

  clear(): void {
    this.#map.clear();
  }
}

interface Expiry {
  exp: number;
}

/**
 * Message ids seen recently (docs/protocol/gossip.md section 6). Each id carries its own expiry;
 * expired ids are swept from the old end as new ones arrive, and a full cache evicts the oldest
 * id (counted in `evictedEarly` when it had not expired yet, because a replay of that id inside
 * its acceptance window would then be accepted again).
 */
export class DedupCache {
  readonly capacity: number;
  readonly #map = new Map<string, Expiry>();
  readonly #order = new Queue<[string, Expiry]>();
  /** Unexpired ids evicted to respect the capacity. */
  evictedEarly = 0;
  /** Ids removed because they expired. */
  expired = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('dedupSize must be a positive integer');
    this.capacity = capacity;
  }

  get size(): number {
    return this.#map.size;
  }

  /** True when `id` was added and has not expired at `now`. */
  has(id: string, now: number): boolean {
    const e = this.#map.get(id);
    if (e === undefined) return false;
    if (e.exp <= now) {
      this.#map.delete(id);
      this.expired++;
      return false;
    }
    return true;
  }

  /** Remember `id` until `expiresAt`. */
  add(id: string, expiresAt: number, now: number): void {
    this.sweep(now, 8);
    const e = this.#map.get(id);
    if (e) {
      e.exp = Math.max(e.exp, expiresAt);
      return;
    }
    while (this.#map.size >= this.capacity) {
      const item = this.#order.shift();
      if (!item) break;
      const [k, old] = item;
      if (this.#map.get(k) !== old) continue;
      this.#map.delete(k);
      if (old.exp > now) this.evictedEarly++;
      else this.expired++;
    }
    const entry = { exp: expiresAt };
    this.#map.set(id, entry);
    this.#order.push([id, entry]);
    if (this.#order.length > 2 * this.capacity + 16) this.#order.filter(([k, x]) => this.#map.get(k) === x);
  }

  /**
   * Drop expired ids from the old end, at most `limit` of them. Expiries are nearly monotone in
   * insertion order, so stopping at the first live id leaves few stale ones behind; those go when
   * looked up or when capacity evicts them.
   */
  sweep(now: number, limit = Number.POSITIVE_INFINITY): void {
    let n = 0;
    while (n < limit) {
      const item = this.#order.peek();
      if (!item) return;
      const [k, e] = item;
      if (this.#map.get(k) !== e) {
        this.#order.shift();
        continue;
      }
      if (e.exp > now) return;
      this.#order.shift();
      this.#map.delete(k);
      this.expired++;
      n++;
    }
  }

  clear(): void {
    this.#map.clear();
    this.#order.clear();
  }
}
