import { describe, expect, it } from 'vitest';
import { deadLetterStream, eventKeys, onceKey, streams } from '../../services/shared/streams/keys.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters, flat, originalInvitation, readAll } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';

const ctx = useRedisStack();

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function post(host: RoleProcess, body: unknown): Promise<Answer> {
  const res = await fetch(host.url('/api/events'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

const invitationDeadLetters = async () => readAll(ctx.redis.client, deadLetterStream(streams.invitations));

describe('POST /api/events accepts exactly what the coordinator processes', () => {
  it('refuses with 400 naming the field what the coordinator would dead-letter, and publishes nothing', async () => {
    await ctx.procs.coordinator();
    const host = await ctx.procs.host();
    const refused: [Record<string, unknown>, string][] = [
      [{ event_name: 'Party', event_date: '2026-02-30' }, 'event_date'],
      [{ event_name: 'Party', event_date: '0000-00-00' }, 'event_date'],
      [{ event_name: 'Party', event_date: '2026-13-01' }, 'event_date'],
      [{ event_name: 'Party', event_date: '2100-02-29' }, 'event_date'],
      [{ event_name: '   ' }, 'event_name'],
      [{ event_name: '\u00a0\u2003' }, 'event_name'],
      [{}, 'event_name'],
      [{ event_name: 'Party', event_time: '24:00' }, 'event_time'],
      [{ event_name: 'x'.repeat(201) }, 'event_name'],
      [{ event_name: 'Party\u001b[2J' }, 'event_name'],
      [{ event_name: 'Party', location: 'Room\nB' }, 'location'],
      [{ event_name: 'Party', description: 'd'.repeat(4_001) }, 'description'],
      [{ event_name: 'Party', id: 'has spaces {and} braces' }, 'id'],
      [{ event_name: 'Party', id: '' }, 'id'],
      [{ event_name: 'Party', rsvp_deadline: '2026-02-30T10:00:00Z' }, 'rsvp_deadline'],
      [{ event_name: 'Party', rsvp_deadline: 'soon' }, 'rsvp_deadline'],
    ];
    for (const [body, field] of refused) {
      const answer = await post(host, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body, JSON.stringify(body)).toMatchObject({ field, code: expect.stringMatching(/^[a-z_]+$/), error: expect.any(String) });
    }
    expect(await ctx.redis.client.xlen(streams.invitations)).toBe(0);

    // The same content straight on the stream: dead-lettered by the coordinator, for the same field.
    const onStream = refused.slice(0, 6);
    for (const [i, [body, field]] of onStream.entries()) {
      await ctx.redis.client.xadd(streams.invitations, '*', ...flat(originalInvitation(body as Record<string, string>)));
      const letters = await eventually(async () => {
        const all = await invitationDeadLetters();
        return all.length === i + 1 ? all : undefined;
      }, 10_000, `dead letter for ${JSON.stringify(body)}`);
      expect(letters.at(-1)!.fields.dead_letter_reason).toContain(field);
    }

    // Valid edge cases pass and complete (no guests online: summarised at once).
    for (const body of [{ event_name: 'Leap day', event_date: '2028-02-29', event_time: '23:59:59' }, { event_name: '🎉', description: 'two\nlines\tand a tab' }]) {
      const answer = await post(host, body);
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
      await eventually(async () => (await readAll(ctx.redis.client, streams.summaries)).some((s) => s.fields.invitation_id === answer.body.id), 10_000, 'summary');
    }
    expect(await invitationDeadLetters()).toHaveLength(onStream.length);
  });

  it('is strict: types are not coerced, unknown fields are refused, nothing is dropped silently', async () => {
    const host = await ctx.procs.host();
    for (const value of [123, true, ['a'], null, { name: 'x' }]) {
      const answer = await post(host, { event_name: value });
      expect(answer.status, JSON.stringify(value)).toBe(400);
      expect(answer.body).toMatchObject({ code: 'invalid_type', field: 'event_name', error: 'event_name must be a string' });
    }
    const misspelt = await post(host, { event_name: 'Party', rsvp_deadlin: '2030-01-01T00:00:00Z' });
    expect(misspelt.status).toBe(400);
    expect(misspelt.body).toMatchObject({ code: 'unknown_field', field: 'rsvp_deadlin' });
    expect(misspelt.body.error).toContain('rsvp_deadlin');
    for (const body of [['Party'], 'Party', 42]) {
      const answer = await post(host, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.code).toBe('invalid_type');
    }
    // Inside a question, the field is named by its path (the page puts it beside the questions).
    const question = { id: 'dietary', text: 'Dietary needs?', type: 'text' };
    expect((await post(host, { event_name: 'Party', questions: [{ ...question, colour: 'red' }] })).body).toMatchObject({ code: 'unknown_field', field: 'questions.0.colour' });
    expect((await post(host, { event_name: 'Party', questions: [{ id: 'dietary', text: 'Dietary needs?' }] })).body).toMatchObject({ code: 'missing_field', field: 'questions.0.type', error: 'questions.0.type is required' });
    const notJson = await fetch(host.url('/api/events'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"event_name": ' });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toEqual({ error: 'the request body is not valid JSON', code: 'invalid_json' });
    expect(await ctx.redis.client.xlen(streams.invitations)).toBe(0);
  });

  it('refuses an RSVP deadline in the past; on the stream the coordinator dead-letters one, judged by publication time', async () => {
    const c = ctx.redis.client;
    // First (explicit ids must grow): published ten minutes ago with a deadline five minutes ago.
    // Before now, but after its publication: a valid invitation whose event closes at once.
    const tenMinutesAgo = Date.now() - 600_000;
    const late = originalInvitation({ id: 'published-earlier', rsvp_deadline: new Date(tenMinutesAgo + 300_000).toISOString() });
    await c.xadd(streams.invitations, `${tenMinutesAgo}-0`, ...flat(late));
    await ctx.procs.guests({ GUESTS_PER_AGENT: '2', PERSONAS: 'silent' });
    await ctx.procs.coordinator();
    const host = await ctx.procs.host();

    for (const rsvp_deadline of ['2000-01-01T00:00:00Z', new Date(Date.now() - 1_000).toISOString()]) {
      const answer = await post(host, { event_name: 'Too late', rsvp_deadline });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: 'deadline_passed', field: 'rsvp_deadline' });
    }
    const zoneless = await post(host, { event_name: 'Whose clock?', rsvp_deadline: '2030-01-01T10:00:00' });
    expect(zoneless.body).toMatchObject({ code: 'invalid_field', field: 'rsvp_deadline' });
    const tooFar = await post(host, { event_name: 'Forever', rsvp_deadline: '2999-01-01T00:00:00Z' });
    expect(tooFar.body).toMatchObject({ code: 'invalid_field', field: 'rsvp_deadline' });
    const soon = await post(host, { event_name: 'Soon', rsvp_deadline: new Date(Date.now() + 1_500).toISOString() });
    expect(soon.status).toBe(202);

    const past = originalInvitation({ id: 'year-2000', rsvp_deadline: '2000-01-01T00:00:00Z' });
    await c.xadd(streams.invitations, '*', ...flat(past));
    const [letter] = await eventually(async () => {
      const all = await invitationDeadLetters();
      return all.length > 0 ? all : undefined;
    }, 10_000, 'dead letter');
    expect(letter!.fields.dead_letter_reason).toMatch(/^deadline_passed: rsvp_deadline 2000-01-01T00:00:00.000Z is not after \S+, when the invitation was published$/);
    expect(letter!.fields.id).toBe('year-2000');
    expect(await c.exists(eventKeys('year-2000').event)).toBe(0);

    const summaries = await eventually(async () => {
      const all = await readAll(c, streams.summaries);
      return all.length === 2 ? all : undefined;
    }, 10_000, 'two summaries');
    expect(summaries.map((s) => [s.fields.invitation_id, s.fields.reason]).sort()).toEqual([[soon.body.id, 'deadline'], ['published-earlier', 'deadline']].sort());
    expect(await invitationDeadLetters()).toHaveLength(1);
  });

  it('judges a redelivered invitation as its first delivery was, even after its deadline passed', async () => {
    const c = ctx.redis.client;
    const env = { CONSUMER_NAME: 'coordinator-redelivered', RSVP_DEADLINE_MS: '600000' };
    await ctx.procs.guests({ GUESTS_PER_AGENT: '2', PERSONAS: 'silent', GUEST_AGENT_ID: 'quiet' });
    // Killed after handling the invitation (event made, deliveries sent), before acknowledging it.
    const first = await ctx.procs.start('coordinator', { ...env, STREAM_TEST_CRASH: 'handled:1:event_invitations' });
    const invitation = originalInvitation({ rsvp_deadline: new Date(Date.now() + 2_000).toISOString() });
    await c.xadd(streams.invitations, '*', ...flat(invitation));
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(await c.hget(eventKeys(invitation.id).event, 'status')).toBe('open');
    await delay(Math.max(0, Date.parse(invitation.rsvp_deadline!) + 500 - Date.now()));

    // Same name: it re-reads its own pending invitation, now past its deadline.
    const second = await ctx.procs.coordinator(env);
    await eventually(async () => (await second.metric('event_planner_invitations_total', { outcome: 'duplicate' })) === 1, 10_000, 'the redelivery handled');
    const summary = await eventually(async () => (await readAll(c, streams.summaries))[0], 10_000, 'summary');
    expect(summary.fields).toMatchObject({ invitation_id: invitation.id, reason: 'deadline', total_invited: '2' });
    await delay(300);
    expect(await deadLetters(c)).toEqual([]);
    expect(await readAll(c, streams.summaries)).toHaveLength(1);
  });

  it('answers an identical retry 202 duplicate, and the same id with other content 409', async () => {
    await ctx.procs.coordinator();
    const host = await ctx.procs.host({ RSVP_WINDOW_MS: '60000' });
    const body = { id: 'board-meeting', event_name: 'Board meeting', event_date: '2030-03-03' };
    const first = await post(host, body);
    expect(first).toMatchObject({ status: 202, body: { id: 'board-meeting', duplicate: false } });
    // The host fills in a deadline from its clock each time: still the same request.
    await delay(20);
    const retry = await post(host, body);
    expect(retry).toMatchObject({ status: 202, body: { id: 'board-meeting', entry_id: null, duplicate: true } });
    const changed = await post(host, { ...body, event_date: '2030-03-04' });
    expect(changed.status).toBe(409);
    expect(changed.body).toMatchObject({ code: 'id_conflict', field: 'id' });
    expect(changed.body.error).toMatch(/^id board-meeting was already used for an invitation with different content/);
    expect(await ctx.redis.client.xlen(streams.invitations)).toBe(1);
    expect(await host.metric('event_planner_host_invitations_published_total', { outcome: 'conflict' })).toBe(1);
  });

  it('treats invitation ids as global: a second host application is refused with 409, and dead-lettered on the stream', async () => {
    const c = ctx.redis.client;
    const coordinator = await ctx.procs.coordinator();
    const hostA = await ctx.procs.host({ HOST_ID: 'host-a' });
    const hostB = await ctx.procs.host({ HOST_ID: 'host-b' });
    const body = { id: 'team-offsite', event_name: 'Team offsite' };
    expect(await post(hostA, body)).toMatchObject({ status: 202, body: { duplicate: false } });
    const second = await post(hostB, body);
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: 'id_in_use', field: 'id', error: 'id team-offsite is already used by host application host-a' });
    await hostA.waitForLog((l) => l.msg.startsWith('📊 summary received') && l.eventId === 'team-offsite', 10_000, 'host-a summary');

    // After the once-marker expired the event still names its owner.
    await c.del(onceKey(streams.invitations, 'team-offsite'));
    expect((await post(hostB, body)).body).toMatchObject({ code: 'id_in_use' });

    // Straight on the stream, from host-b: not a replay to skip, a dead letter that says why.
    await c.xadd(streams.invitations, '*', ...flat(originalInvitation({ id: 'team-offsite', host_id: 'host-b' })));
    // And from host-a with other content: not a replay either.
    await c.xadd(streams.invitations, '*', ...flat(originalInvitation({ id: 'team-offsite', host_id: 'host-a', event_name: 'Something else' })));
    const letters = await eventually(async () => {
      const all = await invitationDeadLetters();
      return all.length === 2 ? all : undefined;
    }, 10_000, 'two dead letters');
    expect(letters.map((l) => l.fields.dead_letter_reason)).toEqual([
      'id_in_use: invitation id team-offsite is already used by host application host-a',
      'id_conflict: invitation id team-offsite revision 1 was already published with different content (a change is a new revision)',
    ]);
    expect(await coordinator.metric('event_planner_invitations_total', { outcome: 'conflict' })).toBe(2);
    expect(await readAll(c, streams.summaries)).toHaveLength(1);
    expect(hostB.logs.some((l) => l.msg.startsWith('📊 summary received'))).toBe(false);
  });
});
