import type { RedisClient } from './redis-client.ts';

/**
 * Writes a hash in bounded steps, one HSET each (a step is its fields and values: field, value, …),
 * each renewing the key's bounded life, `stepsPerRound` of them per round trip: no call is long,
 * and Redis serves other clients between round trips. The steps are taken from `steps` while each
 * round is built, not all before the first: a generator building them from its input holds one
 * round's in memory, and one that throws (its process dying) leaves the earlier rounds written
 * whole and nothing of its own round. `afterStep` runs once for each step written, after its round
 * (a test's crash point counts steps with it).
 */
export async function writeHashInSteps(
  redis: RedisClient,
  key: string,
  steps: Iterable<readonly string[]>,
  opts: { ttlMs: number; stepsPerRound: number; afterStep?: () => void },
): Promise<void> {
  const iterator = steps[Symbol.iterator]();
  for (let done = false; !done; ) {
    const pipeline = redis.pipeline();
    let count = 0;
    while (count < opts.stepsPerRound) {
      const next = iterator.next();
      if (next.done) {
        done = true;
        break;
      }
      pipeline.hset(key, ...next.value).pexpire(key, opts.ttlMs);
      count += 1;
    }
    if (count === 0) return;
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    for (let n = 0; n < count; n += 1) opts.afterStep?.();
  }
}

/** The steps of a hash of `items`, `perStep` items per step, each item's fields and values given by `fields`. */
export function* itemSteps<T>(items: readonly T[], perStep: number, fields: (item: T) => string[]): Generator<string[]> {
  for (let i = 0; i < items.length; i += perStep) yield items.slice(i, i + perStep).flatMap(fields);
}
