// Test-vector loading: every file lives under test/vectors/ (sources in test/vectors/README.md),
// so the suite never reads anything outside the repository.
import { readFileSync } from 'node:fs';
import { availableBackends, backend, selectBackend } from '@yak/crypto';
import { afterAll, beforeAll, expect } from 'vitest';

const VECTORS = new URL('../vectors/', import.meta.url);

export function loadVectors<T = unknown>(relPath: string): T {
  return JSON.parse(readFileSync(new URL(relPath, VECTORS), 'utf8')) as T;
}

/** Hex -> plain Uint8Array, independent of the package's own fromHex. */
export function h(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`bad hex in vector: ${hex.slice(0, 16)}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Bytes -> lowercase hex, independent of the package's own toHex. */
export function hx(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export type BackendName = ReturnType<typeof availableBackends>[number];

/** Every backend of this runtime ('node' and 'noble' on Node). */
export const BACKENDS: BackendName[] = availableBackends();
const DEFAULT_BACKEND = backend().name;

/**
 * Call inside a `describe.each(BACKENDS)` body: switches the process-wide backend for the
 * block's tests and restores the default afterwards.
 */
export function useBackend(name: BackendName): void {
  beforeAll(() => {
    selectBackend(name);
    expect(backend().name).toBe(name);
  });
  afterAll(() => selectBackend(DEFAULT_BACKEND));
}

export interface WycheproofFile<G> {
  algorithm: string;
  numberOfTests: number;
  testGroups: G[];
}

export interface WycheproofCase {
  tcId: number;
  comment: string;
  flags: string[];
  result: 'valid' | 'invalid' | 'acceptable';
}
