import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { dietaryQuestion } from '../../services/shared/schema/questions.ts';
import { eventKeys, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters, pendingCount, readAll } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { checkEventInvariants, failures } from '../reliability/invariants.ts';
import { type FakeGuest, coordinatorEnv, publish, registerAgent, reply, resetRevisions, send, summaries, summaryOf } from './support.ts';

// A large version's summary lists are read in bounded steps (summary-builder.ts) instead of inside
// the script that closes it (issue 17, item 4). These tests run the real coordinator on a real
// redis-server: the stepped summary must be the one the closing script builds, and a coordinator
// killed between two steps must still leave exactly one summary per version.

const ctx = useRedisStack();
beforeEach(() => resetRevisions());

const GUESTS = 2_500;
const fixedTime = '2026-12-03T10:00:00.000Z';

/** Replies of every kind: yes (some beyond the capacity: waitlisted), no, maybe, with answers; every 7th guest silent. */
function repliesFor(eventId: string, guests: FakeGuest[]) {
  const out = [];
  for (const [i, g] of guests.entries()) {
    if (i % 7 === 3) continue;
    const response = (['yes', 'no', 'maybe'] as const)[i % 3]!;
    const answers: Record<string, string> = i % 2 === 0 ? { dietary: dietaryQuestion.options![i % 6]! } : {};
    out.push(reply(eventId, g, response, { timestamp: fixedTime, message: `m${i}`, plusOnes: i % 5 === 0 ? 1 : 0, answers }));
  }
  return out;
}

/** The summary entry's fields with the event id made neutral and every list sorted, for comparison. */
async function comparable(redis: Redis, eventId: string): Promise<Record<string, unknown>> {
  const entries = (await readAll(redis, streams.summaries)).filter((e) => e.fields.invitation_id === eventId);
  expect(entries).toHaveLength(1);
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(entries[0]!.fields)) {
    if (['timestamp', 'invited_at', 'published_at'].includes(name)) continue;
    const value = raw.split(eventId).join('EVENT');
    const parsed = value.startsWith('[') || value.startsWith('{') ? (JSON.parse(value) as unknown) : value;
    out[name] = Array.isArray(parsed) ? parsed.map((x) => JSON.stringify(sortKeys(x))).sort() : sortKeys(parsed);
  }
  return out;
}

/** True when the coordinators' group read `stream` up to `lastId` and acknowledged everything. */
async function handled(redis: Redis, stream: string, lastId: string): Promise<boolean> {
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  const group = groups.map((g) => Object.fromEntries(Array.from({ length: g.length / 2 }, (_, i) => [String(g[2 * i]), g[2 * i + 1]]))).find((g) => g.name === 'coordinators');
  return group !== undefined && group['last-delivered-id'] === lastId && Number(group.pending) === 0 && (await pendingCount(redis, stream, 'coordinators')) === 0;
}

function sortKeys(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(sortKeys);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortKeys(v)]));
  return x;
}

async function runEvent(redis: Redis, eventId: string, guests: FakeGuest[]): Promise<void> {
  await publish(redis, eventId, { capacity: 600, plusOnesMax: 1, questions: [dietaryQuestion], rsvpDeadline: Date.now() + 600_000 });
  await eventually(async () => (await redis.hlen(eventKeys(eventId).invited)) === GUESTS, 30_000, `${eventId} opened`);
  const ids = await send(redis, repliesFor(eventId, guests));
  await eventually(async () => (await handled(redis, streams.responses, ids[ids.length - 1]!)) || undefined, 60_000, `${eventId}: every reply handled`);
  // Every 7th guest is silent: the version closes at a deadline moved close by an update of the same sequence.
  await publish(redis, eventId, { capacity: 600, plusOnesMax: 1, questions: [dietaryQuestion], rsvpDeadline: Date.now() + 1_500 });
  await summaryOf(redis, eventId, 0, 60_000);
}

