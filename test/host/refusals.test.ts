import { describe, expect, it } from 'vitest';
import { useRedisStack } from '../helpers/stack.ts';
import { call, daysAhead } from './support.ts';

const ctx = useRedisStack();

// Redis that refuses writes (out of memory) while a host changes an event: the host's MULTI is
// aborted as a whole (EXECABORT), which is a refusal to retry later like any other, not a 500.
describe('changes while Redis refuses writes', () => {
  it('an update and a cancellation answer 503 with Retry-After at the memory limit, and go through after', async () => {
    const c = ctx.redis.client;
    const host = await ctx.procs.host({ HOST_ID: 'refused' });
    expect((await call(host, 'POST', '/api/events', { id: 'tight', event_name: 'Tight', event_date: daysAhead(9) })).status).toBe(202);
    await c.config('SET', 'maxmemory-policy', 'noeviction');
    await c.config('SET', 'maxmemory', '1');
    try {
      for (const [method, path, body] of [
        ['PATCH', '/api/events/tight', { location: 'Elsewhere' }],
        ['POST', '/api/events/tight/cancel', { reason: 'full' }],
      ] as const) {
        const refused = await call<{ code: string; error: string }>(host, method, path, body);
        expect(refused.status, `${method} ${path}: ${JSON.stringify(refused.body)}`).toBe(503);
        expect(refused.body.code).toBe('redis_out_of_memory');
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    } finally {
      await c.config('SET', 'maxmemory', '0');
    }
    expect((await call(host, 'PATCH', '/api/events/tight', { location: 'Elsewhere' })).body).toMatchObject({ revision: 2, bumped: true });
    expect((await call(host, 'POST', '/api/events/tight/cancel', { reason: 'full' })).body).toMatchObject({ revision: 3, status: 'cancelled' });
    expect(host.logs.filter((l) => l.level >= 50)).toEqual([]);
  });
});
