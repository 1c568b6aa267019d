import { beforeEach, describe, expect, it } from 'vitest';
import { dietaryQuestion } from '../../services/shared/schema/questions.ts';
import { eventKeys, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import { activity, coordinatorEnv, named, publish, registerAgent, reply, resetRevisions, send, summaryOf } from './support.ts';

// Attendance on the real pipeline (docs/EVENTS.md, "Attendance"): coordinator processes and
// redis-server; the test plays the host and the guests.

const ctx = useRedisStack();
beforeEach(() => resetRevisions());

describe('capacity and the waitlist', () => {
  it('with two coordinators and 1,000 acceptances racing for 100 seats: exactly the first 100 by arrival confirmed, 900 waitlisted in arrival order; 10 declines promote the next 10, a raised capacity the next 5', async () => {
    const redis = ctx.redis.client;
    // One guest more who stays silent, so the version stays open for the declines.
    const guests = (await registerAgent(redis, 'crowd', 1_001)).slice(0, 1_000);
    await Promise.all([ctx.procs.coordinator(coordinatorEnv), ctx.procs.coordinator(coordinatorEnv)]);
    await publish(redis, 'concert', { capacity: 100 });
    await eventually(async () => (await named(redis, 'crowd', 'concert', 'request')).length === 1_001, 15_000, 'requests');

    const entryIds = await send(redis, guests.map((g) => reply('concert', g, 'yes')));
    const k = eventKeys('concert');
    await eventually(async () => (await redis.hlen(k.replies)) === 1_000, 30_000, 'every acceptance recorded');
    expect(await redis.hmget(k.event, 'confirmed_count', 'headcount', 'waitlisted_count', 'yes_count')).toEqual(['100', '100', '900', '1000']);
    const arrival = new Map(guests.map((g, i) => [g.id, entryIds[i]!]));
    const waitlist = await redis.zrange(k.waitlist, 0, -1);
    expect(waitlist).toHaveLength(900);
    const byArrival = [...waitlist].sort((a, b) => cmpIds(arrival.get(a)!, arrival.get(b)!));
    expect(waitlist).toEqual(byArrival);
    const confirmed = guests.filter((g) => !waitlist.includes(g.id));
    // Seats in arrival order too: the confirmed are the first 100 acceptances to reach Redis,
    // whichever coordinator recorded which batch first (an earlier arrival recorded later took
    // the seat of a later one that had been told nothing).
    const firstHundred = [...guests].sort((a, b) => cmpIds(arrival.get(a.id)!, arrival.get(b.id)!)).slice(0, 100);
    expect(confirmed.map((g) => g.id).sort()).toEqual(firstHundred.map((g) => g.id).sort());
    expect(await redis.zcard(k.seated)).toBe(100);

    // Ten confirmed guests decline: the first ten in line get their seats and are told so.
    await send(redis, confirmed.slice(0, 10).map((g) => reply('concert', g, 'no', { replyRev: 1 })));
    await eventually(async () => (await named(redis, 'crowd', 'concert', 'promoted')).length === 10, 15_000, 'ten promotions');
    expect((await named(redis, 'crowd', 'concert', 'promoted')).sort()).toEqual(waitlist.slice(0, 10).sort());
    expect(await redis.zrange(k.waitlist, 0, -1)).toEqual(waitlist.slice(10));
    expect(await redis.hmget(k.event, 'confirmed_count', 'headcount', 'waitlisted_count', 'no_count')).toEqual(['100', '100', '890', '10']);

    // The host raises the capacity (same sequence): the next five in line are promoted.
    await publish(redis, 'concert', { capacity: 105 });
    await eventually(async () => (await named(redis, 'crowd', 'concert', 'promoted')).length === 15, 15_000, 'five more promotions');
    expect(await redis.zrange(k.waitlist, 0, -1)).toEqual(waitlist.slice(15));
    expect(await redis.hmget(k.event, 'confirmed_count', 'headcount', 'waitlisted_count')).toEqual(['105', '105', '885']);

    // The live feed never showed more than the capacity either.
    const counts = (await activity(redis)).flatMap((a) => a.events).flatMap((e) => (e.counts ? [e.counts] : []));
    expect(counts.length).toBeGreaterThan(0);
    expect(Math.max(...counts.map((c) => c.headcount))).toBe(105);
    expect(counts.filter((c) => c.headcount > 100).every((c) => c.headcount === 105)).toBe(true);
    expect(await deadLetters(redis)).toEqual([]);
  });
});

describe('seats in arrival order', () => {
  it('an earlier acceptance recorded after later ones (its coordinator was killed holding it) takes the seat of the latest not told yet; a promoted guest is not displaceable', async () => {
    const redis = ctx.redis.client;
    // One guest more who stays silent, so the version stays open.
    const [g0, g1, g2, g3, g4] = await registerAgent(redis, 'order', 6);
    // Reads the first reply and dies before recording it: it stays pending until reclaimed.
    const crashing = await ctx.procs.start('coordinator', { ...coordinatorEnv, CONSUMER_NAME: 'first', STREAM_TEST_CRASH: `read:1:${streams.responses}` });
    await publish(redis, 'recital', { capacity: 2 });
    await eventually(async () => (await named(redis, 'order', 'recital', 'request')).length === 6, 10_000, 'requests');
    const k = eventKeys('recital');

    await send(redis, [reply('recital', g0!, 'yes')]);
    expect((await crashing.exited).signal).toBe('SIGKILL');
    // Three more arrive after it, and a new coordinator records them first; it reclaims the dead
    // one's entry once idle for 6 s.
    await send(redis, [g1!, g2!, g3!].map((g) => reply('recital', g, 'yes')));
    await ctx.procs.coordinator({ ...coordinatorEnv, STREAM_CLAIM_IDLE_MS: '6000' });
    await eventually(async () => (await redis.hlen(k.replies)) === 3, 10_000, 'the later three recorded');
    expect(await redis.zrange(k.seated, 0, -1)).toEqual([g1!.id, g2!.id]);
    expect(await redis.zrange(k.waitlist, 0, -1)).toEqual([g3!.id]);

    // g0, reclaimed, takes the seat of g2, the latest seated (told nothing): arrival order, not recording order.
    await eventually(async () => (await redis.hlen(k.replies)) === 4, 20_000, 'the reclaimed reply recorded');
    expect(await redis.zrange(k.seated, 0, -1)).toEqual([g0!.id, g1!.id]);
    expect(await redis.zrange(k.waitlist, 0, -1)).toEqual([g2!.id, g3!.id]);
    expect(await redis.hmget(k.event, 'confirmed_count', 'headcount', 'waitlisted_count', 'yes_count')).toEqual(['2', '2', '2', '4']);
    const moves = (await activity(redis)).flatMap((a) => a.events).flatMap((e) => e.guests ?? []).filter((g) => g.outcome === 'displaced');
    expect(moves.map((g) => [g.guest_id, g.state, g.waitlist, g.reply_rev])).toEqual([[g2!.id, 'accepted', 1, 0]]);
    expect(await named(redis, 'order', 'recital', 'promoted')).toEqual([]);

    // g0 declines: g2, first in line, is promoted and told, so it is no longer displaceable.
    await send(redis, [reply('recital', g0!, 'no', { replyRev: 1 })]);
    await eventually(async () => (await named(redis, 'order', 'recital', 'promoted')).length === 1, 10_000, 'a promotion');
    expect(await named(redis, 'order', 'recital', 'promoted')).toEqual([g2!.id]);
    expect(await redis.zrange(k.seated, 0, -1)).toEqual([g1!.id]);
    await send(redis, [reply('recital', g4!, 'yes')]);
    await eventually(async () => (await redis.hlen(k.replies)) === 5, 10_000, 'g4 recorded');
    expect(await redis.zrange(k.waitlist, 0, -1)).toEqual([g3!.id, g4!.id]);
    expect(await redis.hmget(k.event, 'confirmed_count', 'headcount', 'waitlisted_count')).toEqual(['2', '2', '2']);
    expect(await deadLetters(redis)).toEqual([]);
  });
});

describe('replies', () => {
  it('are rejected with a reason when answers or plus-ones do not fit, change (yes -> no -> yes) with reply_rev, and the summary aggregates the answers', async () => {
    const redis = ctx.redis.client;
    const [g0, g1, g2, g3] = await registerAgent(redis, 'q', 4);
    await ctx.procs.coordinator(coordinatorEnv);
    await publish(redis, 'feast', { questions: [{ ...dietaryQuestion, required: true }], plusOnesMax: 1, capacity: 10 });
    await eventually(async () => (await named(redis, 'q', 'feast', 'request')).length === 4, 10_000, 'requests');
    const k = eventKeys('feast');

    await send(redis, [
      reply('feast', g0!, 'yes', { plusOnes: 1, answers: { dietary: 'vegan' } }),
      reply('feast', g1!, 'yes', { answers: { dietary: 'pizza' } }),
      reply('feast', g2!, 'yes', { plusOnes: 3, answers: { dietary: 'none' } }),
      reply('feast', g3!, 'yes', { answers: { dietary: 'none' } }),
    ]);
    await eventually(async () => (await redis.hlen(k.rejected)) === 2, 10_000, 'two rejections');
    const reasons = Object.values(await redis.hgetall(k.rejected)).sort();
    expect(reasons).toEqual(['invalid_answer: dietary must be one of none, vegetarian, vegan, gluten_free, halal, kosher', 'invalid_plus_ones: 3 plus-ones, at most 1 allowed']);

    // g3 changes its mind twice; an older rev arriving late is outdated and changes nothing.
    await send(redis, [reply('feast', g3!, 'no', { replyRev: 1 }), reply('feast', g3!, 'yes', { replyRev: 2, answers: { dietary: 'gluten_free' } }), reply('feast', g3!, 'no', { replyRev: 1 })]);
    await eventually(async () => JSON.parse((await redis.hget(k.replies, g3!.id)) ?? '{}').reply_rev === 2, 10_000, 'latest reply of g3');
    await send(redis, [reply('feast', g1!, 'yes', { replyRev: 1, answers: { dietary: 'vegetarian' } }), reply('feast', g2!, 'no', { replyRev: 1 })]);

    const summary = await summaryOf(redis, 'feast', 0);
    expect(summary).toMatchObject({ reason: 'all_replied', yes: 3, no: 1, confirmed: 3, headcount: 4, rejected: 2, capacity: 10 });
    // Every guest answered; three of the four hold a seat.
    expect(summary).toMatchObject({ responseRate: 1, attendanceRate: 0.75 });
    expect(summary.answers).toEqual({ dietary: { vegan: 1, vegetarian: 1, gluten_free: 1 } });
    const g0Row = summary.attendees.find((a) => a.guest_id === g0!.id);
    expect(g0Row).toMatchObject({ state: 'accepted', plus_ones: 1, answers: { dietary: 'vegan' } });
    // The original's seven fields per counted reply, nothing more.
    expect(Object.keys(summary.responses[0]!).sort()).toEqual(['guest_id', 'guest_name', 'id', 'invitation_id', 'message', 'response', 'timestamp']);
    expect(await deadLetters(redis)).toEqual([]);
  });
});

function cmpIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am! - bm! || as! - bs!;
}
