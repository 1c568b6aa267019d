import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streams } from '../../services/shared/streams/keys.ts';
import { Processes, type RoleProcess } from '../helpers/processes.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { flat, originalInvitation } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import { promtoolCheck, promtoolHint, promtoolPath } from './helpers.ts';

let redis: TestRedis;
let procs: Processes;
let roles: { coordinator: RoleProcess; guest: RoleProcess; host: RoleProcess };

/** The metric families (TYPE lines) an exposition declares, with their type. */
function families(exposition: string): Map<string, string> {
  return new Map([...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Label names used by the samples of a family. */
function labelNames(exposition: string, family: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(new RegExp(`^${family}(?:_bucket|_sum|_count)?\\{([^}]*)\\}`, 'gm'))) {
    for (const l of m[1]!.matchAll(/(\w+)="/g)) names.add(l[1]!);
  }
  return names;
}

beforeAll(async () => {
  redis = await startTestRedis();
  procs = new Processes({ REDIS_URL: redis.url });
  // One of everything, so that histograms and labelled counters have samples to lint.
  roles = {
    coordinator: await procs.coordinator(),
    guest: await procs.guests({ GUESTS_PER_AGENT: '5', PERSONAS: 'original', PERSONA_GROUP: 'original' }),
    host: await procs.host({ HOST_ID: 'metrics-host' }),
  };
  const res = await fetch(roles.host.url('/api/events'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'metrics-event', event_name: 'Metrics meetup' }),
  });
  expect(res.status).toBe(202);
  await roles.host.waitForLog((l) => l.msg.startsWith('📊 summary received'), 30_000, 'summary');
  // A malformed invitation: a dead letter with its reason code.
  await redis.client.xadd(streams.invitations, '*', ...flat(originalInvitation({ id: 'bad id with spaces' })));
  await eventually(async () => (await roles.coordinator.metric('event_planner_dead_letters_total')) >= 1, 10_000, 'a dead letter');
});
afterAll(async () => {
  await procs?.stopAll();
  await redis?.stop();
});

describe('Prometheus metrics', () => {
  it.for(['coordinator', 'guest', 'host'] as const)('the %s exposition passes `promtool check metrics` with no output', async (role, { skip }) => {
    if (!promtoolPath()) {
      // CI must lint; a laptop without Debian's prometheus package gets a visible skip, not a pass.
      if (process.env.CI) throw new Error(promtoolHint);
      skip(promtoolHint);
    }
    const { body } = await roles[role].get('/metrics');
    expect(await promtoolCheck(body)).toEqual({ code: 0, output: '' });
  });

  it('the coordinator reports flow, outcome and stream metrics with low-cardinality labels', async () => {
    const c = roles.coordinator;
    const { body } = await c.get('/metrics');
    const f = families(body);
    expect(f.get('event_planner_stream_messages_produced_total')).toBe('counter');
    expect(f.get('event_planner_stream_messages_consumed_total')).toBe('counter');
    expect(f.get('event_planner_stream_wait_seconds')).toBe('histogram');
    expect(f.get('event_planner_stream_processing_seconds')).toBe('histogram');
    expect(f.get('event_planner_stream_reclaimed_total')).toBe('counter');
    expect(f.get('event_planner_stream_retries_total')).toBe('counter');
    expect(f.get('event_planner_http_request_duration_seconds')).toBe('histogram');
    expect(labelNames(body, 'event_planner_stream_messages_consumed_total')).toEqual(new Set(['role', 'stream', 'group', 'outcome']));

    expect(await c.metric('event_planner_replies_total')).toBe(5);
    expect(await c.metric('event_planner_summaries_total', { reason: 'all_replied' })).toBe(1);
    expect(await c.metric('event_planner_dead_letters_total', { stream: 'event_invitations', reason: 'invalid_field' })).toBe(1);
    expect(await c.metric('event_planner_stream_messages_consumed_total', { stream: 'guest_responses', group: 'coordinators', outcome: 'acked' })).toBe(5);
    expect(await c.metric('event_planner_stream_messages_produced_total', { stream: 'guest_inbox', outcome: 'added' })).toBe(1);
    expect(await c.metric('event_planner_stream_messages_produced_total', { stream: 'event_summaries', outcome: 'added' })).toBe(1);
    expect(await c.metric('event_planner_stream_wait_seconds_count', { stream: 'guest_responses', group: 'coordinators' })).toBe(5);

    // Stream state from XINFO: per stream and group, per-agent inboxes folded into one label value.
    await eventually(async () => (await c.metric('event_planner_guests_live', { persona_group: 'original' })) === 5, 5_000, 'live guests');
    expect(await c.metric('event_planner_stream_length', { stream: 'guest_responses' })).toBe(5);
    expect(await c.metric('event_planner_stream_length', { stream: 'guest_inbox' })).toBe(1);
    expect(await c.metric('event_planner_stream_group_lag', { stream: 'guest_responses', group: 'coordinators' })).toBe(0);
    expect(await c.metric('event_planner_stream_group_pending', { stream: 'guest_inbox', group: 'guests' })).toBe(0);
    expect(families(body).get('event_planner_stream_group_oldest_pending_age_seconds')).toBe('gauge');
    expect(await c.metric('event_planner_stream_group_oldest_pending_age_seconds', { stream: 'event_summaries', group: 'host:metrics-host' })).toBe(0);
    expect(body).not.toMatch(/guest_inbox:\{/);
  });

  it('the host measures invitation-to-summary end to end; the guest counts the replies it sent', async () => {
    const { body } = await roles.host.get('/metrics');
    expect(families(body).get('event_planner_invitation_round_trip_seconds')).toBe('histogram');
    expect(await roles.host.metric('event_planner_invitation_round_trip_seconds_count', { reason: 'all_replied' })).toBe(1);
    expect(await roles.host.metric('event_planner_stream_messages_produced_total', { stream: 'event_invitations', outcome: 'added' })).toBe(1);
    // The same invitation id again: the host's record of the event (save-revision.lua) recognises the
    // retry before anything reaches the stream: a counted duplicate, not a second entry.
    const again = await fetch(roles.host.url('/api/events'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'metrics-event', event_name: 'Metrics meetup' }),
    });
    expect(await again.json()).toMatchObject({ duplicate: true });
    expect(await roles.host.metric('event_planner_host_invitations_published_total', { outcome: 'duplicate' })).toBe(1);
    expect(await roles.host.metric('event_planner_stream_messages_produced_total', { stream: 'event_invitations', outcome: 'added' })).toBe(1);
    expect(await roles.guest.metric('event_planner_guest_replies_sent_total')).toBe(5);
    expect(await roles.guest.metric('event_planner_stream_messages_consumed_total', { stream: 'guest_inbox', group: 'guests', outcome: 'acked' })).toBe(1);
  });

  it('reports readiness and live read loops, and starts the counters alerts rely on at 0', async () => {
    for (const role of ['coordinator', 'guest', 'host'] as const) expect(await roles[role].metric('event_planner_ready'), role).toBe(1);
    const loops = { coordinator: ['event_invitations', 'coordinators'], guest: ['guest_inbox', 'guests'], host: ['event_summaries', 'host:metrics-host'] } as const;
    for (const [role, [stream, group]] of Object.entries(loops)) {
      const p = roles[role as keyof typeof loops];
      expect(await p.metric('event_planner_stream_consumers_active', { stream, group }), `${role} read loop`).toBe(1);
      // Born at 0, so the first dead letter of a consumer is an increase (DeadLettersIncreasing).
      const { body } = await p.get('/metrics');
      for (const outcome of ['acked', 'retried', 'dead_lettered']) {
        expect(body, `${role} ${outcome}`).toMatch(new RegExp(`^event_planner_stream_messages_consumed_total\\{[^}]*stream="${stream}",group="${group}",outcome="${outcome}"`, 'm'));
      }
      expect(body).toMatch(new RegExp(`^event_planner_stream_reclaimed_total\\{[^}]*stream="${stream}",group="${group}"[^}]*\\} 0$`, 'm'));
    }
    const coordinator = (await roles.coordinator.get('/metrics')).body;
    for (const reason of ['all_replied', 'deadline', 'no_guests']) expect(coordinator).toMatch(new RegExp(`^event_planner_summaries_total\\{[^}]*reason="${reason}"`, 'm'));
    expect(await roles.coordinator.metric('event_planner_summaries_total', { reason: 'deadline' })).toBe(0);
    // The RSVP mix per persona group is one query over the guests' own counter.
    expect(labelNames((await roles.guest.get('/metrics')).body, 'event_planner_guest_replies_sent_total')).toEqual(new Set(['role', 'reply', 'persona_group']));
    expect(await roles.guest.metric('event_planner_guest_replies_sent_total', { persona_group: 'original' })).toBe(5);
  });

  it('stream gauges come from one role only, so replicas do not duplicate series', async () => {
    for (const role of ['guest', 'host'] as const) {
      const { body } = await roles[role].get('/metrics');
      expect(body, role).not.toMatch(/^event_planner_stream_(length|group_\w+)\{/m);
      expect(body, role).not.toMatch(/^event_planner_guests_live\{/m);
    }
    // A second coordinator: only the replica holding the janitor lease reports them.
    const second = await procs.coordinator();
    const withSamples = async (p: RoleProcess) => /^event_planner_stream_length\{/m.test((await p.get('/metrics')).body);
    expect(await withSamples(roles.coordinator)).toBe(true);
    expect(await withSamples(second)).toBe(false);
  });
});
