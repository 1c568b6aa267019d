import { describe, expect, it } from 'vitest';
import { dietaryQuestion } from '../../services/shared/schema/questions.ts';
import { eventKeys, partitionStreams, streams } from '../../services/shared/streams/keys.ts';
import { slotOf } from '../../services/shared/streams/slots.ts';
import { call, daysAhead, msAhead } from '../host/support.ts';
import { eventually } from '../helpers/wait.ts';
import { checkInvariants, failures } from '../reliability/invariants.ts';
import { idInPartition, summariesByEvent, useClusterStack } from './support.ts';

const partitions = 3;
const ctx = useClusterStack(partitions);

describe('on a real Redis Cluster (3 masters, 3 replicas) with STREAM_PARTITIONS=3', () => {
  it('our slot computation is the cluster’s (CLUSTER KEYSLOT)', async () => {
    const port = ctx.cluster.servers[0]!.port;
    for (const key of ['event_invitations:{p0}', 'guest_responses:{p2}', 'event:{party}:replies', 'plain-key', 'é{ü}x', ...partitionStreams(streams.responses, 5)]) {
      expect(slotOf(key), key).toBe(Number(await ctx.cluster.cli(port, 'CLUSTER', 'KEYSLOT', key)));
    }
  });

  it('runs the whole flow — capacity and waitlist, questions, a reminder, an update — with the partitions on three shards', async () => {
    const { procs, cluster } = ctx;
    // The three partitions of each hot stream are on three different masters.
    for (const base of [streams.invitations, streams.responses]) {
      const owners = await Promise.all(partitionStreams(base, partitions).map(async (s) => (await cluster.masterOf(slotOf(s))).id));
      expect(new Set(owners).size, `${base} partitions spread over the masters`).toBe(3);
    }

    await procs.coordinator({ GUEST_TTL_MS: '600000' });
    await procs.coordinator({ GUEST_TTL_MS: '600000' });
    await procs.guests({ GUESTS_PER_AGENT: '6', GUEST_AGENT_ID: 'cl-agent-a' });
    await procs.guests({ GUESTS_PER_AGENT: '6', GUEST_AGENT_ID: 'cl-agent-b' });
    // Guests who take their time: a version stays open until its deadline, and the reminder finds them.
    const slow = await procs.guests({ GUESTS_PER_AGENT: '2', GUEST_AGENT_ID: 'cl-agent-slow', REPLY_DELAY_SCALE: '100' });
    const host = await procs.host({ HOST_ID: 'cl-host', GUEST_TTL_MS: '600000' });

    // One event per partition, each with its own feature.
    const seats = idInPartition('seats', 0, partitions);
    const reminded = idInPartition('reminded', 1, partitions);
    const moved = idInPartition('moved', 2, partitions);
    const create = (body: Record<string, unknown>) => call(host, 'POST', '/api/events', { event_date: daysAhead(5), event_time: '19:00', timezone: 'Europe/Paris', ...body });
    expect((await create({ id: seats, event_name: 'Seats', capacity: 2, questions: [dietaryQuestion], rsvp_deadline: msAhead(15_000) })).status).toBe(202);
    // The reminder 1 min before a deadline 63 s ahead: due 3 s after the invitation.
    expect((await create({ id: reminded, event_name: 'Reminded', reminders: [1], remind_tentative: true, rsvp_deadline: msAhead(63_000) })).status).toBe(202);
    expect((await create({ id: moved, event_name: 'Moved', rsvp_deadline: msAhead(15_000) })).status).toBe(202);

    // The update: a new time while the first version is open asks everyone again.
    await eventually(async () => (await ctx.cluster.client.hget(eventKeys(moved).event, 'status')) === 'open', 15_000, 'the first version open');
    const patched = await call(host, 'PATCH', `/api/events/${moved}`, { event_time: '20:00', rsvp_deadline: msAhead(15_000) }, { 'if-match': '"1"' });
    expect(patched.body).toMatchObject({ revision: 2, sequence: 1 });

    const summaries = await eventually(
      async () => {
        const s = await summariesByEvent(cluster.client);
        return s.get(seats)?.length === 1 && s.get(reminded)?.length === 1 && s.get(moved)?.length === 2 ? s : undefined;
      },
      90_000,
      'a summary per version of every event',
    );
    // Capacity: at most 2 seats taken, every other acceptance waitlisted; the answers tallied.
    const seatSummary = summaries.get(seats)![0]!;
    expect(seatSummary.totalInvited).toBe(14);
    expect(seatSummary.headcount).toBeLessThanOrEqual(2);
    expect(seatSummary.confirmed + seatSummary.waitlisted).toBe(seatSummary.accepted);
    if (seatSummary.accepted > 2) expect(seatSummary.waitlisted).toBeGreaterThan(0);
    if (seatSummary.confirmed + seatSummary.tentative > 0) expect(Object.keys(seatSummary.answers)).toEqual(['dietary']);
    // The reminder's timer fired once, in its version.
    expect(await cluster.client.sismember(eventKeys(reminded).done, 's0:r:1')).toBe(1);
    expect(summaries.get(reminded)![0]!.remindersSent).toBeGreaterThan(0);
    // The update: one summary per version, the second one with everyone asked again.
    expect(summaries.get(moved)!.map((s) => s.sequence).sort()).toEqual([0, 1]);
    expect(summaries.get(moved)!.find((s) => s.sequence === 1)!.totalInvited).toBe(14);

    // The traffic went through the partitions: each event on its own, the original names unused.
    for (const [index, id] of [seats, reminded, moved].entries()) {
      const invitations = await cluster.client.xrange(partitionStreams(streams.invitations, partitions)[index]!, '-', '+');
      expect(invitations.some(([, f]) => f[f.indexOf('id') + 1] === id), `${id} in invitations partition ${index}`).toBe(true);
      expect(await cluster.client.xlen(partitionStreams(streams.responses, partitions)[index]!), `replies in partition ${index}`).toBeGreaterThan(0);
    }
    for (const original of [streams.invitations, streams.responses]) expect(await cluster.client.exists(original), original).toBe(0);

    // The host's read model saw every version (its feed tail reads slot by slot on a cluster).
    const view = await eventually(async () => {
      const v = (await call<{ summaries: { sequence: number }[] }>(host, 'GET', `/api/events/${moved}`)).body;
      return v.summaries.length === 2 ? v : undefined;
    }, 15_000, 'the host read model has both versions');
    expect(view.summaries.map((s) => s.sequence).sort()).toEqual([0, 1]);

    // The delivery guarantees (events of one version; the event-model rules cover all three). The
    // slow agent holds deliveries while its guests think: stopped, it answers them and acknowledges.
    await slow.stop('SIGTERM');
    const rows = await eventually(async () => {
      const r = await checkInvariants({ redis: cluster.client, events: [seats, reminded], partitions });
      return failures(r) === '' ? r : undefined;
    }, 20_000, 'the invariants hold').catch(async () => checkInvariants({ redis: cluster.client, events: [seats, reminded], partitions }));
    expect(failures(rows)).toBe('');
  }, 150_000);

  it('answers the entry id when the outbox drainer published first (once-marker beside the partition stream)', async () => {
    const host = await ctx.procs.host({ HOST_ID: 'cl-racy', HOST_TEST_DRAIN_FIRST: 'true' });
    const id = idInPartition('raced', 2, partitions);
    const created = await call(host, 'POST', '/api/events', { id, event_name: 'Raced', event_date: daysAhead(5) });
    const changed = await call(host, 'PATCH', `/api/events/${id}`, { event_name: 'Raced 2' });
    expect([created.status, changed.status]).toEqual([202, 202]);
    await host.waitForLog((l) => l.msg === 'outbox: published revisions left behind by an interrupted save', 5_000, 'the drainer published');
    const entries = await ctx.cluster.client.xrange(partitionStreams(streams.invitations, partitions)[2]!, '-', '+');
    expect(entries.map(([, f]) => f[f.indexOf('revision') + 1])).toEqual(['1', '2']);
    expect([created.body.entry_id, changed.body.entry_id]).toEqual(entries.map(([entryId]) => entryId));
  }, 60_000);
});
