import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { INVITED_NAMED_MAX } from '../../services/coordinator/outbox.ts';
import type { Delivery } from '../../services/shared/schema/delivery.ts';
import { MAX_LIST_FIELD_LENGTH } from '../../services/shared/schema/validation.ts';
import { eventKeys, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters, readAll } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { checkEventInvariants, failures } from '../reliability/invariants.ts';
import { type FakeGuest, activity, coordinatorEnv, inbox, named, publish, registerAgent, reply, resetRevisions, send, summaries, summaryOf } from './support.ts';

// A large event's deliveries to every guest (requests, details, reminders, a cancellation) are
// staged and added in bounded steps (fan-out.ts, issue 17 item 4) instead of inside one script.
// These tests run real coordinators on a real redis-server: the steps must deliver what one call
// delivers, and a coordinator killed -9 between two steps must still leave every guest one
// delivery of each, and one summary per version.

const ctx = useRedisStack();
beforeEach(() => resetRevisions());

/** 2,500 guests over three agents (chunks of 500 per agent: 3 + 2 + 1). */
async function threeAgents(redis: Redis): Promise<FakeGuest[]> {
  return [...(await registerAgent(redis, 'fa', 1_200)), ...(await registerAgent(redis, 'fb', 800)), ...(await registerAgent(redis, 'fc', 500))];
}
const AGENTS = ['fa', 'fb', 'fc'];
const GUESTS = 2_500;

/** Per agent and type, the deliveries' guest lists (requests as delivered, the others as one sorted list). */
async function deliveriesOf(redis: Redis, eventId: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const agent of AGENTS) {
    const all = await inbox(redis, agent, eventId);
    const of = (type: Delivery['type']) => all.filter((d) => d.type === type);
    out[`${agent}:request`] = of('request').map((d) => d.guestIds);
    for (const type of ['details', 'reminder', 'cancel'] as const) out[`${agent}:${type}`] = of(type).flatMap((d) => d.guestIds).sort();
  }
  return out;
}

/** Every guest named exactly once by the deliveries of a type (and sequence) to the three agents. */
async function onceEach(redis: Redis, eventId: string, type: Delivery['type'], sequence?: number): Promise<boolean> {
  const ids = (await Promise.all(AGENTS.map((a) => named(redis, a, eventId, type, sequence)))).flat();
  return ids.length === GUESTS && new Set(ids).size === GUESTS;
}

/**
 * The guests event_activity names as invited to a version: by its `version` entries, and by the
 * `delivered` entries of its requests (a large version's fan-out steps name each chunk's guests).
 */
async function invitedOf(redis: Redis, eventId: string, sequence: number): Promise<{ byVersion: string[]; byDelivered: string[] }> {
  const feed = await activity(redis);
  const of = (type: string) =>
    feed
      .filter((a) => a.type === type)
      .flatMap((a) => a.events.filter((e) => e.invitation_id === eventId && e.sequence === sequence && (type === 'version' || e.delivery === 'request')))
      .flatMap((e) => e.guests ?? []);
  for (const g of of('delivered')) expect(g).toEqual({ guest_id: g.guest_id, outcome: 'invited', state: 'needs_action' });
  return { byVersion: of('version').map((g) => g.guest_id), byDelivered: of('delivered').map((g) => g.guest_id) };
}

/**
 * The version's guests named as invited by the fan-out's `delivered` entries only, each once: all of
 * them up to INVITED_NAMED_MAX, else the first chunks' until at least that many (a chunk is at most
 * 500 guests); the others appear on a host's board as they answer.
 */
async function invitedOnceEach(redis: Redis, eventId: string, sequence: number, guests: FakeGuest[]): Promise<void> {
  const { byVersion, byDelivered } = await invitedOf(redis, eventId, sequence);
  expect(byVersion).toEqual([]);
  expect(new Set(byDelivered).size, 'a guest named twice').toBe(byDelivered.length);
  const ids = new Set(guests.map((g) => g.id));
  expect(byDelivered.filter((id) => !ids.has(id))).toEqual([]);
  if (guests.length <= INVITED_NAMED_MAX) expect(byDelivered.length).toBe(guests.length);
  else {
    expect(byDelivered.length).toBeGreaterThanOrEqual(INVITED_NAMED_MAX);
    expect(byDelivered.length).toBeLessThan(INVITED_NAMED_MAX + 500);
  }
  // Every entry within the field limits the readers apply.
  for (const e of await readAll(redis, streams.activity)) expect(e.fields.events!.length).toBeLessThanOrEqual(MAX_LIST_FIELD_LENGTH);
}

