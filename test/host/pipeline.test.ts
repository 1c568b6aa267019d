import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import { streams } from '../../services/shared/streams/keys.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { withAuth } from '../helpers/auth.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import { call, daysAhead, msAhead, readSse } from './support.ts';

const ctx = useRedisStack();

interface Row {
  guest_id: string;
  state: string;
  sequence: number;
}
interface View {
  status: string;
  revision: number;
  sequence: number;
  counts: Record<string, number>;
  guests: Row[];
  summaries: { sequence: number; reason: string; total_invited: number; attendees: { guest_id: string; state: string }[]; accepted_count: number; declined_count: number; tentative_count: number }[];
  feed_id: string;
}

const view = async (host: RoleProcess, id: string) => (await call<View>(host, 'GET', `/api/events/${id}`)).body;

/** The version's summary, once the read model has it. */
const summaryOf = (host: RoleProcess, id: string, sequence: number) =>
  eventually(async () => {
    const v = await view(host, id);
    const s = v.summaries.find((x) => x.sequence === sequence);
    return s ? { v, s } : undefined;
  }, 30_000, `the summary of version ${sequence}`);

function partstats(text: string): { method: string; sequence: number; states: Record<string, string> } {
  const calendar = new ICAL.Component(ICAL.parse(text) as unknown[]);
  const vevent = calendar.getFirstSubcomponent('vevent')!;
  const states = Object.fromEntries(
    vevent.getAllProperties('attendee').map((p) => [decodeURIComponent(String(p.getFirstValue()).replace(/^mailto:/i, '').split('@guests')[0]!), String(p.getParameter('partstat'))]),
  );
  return { method: String(calendar.getFirstPropertyValue('method')), sequence: Number(vevent.getFirstPropertyValue('sequence')), states };
}

const partstatOf: Record<string, string> = { accepted: 'ACCEPTED', waitlisted: 'ACCEPTED', declined: 'DECLINED', tentative: 'TENTATIVE', needs_action: 'NEEDS-ACTION', never_asked: 'NEEDS-ACTION' };

