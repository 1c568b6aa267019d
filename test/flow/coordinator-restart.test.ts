import { describe, expect, it } from 'vitest';
import { eventKeys, groups, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { flat, originalInvitation, pendingCount, readAll } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';

const ctx = useRedisStack();

describe('a coordinator killed mid-event', () => {
  it('is replaced by a new process that finishes the event: every reply counted once, one summary', async () => {
    const first = await ctx.procs.coordinator();
    // Replies spread over ~3 s so the kill lands while replies are still arriving.
    await ctx.procs.guests({ GUESTS_PER_AGENT: '20', PERSONAS: 'undecided', REPLY_DELAY_SCALE: '0.5', GUEST_AGENT_ID: 'slow' });
    const invitation = originalInvitation();
    await ctx.redis.client.xadd(streams.invitations, '*', ...flat(invitation));
    const keys = eventKeys(invitation.id);
    await eventually(async () => (await ctx.redis.client.hlen(keys.replies)) >= 3, 15_000, 'first replies counted');

    await first.stop('SIGKILL');
    const counted = await ctx.redis.client.hlen(keys.replies);
    expect(counted).toBeLessThan(20);
    // Replies keep arriving while no coordinator runs; they wait in the stream.
    await delay(500);
    const second = await ctx.procs.coordinator();

    const summary = await eventually(async () => (await readAll(ctx.redis.client, streams.summaries))[0], 30_000, 'summary');
    expect(summary.fields).toMatchObject({ total_invited: '20', total_responses: '20', reason: 'all_replied' });
    expect(await ctx.redis.client.hlen(keys.replies)).toBe(20);
    await delay(500);
    expect(await readAll(ctx.redis.client, streams.summaries)).toHaveLength(1);
    // Whatever the killed process had read but not acknowledged was taken over (claim idle 2 s).
    await eventually(async () => (await pendingCount(ctx.redis.client, streams.responses, groups.coordinators)) === 0, 10_000, 'nothing pending');
    expect(await second.metric('event_planner_reply_outcomes_total', { outcome: 'counted' })).toBe(20 - counted);
  });
});
