import { describe, expect, it } from 'vitest';
import { type GuestChange, activityFields } from '../../services/shared/schema/activity.ts';
import { hostKeys, streams } from '../../services/shared/streams/keys.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { withAuth } from '../helpers/auth.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { flat, readAll } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { type SummaryAttendee, call, daysAhead, readSse, summaryFields } from './support.ts';

const ctx = useRedisStack();

interface View {
  status: string;
  counts: Record<string, number>;
  guests: { guest_id: string; state: string; reply_rev?: number; sequence: number; message?: string; message_sequence?: number; answers?: Record<string, unknown> }[];
  waitlist: string[];
  summaries: { id: string; sequence: number; reason: string }[];
  feed_id: string;
}

const hostId = 'replicated';

/** The coordinator's report of a batch of replies, written with the shared writer. */
async function reportReplies(eventId: string, guests: GuestChange[], counts?: Record<string, number>, version: { sequence: number; revision: number; type?: 'replies' | 'version' } = { sequence: 0, revision: 1 }): Promise<string> {
  const { sequence, revision, type = 'replies' } = version;
  const fields = activityFields({ type, at: Date.now(), events: [{ invitation_id: eventId, host_id: hostId, sequence, revision, guests, ...(counts ? { counts: counts as never } : {}) }] });
  return (await ctx.redis.client.xadd(streams.activity, '*', ...fields))!;
}

/** A version's summary as the coordinator publishes it. */
async function reportSummary(eventId: string, attendees: SummaryAttendee[]): Promise<void> {
  await ctx.redis.client.xadd(streams.summaries, '*', ...flat(summaryFields(eventId, hostId, attendees)));
}

const view = async (host: RoleProcess, id: string): Promise<View> => (await call<View>(host, 'GET', `/api/events/${id}`)).body;

const guest = (n: number, state: GuestChange['state'], reply_rev = 0, extra: Partial<GuestChange> = {}): GuestChange => ({
  guest_id: `g${n}@agent`,
  guest_name: `Guest ${n}`,
  outcome: state === 'needs_action' ? 'invited' : 'counted',
  state,
  reply_rev,
  ...extra,
});

