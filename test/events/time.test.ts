import { beforeEach, describe, expect, it } from 'vitest';
import { eventKeys, streams } from '../../services/shared/streams/keys.ts';
import { entryIdTime } from '../../services/shared/util/time.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters, readAll } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { coordinatorEnv, inbox, named, publish, registerAgent, reply, resetRevisions, send, sendReceipt, summaries, summaryOf } from './support.ts';

// Timers on the real pipeline (docs/EVENTS.md, "Time and routing"): reminders, publish_at, the
// RSVP deadline and expiry, with coordinators killed exactly when a timer fires and with several
// coordinators sweeping at once.

const ctx = useRedisStack();
beforeEach(() => resetRevisions());

const MINUTE = 60_000;

describe('reminders', () => {
  it('reach the guests still at NEEDS-ACTION once, when the coordinator that fired them was SIGKILLed before delivering, and with two coordinators sweeping', async () => {
    const redis = ctx.redis.client;
    const guests = await registerAgent(redis, 'r', 3);
    const first = await ctx.procs.coordinator({ ...coordinatorEnv, TIMER_TEST_CRASH: 'after-tick:1' });
    // The reminder 1 minute before the deadline falls 2 s from now.
    await publish(redis, 'picnic', { rsvpDeadline: Date.now() + MINUTE + 2_000, reminders: [1] });
    await eventually(async () => (await named(redis, 'r', 'picnic', 'request')).length === 3, 10_000, 'requests');
    await send(redis, [reply('picnic', guests[0]!, 'yes')]);
    await eventually(async () => (await redis.hlen(eventKeys('picnic').replies)) === 1, 10_000, 'reply counted');

    const ended = await first.exited;
    expect(ended.signal).toBe('SIGKILL');
    expect(first.stderr.some((l) => l.startsWith('TIMER_TEST_CRASH: SIGKILL after timer tick 1 (event picnic)'))).toBe(true);
    expect(await named(redis, 'r', 'picnic', 'reminder')).toEqual([]);

    await Promise.all([ctx.procs.coordinator(coordinatorEnv), ctx.procs.coordinator(coordinatorEnv)]);
    await eventually(async () => (await named(redis, 'r', 'picnic', 'reminder')).length >= 2, 10_000, 'reminders delivered by the survivors');
    await delay(1_000);
    expect((await named(redis, 'r', 'picnic', 'reminder')).sort()).toEqual([guests[1]!.id, guests[2]!.id]);
    const reminder = (await inbox(redis, 'r', 'picnic')).find((d) => d.type === 'reminder')!;
    expect(reminder).toMatchObject({ reminder: 1, sequence: 0 });
    expect(await redis.hget(eventKeys('picnic').event, 'reminders_sent')).toBe('2');
  });

  it('whose time passed while the version was not open are skipped, not sent late', async () => {
    const redis = ctx.redis.client;
    await registerAgent(redis, 's', 2);
    await ctx.procs.coordinator(coordinatorEnv);
    // Opens 2 s from now; the 5-minute reminder would have been due already.
    await publish(redis, 'late-open', { publishAt: Date.now() + 1_500, rsvpDeadline: Date.now() + 4 * MINUTE, reminders: [5, 1] });
    await eventually(async () => (await named(redis, 's', 'late-open', 'request')).length === 2, 10_000, 'published');
    await delay(800);
    expect(await named(redis, 's', 'late-open', 'reminder')).toEqual([]);
    expect(await redis.sismember(eventKeys('late-open').done, 's0:r:5')).toBe(1);
  });
});

describe('start reminders', () => {
  it('go once to the confirmed guests only (not the waitlisted, not the declining)', async () => {
    const redis = ctx.redis.client;
    const [yes, waiting, no] = await registerAgent(redis, 'sr', 3);
    await ctx.procs.coordinator(coordinatorEnv);
    // Starts in 62 s (UTC): the 1-minute start reminder falls 2 s from now.
    const start = new Date(Date.now() + 62_000);
    const iso = start.toISOString();
    await publish(redis, 'standup', { eventDate: iso.slice(0, 10), eventTime: iso.slice(11, 19), timezone: 'UTC', startReminders: [1], capacity: 1, rsvpDeadline: Date.now() + 30_000 });
    await eventually(async () => (await named(redis, 'sr', 'standup', 'request')).length === 3, 10_000, 'requests');
    await send(redis, [reply('standup', yes!, 'yes'), reply('standup', waiting!, 'yes'), reply('standup', no!, 'no')]);
    await eventually(async () => (await named(redis, 'sr', 'standup', 'start_reminder')).length > 0, 10_000, 'start reminder');
    await delay(1_000);
    expect(await named(redis, 'sr', 'standup', 'start_reminder')).toEqual([yes!.id]);
    expect(await redis.zrange(eventKeys('standup').waitlist, 0, -1)).toEqual([waiting!.id]);
  });
});

