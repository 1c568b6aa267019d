import { beforeEach, describe, expect, it } from 'vitest';
import { eventKeys } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { activity, coordinatorEnv, named, publish, registerAgent, reply, resetRevisions, send, summaries, summaryOf } from './support.ts';

// Revisions on the real pipeline: a coordinator process and redis-server; the test is the host
// and the guests (docs/EVENTS.md, "Identity and versions", "Lifecycle").

const ctx = useRedisStack();
beforeEach(() => resetRevisions());

const deadReasons = async () => (await deadLetters(ctx.redis.client)).map((d) => d.fields.dead_letter_reason ?? '');

describe('updates', () => {
  it('keep the sequence for details (nobody asked again) and bump it for a new date: stale replies kept, everyone asked again, one summary per version', async () => {
    const redis = ctx.redis.client;
    const guests = await registerAgent(redis, 'a', 4);
    await ctx.procs.coordinator(coordinatorEnv);
    await publish(redis, 'party');
    await eventually(async () => (await named(redis, 'a', 'party', 'request', 0)).length === 4, 10_000, 'requests');
    await send(redis, [reply('party', guests[0]!, 'yes'), reply('party', guests[1]!, 'no')]);
    await eventually(async () => (await redis.hlen(eventKeys('party').replies)) === 2, 10_000, 'two replies counted');

    await publish(redis, 'party', { description: 'Now with a band' });
    await eventually(async () => (await named(redis, 'a', 'party', 'details', 0)).length === 4, 10_000, 'details to all four');
    expect(await named(redis, 'a', 'party', 'request')).toHaveLength(4);
    expect(await summaries(redis, 'party')).toEqual([]);
    expect(await redis.hlen(eventKeys('party').replies)).toBe(2);

    const moved = await publish(redis, 'party', { sequence: 1, description: 'Now with a band', eventDate: '2027-08-01' });
    const first = await summaryOf(redis, 'party', 0);
    expect(first).toMatchObject({ reason: 'updated', totalInvited: 4, yes: 1, no: 1, maybe: 0, noResponse: 2, revision: 3 });
    expect(first.id).toBe('summary:party:0');
    await eventually(async () => (await named(redis, 'a', 'party', 'request', 1)).length === 4, 10_000, 'everyone asked again');

    // A reply to the old version is stale: kept, not counted.
    await send(redis, [reply('party', guests[2]!, 'yes'), ...guests.map((g) => reply('party', g, 'maybe', { sequence: 1 }))]);
    const second = await summaryOf(redis, 'party', 1);
    expect(second).toMatchObject({ reason: 'all_replied', totalInvited: 4, maybe: 4, yes: 0, stale: 1, revision: 3 });
    expect(second.attendees.map((a) => a.state)).toEqual(['tentative', 'tentative', 'tentative', 'tentative']);

    // A replay of the revision changes nothing; a revision that lowers the sequence is refused.
    await publish(redis, 'party', { ...moved });
    await publish(redis, 'party', { sequence: 0, description: 'older' });
    await eventually(async () => (await deadReasons()).some((r) => r.startsWith('invalid_sequence:')), 10_000, 'invalid_sequence dead letter');
    await delay(300);
    expect((await summaries(redis, 'party')).map((s) => s.sequence)).toEqual([0, 1]);
    expect(await named(redis, 'a', 'party', 'request', 1)).toHaveLength(4);
  });
});