describe('the host read model', () => {
  it('is the same on every replica, survives a restart of them all, and ignores replays', async () => {
    const a = await ctx.procs.host({ ...withAuth, HOST_ID: hostId, CONSUMER_NAME: 'host-a' });
    const b = await ctx.procs.host({ ...withAuth, HOST_ID: hostId, CONSUMER_NAME: 'host-b' });
    expect((await call(a, 'POST', '/api/events', { id: 'party', event_name: 'Replicated', event_date: daysAhead(9), capacity: 2 })).status).toBe(202);

    await reportReplies('party', [1, 2, 3, 4].map((n) => guest(n, 'needs_action')));
    const first = await reportReplies('party', [guest(1, 'accepted'), guest(2, 'declined'), guest(3, 'accepted', 0, { waitlist: 1 })]);
    // A change of mind, then the first report replayed (at least once): the later one stands.
    await reportReplies('party', [guest(2, 'accepted', 1)], { invited: 4, accepted: 3, declined: 0, tentative: 0, needs_action: 1, confirmed: 2, headcount: 2, waitlisted: 1, stale: 0, late: 0, rejected: 0, reminders_sent: 0, never_asked: 0 });
    await ctx.redis.client.xadd(streams.activity, '*', ...flat((await readAll(ctx.redis.client, streams.activity)).find((e) => e.id === first)!.fields));
    // Many entries, read by both replicas in their shared group: each applies its share.
    for (let round = 0; round < 20; round += 1) await reportReplies('other-host-event', [guest(9, 'accepted')]);

    const settled = await eventually(async () => {
      const v = await view(a, 'party');
      // Each replica applies its share in its own time: the first report may land after the change of mind.
      const state = (n: number) => v.guests.find((g) => g.guest_id === `g${n}@agent`)?.state;
      return v.guests.find((g) => g.guest_id === 'g2@agent')?.reply_rev === 1 && v.counts.confirmed === 2 && state(1) === 'accepted' && state(3) === 'waitlisted' ? v : undefined;
    }, 10_000, 'the replies applied');
    expect(Object.fromEntries(settled.guests.map((g) => [g.guest_id, g.state]))).toEqual({ 'g1@agent': 'accepted', 'g2@agent': 'accepted', 'g3@agent': 'waitlisted', 'g4@agent': 'needs_action' });
    expect(settled.waitlist).toEqual(['g3@agent']);
    expect(settled.counts).toMatchObject({ invited: 4, confirmed: 2, waitlisted: 1, needs_action: 1 });

    const beforeSummary = (await view(a, 'party')).feed_id;
    await reportSummary('party', [
      { guest_id: 'g1@agent', guest_name: 'Guest 1', state: 'accepted' },
      { guest_id: 'g2@agent', guest_name: 'Guest 2', state: 'accepted' },
      { guest_id: 'g3@agent', guest_name: 'Guest 3', state: 'declined' },
      { guest_id: 'g4@agent', guest_name: 'Guest 4', state: 'declined' },
    ]);
    const closed = await eventually(async () => {
      const v = await view(b, 'party');
      return v.summaries.length === 1 && v.status === 'closed' ? v : undefined;
    }, 10_000, 'the summary applied');
    expect(closed.summaries[0]).toMatchObject({ id: 'summary:party:0', sequence: 0, reason: 'all_replied', attendees: expect.any(Array) });
    expect(closed.waitlist).toEqual([]);
    // The SSE feed sends the version's rows, counts and status, then the summary itself (stored in a
    // field of its own in the feed entry, sent as the same event as ever).
    const fed = await readSse(b.url(`/api/events/party/stream?since=${beforeSummary}`), (events) => events.some((e) => e.event === 'summary'));
    const kinds = fed.events.map((e) => e.event).filter((k) => k !== 'message');
    expect(kinds.at(-1)).toBe('summary');
    expect(kinds.slice(0, -1)).toEqual(expect.arrayContaining(['guest', 'counts', 'status']));
    expect(JSON.parse(fed.events.find((e) => e.event === 'summary')!.data)).toMatchObject({ id: 'summary:party:0', sequence: 0, reason: 'all_replied', attendees: expect.any(Array) });
    // Both replicas read the same keys: the same answer, whichever replica applied what.
    await delay(300);
    const [fromA, fromB] = [await view(a, 'party'), await view(b, 'party')];
    expect(fromB).toEqual(fromA);

    // Every replica stopped, a new one started: nothing lost.
    await Promise.all([a.stop(), b.stop()]);
    const c = await ctx.procs.host({ ...withAuth, HOST_ID: hostId, CONSUMER_NAME: 'host-c' });
    expect(await view(c, 'party')).toEqual(fromA);
    for (const key of Object.values(hostKeys.event('party'))) {
      const ttl = await ctx.redis.client.pttl(key);
      expect(ttl === -2 || ttl > 0, key).toBe(true);
    }
  });

  it('keeps a guest’s reply message when the version’s summary arrives and across an update', async () => {
    const host = await ctx.procs.host({ HOST_ID: hostId });
    expect((await call(host, 'POST', '/api/events', { id: 'talkative', event_name: 'Replicated', event_date: daysAhead(9) })).status).toBe(202);
    await reportReplies('talkative', [1, 2].map((n) => guest(n, 'needs_action')));
    await reportReplies('talkative', [guest(1, 'accepted', 0, { message: 'Wouldn’t miss it!' }), guest(2, 'declined', 0, { message: 'Sorry, away' })]);
    const rowOf = (v: View, n: number) => v.guests.find((g) => g.guest_id === `g${n}@agent`)!;
    await eventually(async () => rowOf(await view(host, 'talkative'), 2).state === 'declined' || undefined, 10_000, 'the replies applied');

    // The summary lists the guests without their messages: its rows are the version's last word, not a loss of what was said.
    await reportSummary('talkative', [
      { guest_id: 'g1@agent', guest_name: 'Guest 1', state: 'accepted' },
      { guest_id: 'g2@agent', guest_name: 'Guest 2', state: 'declined' },
    ]);
    const closed = await eventually(async () => {
      const v = await view(host, 'talkative');
      return v.summaries.length === 1 ? v : undefined;
    }, 10_000, 'the summary applied');
    expect([rowOf(closed, 1), rowOf(closed, 2)].map((g) => [g.state, g.message, g.message_sequence])).toEqual([
      ['accepted', 'Wouldn’t miss it!', 0],
      ['declined', 'Sorry, away', 0],
    ]);

    // A new version asks everyone again: the rows go back to needs action, and still show what each guest said to the last version.
    await reportReplies('talkative', [1, 2].map((n) => guest(n, 'needs_action')), undefined, { sequence: 1, revision: 2, type: 'version' });
    const bumped = await eventually(async () => {
      const v = await view(host, 'talkative');
      return rowOf(v, 1).sequence === 1 && rowOf(v, 2).sequence === 1 ? v : undefined;
    }, 10_000, 'the new version applied');
    expect([rowOf(bumped, 1), rowOf(bumped, 2)].map((g) => [g.state, g.message, g.message_sequence])).toEqual([
      ['needs_action', 'Wouldn’t miss it!', 0],
      ['needs_action', 'Sorry, away', 0],
    ]);
    // An answer to the new version brings its own message (an empty one too).
    await reportReplies('talkative', [guest(1, 'tentative', 0, { message: '' })], undefined, { sequence: 1, revision: 2 });
    const answered = await eventually(async () => {
      const v = await view(host, 'talkative');
      return rowOf(v, 1).state === 'tentative' ? v : undefined;
    }, 10_000, 'the new answer applied');
    expect([rowOf(answered, 1).message, rowOf(answered, 1).message_sequence]).toEqual(['', 1]);
  });

  it('shows a promotion from the waitlist at once (a change that is no reply), and the SSE feed sends it', async () => {
    const host = await ctx.procs.host({ HOST_ID: hostId });
    expect((await call(host, 'POST', '/api/events', { id: 'queue', event_name: 'Replicated', event_date: daysAhead(9), capacity: 1 })).status).toBe(202);
    await reportReplies('queue', [1, 2].map((n) => guest(n, 'needs_action')));
    await reportReplies('queue', [guest(1, 'accepted', 0, { plus_ones: 0 }), guest(2, 'accepted', 0, { waitlist: 1, plus_ones: 0, answers: { dietary: 'vegan' } })]);
    const waiting = await eventually(async () => {
      const v = await view(host, 'queue');
      return v.waitlist.length === 1 ? v : undefined;
    }, 10_000, 'the waitlist');
    expect(waiting.waitlist).toEqual(['g2@agent']);
    // g1 changes to no; the coordinator promotes g2 in an entry of its own, without a reply_rev.
    await reportReplies('queue', [guest(1, 'declined', 1)]);
    // The feed from after the change of mind on: the promotion is the next guest change.
    const since = await eventually(async () => {
      const v = await view(host, 'queue');
      return v.guests.find((g) => g.guest_id === 'g1@agent')?.state === 'declined' ? v.feed_id : undefined;
    }, 10_000, 'the change of mind applied');
    const promotedAt = await ctx.redis.client.xadd(
      streams.activity,
      '*',
      ...activityFields({ type: 'promoted', at: Date.now(), events: [{ invitation_id: 'queue', host_id: hostId, sequence: 0, revision: 1, guests: [{ guest_id: 'g2@agent', outcome: 'promoted', state: 'accepted' }] }] }),
    );
    expect(promotedAt).toBeTruthy();
    const promoted = await eventually(async () => {
      const v = await view(host, 'queue');
      return v.waitlist.length === 0 ? v : undefined;
    }, 10_000, 'the promotion shown');
    expect(promoted.guests.find((g) => g.guest_id === 'g2@agent')).toMatchObject({ state: 'accepted', reply_rev: 0, answers: { dietary: 'vegan' } });
    // A change that is no reply and no move (a stale reply's note, added after) leaves the row as it is.
    await reportReplies('queue', [{ guest_id: 'g2@agent', outcome: 'stale', state: 'needs_action' }]);
    await reportReplies('queue', [guest(1, 'declined', 1, { message: 'marker' })]);
    await eventually(async () => (await view(host, 'queue')).guests.find((g) => g.guest_id === 'g1@agent')?.message === 'marker' || undefined, 10_000, 'the marker applied');
    expect((await view(host, 'queue')).guests.find((g) => g.guest_id === 'g2@agent')).toMatchObject({ state: 'accepted', reply_rev: 0 });
    const feed = await readSse(host.url(`/api/events/queue/stream?since=${since}`), (events) => events.some((e) => e.event === 'guest'));
    expect(JSON.parse(feed.events.find((e) => e.event === 'guest')!.data)).toMatchObject({ guest_id: 'g2@agent', state: 'accepted', outcome: 'promoted' });

    // Every report carries the version's status; the feed says it once per change.
    const before = (await view(host, 'queue')).feed_id;
    for (const status of ['open', 'open', 'closed'] as const) {
      await ctx.redis.client.xadd(streams.activity, '*', ...activityFields({ type: 'replies', at: Date.now(), events: [{ invitation_id: 'queue', host_id: hostId, sequence: 0, revision: 1, status }] }));
    }
    await eventually(async () => (await view(host, 'queue')).status === 'closed' || undefined, 10_000, 'closed');
    const statuses = await readSse(host.url(`/api/events/queue/stream?since=${before}`), (events) => events.some((e) => e.event === 'status' && e.data.includes('closed')));
    expect(statuses.events.filter((e) => e.event === 'status').map((e) => (JSON.parse(e.data) as { status: string }).status)).toEqual(['open', 'closed']);
  });

  it('feeds a summary by reference: the feed entry names the version, live clients get the stored text, in the feed’s order', async () => {
    const host = await ctx.procs.host({ HOST_ID: hostId });
    expect((await call(host, 'POST', '/api/events', { id: 'referred', event_name: 'Replicated', event_date: daysAhead(9) })).status).toBe(202);
    await reportReplies('referred', [1, 2, 3].map((n) => guest(n, 'needs_action')));
    const start = await eventually(async () => {
      const v = await view(host, 'referred');
      return v.guests.length === 3 ? v.feed_id : undefined;
    }, 10_000, 'the guests applied');
    const attendees: SummaryAttendee[] = [1, 2, 3].map((n) => ({ guest_id: `g${n}@agent`, guest_name: `Guest ${n}`, state: n === 3 ? 'declined' : 'accepted' }));

    // Connected before the summary: it arrives live, through the tail.
    const live = readSse(host.url(`/api/events/referred/stream?since=${start}`), (events) => events.some((e) => e.event === 'summary'));
    await delay(300);
    await reportSummary('referred', attendees);
    const fed = await live;
    const summary = fed.events.find((e) => e.event === 'summary')!;
    expect(JSON.parse(summary.data)).toMatchObject({ id: 'summary:referred:0', sequence: 0, attendees: expect.any(Array) });
    // The text is the one kept in the versions hash; the feed entry only names its version.
    const keys = hostKeys.event('referred');
    expect(summary.data).toBe(await ctx.redis.client.hget(keys.versions, 'summary:0'));
    const [, entry] = ((await ctx.redis.client.xrevrange(keys.feed, '+', '-', 'COUNT', 1)) as [string, string[]][])[0]!;
    const fields = Object.fromEntries(entry.flatMap((v, i) => (i % 2 === 0 ? [[v, entry[i + 1]!]] : []))) as Record<string, string>;
    expect(fields.summary_seq).toBe('0');
    expect(fields.summary).toBeUndefined();
    expect(entry.join('')).not.toContain(summary.data);

    // An entry after one that refers to a summary waits for the summary's read: clients see the
    // feed's order. Written together, the tail hands both over in one read; a summary that is gone
    // (a reference to a version the hash lacks) is a reset, the client reads the event again.
    const since = (await view(host, 'referred')).feed_id;
    const ordered = readSse(host.url(`/api/events/referred/stream?since=${since}`), (events) => events.filter((e) => e.event === 'guest').length >= 2);
    await delay(300);
    const row = (n: number) => JSON.stringify(['guest', JSON.stringify({ guest_id: `g${n}@agent`, state: 'accepted', sequence: 0, updated_at: 1 })]);
    await ctx.redis.client
      .multi()
      .xadd(keys.feed, '*', 'kind', 'changes', 'sequence', '0', 'data', '[]', 'summary_seq', '0')
      .xadd(keys.feed, '*', 'kind', 'changes', 'sequence', '0', 'data', `[${row(1)}]`)
      .xadd(keys.feed, '*', 'kind', 'changes', 'sequence', '7', 'data', '[]', 'summary_seq', '7')
      .xadd(keys.feed, '*', 'kind', 'changes', 'sequence', '0', 'data', `[${row(2)}]`)
      .exec();
    const { events } = await ordered;
    expect(events.map((e) => e.event).filter((k) => k !== 'message')).toEqual(['summary', 'guest', 'reset', 'guest']);
    expect(events[0]!.data).toBe(summary.data);
  });

  it('streams an event’s changes over SSE to any replica, resumable with Last-Event-ID or ?since', async () => {
    const a = await ctx.procs.host({ ...withAuth, HOST_ID: hostId, CONSUMER_NAME: 'sse-a' });
    const b = await ctx.procs.host({ ...withAuth, HOST_ID: hostId, CONSUMER_NAME: 'sse-b' });
    await call(a, 'POST', '/api/events', { id: 'live', event_name: 'Live', event_date: daysAhead(9) });
    const start = (await view(a, 'live')).feed_id;
    expect(start).toBe('0-0');

    // Connected before anything happens: the changes arrive live.
    const live = readSse(a.url(`/api/events/live/stream?since=${start}`), (events) => events.filter((e) => e.event === 'guest').length >= 3);
    await delay(300);
    await reportReplies('live', [1, 2, 3].map((n) => guest(n, 'needs_action')));
    const first = await live;
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const guests = first.events.filter((e) => e.event === 'guest');
    expect(guests.map((e) => (JSON.parse(e.data) as { guest_id: string }).guest_id).sort()).toEqual(['g1@agent', 'g2@agent', 'g3@agent']);
    const lastSeen = guests.at(-1)!.id!;

    // Meanwhile (the client away): replies and the counts.
    await reportReplies('live', [guest(1, 'accepted'), guest(2, 'tentative')], { invited: 3, accepted: 1, declined: 0, tentative: 1, needs_action: 1, confirmed: 1, headcount: 1, waitlisted: 0, stale: 0, late: 0, rejected: 0, reminders_sent: 0, never_asked: 0 });
    await eventually(async () => (await view(b, 'live')).counts.tentative === 1, 10_000, 'the replies applied');

    // Reconnecting to the other replica with Last-Event-ID: exactly what came after, in order.
    const resumed = await readSse(b.url('/api/events/live/stream'), (events) => events.length >= 3, { headers: { 'last-event-id': lastSeen } });
    expect(resumed.events.map((e) => e.event)).toEqual(['guest', 'guest', 'counts']);
    expect(resumed.events.map((e) => (JSON.parse(e.data) as { state?: string }).state).slice(0, 2)).toEqual(['accepted', 'tentative']);
    expect(resumed.events.every((e) => e.id! > lastSeen)).toBe(true);
    expect(JSON.parse(resumed.events[2]!.data)).toMatchObject({ tentative: 1, confirmed: 1 });
    // ?since works the same; from the start everything is replayed.
    const all = await readSse(b.url(`/api/events/live/stream?since=0-0`), (events) => events.length >= 6);
    expect(all.events.map((e) => e.id)).toEqual([...guests.map((e) => e.id), ...resumed.events.map((e) => e.id)]);

    // A since older than what the feed keeps: reset (refetch the event).
    await ctx.redis.client.xtrim(hostKeys.event('live').feed, 'MAXLEN', 1);
    const reset = await readSse(b.url(`/api/events/live/stream?since=${lastSeen}`), (events) => events.length >= 1);
    expect(reset.events[0]!.event).toBe('reset');

    expect((await call(a, 'GET', '/api/events/live/stream?since=yesterday')).status).toBe(400);
    expect((await call(a, 'GET', '/api/events/nope/stream')).status).toBe(404);

    // A replica stopping with clients connected ends their streams (they reconnect elsewhere) and exits cleanly.
    const connected = readSse(a.url('/api/events/live/stream'), () => false, { timeoutMs: 15_000 });
    const flowing = readSse(a.url('/api/flow'), () => false, { timeoutMs: 15_000 });
    await delay(500);
    const started = Date.now();
    expect(await a.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    await Promise.all([connected, flowing]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('streams the system-wide message flow, resumable by entry id', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: hostId });
    const before = `${Date.now() - 1}-0`;
    await call(host, 'POST', '/api/events', { id: 'flowing', event_name: 'Flow', event_date: daysAhead(9) });
    await reportReplies('flowing', [guest(1, 'needs_action')]);
    await ctx.redis.client.xadd(streams.responses, '*', ...flat({ id: 'r1', invitation_id: 'flowing', guest_id: 'g1@agent', guest_name: 'Guest 1', response: 'yes', message: '', timestamp: new Date().toISOString() }));
    const flow = await readSse(host.url(`/api/flow?since=${before}`), (events) => events.filter((e) => e.event === 'flow').length >= 3);
    const hops = flow.events.filter((e) => e.event === 'flow').map((e) => JSON.parse(e.data) as { hop: string; from: string; to: string; event_id: string });
    // Entries of one read are sent in id order; across reads the order is the order they were read.
    expect(hops.map((h) => [h.hop, h.from, h.to, h.event_id]).sort()).toEqual([
      ['invitation', 'host', 'coordinator', 'flowing'],
      ['activity', 'coordinator', 'host', 'flowing'],
      ['reply', 'guest', 'coordinator', 'flowing'],
    ].sort());
    const ids = flow.events.filter((e) => e.event === 'flow').map((e) => e.id!).sort();
    // Resumed with Last-Event-ID: what came after it, and the entries sharing its id once more (at least once).
    const resumed = await readSse(host.url('/api/flow'), (events) => events.filter((e) => e.event === 'flow').length >= 3, { headers: { 'last-event-id': ids[0]! } });
    expect(resumed.events.filter((e) => e.event === 'flow').map((e) => e.id!).sort()).toEqual(ids);

    // Two streams' entries with the same id (each stream numbers its own entries): a client that
    // saw one of them and resumes from that id gets the other too.
    const [seconds] = (await ctx.redis.client.time()).map(Number);
    const twin = `${seconds! * 1000 + 60_000}-0`;
    await ctx.redis.client.xadd(streams.invitations, twin, ...flat({ id: 'twin-a', event_name: 'A', v: '2' }));
    await ctx.redis.client.xadd(streams.responses, twin, ...flat({ id: 'r-twin', invitation_id: 'twin-b', guest_id: 'g', guest_name: 'G', response: 'yes', message: '', timestamp: new Date().toISOString() }));
    const twins = await readSse(host.url('/api/flow'), (events) => events.filter((e) => e.event === 'flow').length >= 2, { headers: { 'last-event-id': twin } });
    const seen = twins.events.filter((e) => e.event === 'flow').map((e) => [e.id, (JSON.parse(e.data) as { event_id: string }).event_id]);
    expect(seen.sort()).toEqual([[twin, 'twin-a'], [twin, 'twin-b']]);
    const rates = await readSse(host.url('/api/flow'), (events) => events.some((e) => e.event === 'rates'), { timeoutMs: 5_000 });
    const stat = (JSON.parse(rates.events.find((e) => e.event === 'rates')!.data) as { streams: { stream: string; length: number }[] }).streams.find((s) => s.stream === streams.invitations);
    expect(stat).toMatchObject({ length: 2 });
  });
});

describe('the outbox', () => {
  it('publishes a revision saved just before a crash once, when the host is back', async () => {
    const crashing = await ctx.procs.host({ ...withAuth, HOST_ID: 'crashy', HOST_TEST_CRASH: 'after-save:2' });
    const body = { id: 'survivor', event_name: 'Survivor', event_date: daysAhead(9) };
    expect((await call(crashing, 'POST', '/api/events', body)).status).toBe(202);
    await expect(call(crashing, 'PATCH', '/api/events/survivor', { event_name: 'Survivor 2' })).rejects.toThrow();
    expect((await crashing.exited).signal).toBe('SIGKILL');
    // Saved, not published.
    expect((await readAll(ctx.redis.client, streams.invitations)).map((e) => e.fields.revision)).toEqual(['1']);
    expect(await ctx.redis.client.hkeys(hostKeys.event('survivor').outbox)).toEqual(['2']);

    const back = await ctx.procs.host({ ...withAuth, HOST_ID: 'crashy' });
    const entries = await eventually(async () => {
      const all = await readAll(ctx.redis.client, streams.invitations);
      return all.length === 2 ? all : undefined;
    }, 10_000, 'the left-behind revision');
    expect(entries.map((e) => [e.fields.revision, e.fields.event_name])).toEqual([['1', 'Survivor'], ['2', 'Survivor 2']]);
    expect(await ctx.redis.client.hlen(hostKeys.event('survivor').outbox)).toBe(0);
    // The client's retry finds the change made; the create's retry a duplicate; nothing more on the stream.
    expect((await call(back, 'PATCH', '/api/events/survivor', { event_name: 'Survivor 2' })).body).toMatchObject({ revision: 2, duplicate: true });
    expect((await call(back, 'POST', '/api/events', body)).body).toMatchObject({ duplicate: true });
    await delay(300);
    expect(await ctx.redis.client.xlen(streams.invitations)).toBe(2);
  });
});
