import { describe, expect, it } from 'vitest';
import { eventKeys, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { flat, originalInvitation, readAll } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';

const ctx = useRedisStack();

describe('the RSVP deadline', () => {
  it('sends the summary at the deadline when a guest never answers, and records a later reply as late', async () => {
    const coordinator = await ctx.procs.coordinator({ RSVP_DEADLINE_MS: '1500' });
    await ctx.procs.guests({ GUESTS_PER_AGENT: '3', PERSONAS: 'instant', GUEST_AGENT_ID: 'talkers' });
    await ctx.procs.guests({ GUESTS_PER_AGENT: '1', PERSONAS: 'silent', GUEST_AGENT_ID: 'mute' });
    const invitation = originalInvitation();
    const started = Date.now();
    await ctx.redis.client.xadd(streams.invitations, '*', ...flat(invitation));

    const summary = await eventually(async () => (await readAll(ctx.redis.client, streams.summaries))[0], 15_000, 'summary');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(summary.fields).toMatchObject({ reason: 'deadline', total_invited: '4', total_responses: '3', no_response_count: '1' });
    const missing = JSON.parse(summary.fields.no_response!) as { guest_id: string; guest_name: string }[];
    expect(missing).toHaveLength(1);
    expect(missing[0]!.guest_id).toMatch(/@mute$/);

    // The silent guest answers after all: recorded as late, the summary stays as it was.
    await ctx.redis.client.xadd(
      streams.responses,
      '*',
      ...flat({ id: 'late-1', invitation_id: invitation.id, guest_id: missing[0]!.guest_id, guest_name: 'x', response: 'yes', message: 'sorry, late' }),
    );
    await eventually(async () => (await coordinator.metric('event_planner_reply_outcomes_total', { outcome: 'late' })) === 1, 10_000, 'late reply');
    expect(await ctx.redis.client.hlen(eventKeys(invitation.id).late)).toBe(1);
    await delay(300);
    expect(await readAll(ctx.redis.client, streams.summaries)).toHaveLength(1);
    expect(await coordinator.metric('event_planner_summaries_total', { reason: 'deadline' })).toBe(1);
  });

  it('honours an rsvp_deadline carried by the invitation', async () => {
    await ctx.procs.coordinator({ RSVP_DEADLINE_MS: '600000' });
    await ctx.procs.guests({ GUESTS_PER_AGENT: '1', PERSONAS: 'silent' });
    const invitation = originalInvitation({ rsvp_deadline: new Date(Date.now() + 1_000).toISOString() });
    await ctx.redis.client.xadd(streams.invitations, '*', ...flat(invitation));
    const summary = await eventually(async () => (await readAll(ctx.redis.client, streams.summaries))[0], 10_000, 'summary');
    expect(summary.fields).toMatchObject({ reason: 'deadline', total_invited: '1', no_response_count: '1' });
  });

  // The registry is new here, so the coordinator first gives agents GUEST_TTL_MS (3 s in tests)
  // to register (test/reliability/empty-redis.test.ts); with a registry older than that, at once.
  it('summarises with no_guests when no guest is online', async () => {
    await ctx.procs.coordinator();
    await ctx.redis.client.xadd(streams.invitations, '*', ...flat(originalInvitation()));
    const summary = await eventually(async () => (await readAll(ctx.redis.client, streams.summaries))[0], 10_000, 'summary');
    expect(summary.fields).toMatchObject({ reason: 'no_guests', total_invited: '0', total_responses: '0' });
  });
});