describe('cancellations', () => {
  it('close the open version (cancelled), reach every guest, make later replies late and refuse later updates', async () => {
    const redis = ctx.redis.client;
    const guests = await registerAgent(redis, 'c', 3);
    await ctx.procs.coordinator(coordinatorEnv);
    await publish(redis, 'gala');
    await eventually(async () => (await named(redis, 'c', 'gala', 'request', 0)).length === 3, 10_000, 'requests');
    await send(redis, [reply('gala', guests[0]!, 'yes'), reply('gala', guests[1]!, 'no')]);
    await eventually(async () => (await redis.hlen(eventKeys('gala').replies)) === 2, 10_000, 'replies counted');

    await publish(redis, 'gala', { method: 'CANCEL', sequence: 1 });
    const summary = await summaryOf(redis, 'gala', 0);
    expect(summary).toMatchObject({ reason: 'cancelled', yes: 1, no: 1, noResponse: 1 });
    await eventually(async () => (await named(redis, 'c', 'gala', 'cancel')).length === 3, 10_000, 'cancellation to every guest');
    expect(await redis.hget(eventKeys('gala').event, 'status')).toBe('cancelled');

    await send(redis, [reply('gala', guests[2]!, 'yes')]);
    await eventually(async () => (await redis.hlen(eventKeys('gala').late)) === 1, 10_000, 'late reply');
    await publish(redis, 'gala', { sequence: 2, location: 'Ballroom' });
    await eventually(async () => (await deadReasons()).some((r) => r.startsWith('cancelled:')), 10_000, 'update after cancel refused');
    expect(await summaries(redis, 'gala')).toHaveLength(1);
  });

  it('of a closed event publish one more summary, of the cancellation’s own sequence', async () => {
    const redis = ctx.redis.client;
    const guests = await registerAgent(redis, 'd', 2);
    await ctx.procs.coordinator(coordinatorEnv);
    await publish(redis, 'brunch');
    await eventually(async () => (await named(redis, 'd', 'brunch', 'request')).length === 2, 10_000, 'requests');
    await send(redis, guests.map((g) => reply('brunch', g, 'yes')));
    expect(await summaryOf(redis, 'brunch', 0)).toMatchObject({ reason: 'all_replied', yes: 2 });
    await publish(redis, 'brunch', { method: 'CANCEL', sequence: 1 });
    expect(await summaryOf(redis, 'brunch', 1)).toMatchObject({ reason: 'cancelled', totalInvited: 0 });
    await eventually(async () => (await named(redis, 'd', 'brunch', 'cancel')).length === 2, 10_000, 'cancellation to both');
    expect((await summaries(redis, 'brunch')).map((s) => s.sequence)).toEqual([0, 1]);
  });

  it('racing with the last replies, with two coordinators: every reply counted in the closed version or recorded late, once; one summary per version', async () => {
    const redis = ctx.redis.client;
    const [g0, g1, g2, g3] = await registerAgent(redis, 'e', 4);
    await Promise.all([ctx.procs.coordinator(coordinatorEnv), ctx.procs.coordinator(coordinatorEnv)]);
    const ids = ['race-1', 'race-2', 'race-3', 'race-4', 'race-5', 'race-6'];
    for (const id of ids) await publish(redis, id);
    for (const id of ids) await eventually(async () => (await named(redis, 'e', id, 'request', 0)).length === 4 || undefined, 10_000, `requests of ${id}`);
    await send(redis, ids.flatMap((id) => [reply(id, g0!, 'yes'), reply(id, g1!, 'no')]));
    for (const id of ids) await eventually(async () => (await redis.hlen(eventKeys(id).replies)) === 2 || undefined, 10_000, `two replies to ${id}`);

    // The last two answers and the cancellations are added in the same instant.
    await Promise.all([send(redis, ids.flatMap((id) => [reply(id, g2!, 'maybe'), reply(id, g3!, 'yes')])), ...ids.map((id) => publish(redis, id, { method: 'CANCEL', sequence: 1 }))]);
    const outcomes: string[] = [];
    for (const id of ids) {
      const closed = await summaryOf(redis, id, 0);
      const counted = closed.yes + closed.no + closed.maybe;
      // The replies the version did not count are late (kept, not counted), each once.
      await eventually(async () => counted + (await redis.hlen(eventKeys(id).late)) === 4 || undefined, 10_000, `${id}: every reply counted or late`);
      expect(counted, id).toBeGreaterThanOrEqual(2);
      if (closed.reason === 'cancelled') expect(closed.totalInvited, id).toBe(4);
      else {
        // Every answer was in before the cancellation: it publishes a summary of its own sequence.
        expect(closed.reason, id).toBe('all_replied');
        expect(await summaryOf(redis, id, 1), id).toMatchObject({ reason: 'cancelled', totalInvited: 0 });
      }
      await eventually(async () => (await named(redis, 'e', id, 'cancel')).length === 4 || undefined, 10_000, `${id}: the cancellation to every guest`);
      outcomes.push(`${closed.reason}:${counted}`);
    }
    await delay(500);
    for (const id of ids) {
      const all = (await summaries(redis, id)).map((s) => s.sequence).sort();
      expect(all, id).toEqual([...new Set(all)]);
      expect((await named(redis, 'e', id, 'cancel')).sort(), id).toEqual([g0!.id, g1!.id, g2!.id, g3!.id].sort());
    }
    expect(outcomes).toHaveLength(ids.length);
    expect(await deadReasons()).toEqual([]);
  });
});