/** Published at publish_at (a tick), answered, updated in place, reminded, cancelled. */
async function runEvent(redis: Redis, eventId: string, guests: FakeGuest[]): Promise<void> {
  const def = { rsvpDeadline: Date.now() + 67_000, reminders: [1], publishAt: Date.now() + 1_000 };
  await publish(redis, eventId, def);
  await eventually(async () => (await onceEach(redis, eventId, 'request')) || undefined, 30_000, `${eventId}: requests`);
  // A quarter each: yes, no, maybe, silent (the reminder's guests).
  await send(redis, guests.flatMap((g, i) => (i % 4 === 3 ? [] : [reply(eventId, g, (['yes', 'no', 'maybe'] as const)[i % 4]!)])));
  await eventually(async () => (await redis.hlen(eventKeys(eventId).replies)) === (GUESTS * 3) / 4 || undefined, 30_000, `${eventId}: replies counted`);
  await publish(redis, eventId, { ...def, location: 'The other hall' });
  await eventually(async () => (await onceEach(redis, eventId, 'details')) || undefined, 30_000, `${eventId}: details`);
  await eventually(async () => (await Promise.all(AGENTS.map((a) => named(redis, a, eventId, 'reminder')))).flat().length === GUESTS / 4 || undefined, 30_000, `${eventId}: reminders`);
  await publish(redis, eventId, { ...def, method: 'CANCEL', sequence: 1 });
  await eventually(async () => (await onceEach(redis, eventId, 'cancel')) || undefined, 30_000, `${eventId}: cancellations`);
  await summaryOf(redis, eventId, 0, 30_000);
}

