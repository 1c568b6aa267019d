import { describe, expect, it } from 'vitest';
import { hostKeys, streams } from '../../services/shared/streams/keys.ts';
import { withAuth } from '../helpers/auth.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { call, daysAhead } from './support.ts';

const ctx = useRedisStack();

describe('a 10,000-event batch', () => {
  it('publishes every valid event once, answers each item, and a retry of the whole batch adds nothing', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'bulk' });
    const events = Array.from({ length: 10_000 }, (_, i) =>
      i % 1_000 === 999 ? { id: `bulk-${i}`, event_name: '' } : { id: `bulk-${i}`, event_name: `Event ${i}`, event_date: daysAhead(30), event_time: '10:00', capacity: 50, reminders: [60] },
    );
    const answer = await call<{ results: { index: number; id: string; status: number; duplicate?: boolean; error?: { field?: string } }[] }>(host, 'POST', '/api/events/batch', { events });
    expect(answer.status).toBe(200);
    const results = answer.body.results;
    expect(results).toHaveLength(10_000);
    expect(results.map((r) => r.index)).toEqual(events.map((_, i) => i));
    const refused = results.filter((r) => r.status !== 202);
    expect(refused.map((r) => r.index)).toEqual(Array.from({ length: 10 }, (_, k) => k * 1_000 + 999));
    expect(refused.every((r) => r.status === 400 && r.error?.field === 'event_name')).toBe(true);
    expect(await ctx.redis.client.xlen(streams.invitations)).toBe(9_990);
    expect(await ctx.redis.client.zcard(hostKeys.events('bulk'))).toBeGreaterThanOrEqual(9_990);

    const again = await call<{ results: { status: number; duplicate?: boolean }[] }>(host, 'POST', '/api/events/batch', { events });
    expect(again.body.results.filter((r) => r.status === 202).every((r) => r.duplicate === true)).toBe(true);
    expect(await ctx.redis.client.xlen(streams.invitations)).toBe(9_990);
    // Every outbox drained.
    const sample = await ctx.redis.client.exists(hostKeys.event('bulk-0').outbox, hostKeys.event('bulk-5000').outbox);
    expect(sample).toBe(0);
    const page = await call<{ items: unknown[]; next_cursor: string | null }>(host, 'GET', '/api/events?limit=500');
    expect(page.body.items).toHaveLength(500);
    expect(page.body.next_cursor).not.toBeNull();
  }, 120_000);
});