describe('scheduling', () => {
  it('delivers nothing before publish_at, applies an update made before it, and publishes once through a SIGKILL at the moment it fires', async () => {
    const redis = ctx.redis.client;
    await registerAgent(redis, 'p', 3);
    const first = await ctx.procs.coordinator({ ...coordinatorEnv, TIMER_TEST_CRASH: 'after-tick:1' });
    const publishAt = Date.now() + 2_500;
    await publish(redis, 'launch', { publishAt });
    await publish(redis, 'launch', { publishAt, location: 'Rooftop' });
    // Scheduled and cancelled before it fires: never delivered, one cancelled summary.
    await publish(redis, 'dropped', { publishAt });
    await publish(redis, 'dropped', { publishAt, method: 'CANCEL', sequence: 1 });
    expect(await summaryOf(redis, 'dropped', 1)).toMatchObject({ reason: 'cancelled', totalInvited: 0 });
    await delay(1_000);
    expect(await inbox(redis, 'p')).toEqual([]);
    expect(await redis.hget(eventKeys('launch').event, 'status')).toBe('scheduled');

    expect((await first.exited).signal).toBe('SIGKILL');
    await ctx.procs.coordinator(coordinatorEnv);
    await eventually(async () => (await named(redis, 'p', 'launch', 'request')).length === 3, 10_000, 'published after the restart');
    await delay(500);
    const deliveries = await inbox(redis, 'p');
    expect(deliveries.every((d) => d.invitationId === 'launch' && d.location === 'Rooftop')).toBe(true);
    expect(deliveries.flatMap((d) => d.guestIds)).toHaveLength(3);
    for (const d of deliveries) expect(entryIdTime(d.entryId)).toBeGreaterThanOrEqual(publishAt);
  });

  it('of an update that moved publish_at ahead, cancelled before it fires: the guests of the earlier version receive the cancellation', async () => {
    const redis = ctx.redis.client;
    const guests = await registerAgent(redis, 'u', 3);
    await ctx.procs.coordinator(coordinatorEnv);
    await publish(redis, 'moved');
    await eventually(async () => (await named(redis, 'u', 'moved', 'request', 0)).length === 3 || undefined, 10_000, 'requests');
    // A new date, published again in a minute: version 0 closes, version 1 waits.
    await publish(redis, 'moved', { sequence: 1, eventDate: '2027-09-01', publishAt: Date.now() + 60_000 });
    expect(await summaryOf(redis, 'moved', 0)).toMatchObject({ reason: 'updated', totalInvited: 3 });
    await eventually(async () => (await redis.hget(eventKeys('moved').event, 'status')) === 'scheduled' || undefined, 10_000, 'scheduled');
    await publish(redis, 'moved', { sequence: 2, eventDate: '2027-09-01', publishAt: Date.now() + 60_000, method: 'CANCEL' });
    expect(await summaryOf(redis, 'moved', 2)).toMatchObject({ reason: 'cancelled', totalInvited: 0 });
    await eventually(async () => (await named(redis, 'u', 'moved', 'cancel')).length === 3 || undefined, 10_000, 'the cancellation to the guests of version 0');
    expect((await named(redis, 'u', 'moved', 'cancel')).sort()).toEqual(guests.map((g) => g.id).sort());
    expect((await summaries(redis, 'moved')).map((s) => s.sequence)).toEqual([0, 2]);
    expect(await named(redis, 'u', 'moved', 'request', 1)).toEqual([]);
  });

  it('publishes each scheduled invitation once when two coordinators sweep the timers', async () => {
    const redis = ctx.redis.client;
    await registerAgent(redis, 'q', 3);
    await Promise.all([ctx.procs.coordinator(coordinatorEnv), ctx.procs.coordinator(coordinatorEnv)]);
    const publishAt = Date.now() + 2_000;
    const ids = ['s1', 's2', 's3', 's4', 's5', 's6'];
    for (const id of ids) await publish(redis, id, { publishAt });
    await eventually(async () => ((await inbox(redis, 'q')).flatMap((d) => d.guestIds).length >= 3 * ids.length ? true : undefined), 15_000, 'every scheduled invitation published');
    // Both sweep every 50 ms: time enough for a second publication, if there were one.
    await delay(1_000);
    const deliveries = await inbox(redis, 'q');
    for (const id of ids) expect((await named(redis, 'q', id, 'request')).sort(), id).toHaveLength(3);
    expect(deliveries.flatMap((d) => d.guestIds)).toHaveLength(3 * ids.length);
    for (const d of deliveries) expect(entryIdTime(d.entryId)).toBeGreaterThanOrEqual(publishAt);
    for (const id of ids) expect(await redis.hget(eventKeys(id).event, 'status'), id).toBe('open');
  });
});

