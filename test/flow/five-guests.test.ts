import { describe, expect, it } from 'vitest';
import { groups, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters, flat, originalInvitation, pendingCount, readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';

const ctx = useRedisStack();

describe('the full flow with the original five guests', () => {
  it('invites all five once, counts every reply once, and the host gets one summary', async () => {
    const coordinator = await ctx.procs.coordinator();
    const guests = await ctx.procs.guests({ GUESTS_PER_AGENT: '5', PERSONAS: 'original', GUEST_SEED: 'five' });
    const host = await ctx.procs.host({ PUBLISH_SAMPLE_EVENT: 'true', HOST_ID: 'sarah' });

    const received = await host.waitForLog((l) => l.msg.startsWith('📊 summary received'), 30_000, 'summary');
    expect(received).toMatchObject({ invited: 5, noResponse: 0, reason: 'all_replied' });
    expect(Number(received.yes) + Number(received.no) + Number(received.maybe)).toBe(5);

    const invitations = await readAll(ctx.redis.client, streams.invitations);
    expect(invitations).toHaveLength(1);
    const eventId = invitations[0]!.fields.id!;

    // Exactly one delivery entry naming each of the five guests.
    const agentId = JSON.parse((await guests.get('/info')).body).agentId as string;
    const inbox = await readAll(ctx.redis.client, streams.inbox(agentId));
    const delivered = inbox.flatMap((e) => JSON.parse(e.fields.guests!) as string[]);
    expect(delivered.sort()).toEqual((await ctx.redis.client.hkeys(`event:{${eventId}}:invited`)).sort());
    expect(new Set(delivered).size).toBe(5);

    const summaries = await readAll(ctx.redis.client, streams.summaries);
    expect(summaries).toHaveLength(1);
    const s = summaries[0]!.fields;
    expect(s).toMatchObject({ invitation_id: eventId, host_id: 'sarah', total_invited: '5', total_responses: '5', no_response_count: '0' });
    const responses = JSON.parse(s.responses!) as { guest_name: string; response: string; message: string }[];
    expect(responses.map((r) => r.guest_name).sort()).toEqual(['Alice Chen', 'Bob Rodriguez', 'Carol Williams', 'David Kim', 'Emma Thompson']);
    for (const r of responses) {
      expect(['yes', 'no', 'maybe']).toContain(r.response);
      expect(r.message.length).toBeGreaterThan(0);
    }
    expect(Number(s.yes_count) + Number(s.no_count) + Number(s.maybe_count)).toBe(5);
    // The original's five reply entries, nothing more: no forwarded copies anywhere.
    expect(await readAll(ctx.redis.client, streams.responses)).toHaveLength(5);
    expect(await deadLetters(ctx.redis.client)).toEqual([]);

    // Everything acknowledged.
    await eventually(async () => (await pendingCount(ctx.redis.client, streams.responses, groups.coordinators)) === 0, 5_000, 'responses acked');
    expect(await pendingCount(ctx.redis.client, streams.invitations, groups.coordinators)).toBe(0);
    expect(await pendingCount(ctx.redis.client, streams.inbox(agentId), groups.guests)).toBe(0);
    expect(await coordinator.metric('event_planner_summaries_total', { reason: 'all_replied' })).toBe(1);
  });

  it('reproduces the same answers with the same seed', async () => {
    await ctx.procs.coordinator();
    await ctx.procs.guests({ GUESTS_PER_AGENT: '5', PERSONAS: 'original', GUEST_SEED: 'fixed', GUEST_AGENT_ID: 'agent-a' });
    const answersFor = async (eventId: string) => {
      await ctx.redis.client.xadd(streams.invitations, '*', ...flat(originalInvitation({ id: eventId })));
      const summary = await eventually(async () => (await readAll(ctx.redis.client, streams.summaries)).find((e) => e.fields.invitation_id === eventId), 20_000, 'summary');
      const responses = JSON.parse(summary.fields.responses!) as { guest_name: string; response: string; message: string }[];
      return responses.map((r) => `${r.guest_name}:${r.response}:${r.message}`).sort();
    };
    const first = await answersFor('seeded-event');
    await ctx.procs.stopAll();
    await ctx.redis.flush();
    await ctx.procs.coordinator();
    await ctx.procs.guests({ GUESTS_PER_AGENT: '5', PERSONAS: 'original', GUEST_SEED: 'fixed', GUEST_AGENT_ID: 'agent-a' });
    expect(await answersFor('seeded-event')).toEqual(first);
  });
});

describe('a host written against the original format', () => {
  it('XADDs the original invitation fields and reads its summary in its own group', async () => {
    await ctx.procs.coordinator();
    await ctx.procs.guests({ GUESTS_PER_AGENT: '5', PERSONAS: 'original' });
    const c = ctx.redis.client;
    // What the original event_host.py does: its own group on event_summaries, then XADD.
    await c.xgroup('CREATE', streams.summaries, 'event_hosts', '$', 'MKSTREAM');
    const invitation = originalInvitation();
    await c.xadd(streams.invitations, '*', ...flat(invitation));

    const summary = await eventually(
      async () => {
        const reply = (await c.xreadgroup('GROUP', 'event_hosts', 'host_1', 'COUNT', 10, 'BLOCK', 500, 'STREAMS', streams.summaries, '>')) as
          | [string, [string, string[]][]][]
          | null;
        for (const [id, fields] of reply?.[0]?.[1] ?? []) {
          await c.xack(streams.summaries, 'event_hosts', id);
          const f = Object.fromEntries(fields.flatMap((v, i, a) => (i % 2 ? [] : [[v, a[i + 1]!]])));
          if (f.host_id === invitation.host_id) return f;
        }
        return undefined;
      },
      30_000,
      'summary for host_001',
    );
    // The original's summary fields are all there, with the same meaning.
    for (const field of ['id', 'invitation_id', 'host_id', 'total_invited', 'total_responses', 'yes_count', 'no_count', 'maybe_count', 'responses', 'timestamp']) {
      expect(summary).toHaveProperty(field);
    }
    expect(summary.invitation_id).toBe(invitation.id);
    expect(summary.total_invited).toBe('5');
    const responses = JSON.parse(summary.responses!) as Record<string, string>[];
    expect(responses).toHaveLength(5);
    for (const r of responses) {
      expect(Object.keys(r).sort()).toEqual(['guest_id', 'guest_name', 'id', 'invitation_id', 'message', 'response', 'timestamp']);
      expect(r.invitation_id).toBe(invitation.id);
    }
  });
});