describe('targeting', () => {
  it('asks the guests with a tag or listed, minus the excluded, reports unknown ids, and follows a change of targeting', async () => {
    const redis = ctx.redis.client;
    const guests = await registerAgent(redis, 't', 6, (i) => (i < 3 ? ['vip'] : ['staff']));
    await ctx.procs.coordinator(coordinatorEnv);
    await publish(redis, 'dinner', { targeting: { tags: ['vip'], guests: ['t.4', 'nobody.1'], exclude: ['t.0'] } });
    await eventually(async () => (await named(redis, 't', 'dinner', 'request')).length === 3, 10_000, 'requests');
    expect((await named(redis, 't', 'dinner', 'request')).sort()).toEqual(['t.1', 't.2', 't.4']);
    await send(redis, [reply('dinner', guests[1]!, 'yes'), reply('dinner', guests[4]!, 'yes')]);
    await eventually(async () => (await redis.hlen(eventKeys('dinner').replies)) === 2, 10_000, 'replies');

    // Same sequence, new targeting: t.5 is added (asked at sequence 0), t.4 removed (its reply forgotten).
    await publish(redis, 'dinner', { targeting: { tags: ['vip'], guests: ['t.5', 'nobody.1'], exclude: ['t.0'] } });
    await eventually(async () => (await named(redis, 't', 'dinner', 'cancel')).length === 1, 10_000, 'removed guest told');
    expect(await named(redis, 't', 'dinner', 'cancel')).toEqual(['t.4']);
    expect((await named(redis, 't', 'dinner', 'request', 0)).sort()).toEqual(['t.1', 't.2', 't.4', 't.5']);
    await send(redis, [reply('dinner', guests[2]!, 'no'), reply('dinner', guests[5]!, 'maybe')]);
    const summary = await summaryOf(redis, 'dinner', 0);
    expect(summary).toMatchObject({ reason: 'all_replied', totalInvited: 3, yes: 1, no: 1, maybe: 1, unknownGuests: ['nobody.1'] });
    expect(summary.attendees.map((a) => a.guest_id).sort()).toEqual(['t.1', 't.2', 't.5']);

    // The live feed tells hosts every step: the version, what was delivered, the replies, the close.
    const feed = await activity(redis);
    expect(new Set(feed.map((a) => a.type))).toEqual(new Set(['version', 'delivered', 'replies', 'closed']));
    const removed = feed.filter((a) => a.type === 'delivered').flatMap((a) => a.events).find((e) => e.delivery === 'cancel');
    expect(removed?.guests).toEqual([{ guest_id: 't.4', outcome: 'removed', state: 'needs_action' }]);
    // Each invited guest is named once, by its version; the request's `delivered` entry does not repeat them.
    const invited = feed.filter((a) => a.type === 'version').flatMap((a) => a.events.flatMap((e) => e.guests ?? [])).filter((g) => g.outcome === 'invited');
    expect(invited.map((g) => g.guest_id).sort()).toEqual(['t.1', 't.2', 't.4', 't.5']);
    const requests = feed.filter((a) => a.type === 'delivered').flatMap((a) => a.events).filter((e) => e.delivery === 'request');
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.flatMap((e) => e.guests ?? [])).toEqual([]);
    const counted = feed.filter((a) => a.type === 'replies').flatMap((a) => a.events.flatMap((e) => e.guests ?? []));
    expect(counted.find((g) => g.guest_id === 't.5')).toMatchObject({ outcome: 'counted', state: 'tentative', reply_rev: 0 });
  });
});
