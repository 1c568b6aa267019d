import { describe, expect, it } from 'vitest';
import { ConfigError, EnvReader } from '../../services/shared/config/env.ts';
import { parseSummary } from '../../services/shared/schema/summary.ts';
import { readHostConfig } from '../../services/host/config.ts';
import { formatSummary } from '../../services/host/summary-report.ts';

describe('what the host prints and takes from its environment', () => {
  it('prints control characters from stream entries as text, never as terminal commands or fake lines', () => {
    const reply = { id: 'r', invitation_id: 'e', guest_id: 'g', guest_name: 'Eve\u001b[2J', response: 'yes', message: 'hi\nFAKE LINE', timestamp: '' };
    const parsed = parseSummary({ id: 's', invitation_id: 'e', event_name: 'Party\u0007', total_invited: '1', yes_count: '1', total_responses: '1', responses: JSON.stringify([reply]) });
    expect(parsed.ok).toBe(true);
    const printed = formatSummary((parsed as { ok: true; value: Parameters<typeof formatSummary>[0] }).value);
    expect(printed).not.toMatch(/\p{Cc}(?<!\n)/u);
    expect(printed).toContain('Eve\\x1b[2J');
    expect(printed).toContain('"hi↵FAKE LINE"');
    expect(printed).toContain('Party\\x07');
  });

  it('refuses a summary whose lists do not hold what the host reads', () => {
    expect(parseSummary({ id: 's', invitation_id: 'e', responses: '[{"guest_name": 7}]' })).toMatchObject({ ok: false, field: 'responses', reason: expect.stringMatching(/^invalid_field: responses/) });
    expect(parseSummary({ id: 's', invitation_id: 'e', no_response: '["g1"]' })).toMatchObject({ ok: false, field: 'no_response' });
    expect(parseSummary({ id: 's', invitation_id: 'e', responses: '{oops' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid_json/) });
  });

  it('holds HOST_NAME to the rule of the host_name field it fills in', () => {
    const reader = new EnvReader({ HOST_NAME: 'Sarah\nJohnson' });
    readHostConfig(reader);
    expect(() => reader.done()).toThrow(ConfigError);
    try {
      reader.done();
    } catch (error) {
      expect((error as ConfigError).problems[0]).toMatch(/^HOST_NAME=.*without control characters/);
    }
    expect(readHostConfig(new EnvReader({ HOST_NAME: 'Zoë Ünal' })).hostName).toBe('Zoë Ünal');
  });
});
