import { createHash, randomBytes } from 'node:crypto';

export type Random = () => number;

/** mulberry32: a small, fast PRNG; good enough for simulated behaviour, not for secrets. */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A generator determined by its parts (seed, event, guest ...). Decisions made from it are the same
 * whenever and wherever they are made, so a seeded run is reproducible regardless of timing, and a
 * guest re-answering after a crash gives the same answer.
 */
export function seededRandom(...parts: (string | number)[]): Random {
  const digest = createHash('sha1').update(parts.join('\u0000')).digest();
  return mulberry32(digest.readUInt32LE(0));
}

export function randomSeed(): string {
  return randomBytes(6).toString('hex');
}
