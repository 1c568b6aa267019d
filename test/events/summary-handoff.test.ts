import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStore, receiptToRecord, replyToRecord } from '../../services/coordinator/event-store.ts';
import { type SteppedSummary, SummaryBuilder } from '../../services/coordinator/summary-builder.ts';
import type { LiveGuest } from '../../services/shared/registry/guest-registry.ts';
import { defaultEventOptions } from '../../services/shared/schema/event-definition.ts';
import type { Invitation } from '../../services/shared/schema/invitation.ts';
import { dietaryQuestion } from '../../services/shared/schema/questions.ts';
import type { Reply } from '../../services/shared/schema/response.ts';
import { eventKeys, streams } from '../../services/shared/streams/keys.ts';
import { StreamProducer } from '../../services/shared/streams/producer.ts';
import { CrashPoint } from '../../services/coordinator/crash-point.ts';
import { FanOutLister } from '../../services/coordinator/fan-out.ts';
import { CoordinatorMetrics } from '../../services/coordinator/metrics.ts';
import { OutboxDrainer } from '../../services/coordinator/outbox.ts';
import { SummaryPublisher } from '../../services/coordinator/summary-publisher.ts';
import { readAll } from '../helpers/streams.ts';
import { connectionsFor, memoryLogger, testMetrics } from '../reliability/support.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import type { RedisClient } from '../../services/shared/streams/redis-client.ts';

// The call of record-replies.lua that closes a small version hands the raw material of its
// summary's lists back with its answer (includes/event.lua, finalize); the coordinator fills the
// lists from it without a read. They must be the lists a build in steps reads from the version's
// keys (summary-builder.ts; that build is checked against the closing script's own lists in
// summary-steps.test.ts), since a coordinator that dies before adding the summary leaves it to one.

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const GUESTS = 30;
const eventId = 'handoff';

function invitation(): Invitation {
  const details = { eventName: 'Dinner', eventDate: '', eventTime: '', location: '', description: '', hostName: 'Host', hostId: 'host', timestamp: new Date().toISOString() };
  return { ...defaultEventOptions, ...details, id: eventId, method: 'REQUEST', revision: 1, sequence: 0, legacy: false, capacity: 10, plusOnesMax: 1, questions: [dietaryQuestion] };
}

function reply(g: LiveGuest, i: number, rev = 0): Reply {
  const response = (['yes', 'no', 'maybe'] as const)[i % 3]!;
  return {
    id: `reply:${eventId}:0:${g.id}${rev > 0 ? `:${rev}` : ''}`,
    invitationId: eventId,
    guestName: g.name,
    guestId: g.id,
    response: rev > 0 ? 'yes' : response,
    message: `m"${i}\\`,
    timestamp: '2026-12-03T10:00:00.000Z',
    sequence: 0,
    replyRev: rev,
    plusOnes: i % 4 === 0 ? 1 : 0,
    answers: i % 2 === 0 ? { dietary: dietaryQuestion.options![i % 6]! } : {},
  };
}

function sorted(fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const v = fields[i + 1]!;
    const parsed = v.startsWith('[') || v.startsWith('{') ? (JSON.parse(v) as unknown) : v;
    out[fields[i]!] = Array.isArray(parsed) ? parsed.map((x) => JSON.stringify(x)).sort() : parsed;
  }
  return out;
}

const guests: LiveGuest[] = Array.from({ length: GUESTS }, (_, i) => ({ id: `g${i}@a${i % 2}`, agentId: `a${i % 2}`, name: `Guest ${i}`, persona: '', tags: [] }));
const arrival = (i: number) => 1_000_000 + i;
const itemsOf = (outbox: string[]) => outbox.filter((_, i) => i % 2 === 1).map((t) => JSON.parse(t) as { k: string; t: string; key: string; g: Record<string, unknown>[] } & SteppedSummary);

/** Opens the event; guest 0 is never asked (its delivery expired), every other guest but the last answers. */
async function answerAllButOne(store: EventStore) {
  await redis.flush();
  expect(await store.applyRevision(invitation(), { publishedAt: Date.now(), openingProblem: '', resolution: { guests, unknown: [] }, trace: {} })).toMatchObject({ kind: 'ok' });
  const first = await store.recordReplies([{ eventId, replies: [receiptToRecord({ guestId: guests[0]!.id, sequence: 0, id: 'r0' }, arrival(0)), ...guests.slice(1, -1).map((g, i) => replyToRecord(reply(g, i + 1), arrival(i + 1), ''))] }]);
  await redis.client.del(eventKeys(eventId).outbox);
  return first[0]!;
}

