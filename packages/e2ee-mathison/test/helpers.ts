// Shared set-up: two MeshCrypto peers and a completed handshake over an in-memory pipe.
import {
  createHandshakePipe,
  type EncryptedMessage,
  type IdentityKeypair,
  MeshCrypto,
  type MeshCryptoOptions,
  type Session,
} from '../src/index.js';

export interface Pair {
  alice: MeshCrypto;
  bob: MeshCrypto;
  aliceId: IdentityKeypair;
  bobId: IdentityKeypair;
  aliceSession: Session;
  bobSession: Session;
}

/** Run a full handshake between two instances (Alice initiates). */
export async function handshake(
  alice: MeshCrypto,
  bob: MeshCrypto,
  opts: { expectedPeer?: string } = {},
): Promise<{ aliceSession: Session; bobSession: Session }> {
  const bobPub = bob.identity?.publicKey as string;
  const [toBob, toAlice] = createHandshakePipe();
  const a = alice.initiateHandshake(bobPub, { transport: toBob });
  a.catch(() => {});
  const m1 = await toAlice.receive();
  const bobSession = await bob.completeHandshake(m1, {
    transport: toAlice,
    ...(opts.expectedPeer ? { expectedPeer: opts.expectedPeer } : {}),
  });
  const aliceSession = await a;
  return { aliceSession, bobSession };
}

export async function pair(options: MeshCryptoOptions = {}, bobOptions: MeshCryptoOptions = options): Promise<Pair> {
  const alice = new MeshCrypto(options);
  const bob = new MeshCrypto(bobOptions);
  const aliceId = await alice.generateIdentityKeypair();
  const bobId = await bob.generateIdentityKeypair();
  const { aliceSession, bobSession } = await handshake(alice, bob, { expectedPeer: aliceId.publicKey });
  return { alice, bob, aliceId, bobId, aliceSession, bobSession };
}

export const text = (s: string) => Buffer.from(s, 'utf8');

/** Capture what a call throws (fails the test if it does not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw');
}

export async function rejected(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject');
}

/** Flip one bit of one character position of a base64url field, keeping it canonical. */
export function flipB64(field: string, byteIndex = 0, bit = 0): string {
  const b = Buffer.from(field, 'base64url');
  b[byteIndex % b.length] = (b[byteIndex % b.length] as number) ^ (1 << bit);
  return b.toString('base64url');
}

export function clone(m: EncryptedMessage): EncryptedMessage {
  return { ...m };
}