describe('the host on the real pipeline (coordinator and guests)', () => {
  it('shows every guest answering live, the summary of each version, an update that asks again and the cancellation', async () => {
    await ctx.procs.coordinator();
    await ctx.procs.guests({ GUESTS_PER_AGENT: '5', GUEST_AGENT_ID: 'board-agent' });
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'board-host' });
    const created = await call(host, 'POST', '/api/events', { id: 'board', event_name: 'Board', event_date: daysAhead(7), event_time: '18:00', timezone: 'Europe/Paris', rsvp_deadline: msAhead(20_000) });
    expect(created.status).toBe(202);

    // The live stream from the start: the guests' rows change as the coordinator reports them.
    const live = readSse(host.url('/api/events/board/stream?since=0-0'), (events) => events.some((e) => e.event === 'summary'), { timeoutMs: 30_000 });
    const { v: first, s: summary0 } = await summaryOf(host, 'board', 0);
    const events = (await live).events;
    const answered = events.filter((e) => e.event === 'guest').map((e) => JSON.parse(e.data) as Row & { outcome?: string });
    expect(answered.some((r) => r.state === 'needs_action')).toBe(true);
    expect(answered.some((r) => r.state !== 'needs_action')).toBe(true);
    expect(events.some((e) => e.event === 'counts')).toBe(true);

    // The board agrees with the summary: five guests, each in the state the summary gives.
    expect(summary0.total_invited).toBe(5);
    expect(first.guests).toHaveLength(5);
    const summaryStates = Object.fromEntries(summary0.attendees.map((a) => [a.guest_id, a.state]));
    expect(Object.fromEntries(first.guests.map((g) => [g.guest_id, g.state === 'waitlisted' ? 'accepted' : g.state]))).toEqual(summaryStates);
    expect(first.counts).toMatchObject({ invited: 5, accepted: summary0.accepted_count, declined: summary0.declined_count, tentative: summary0.tentative_count });
    expect(first.status).toBe('closed');
    // The calendar file says the same, attendee by attendee.
    const ics0 = partstats((await call<string>(host, 'GET', '/api/events/board.ics')).body);
    expect(ics0).toMatchObject({ method: 'REQUEST', sequence: 0 });
    expect(ics0.states).toEqual(Object.fromEntries(first.guests.map((g) => [g.guest_id, partstatOf[g.state]])));

    // A new time: a new version, everyone asked again, a summary of its own.
    const moved = await call(host, 'PATCH', '/api/events/board', { event_time: '19:00', rsvp_deadline: msAhead(20_000) }, { 'if-match': '"1"' });
    expect(moved.body).toMatchObject({ revision: 2, sequence: 1, bumped: true });
    const { v: second, s: summary1 } = await summaryOf(host, 'board', 1);
    expect(summary1.total_invited).toBe(5);
    expect(second.guests.every((g) => g.sequence === 1)).toBe(true);
    expect(second.summaries.map((s) => s.sequence)).toEqual([0, 1]);
    expect(partstats((await call<string>(host, 'GET', '/api/events/board.ics')).body).sequence).toBe(1);

    // Cancelled: the closed version gets the cancellation's own summary; the calendar says CANCEL.
    const cancelled = await call(host, 'POST', '/api/events/board/cancel', {});
    expect(cancelled.body).toMatchObject({ revision: 3, sequence: 2, status: 'cancelled' });
    const { v: last, s: summary2 } = await summaryOf(host, 'board', 2);
    expect(summary2.reason).toBe('cancelled');
    expect(last.status).toBe('cancelled');
    // RFC 5546 §3.2.5: the CANCEL names every guest it cancels (those of version 1), each with its answer.
    const cancelIcs = partstats((await call<string>(host, 'GET', '/api/events/board.ics')).body);
    expect(cancelIcs).toMatchObject({ method: 'CANCEL', sequence: 2 });
    expect(cancelIcs.states).toEqual(Object.fromEntries(summary1.attendees.map((a) => [a.guest_id, partstatOf[a.state]])));
    // One invitation entry per revision, one summary per version.
    expect((await readAll(ctx.redis.client, streams.invitations)).map((e) => e.fields.revision)).toEqual(['1', '2', '3']);
    expect((await readAll(ctx.redis.client, streams.summaries)).map((e) => e.fields.sequence)).toEqual(['0', '1', '2']);
  }, 120_000);

  it('keeps every guest’s answer on the board when an open event is cancelled (a cancellation is no guest’s removal)', async () => {
    await ctx.procs.coordinator();
    await ctx.procs.guests({ GUESTS_PER_AGENT: '3', GUEST_AGENT_ID: 'quick', PERSONAS: 'instant' });
    // Never answers: the version stays open until the cancellation.
    await ctx.procs.guests({ GUESTS_PER_AGENT: '1', GUEST_AGENT_ID: 'quiet', PERSONAS: 'silent' });
    const host = await ctx.procs.host({ HOST_ID: 'board-host' });
    expect((await call(host, 'POST', '/api/events', { id: 'called-off', event_name: 'Called off', event_date: daysAhead(7), rsvp_deadline: msAhead(60_000) })).status).toBe(202);
    const answered = await eventually(async () => {
      const v = await view(host, 'called-off');
      return v.guests.length === 4 && v.guests.filter((g) => g.state !== 'needs_action').length === 3 ? v : undefined;
    }, 20_000, 'three answers');
    const before = Object.fromEntries(answered.guests.map((g) => [g.guest_id, g.state]));

    expect((await call(host, 'POST', '/api/events/called-off/cancel', {})).body).toMatchObject({ status: 'cancelled', sequence: 1 });
    const { v: cancelled, s: summary } = await summaryOf(host, 'called-off', 0);
    expect(summary.reason).toBe('cancelled');
    await eventually(async () => (await view(host, 'called-off')).status === 'cancelled' || undefined, 10_000, 'cancelled');
    expect(Object.fromEntries(cancelled.guests.map((g) => [g.guest_id, g.state]))).toEqual(before);
    // The CANCEL names all four, the silent one too, with the answers they gave.
    const ics = partstats((await call<string>(host, 'GET', '/api/events/called-off.ics')).body);
    expect(ics).toMatchObject({ method: 'CANCEL', sequence: 1 });
    expect(ics.states).toEqual(Object.fromEntries(Object.entries(before).map(([id, state]) => [id, partstatOf[state]])));
    // The feed never showed them removed, not even for a moment.
    const feed = await readSse(host.url('/api/events/called-off/stream?since=0-0'), (events) => events.some((e) => e.event === 'summary'));
    expect(feed.events.filter((e) => e.event === 'guest').map((e) => (JSON.parse(e.data) as Row).state)).not.toContain('removed');
  }, 60_000);

  it('shows the guest roster with liveness and the streams with their groups, lag and dead letters', async () => {
    await ctx.procs.coordinator();
    const agent = await ctx.procs.guests({ GUESTS_PER_AGENT: '5', GUEST_AGENT_ID: 'roster-agent' });
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'ops-host', GUEST_TTL_MS: '1500', RELEASE_NAME: 'party' });
    interface Roster {
      guests: { guest_id: string; name: string; persona: string; group: string; tags: string[]; agent: string; live: boolean }[];
      groups: { group: string; live: number; total: number; scale_hint: string }[];
    }
    const roster = (await call<Roster>(host, 'GET', '/api/guests')).body;
    expect(roster.guests).toHaveLength(5);
    expect(roster.guests.every((g) => g.agent === 'roster-agent' && g.live && g.group === 'original' && g.tags.includes('original'))).toBe(true);
    expect(roster.guests.map((g) => g.name)).toContain('Alice Chen');
    expect(roster.groups).toEqual([{ group: 'original', live: 5, total: 5, scale_hint: 'kubectl scale deployment/party-guest-original --replicas=N' }]);

    await call(host, 'POST', '/api/events', { id: 'ops', event_name: 'Ops', event_date: daysAhead(3), rsvp_deadline: msAhead(30_000) });
    await ctx.redis.client.xadd(streams.invitations, '*', 'id', 'broken');
    interface Stats { streams: { stream: string; length: number; dead_letters: number; groups: { name: string; consumers: number; lag: number; pending: number }[] }[] }
    const stats = await eventually(async () => {
      const s = (await call<Stats>(host, 'GET', '/api/streams')).body.streams;
      const invitations = s.find((x) => x.stream === streams.invitations)!;
      // Read (lag 0) is not yet settled: the good invitation stays pending until its deliveries are written.
      return invitations.dead_letters === 1 && invitations.groups[0]?.lag === 0 && invitations.groups[0]?.pending === 0 ? s : undefined;
    }, 15_000, 'the invitations read and settled, the broken one dead-lettered');
    expect(stats.find((x) => x.stream === streams.invitations)).toMatchObject({ length: 2, groups: [{ name: 'coordinators', consumers: 1, pending: 0 }] });
    expect(stats.map((x) => x.stream)).toEqual(expect.arrayContaining([streams.summaries, streams.activity, streams.inbox('roster-agent'), streams.inboxHigh('roster-agent')]));
    expect(stats.find((x) => x.stream === streams.summaries)!.groups.map((g) => g.name)).toContain('host:ops-host');

    // An agent that died: its guests are shown, no longer live.
    await agent.stop('SIGKILL');
    const dead = await eventually(async () => {
      const r = (await call<Roster>(host, 'GET', '/api/guests')).body;
      return r.guests.length === 5 && r.guests.every((g) => !g.live) ? r : undefined;
    }, 10_000, 'the agent seen as gone');
    expect(dead.groups[0]).toMatchObject({ live: 0, total: 5 });
  }, 60_000);
});