/** The last guest's reply: the call that closes the version. */
async function closeByLastReply(store: EventStore) {
  const [last] = await store.recordReplies([{ eventId, replies: [replyToRecord(reply(guests[GUESTS - 1]!, GUESTS - 1), arrival(200), '')] }]);
  return last!;
}

const newStore = () => new EventStore(redis.client, { retentionMs: 60_000, summaryCap: 10_000, rsvpDeadlineMs: 600_000, summaryStepAbove: 500 });

/** A coordinator's parts over their own connections: the store and a drainer as the coordinator wires them. */
async function withCoordinator(fn: (c: { client: RedisClient; store: EventStore; drainer: () => OutboxDrainer }) => Promise<void>) {
  const { log } = memoryLogger('error');
  const connections = await connectionsFor(redis.url, log);
  try {
    const client = connections.command;
    const store = newStore();
    const metrics = new CoordinatorMetrics(testMetrics());
    const producer = new StreamProducer(connections, { onceTtlMs: 60_000 });
    const crash = new CrashPoint('FANOUT_TEST_CRASH', 0);
    const drainer = () =>
      new OutboxDrainer({ redis: client, producer, summaries: new SummaryPublisher(producer, metrics, log), builder: new SummaryBuilder(client, { step: 7 }), store, lister: new FanOutLister(client, { step: 500, crash }), crash, metrics, log });
    await fn({ client, store, drainer });
  } finally {
    await connections.close();
  }
}

/** The summaries of the event on the stream, each as sorted fields. */
async function summariesOnStream() {
  const entries = (await readAll(redis.client, streams.summaries)).filter((e) => e.fields.invitation_id === eventId);
  return entries.map((e) => sorted(Object.entries(e.fields).flat()));
}

const LIST_FIELDS = ['responses', 'no_response', 'never_asked', 'attendees', 'waitlist', 'answers', 'responses_truncated', 'yes_count', 'stale_count'];

/** The event's one summary on the stream has the lists expected. */
async function expectOneSummary(expected: Record<string, unknown>) {
  const got = await summariesOnStream();
  expect(got).toHaveLength(1);
  for (const name of LIST_FIELDS) expect(got[0]![name]).toEqual(expected[name]);
}

/** A version closed by its last reply and not drained (its coordinator died): the closing call's answer, its build item, the summary's lists. */
async function closedUndrained(store: EventStore, client: RedisClient) {
  await answerAllButOne(store);
  const last = await closeByLastReply(store);
  const build = itemsOf(last.outbox).find((i) => i.k === 'b')!;
  return { last, build, expected: sorted(new SummaryBuilder(client).fromHanded(build, last.handed)!) };
}

