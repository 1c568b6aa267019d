import { describe, expect, it } from 'vitest';
import { parseInvitation } from '../../services/shared/schema/invitation.ts';
import { parseReply } from '../../services/shared/schema/response.ts';
import { parseTimestamp } from '../../services/shared/schema/validation.ts';

describe('entry schemas', () => {
  it('accepts the original’s local timestamps with microseconds and no zone', () => {
    expect(parseTimestamp('2025-01-20T10:30:00.123456')).toBe(new Date(2025, 0, 20, 10, 30, 0, 123).getTime());
    expect(parseTimestamp('2025-01-20T10:30:00Z')).toBe(Date.UTC(2025, 0, 20, 10, 30));
    expect(parseTimestamp('2025-01-20T10:30:00+02:00')).toBe(Date.UTC(2025, 0, 20, 8, 30));
    expect(parseTimestamp('yesterday')).toBeUndefined();
  });

  it('parses an invitation and explains what is wrong with a bad one', () => {
    const ok = parseInvitation({ id: 'e1', event_name: 'Party', host_id: 'h1', event_date: '2025-02-15', event_time: '14:00' });
    expect(ok).toMatchObject({ ok: true, value: { id: 'e1', eventName: 'Party', sequence: 0 } });
    expect(parseInvitation({ id: 'e1', host_id: 'h1' })).toEqual({ ok: false, reason: 'missing_field: event_name' });
    expect(parseInvitation({ id: 'e1', event_name: 'P', host_id: 'h1', event_time: '25:00' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid_field: event_time/) });
    expect(parseInvitation({ id: 'e1', event_name: 'P', host_id: 'h1', v: '2' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^unsupported_schema_version/) });
    expect(parseInvitation({ id: 'e1', event_name: 'P', host_id: 'h1', rsvp_deadline: 'soon' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid_field: rsvp_deadline/) });
  });

  it('normalises reply values and rejects unknown ones', () => {
    expect(parseReply({ id: 'r', invitation_id: 'e', guest_id: 'g', response: 'YES' })).toMatchObject({ ok: true, value: { response: 'yes' } });
    expect(parseReply({ id: 'r', invitation_id: 'e', guest_id: 'g', response: 'perhaps' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid_field: response/) });
    const many: Record<string, string> = { id: 'r', invitation_id: 'e', guest_id: 'g', response: 'no' };
    for (let i = 0; i < 100; i += 1) many[`f${i}`] = 'x';
    expect(parseReply(many)).toMatchObject({ ok: false, reason: expect.stringMatching(/^too_many_fields/) });
  });
});
