import { describe, expect, it } from 'vitest';
import { deadLetterStream, groups, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters, flat, originalInvitation, pendingCount, readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';

const ctx = useRedisStack();

describe('malformed entries on every stream', () => {
  it('go to dead letters with a reason while valid traffic goes on', async () => {
    const coordinator = await ctx.procs.coordinator();
    await ctx.procs.guests({ GUESTS_PER_AGENT: '3', PERSONAS: 'instant', GUEST_AGENT_ID: 'target' });
    const host = await ctx.procs.host({ HOST_ID: 'host_001' });
    const c = ctx.redis.client;
    const big = 'x'.repeat(20_000);

    const bad: { stream: string; fields: Record<string, string>; reason: string }[] = [
      { stream: streams.invitations, fields: { id: 'no-name', host_id: 'h' }, reason: 'missing_field' },
      { stream: streams.invitations, fields: { ...originalInvitation(), event_date: '2025-02-30' }, reason: 'invalid_field' },
      { stream: streams.invitations, fields: { ...originalInvitation(), description: big }, reason: 'field_too_large' },
      { stream: streams.invitations, fields: { ...originalInvitation(), v: '99' }, reason: 'unsupported_schema_version' },
      { stream: streams.invitations, fields: { ...originalInvitation(), id: 'bad id {with} braces' }, reason: 'invalid_field' },
      { stream: streams.responses, fields: { id: 'r', invitation_id: 'e1', guest_id: 'g1', response: 'perhaps' }, reason: 'invalid_field' },
      { stream: streams.responses, fields: { id: 'r', invitation_id: 'e1', response: 'yes' }, reason: 'missing_field' },
      { stream: streams.responses, fields: { id: 'r', invitation_id: 'e1', guest_id: 'g1', response: 'yes', message: big }, reason: 'field_too_large' },
      { stream: streams.responses, fields: { id: 'r', invitation_id: 'no-such-event', guest_id: 'g1', response: 'yes' }, reason: 'unknown_invitation' },
      { stream: streams.inbox('target'), fields: { invitation_id: 'e1', event_name: 'x', delivery_key: 'k', rsvp_deadline: new Date().toISOString(), guests: '[not json' }, reason: 'invalid_json' },
      { stream: streams.inbox('target'), fields: { invitation_id: 'e1', event_name: 'x', delivery_key: 'k', rsvp_deadline: new Date().toISOString(), guests: '["someone-else"]' }, reason: 'unknown_guest' },
      { stream: streams.summaries, fields: { id: 's', invitation_id: 'e1', host_id: 'host_001', responses: '{oops' }, reason: 'invalid_json' },
    ];
    const ids = new Map<string, (typeof bad)[number]>();
    // Entry ids are unique per stream only: key by both.
    for (const b of bad) ids.set(`${b.stream} ${(await c.xadd(b.stream, '*', ...flat(b.fields))) as string}`, b);

    // Valid traffic next to it completes.
    const good = originalInvitation();
    await c.xadd(streams.invitations, '*', ...flat(good));
    await host.waitForLog((l) => l.msg.startsWith('📊 summary received') && l.eventId === good.id, 20_000, 'valid summary');

    const letters = await eventually(
      async () => {
        const all = await deadLetters(c);
        return all.length >= bad.length ? all : undefined;
      },
      20_000,
      `${bad.length} dead letters`,
    );
    expect(letters).toHaveLength(bad.length);
    for (const letter of letters) {
      const original = ids.get(`${letter.fields.dead_letter_stream} ${letter.fields.dead_letter_entry_id}`);
      expect(original, `dead letter for an entry we did not send: ${JSON.stringify(letter.fields)}`).toBeDefined();
      expect(letter.fields.dead_letter_reason!.split(':')[0]).toBe(original!.reason);
      // The original fields travel with the dead letter unchanged.
      for (const [name, value] of Object.entries(original!.fields)) expect(letter.fields[name]).toBe(value);
    }
    expect(await readAll(c, deadLetterStream(streams.inbox('target')))).toHaveLength(2);
    expect(await coordinator.metric('event_planner_dead_letters_total', { stream: streams.responses })).toBe(4);

    for (const [stream, group] of [
      [streams.invitations, groups.coordinators],
      [streams.responses, groups.coordinators],
      [streams.inbox('target'), groups.guests],
      [streams.summaries, groups.host('host_001')],
    ] as const) {
      await eventually(async () => (await pendingCount(c, stream, group)) === 0, 5_000, `${stream} drained`);
    }
    // Nobody crashed on any of it.
    for (const p of [coordinator, host]) expect(p.running).toBe(true);
    expect((await coordinator.get('/readyz')).status).toBe(200);
  });
});