describe('a large event delivered in steps', () => {
  it('delivers what one call delivers: requests in the same chunks, details, reminders and the cancellation to the same guests', async () => {
    const redis = ctx.redis.client;
    const guests = await threeAgents(redis);

    const oneCall = await ctx.procs.coordinator({ ...coordinatorEnv, FANOUT_STEP_GUESTS: '1000000', SUMMARY_STEP_GUESTS: '1000000' });
    await runEvent(redis, 'in-one-call', guests);
    await oneCall.stop();
    await ctx.procs.coordinator({ ...coordinatorEnv, FANOUT_STEP_GUESTS: '200', SUMMARY_STEP_GUESTS: '1000000' });
    await runEvent(redis, 'in-steps', guests);

    expect(await redis.hget(eventKeys('in-one-call').event, 'fanout_step_above')).toBe('1000000');
    expect(await redis.hget(eventKeys('in-steps').event, 'fanout_step_above')).toBe('200');
    const expected = await deliveriesOf(redis, 'in-one-call');
    expect(await deliveriesOf(redis, 'in-steps')).toEqual(expected);
    // Each took its path: the steps' deliveries are chunks of fan-outs (<event>:<fx>:c<i>), the one call's are not.
    const keysOf = async (eventId: string) => (await Promise.all(AGENTS.map((a) => inbox(redis, a, eventId)))).flat().map((d) => `${d.type} ${/:c\d+$/.test(d.deliveryKey) ? 'fan-out' : 'one call'}`);
    expect(new Set(await keysOf('in-steps'))).toEqual(new Set(['request fan-out', 'details fan-out', 'reminder fan-out', 'cancel fan-out']));
    expect(new Set(await keysOf('in-one-call'))).toEqual(new Set(['request one call', 'details one call', 'reminder one call', 'cancel one call']));
    // Not vacuous: every agent got chunks of each kind.
    expect(expected['fa:request']).toHaveLength(3);
    expect((expected['fb:reminder'] as string[]).length).toBe(200);

    const [one] = await summaries(redis, 'in-one-call');
    const [stepped] = await summaries(redis, 'in-steps');
    const counts = (s: typeof one) => ({ reason: s!.reason, invited: s!.totalInvited, yes: s!.yes, no: s!.no, maybe: s!.maybe, reminders: s!.remindersSent, attendees: s!.attendees.length });
    expect(counts(stepped)).toEqual(counts(one));
    // The hosts' feed: the one call's version lists the invited guests (up to ACTIVITY_GUESTS); the
    // steps' version lists none, and the request chunks' `delivered` entries name the first chunks' guests once.
    await invitedOnceEach(redis, 'in-steps', 0, guests);
    const oneCallInvited = await invitedOf(redis, 'in-one-call', 0);
    expect(oneCallInvited.byVersion).toHaveLength(2_000);
    expect(oneCallInvited.byDelivered).toEqual([]);
    expect(stepped!.remindersSent).toBe(GUESTS / 4);
    // Nothing left behind: no stage, no fan-out, no pending listing.
    await delay(500);
    expect(await redis.keys('event:{in-steps}:stage:*')).toEqual([]);
    expect(await redis.keys('event:{in-steps}:fanout:*')).toEqual([]);
    expect(Object.keys(await redis.hgetall(eventKeys('in-steps').event)).filter((f) => f.startsWith('fo:'))).toEqual([]);
    expect(await deadLetters(redis)).toEqual([]);
  });

  it('opens a version of 501–2,000 guests staged too: no call names its guests, its steps do, once each', async () => {
    const redis = ctx.redis.client;
    const guests = await registerAgent(redis, 'fd', 1_000);
    await ctx.procs.coordinator({ ...coordinatorEnv, FANOUT_STEP_GUESTS: '500' });
    await publish(redis, 'mid-size', { rsvpDeadline: Date.now() + 600_000 });
    await eventually(async () => (await named(redis, 'fd', 'mid-size', 'request')).length === 1_000 || undefined, 30_000, 'requests');
    const keys = (await inbox(redis, 'fd', 'mid-size')).map((d) => d.deliveryKey);
    expect(keys.every((k) => /:c\d+$/.test(k))).toBe(true);
    await eventually(async () => (await invitedOf(redis, 'mid-size', 0)).byDelivered.length === 1_000 || undefined, 30_000, 'invited named');
    await invitedOnceEach(redis, 'mid-size', 0, guests);
    expect(await deadLetters(redis)).toEqual([]);
  });

  it('killed -9 while staging, then while delivering, with an update and a new version arriving meanwhile: one delivery each, one summary per version', async () => {
    const redis = ctx.redis.client;
    const guests = await threeAgents(redis);
    // FANOUT_STEP_GUESTS=25: staging 2,500 guests is 100 steps, writing the 6 chunks 6 more, then one chunk per step.
    const env = { ...coordinatorEnv, FANOUT_STEP_GUESTS: '25', SUMMARY_STEP_GUESTS: '200' };
    const first = await ctx.procs.coordinator({ ...env, FANOUT_TEST_CRASH: 'after-step:50' });
    await publish(redis, 'killed', { rsvpDeadline: Date.now() + 600_000 });
    expect((await first.exited).signal).toBe('SIGKILL');
    // Half staged: nothing opened.
    expect(await redis.hget(eventKeys('killed').event, 'status')).toBeNull();

    const second = await ctx.procs.coordinator({ ...env, FANOUT_TEST_CRASH: 'after-step:109' });
    expect((await second.exited).signal).toBe('SIGKILL');
    expect(second.stderr.join('\n')).toContain('FANOUT_TEST_CRASH');
    // Opened, three of its six request chunks out.
    expect(await redis.hget(eventKeys('killed').event, 'status')).toBe('open');
    const out = (await Promise.all(AGENTS.map((a) => named(redis, a, 'killed', 'request')))).flat();
    expect(out.length).toBeGreaterThan(0);
    expect(out.length).toBeLessThan(GUESTS);

    // Before anyone resumes: details of the same version, then a new version.
    await publish(redis, 'killed', { rsvpDeadline: Date.now() + 600_000, location: 'Annex' });
    await publish(redis, 'killed', { rsvpDeadline: Date.now() + 600_000, sequence: 1, location: 'Elsewhere' });
    await ctx.procs.coordinator(env);

    const updated = await summaryOf(redis, 'killed', 0, 60_000);
    expect(updated.reason).toBe('updated');
    expect(updated.totalInvited).toBe(GUESTS);
    await eventually(async () => (await onceEach(redis, 'killed', 'request', 1)) || undefined, 60_000, 'version 1 asked');
    expect(await onceEach(redis, 'killed', 'request', 0)).toBe(true);
    expect(await onceEach(redis, 'killed', 'details')).toBe(true);

    await send(redis, guests.map((g, i) => reply('killed', g, i % 2 === 0 ? 'yes' : 'no', { sequence: 1 })));
    const second1 = await summaryOf(redis, 'killed', 1, 60_000);
    expect(second1.yes + second1.no).toBe(GUESTS);
    await delay(1_000);
    expect((await summaries(redis, 'killed')).map((s) => s.sequence).sort()).toEqual([0, 1]);
    expect(await onceEach(redis, 'killed', 'request', 0)).toBe(true);
    expect(await onceEach(redis, 'killed', 'request', 1)).toBe(true);
    // The steps drained again after the kill named no guest twice in event_activity.
    await invitedOnceEach(redis, 'killed', 0, guests);
    await invitedOnceEach(redis, 'killed', 1, guests);
    // The stages the kills left behind expire (bounded life); none is in use.
    for (const key of await redis.keys('event:{killed}:stage:*')) expect(await redis.pttl(key)).toBeGreaterThan(0);
    expect(failures(await checkEventInvariants(redis, AGENTS))).toBe('');
    expect(await deadLetters(redis)).toEqual([]);
  });

  it('of a closed event: start reminders to the confirmed guests only, and a cancellation to every guest, once each', async () => {
    const redis = ctx.redis.client;
    const guests = await threeAgents(redis);
    await ctx.procs.coordinator({ ...coordinatorEnv, FANOUT_STEP_GUESTS: '200' });
    // Closes at its deadline in 6 s; starts in 68 s (UTC): the 1-minute start reminder falls 8 s from now.
    const iso = new Date(Date.now() + 68_000).toISOString();
    const def = { eventDate: iso.slice(0, 10), eventTime: iso.slice(11, 19), timezone: 'UTC', startReminders: [1], capacity: 600, rsvpDeadline: Date.now() + 6_000 };
    await publish(redis, 'closed', def);
    await eventually(async () => (await onceEach(redis, 'closed', 'request')) || undefined, 30_000, 'requests');
    await send(redis, guests.flatMap((g, i) => (i % 4 === 3 ? [] : [reply('closed', g, (['yes', 'no', 'maybe'] as const)[i % 4]!)])));
    const closed = await summaryOf(redis, 'closed', 0, 30_000);
    expect(closed.reason).toBe('deadline');
    expect(closed.yes).toBe(625);
    const waitlisted = new Set(await redis.zrange(eventKeys('closed').waitlist, 0, -1));
    expect(waitlisted.size).toBe(25);
    const confirmed = guests.filter((g, i) => i % 4 === 0 && !waitlisted.has(g.id)).map((g) => g.id).sort();
    const reminded = async () => (await Promise.all(AGENTS.map((a) => named(redis, a, 'closed', 'start_reminder')))).flat();
    await eventually(async () => (await reminded()).length >= confirmed.length || undefined, 30_000, 'start reminders');

    await publish(redis, 'closed', { ...def, method: 'CANCEL', sequence: 1 });
    await eventually(async () => (await onceEach(redis, 'closed', 'cancel')) || undefined, 30_000, 'cancellations');
    await summaryOf(redis, 'closed', 1, 30_000);
    await delay(1_000);
    expect((await reminded()).sort()).toEqual(confirmed);
    expect(await onceEach(redis, 'closed', 'cancel')).toBe(true);
    const keys = (await Promise.all(AGENTS.map((a) => inbox(redis, a, 'closed')))).flat().filter((d) => d.type !== 'request').map((d) => `${d.type} ${/:c\d+$/.test(d.deliveryKey) ? 'fan-out' : 'one call'}`);
    expect(new Set(keys)).toEqual(new Set(['start_reminder fan-out', 'cancel fan-out']));
    // The guests set aside for the cancellation went with it.
    expect(await redis.keys('event:{closed}:fanout:*')).toEqual([]);
    expect((await summaries(redis, 'closed')).map((s) => s.sequence).sort()).toEqual([0, 1]);
    expect(await deadLetters(redis)).toEqual([]);
  });
});
