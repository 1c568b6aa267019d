import type { RedisClient } from './redis-client.ts';

/**
 * A hash's entries read with HSCAN, about `count` per call (one bounded step each), as pages of
 * fields and values; a field comes once even when HSCAN returns it twice (a hash being rehashed
 * may). A page may be empty.
 */
export async function* hashPages(redis: RedisClient, key: string, count: number): AsyncGenerator<{ ids: string[]; values: string[] }> {
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', count);
    cursor = next;
    const ids: string[] = [];
    const values: string[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (seen.has(flat[i]!)) continue;
      seen.add(flat[i]!);
      ids.push(flat[i]!);
      values.push(flat[i + 1]!);
    }
    yield { ids, values };
  } while (cursor !== '0');
}