describe('a large summary read in steps', () => {
  it('is the summary the closing script builds in one call: every list, count and tally', async () => {
    const redis = ctx.redis.client;
    const guests = await registerAgent(redis, 'big', GUESTS);

    const oneCall = await ctx.procs.coordinator({ ...coordinatorEnv, SUMMARY_STEP_GUESTS: '1000000' });
    await runEvent(redis, 'in-one-call', guests);
    await oneCall.stop();
    await ctx.procs.coordinator({ ...coordinatorEnv, SUMMARY_STEP_GUESTS: '200' });
    await runEvent(redis, 'in-steps', guests);

    // Each took the path it was configured for (the threshold is recorded with the event).
    expect(await redis.hget(eventKeys('in-one-call').event, 'summary_step_above')).toBe('1000000');
    expect(await redis.hget(eventKeys('in-steps').event, 'summary_step_above')).toBe('200');
    expect(await redis.hget(eventKeys('in-steps').event, 'sb')).toBeNull();

    const expected = await comparable(redis, 'in-one-call');
    const stepped = await comparable(redis, 'in-steps');
    expect(stepped).toEqual(expected);
    // The comparison is not vacuous: the lists are full and every kind of guest is in them.
    const s = (await summaries(redis, 'in-steps'))[0]!;
    expect(s.reason).toBe('deadline');
    expect(s.attendees).toHaveLength(GUESTS);
    expect(s.responses.length).toBe(s.totalResponses);
    expect(s.responses.length).toBeGreaterThan(1_500);
    expect(s.noResponseGuests.length).toBe(s.noResponse);
    expect(s.noResponse).toBeGreaterThanOrEqual(Math.ceil((GUESTS - 3) / 7));
    expect(s.waitlist.length).toBeGreaterThan(0);
    expect(Object.keys(s.answers.dietary ?? {}).length).toBeGreaterThan(1);
  });

  it('killed -9 between two steps, then updated before any coordinator runs: exactly one complete summary per version', async () => {
    const redis = ctx.redis.client;
    const guests = await registerAgent(redis, 'big', GUESTS);
    const doomed = await ctx.procs.coordinator({ ...coordinatorEnv, SUMMARY_STEP_GUESTS: '200', SUMMARY_TEST_CRASH: 'after-step:3' });
    await publish(redis, 'killed', { rsvpDeadline: Date.now() + 600_000 });
    await eventually(async () => (await redis.hlen(eventKeys('killed').invited)) === GUESTS, 30_000, 'opened');
    await send(redis, guests.map((g, i) => reply('killed', g, i % 2 === 0 ? 'yes' : 'no')));
    expect((await doomed.exited).signal).toBe('SIGKILL');
    expect(doomed.stderr.join('\n')).toContain('SUMMARY_TEST_CRASH');
    // Closed and decided, the summary not out: the version's keys are held for it.
    expect(await redis.hget(eventKeys('killed').event, 'status')).toBe('closed');
    expect(await redis.hget(eventKeys('killed').event, 'sb')).toBe('summary:killed:0');
    expect(await summaries(redis, 'killed')).toEqual([]);

    // A new version arrives while the summary is half-built: it must wait for it, not erase its guests.
    await publish(redis, 'killed', { sequence: 1, location: 'Elsewhere', rsvpDeadline: Date.now() + 600_000 });
    await ctx.procs.coordinator({ ...coordinatorEnv, SUMMARY_STEP_GUESTS: '200' });
    const first = await summaryOf(redis, 'killed', 0, 60_000);
    expect(first.totalInvited).toBe(GUESTS);
    expect(first.responses).toHaveLength(GUESTS);
    expect(first.attendees).toHaveLength(GUESTS);
    expect(first.yes + first.no).toBe(GUESTS);
    await eventually(async () => (await redis.hget(eventKeys('killed').event, 'sequence')) === '1' && (await redis.hlen(eventKeys('killed').invited)) === GUESTS, 30_000, 'version 1 opened');
    await send(redis, guests.map((g) => reply('killed', g, 'maybe', { sequence: 1 })));
    const second = await summaryOf(redis, 'killed', 1, 60_000);
    expect(second.maybe).toBe(GUESTS);
    expect(second.attendees).toHaveLength(GUESTS);

    await delay(1_000);
    expect((await summaries(redis, 'killed')).map((s) => s.sequence).sort()).toEqual([0, 1]);
    expect(failures(await checkEventInvariants(redis, ['big']))).toBe('');
    expect(await deadLetters(redis)).toEqual([]);
  });
});
