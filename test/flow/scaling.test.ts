import { describe, expect, it } from 'vitest';
import { groups, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters, flat, originalInvitation, pendingCount, readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';

const ctx = useRedisStack();

/** guestId -> number of delivery entries that named it, across every inbox. */
async function deliveriesPerGuest(agentIds: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const agentId of agentIds) {
    for (const entry of await readAll(ctx.redis.client, streams.inbox(agentId))) {
      for (const guestId of JSON.parse(entry.fields.guests!) as string[]) {
        const key = `${entry.fields.invitation_id}/${guestId}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
  }
  return counts;
}

describe('several guest agents and several coordinators', () => {
  it('invites 50 guests hosted by 3 agent processes and counts all of them', async () => {
    await ctx.procs.coordinator();
    const sizes = [17, 17, 16];
    // Eager guests who never change their mind: a second reply would make the per-agent reply count
    // below depend on how long the test takes to read it.
    const personas = JSON.stringify([{ name: 'Eager', likely: 'yes', delayMs: [500, 2_000], probabilities: { yes: 0.8, maybe: 0.15, no: 0.05 } }]);
    const agents = await Promise.all(
      sizes.map((n, i) => ctx.procs.guests({ GUESTS_PER_AGENT: String(n), PERSONAS: personas, GUEST_AGENT_ID: `agent-${i}` })),
    );
    const invitation = originalInvitation();
    await ctx.redis.client.xadd(streams.invitations, '*', ...flat(invitation));
    const summary = await eventually(async () => (await readAll(ctx.redis.client, streams.summaries))[0], 30_000, 'summary');
    expect(summary.fields).toMatchObject({ total_invited: '50', total_responses: '50', no_response_count: '0' });

    const perGuest = await deliveriesPerGuest(['agent-0', 'agent-1', 'agent-2']);
    expect(perGuest.size).toBe(50);
    expect([...perGuest.values()].every((n) => n === 1)).toBe(true);
    const guestIds = new Set((JSON.parse(summary.fields.responses!) as { guest_id: string }[]).map((r) => r.guest_id));
    expect(guestIds.size).toBe(50);
    for (const [i, agent] of agents.entries()) {
      expect(await agent.metric('event_planner_guest_replies_sent_total')).toBe(sizes[i]);
    }
  });

  it('two coordinators share invitations and replies: one delivery per guest, one summary per event', async () => {
    // Batches of one entry make the two blocked readers take turns (Redis serves blocked clients in order).
    const coordinators = [await ctx.procs.coordinator({ STREAM_BATCH_SIZE: '1' }), await ctx.procs.coordinator({ STREAM_BATCH_SIZE: '1' })];
    await ctx.procs.guests({ GUESTS_PER_AGENT: '10', PERSONAS: 'instant', GUEST_AGENT_ID: 'agent-a' });
    await ctx.procs.guests({ GUESTS_PER_AGENT: '10', PERSONAS: 'instant', GUEST_AGENT_ID: 'agent-b' });
    const events = Array.from({ length: 12 }, (_, i) => originalInvitation({ id: `shared-${i}`, event_name: `Event ${i}` }));
    for (const e of events) await ctx.redis.client.xadd(streams.invitations, '*', ...flat(e));

    const summaries = await eventually(
      async () => {
        const all = await readAll(ctx.redis.client, streams.summaries);
        return all.length >= events.length ? all : undefined;
      },
      40_000,
      '12 summaries',
    );
    // Give a late duplicate the chance to show up before counting.
    await new Promise((r) => setTimeout(r, 500));
    const final = await readAll(ctx.redis.client, streams.summaries);
    expect(final).toHaveLength(events.length);
    expect(new Set(summaries.map((s) => s.fields.invitation_id)).size).toBe(events.length);
    for (const s of final) expect(s.fields).toMatchObject({ total_invited: '20', total_responses: '20' });

    const perGuest = await deliveriesPerGuest(['agent-a', 'agent-b']);
    expect(perGuest.size).toBe(events.length * 20);
    expect([...perGuest.values()].every((n) => n === 1)).toBe(true);

    // Both replicas did part of the work.
    for (const c of coordinators) {
      expect(await c.metric('event_planner_stream_messages_consumed_total', { stream: streams.responses, outcome: 'acked' })).toBeGreaterThan(0);
    }
    const consumed = await Promise.all(coordinators.map((c) => c.metric('event_planner_reply_outcomes_total', { outcome: 'counted' })));
    expect(consumed[0]! + consumed[1]!).toBe(events.length * 20);
    expect(await pendingCount(ctx.redis.client, streams.responses, groups.coordinators)).toBe(0);
    expect(await deadLetters(ctx.redis.client)).toEqual([]);
  });

  it('invites only guests with a live heartbeat: a killed agent drops out after GUEST_TTL_MS, a stopped one at once', async () => {
    const coordinator = await ctx.procs.coordinator({ GUEST_TTL_MS: '1500', RSVP_DEADLINE_MS: '2000' });
    await ctx.procs.guests({ GUESTS_PER_AGENT: '2', PERSONAS: 'instant', GUEST_AGENT_ID: 'stays' });
    const killed = await ctx.procs.guests({ GUESTS_PER_AGENT: '3', PERSONAS: 'instant', GUEST_AGENT_ID: 'killed' });
    const stopped = await ctx.procs.guests({ GUESTS_PER_AGENT: '4', PERSONAS: 'instant', GUEST_AGENT_ID: 'stopped' });
    const invite = async (id: string) => {
      await ctx.redis.client.xadd(streams.invitations, '*', ...flat(originalInvitation({ id })));
      return eventually(async () => (await readAll(ctx.redis.client, streams.summaries)).find((e) => e.fields.invitation_id === id), 20_000, `summary of ${id}`);
    };
    expect((await invite('before')).fields.total_invited).toBe('9');

    await stopped.stop('SIGTERM');
    await killed.stop('SIGKILL');
    // The stopped agent deregistered; the killed one still looks alive until its heartbeat ages out.
    const soon = await invite('right-after');
    expect(soon.fields).toMatchObject({ total_invited: '5', total_responses: '2', no_response_count: '3', reason: 'deadline' });
    await eventually(async () => (await coordinator.metric('event_planner_guests_live')) === 2, 10_000, 'killed agent expired');
    const later = await invite('after-ttl');
    expect(later.fields).toMatchObject({ total_invited: '2', total_responses: '2', reason: 'all_replied' });
  });
});