describe('a small version closed by its last reply', () => {
  it('hands back the material of the lists a build in steps reads: same summary, no read', async () => {
    const client = redis.client;
    const store = newStore();
    const first = await answerAllButOne(store);
    expect(first.handed).toBeUndefined();
    expect(first.results.filter((r) => r === 'counted')).toHaveLength(GUESTS - 2);

    // The activity entry of a counted reply, built as text by the script: guest_change's fields.
    const replies = itemsOf(first.outbox).find((i) => i.k === 'a' && i.t === 'replies')!;
    expect(replies.key).toMatch(new RegExp(`^${eventId}:\\d+$`));
    const g4 = replies.g.find((c) => c.guest_id === guests[4]!.id)!;
    expect(g4).toEqual({ guest_id: guests[4]!.id, outcome: 'counted', state: 'declined', guest_name: 'Guest 4', reply_rev: 0, plus_ones: 1, answers: { dietary: 'halal' }, message: 'm"4\\' });
    expect(replies.g.some((c) => typeof c.waitlist === 'number')).toBe(true);

    const changed = await store.recordReplies([{ eventId, replies: [2, 3].map((i) => replyToRecord(reply(guests[i]!, i - 1, 1), arrival(100 + i), '')) }]);
    expect(changed[0]!.results).toEqual(['changed', 'changed']);
    await client.del(eventKeys(eventId).outbox);

    const last = await closeByLastReply(store);
    const handed = last.handed;
    expect(handed).toBeDefined();
    const build = itemsOf(last.outbox).find((i) => i.k === 'b')!;
    expect(build.key).toBe(`summary:${eventId}:0`);
    expect(handed!.key).toBe(build.key);
    // Until the summary is out the version's keys stay as they are: apply-revision answers busy.
    expect(await client.hget(eventKeys(eventId).event, 'sb')).toBe(build.key);

    const fromHanded = new SummaryBuilder(client).fromHanded(build, handed)!;
    const inSteps = await new SummaryBuilder(client, { step: 7 }).build(eventId, build);
    expect(sorted(fromHanded)).toEqual(sorted(inSteps));
    const summary = sorted(fromHanded);
    expect(summary.never_asked).toHaveLength(1);
    expect((summary.waitlist as string[]).length).toBeGreaterThan(0);
    expect(summary.attendees).toHaveLength(GUESTS);
    expect(summary.responses).toHaveLength(GUESTS - 1);
    // Handed only to the summary it belongs to.
    expect(new SummaryBuilder(client).fromHanded({ ...build, key: 'summary:other:0' }, handed)).toBeNull();
  });

  it('left undrained by a coordinator that died: whoever drains next builds it in steps, and a late drain with the handed lists adds nothing', async () => {
    await withCoordinator(async ({ client, store, drainer }) => {
      const { last, expected } = await closedUndrained(store, client);

      // The coordinator that closed it died here: another drains the outbox it finds.
      await drainer().drain(eventId);
      expect(await client.hlen(eventKeys(eventId).outbox)).toBe(0);
      expect(await client.hget(eventKeys(eventId).event, 'sb')).toBeNull();
      // The first one was only slow: it drains what its script answered.
      await drainer().drain(eventId, last.outbox, undefined, last.handed);

      await expectOneSummary(expected);
    });
  });

  it('left undrained: every later call of the event hands the lists back until the summary is out, so the next drain adds it without reads', async () => {
    await withCoordinator(async ({ client, store, drainer }) => {
      const { build, expected } = await closedUndrained(store, client);

      // The closing call's coordinator died before its drain. The reply comes again (redelivered),
      // a revision of the event arrives, its timer fires: each call hands back the same material.
      const again = (await store.recordReplies([{ eventId, replies: [replyToRecord(reply(guests[GUESTS - 1]!, GUESTS - 1), arrival(200), '')] }]))[0]!;
      expect(again.results).toEqual(['duplicate']);
      const revision = await store.applyRevision({ ...invitation(), revision: 2, eventName: 'Dinner, later' }, { publishedAt: Date.now(), openingProblem: '', resolution: { guests, unknown: [] }, trace: {} });
      expect(revision.kind).toBe('busy');
      const tick = await store.tick(eventId, Date.now());
      expect(tick.kind).toBe('ok');
      for (const handed of [again.handed, revision.kind === 'busy' ? revision.handed : undefined, tick.kind === 'ok' ? tick.handed : undefined]) {
        expect(handed?.key).toBe(build.key);
        expect(sorted(new SummaryBuilder(client).fromHanded(build, handed)!)).toEqual(expected);
      }

      // The drain of the redelivered reply adds the summary from what it was handed: were it to
      // read the version's keys, the ones removed here would leave its lists empty.
      const keys = eventKeys(eventId);
      const version = [keys.invited, keys.replies, keys.never];
      for (const k of version) await client.rename(k, `${k}:aside`);
      await drainer().drain(eventId, again.outbox, undefined, again.handed);
      for (const k of version) await client.rename(`${k}:aside`, k);
      await expectOneSummary(expected);
      expect(await client.hget(keys.event, 'sb')).toBeNull();

      // Once it is out, nothing is handed back any more, and the revision applies.
      const after = (await store.recordReplies([{ eventId, replies: [replyToRecord(reply(guests[GUESTS - 1]!, GUESTS - 1), arrival(200), '')] }]))[0]!;
      expect(after.handed).toBeUndefined();
      const applied = await store.applyRevision({ ...invitation(), revision: 2, eventName: 'Dinner, later' }, { publishedAt: Date.now(), openingProblem: '', resolution: { guests, unknown: [] }, trace: {} });
      expect(applied.kind).toBe('ok');
      expect(applied.kind === 'ok' ? applied.handed : 'none').toBeUndefined();
    });
  });
});
