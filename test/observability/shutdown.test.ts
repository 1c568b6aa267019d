import { describe, expect, it } from 'vitest';
import { eventKeys, groups, registryKeys, streams } from '../../services/shared/streams/keys.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters, pendingCount, readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';

const stack = useRedisStack();

// The original personas answer after 1.2 to 4.8 s: an event stays open long enough to stop a role
// in the middle of it.
const slowGuests = { PERSONAS: 'original', REPLY_DELAY_SCALE: '1' };

async function publish(host: RoleProcess, id: string): Promise<void> {
  const res = await fetch(host.url('/api/events'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, event_name: `Shutdown drill ${id}` }),
  });
  expect(res.status).toBe(202);
}

/** The one summary of `eventId`: exactly one entry, every invited guest counted, no dead letters. */
async function expectOneCompleteSummary(eventId: string, invited: number): Promise<void> {
  const { redis } = stack;
  const summary = await eventually(
    async () => (await readAll(redis.client, streams.summaries)).find((e) => e.fields.invitation_id === eventId),
    30_000,
    `summary of ${eventId}`,
  );
  expect(summary.fields).toMatchObject({
    reason: 'all_replied',
    total_invited: String(invited),
    total_responses: String(invited),
    no_response_count: '0',
  });
  expect(await redis.client.hlen(eventKeys(eventId).replies)).toBe(invited);
  // Give a duplicate summary the time to show up if one were coming.
  await new Promise((r) => setTimeout(r, 500));
  expect((await readAll(redis.client, streams.summaries)).filter((e) => e.fields.invitation_id === eventId)).toHaveLength(1);
  expect(await deadLetters(redis.client)).toEqual([]);
}

async function expectCleanExit(p: RoleProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const exit = await p.stop(signal);
  expect(exit, p.tail()).toEqual({ code: 0, signal: null });
  expect(p.logs.some((l) => l.msg === `${p.role} stopped`)).toBe(true);
}

describe('graceful shutdown in the middle of an event', () => {
  it('a coordinator stopped mid-event: its replica finishes the event, no reply lost, one summary', async () => {
    const { procs, redis } = stack;
    const first = await procs.coordinator();
    const second = await procs.coordinator();
    await procs.guests({ ...slowGuests, GUESTS_PER_AGENT: '20' });
    const host = await procs.host({ HOST_ID: 'drill-host' });
    await publish(host, 'coordinator-drill');

    // Replies are flowing but the event is still open.
    const counted = async () => (await first.metric('event_planner_replies_total')) + (await second.metric('event_planner_replies_total'));
    await eventually(async () => (await counted()) >= 1, 15_000, 'first replies counted');
    expect(await redis.client.hget(eventKeys('coordinator-drill').event, 'status')).toBe('open');

    await expectCleanExit(first);
    await expectOneCompleteSummary('coordinator-drill', 20);
    await host.waitForLog((l) => l.msg.startsWith('📊 summary received') && l.eventId === 'coordinator-drill', 10_000, 'summary at the host');
    await eventually(async () => (await pendingCount(redis.client, streams.responses, groups.coordinators)) === 0, 10_000, 'replies acknowledged');
  });

  it('a guest agent stopped mid-event: its guests answer before it leaves, and it deregisters', async () => {
    const { procs, redis } = stack;
    await procs.coordinator();
    // A grace period shorter than the guests' thinking: only answering at once saves their replies.
    const leaving = await procs.guests({ ...slowGuests, GUESTS_PER_AGENT: '10', GUEST_AGENT_ID: 'agent-leaving', SHUTDOWN_GRACE_MS: '1000' });
    await procs.guests({ ...slowGuests, GUESTS_PER_AGENT: '10', GUEST_AGENT_ID: 'agent-staying' });
    const host = await procs.host({ HOST_ID: 'drill-host' });
    await publish(host, 'guest-drill');

    // The leaving agent holds its delivery, its guests still thinking.
    await leaving.waitForLog((l) => l.msg.startsWith('📨 invitation'), 15_000, 'delivery received');
    const sentBefore = await leaving.metric('event_planner_guest_replies_sent_total');
    expect(sentBefore).toBeLessThan(10);

    await expectCleanExit(leaving);
    // Every guest of the leaving agent answered during the shutdown, none after.
    expect(leaving.logs.filter((l) => typeof l.reply === 'string' && l.guestId !== undefined)).toHaveLength(10);
    expect(await redis.client.zscore(registryKeys.agents, 'agent-leaving')).toBeNull();
    expect(await redis.client.exists(registryKeys.agentGuests('agent-leaving'), registryKeys.agentInfo('agent-leaving'))).toBe(0);
    expect(await redis.client.zscore(registryKeys.agents, 'agent-staying')).not.toBeNull();
    expect(await pendingCount(redis.client, streams.inbox('agent-leaving'), groups.guests)).toBe(0);

    await expectOneCompleteSummary('guest-drill', 20);
  });

  it('a host stopped mid-event: a restart under the same host id receives the summary, once', async () => {
    const { procs, redis } = stack;
    const coordinator = await procs.coordinator();
    await procs.guests({ ...slowGuests, GUESTS_PER_AGENT: '5' });
    const before = await procs.host({ HOST_ID: 'drill-host' });
    await publish(before, 'host-drill');
    await eventually(async () => (await coordinator.metric('event_planner_deliveries_total')) === 5, 10_000, 'invitation delivered');

    await expectCleanExit(before);
    expect(before.logs.some((l) => l.msg.startsWith('📊 summary received'))).toBe(false);
    // The summary is published while no host runs; it waits in the host application's group.
    await expectOneCompleteSummary('host-drill', 5);

    const after = await procs.host({ HOST_ID: 'drill-host' });
    await after.waitForLog((l) => l.msg.startsWith('📊 summary received') && l.eventId === 'host-drill', 10_000, 'summary after restart');
    await eventually(async () => (await pendingCount(redis.client, streams.summaries, groups.host('drill-host'))) === 0, 5_000, 'summary acknowledged');
    await new Promise((r) => setTimeout(r, 500));
    expect(after.logs.filter((l) => l.msg.startsWith('📊 summary received'))).toHaveLength(1);
    expect(await after.metric('event_planner_host_summaries_received_total', { owner: 'own' })).toBe(1);
  });
});
