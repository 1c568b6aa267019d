import { describe, expect, it } from 'vitest';
import { readFeedEntry } from '../../services/host/read-model/feed-hub.ts';
import { applyStepGuests } from '../../services/host/read-model/read-model.ts';
import { hostKeys, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { flat } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import { call, daysAhead, summaryFields } from './support.ts';

const ctx = useRedisStack();

const hostId = 'big-host';
const guests = 20_000;
// The host process uses this step; 20,000 is a whole number of them.
const step = applyStepGuests;

/** Calls of a command since the last CONFIG RESETSTAT (INFO commandstats counts the ones scripts make too). */
async function calls(command: string): Promise<number> {
  const info = await ctx.redis.client.info('commandstats');
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
}

/** The feed's entries: one per script call that changed something, each listing its messages. */
async function feedEntries(eventId: string): Promise<{ kind: string; messages: [string, string][] }[]> {
  const entries = (await ctx.redis.client.xrange(hostKeys.event(eventId).feed, '-', '+')) as [string, string[]][];
  // Read as the SSE route reads them (the summary read from the versions hash the entry refers to).
  return Promise.all(
    entries.map(async ([id, f]) => {
      const fields = Object.fromEntries(f.flatMap((v, i) => (i % 2 === 0 ? [[v, f[i + 1]!]] : []))) as Record<string, string>;
      return { kind: fields.kind!, messages: (await readFeedEntry(ctx.redis.client, eventId, id, fields)).map((m): [string, string] => [m.kind, m.data]) };
    }),
  );
}

describe('the host read model of a big event', () => {
  it('applies a 20,000-guest summary in steps of at most applyStepGuests (250) guests, and a host killed between steps ends with the whole view', async () => {
    const env = { HOST_ID: hostId, CONSUMER_NAME: 'host-big' };
    const crashing = await ctx.procs.host({ ...env, HOST_TEST_CRASH: 'after-apply-step:5' });
    expect((await call(crashing, 'POST', '/api/events', { id: 'big', event_name: 'Big', event_date: daysAhead(9) })).status).toBe(202);
    const attendees = Array.from({ length: guests }, (_, i) => ({ guest_id: `g${i}@agent`, guest_name: `Guest ${i}`, state: i % 4 === 0 ? 'declined' : 'accepted' }));
    await ctx.redis.client.config('RESETSTAT');
    await ctx.redis.client.xadd(streams.summaries, '*', ...flat(summaryFields('big', hostId, attendees)));

    // Killed after its fifth step: five steps' rows are in, nothing of the version's close yet.
    expect((await crashing.exited).signal).toBe('SIGKILL');
    const keys = hostKeys.event('big');
    expect(await ctx.redis.client.hlen(keys.guests)).toBe(5 * step);
    expect(await ctx.redis.client.hexists(keys.versions, 'summary:0')).toBe(0);

    // Back (the same consumer takes up its pending entry): the done steps are no-ops, the rest applied.
    const back = await ctx.procs.host(env);
    const view = await eventually(async () => {
      const body = (await call<{ status: string; guests: { guest_id: string; state: string }[]; counts: Record<string, number>; summaries: unknown[] }>(back, 'GET', '/api/events/big')).body;
      return body.status === 'closed' ? body : undefined;
    }, 60_000, 'the summary applied');
    expect(view.guests).toHaveLength(guests);
    const states = new Map(view.guests.map((g) => [g.guest_id, g.state]));
    expect(attendees.every((a) => states.get(a.guest_id) === a.state)).toBe(true);
    expect(view.counts).toMatchObject({ invited: guests, accepted: guests * 0.75, declined: guests * 0.25 });
    expect(view.summaries).toHaveLength(1);

    // Bounded steps: each call that changed something added one feed entry of at most `step` rows,
    // the version's counts, status and summary with the last; the replayed steps added nothing.
    const feed = await feedEntries('big');
    expect(feed).toHaveLength(guests / step);
    expect(feed.every((e) => e.kind === 'changes' && e.messages.filter(([k]) => k === 'guest').length === step)).toBe(true);
    expect(feed.at(-1)!.messages.map(([k]) => k).slice(step)).toEqual(['counts', 'status', 'summary']);
    // 5 steps, then the 80 again after the restart (the first 5 finding their rows applied).
    expect(await calls('evalsha')).toBeGreaterThanOrEqual(5 + guests / step);
    // One read and one write of the rows per step, none per guest (that would be 20,000 or more);
    // the margin is for the host's other work meanwhile.
    expect(await calls('hmget')).toBeGreaterThanOrEqual(5 + guests / step);
    for (const command of ['hmget', 'hset', 'hget', 'xadd']) expect(await calls(command), command).toBeLessThan(200);
  }, 120_000);
});