describe('the RSVP deadline', () => {
  it('closes the open version with the guests who did not answer', async () => {
    const redis = ctx.redis.client;
    const guests = await registerAgent(redis, 'dl', 3);
    await ctx.procs.coordinator(coordinatorEnv);
    // Room for the coordinator to start and deliver on a loaded machine: the reply must come before the deadline.
    await publish(redis, 'quiz', { rsvpDeadline: Date.now() + 8_000 });
    await eventually(async () => (await named(redis, 'dl', 'quiz', 'request')).length === 3, 10_000, 'requests');
    await send(redis, [reply('quiz', guests[0]!, 'maybe')]);
    const summary = await summaryOf(redis, 'quiz', 0);
    expect(summary).toMatchObject({ reason: 'deadline', maybe: 1, noResponse: 2, needsAction: 2 });
    expect(summary.noResponseGuests.map((g) => g.guest_id).sort()).toEqual([guests[1]!.id, guests[2]!.id]);
    // The timer index is updated after the summary is on its stream: a moment later on a busy machine.
    await eventually(async () => (await redis.zscore('event_timers', 'quiz')) === null || undefined, 5_000, 'the timer removed');
  });
});

describe('expiry', () => {
  it('records guests as never asked from their agents’ receipts, once, unless they answered', async () => {
    const redis = ctx.redis.client;
    const guests = await registerAgent(redis, 'x', 3);
    await ctx.procs.coordinator(coordinatorEnv);
    await publish(redis, 'flash', { expiresAt: Date.now() + 60_000 });
    await eventually(async () => (await named(redis, 'x', 'flash', 'request')).length === 3, 10_000, 'requests');
    await send(redis, [reply('flash', guests[0]!, 'yes')]);
    await eventually(async () => (await redis.hlen(eventKeys('flash').replies)) === 1, 10_000, 'reply counted');
    // A receipt for the guest that answered changes nothing; one sent twice counts once.
    await sendReceipt(redis, 'flash', guests[0]!);
    await sendReceipt(redis, 'flash', guests[1]!);
    await sendReceipt(redis, 'flash', guests[1]!);
    await sendReceipt(redis, 'flash', guests[2]!);
    const summary = await summaryOf(redis, 'flash', 0);
    expect(summary).toMatchObject({ reason: 'all_replied', yes: 1, totalInvited: 3 });
    expect(summary.neverAsked.map((g) => g.guest_id).sort()).toEqual([guests[1]!.id, guests[2]!.id]);
    expect(summary.attendees.find((a) => a.guest_id === guests[0]!.id)?.state).toBe('accepted');
  });

  it('is not delivered after expires_at: a version published after it asks nobody and closes as expired', async () => {
    const redis = ctx.redis.client;
    await registerAgent(redis, 'y', 2);
    await ctx.procs.coordinator(coordinatorEnv);
    await publish(redis, 'too-late', { publishAt: Date.now() + 1_500, expiresAt: Date.now() + 1_000 });
    const summary = await summaryOf(redis, 'too-late', 0);
    expect(summary).toMatchObject({ reason: 'expired', totalInvited: 2, totalResponses: 0 });
    expect(summary.neverAsked).toHaveLength(2);
    expect(await inbox(redis, 'y')).toEqual([]);
  });

  it('with a stopped guest agent: the agent reads the request after expires_at, receipts it, and its guests are never asked', async () => {
    const redis = ctx.redis.client;
    await ctx.procs.coordinator(coordinatorEnv);
    const agent = await ctx.procs.guests({ GUEST_AGENT_ID: 'sleepy', GUESTS_PER_AGENT: '3', PERSONAS: 'instant' });
    agent.child.kill('SIGSTOP');
    // Time enough to be delivered on a loaded machine (delivered after expires_at, it would not be).
    const expiresAt = Date.now() + 5_000;
    await publish(redis, 'fleeting', { expiresAt });
    await eventually(async () => (await named(redis, 'sleepy', 'fleeting', 'request')).length === 3, 10_000, 'requests in the inbox');
    await delay(expiresAt - Date.now() + 500);
    agent.child.kill('SIGCONT');
    const summary = await summaryOf(redis, 'fleeting', 0);
    expect(summary).toMatchObject({ reason: 'expired', totalInvited: 3, totalResponses: 0 });
    expect(summary.neverAsked).toHaveLength(3);
    // The agent dead-letters the expired request when it settles its batch, which may be after the
    // coordinator has counted its receipts and closed the version.
    const reasons = async () => (await deadLetters(redis)).map((d) => d.fields.dead_letter_reason?.split(':')[0]);
    await eventually(async () => (await reasons()).length > 0, 10_000, 'the expired request dead-lettered');
    expect(await reasons()).toEqual(['expired']);
    expect((await readAll(redis, streams.responses)).every((e) => e.fields.kind === 'receipt')).toBe(true);
    expect(await summaries(redis, 'fleeting')).toHaveLength(1);
  }, 40_000);
});
