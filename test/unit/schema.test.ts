import { describe, expect, it } from 'vitest';
import { CLOCK_ALLOWANCE_MS, parseInvitation } from '../../services/shared/schema/invitation.ts';
import { parseReply } from '../../services/shared/schema/response.ts';
import { parseTimestamp } from '../../services/shared/schema/validation.ts';
import { reasonCode, storedReason } from '../../services/shared/streams/dead-letters.ts';

// As the coordinator reads an entry published now.
const check = { publishedAt: Date.now(), clockAllowanceMs: CLOCK_ALLOWANCE_MS };

describe('entry schemas', () => {
  it('accepts the original’s local timestamps with microseconds and no zone', () => {
    expect(parseTimestamp('2025-01-20T10:30:00.123456')).toBe(new Date(2025, 0, 20, 10, 30, 0, 123).getTime());
    expect(parseTimestamp('2025-01-20T10:30:00Z')).toBe(Date.UTC(2025, 0, 20, 10, 30));
    expect(parseTimestamp('2025-01-20T10:30:00+02:00')).toBe(Date.UTC(2025, 0, 20, 8, 30));
    expect(parseTimestamp('yesterday')).toBeUndefined();
  });

  it('parses an invitation and explains what is wrong with a bad one', () => {
    const ok = parseInvitation({ id: 'e1', event_name: 'Party', host_id: 'h1', event_date: '2025-02-15', event_time: '14:00' }, check);
    expect(ok).toMatchObject({ ok: true, value: { id: 'e1', eventName: 'Party', sequence: 0 } });
    expect(parseInvitation({ id: 'e1', host_id: 'h1' }, check)).toEqual({ ok: false, reason: 'missing_field: event_name', field: 'event_name' });
    expect(parseInvitation({ id: 'e1', event_name: 'P', host_id: 'h1', event_time: '25:00' }, check)).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid_field: event_time/) });
    expect(parseInvitation({ id: 'e1', event_name: 'P', host_id: 'h1', v: '3' }, check)).toMatchObject({ ok: false, reason: expect.stringMatching(/^unsupported_schema_version/) });
    expect(parseInvitation({ id: 'e1', event_name: 'P', host_id: 'h1', rsvp_deadline: 'soon' }, check)).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid_field: rsvp_deadline/) });
  });

  it('reads dates and date-times strictly: no rolling over into the next month or day', () => {
    for (const bad of ['2026-02-30T10:00:00Z', '2026-02-29T10:00:00Z', '2026-13-01T10:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T10:60:00Z', '0000-01-01T00:00:00Z', '2026-01-01T10:00:00+24:00']) {
      expect(parseTimestamp(bad), bad).toBeUndefined();
    }
    expect(parseTimestamp('2028-02-29T23:59:59+01:00')).toBe(Date.UTC(2028, 1, 29, 22, 59, 59));
    expect(parseTimestamp('2025-01-20T10:30:00', { requireZone: true })).toBeUndefined();
    const withDate = (event_date: string) => parseInvitation({ id: 'e1', event_name: 'P', host_id: 'h1', event_date }, check);
    for (const bad of ['2026-02-30', '0000-00-00', '2026-13-01', '2100-02-29', '0000-01-01', '2026-2-3']) {
      expect(withDate(bad), bad).toMatchObject({ ok: false, field: 'event_date', reason: expect.stringMatching(/^invalid_field: event_date/) });
    }
    for (const good of ['2000-02-29', '2024-02-29', '0001-01-01', '9999-12-31']) expect(withDate(good).ok, good).toBe(true);
  });

  it('refuses blank names, control characters and text over its limit, naming the field', () => {
    const named = (fields: Record<string, string>) => parseInvitation({ id: 'e1', event_name: 'P', host_id: 'h1', ...fields }, check);
    expect(named({ event_name: '   ' })).toMatchObject({ ok: false, field: 'event_name', reason: expect.stringMatching(/^missing_field/) });
    expect(named({ event_name: '\u00a0\u2003\u200b' })).toMatchObject({ ok: false, field: 'event_name' });
    expect(named({ event_name: 'x'.repeat(201) })).toMatchObject({ ok: false, field: 'event_name', reason: expect.stringMatching(/^field_too_large/) });
    expect(named({ event_name: 'Party\u001b[2J' })).toMatchObject({ ok: false, field: 'event_name', reason: expect.stringMatching(/^invalid_field: event_name contains control/) });
    expect(named({ location: 'Room\nB' })).toMatchObject({ ok: false, field: 'location' });
    expect(named({ description: 'line one\nline two\ttabbed' }).ok).toBe(true);
    expect(named({ event_name: '🎉' }).ok).toBe(true);
  });

  it('judges the RSVP deadline against the publication time, with the clock allowance', () => {
    const at = Date.UTC(2026, 4, 1, 12);
    const deadline = (ms: number) => parseInvitation({ id: 'e1', event_name: 'P', host_id: 'h1', rsvp_deadline: new Date(ms).toISOString() }, { publishedAt: at, clockAllowanceMs: CLOCK_ALLOWANCE_MS });
    expect(deadline(at - CLOCK_ALLOWANCE_MS)).toMatchObject({ ok: false, field: 'rsvp_deadline', reason: expect.stringMatching(/^deadline_passed: /) });
    expect(deadline(Date.UTC(2000, 0, 1))).toMatchObject({ ok: false, reason: expect.stringMatching(/^deadline_passed: rsvp_deadline 2000-01-01T00:00:00.000Z is not after 2026-05-01T12:00:00.000Z/) });
    expect(deadline(at - 1_000).ok).toBe(true);
    expect(deadline(at + 366 * 86_400_000).ok).toBe(true);
    expect(deadline(at + 367 * 86_400_000)).toMatchObject({ ok: false, field: 'rsvp_deadline', reason: expect.stringMatching(/at most 366 days/) });
    // The API reads its own clock and allows nothing.
    expect(parseInvitation({ id: 'e1', event_name: 'P', host_id: 'h1', rsvp_deadline: new Date(at).toISOString() }, { publishedAt: at, clockAllowanceMs: 0 }).ok).toBe(false);
  });

  it('normalises reply values and rejects unknown ones', () => {
    expect(parseReply({ id: 'r', invitation_id: 'e', guest_id: 'g', response: 'YES' })).toMatchObject({ ok: true, value: { response: 'yes' } });
    expect(parseReply({ id: 'r', invitation_id: 'e', guest_id: 'g', response: 'perhaps' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid_field: response/) });
    const many: Record<string, string> = { id: 'r', invitation_id: 'e', guest_id: 'g', response: 'no' };
    for (let i = 0; i < 100; i += 1) many[`f${i}`] = 'x';
    expect(parseReply(many)).toMatchObject({ ok: false, reason: expect.stringMatching(/^too_many_fields/) });
  });
});

describe('dead-letter reasons', () => {
  it('quote what a hostile entry carried on one line, bounded, with the code still first', () => {
    const parsed = parseInvitation({ id: 'e1', event_name: 'P', host_id: 'h1', v: '9\nX\u0000\u2028' }, check);
    expect(parsed.ok).toBe(false);
    const reason = storedReason((parsed as { reason: string }).reason);
    expect(reason).toMatch(/^unsupported_schema_version: v="9\\nX\\u0000/);
    expect(reason).toMatch(/^[^\n]*\\u2028/);
    expect(reason).toMatch(/^[a-z_]+(: .+)?$/);
    expect(reasonCode(reason)).toBe('unsupported_schema_version');
    const long = storedReason(`invalid_field: ${'a\n'.repeat(2_000)}`);
    expect(long).toHaveLength(1000);
    expect(long.endsWith('…')).toBe(true);
    expect(long).not.toContain('\n');
  });
});
