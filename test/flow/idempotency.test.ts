import { describe, expect, it } from 'vitest';
import { eventKeys, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { flat, originalInvitation, readAll } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';

const ctx = useRedisStack();

describe('idempotency by business keys', () => {
  it('counts a duplicate reply once', async () => {
    const coordinator = await ctx.procs.coordinator();
    // Two silent guests: the test plays their replies itself.
    await ctx.procs.guests({ GUESTS_PER_AGENT: '2', PERSONAS: 'silent', GUEST_AGENT_ID: 'quiet' });
    const invitation = originalInvitation();
    await ctx.redis.client.xadd(streams.invitations, '*', ...flat(invitation));
    const keys = eventKeys(invitation.id);
    const guests = await eventually(async () => {
      const ids = await ctx.redis.client.hkeys(keys.invited);
      return ids.length === 2 ? ids.sort() : undefined;
    });
    const reply = (guestId: string, response: string, id: string) =>
      flat({ id, invitation_id: invitation.id, guest_id: guestId, guest_name: guestId, response, message: 'hi', timestamp: new Date().toISOString() });

    // The same reply three times (resent by a client): one reply. Once more with a new reply id
    // from the same guest: a changed reply (the original's format has no reply_rev, so arrival
    // orders them, docs/EVENTS.md), which replaces the first. The coordinator may handle these four
    // in batches that run concurrently, so its script can meet them in another order; the arrival
    // order (the stream's) still decides: one reply counted, the latest (r-1-again) kept, every
    // other a duplicate, an outdated copy or the one change.
    for (let i = 0; i < 3; i += 1) await ctx.redis.client.xadd(streams.responses, '*', ...reply(guests[0]!, 'yes', 'r-1'));
    await ctx.redis.client.xadd(streams.responses, '*', ...reply(guests[0]!, 'no', 'r-1-again'));
    const outcome = async (name: string) => (await coordinator.metric('event_planner_reply_outcomes_total', { outcome: name })) ?? 0;
    const notCounted = async () => (await outcome('duplicate')) + (await outcome('outdated')) + (await outcome('changed'));
    await eventually(async () => (await outcome('counted')) === 1 && (await notCounted()) === 3, 10_000, 'one reply counted, three repeats or changes');
    expect(JSON.parse((await ctx.redis.client.hget(keys.replies, guests[0]!))!)).toMatchObject({ id: 'r-1-again', response: 'no' });
    expect(await ctx.redis.client.hlen(keys.replies)).toBe(1);
    expect(await ctx.redis.client.hmget(keys.event, 'yes_count', 'no_count', 'status')).toEqual(['0', '1', 'open']);

    await ctx.redis.client.xadd(streams.responses, '*', ...reply(guests[1]!, 'maybe', 'r-2'));
    const summary = await eventually(async () => (await readAll(ctx.redis.client, streams.summaries))[0], 10_000, 'summary');
    const before = await outcome('duplicate');
    expect(summary.fields).toMatchObject({ total_invited: '2', total_responses: '2', yes_count: '0', maybe_count: '1', no_count: '1' });

    // After the summary: a repeat is still a duplicate; nothing changes.
    await ctx.redis.client.xadd(streams.responses, '*', ...reply(guests[1]!, 'no', 'r-2'));
    await eventually(async () => (await outcome('duplicate')) === before + 1, 10_000, 'the repeat after the summary a duplicate');
    expect(await readAll(ctx.redis.client, streams.summaries)).toHaveLength(1);
    expect(await coordinator.metric('event_planner_replies_total')).toBe(3);
  });

  it('keeps exactly one event_invitations entry per published invitation, even when a client retries', async () => {
    await ctx.procs.coordinator();
    await ctx.procs.guests({ GUESTS_PER_AGENT: '3', PERSONAS: 'instant' });
    const host = await ctx.procs.host({ HOST_ID: 'retrying-host' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const body = JSON.stringify({ id: `party-${i}`, event_name: `Party ${i}` });
      // Every request sent twice, as a client retrying after a timeout would.
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const res = await fetch(host.url('/api/events'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        expect(res.status).toBe(202);
        const json = (await res.json()) as { id: string; duplicate: boolean };
        expect(json.duplicate).toBe(attempt === 1);
      }
      ids.push(`party-${i}`);
    }
    const invitations = await readAll(ctx.redis.client, streams.invitations);
    expect(invitations.map((e) => e.fields.id).sort()).toEqual(ids.sort());
    await eventually(async () => (await readAll(ctx.redis.client, streams.summaries)).length === 5, 20_000, '5 summaries');
    await delay(300);
    expect(await readAll(ctx.redis.client, streams.summaries)).toHaveLength(5);
    // No forwarded copies: the coordinator never writes to event_invitations.
    expect(await ctx.redis.client.xlen(streams.invitations)).toBe(5);
  });

  it('treats a re-sent invitation (same id, new entry) as the same event', async () => {
    const coordinator = await ctx.procs.coordinator();
    const agent = await ctx.procs.guests({ GUESTS_PER_AGENT: '4', PERSONAS: 'instant', GUEST_AGENT_ID: 'dup-agent' });
    const invitation = originalInvitation();
    await ctx.redis.client.xadd(streams.invitations, '*', ...flat(invitation));
    await ctx.redis.client.xadd(streams.invitations, '*', ...flat(invitation));
    await eventually(async () => (await coordinator.metric('event_planner_invitations_total', { outcome: 'duplicate' })) === 1, 10_000, 'duplicate seen');
    await eventually(async () => (await readAll(ctx.redis.client, streams.summaries)).length === 1, 10_000, 'summary');
    expect(await readAll(ctx.redis.client, streams.inbox('dup-agent'))).toHaveLength(1);
    expect(await agent.metric('event_planner_guest_replies_sent_total')).toBe(4);
  });
});
