import { describe, expect, it } from 'vitest';
import { summaryJsonText } from '../../services/host/read-model/read-model.ts';
import { parseSummary } from '../../services/shared/schema/summary.ts';
import { summaryFields } from '../host/support.ts';

describe('a summary as the read model stores it', () => {
  it('is JSON with the lists as JSON, numbers as numbers, text as text, and no trace context', () => {
    const fields: Record<string, string> = {
      ...summaryFields('party', 'host-1', [{ guest_id: 'g1@agent', guest_name: 'Guest "1" é', state: 'accepted' }]),
      responses: ' [{"id":"r1","guest_id":"g1@agent","response":"yes","message":"line\\nbreak"}] ',
      never_asked: '',
      answers: '{"q1":{"a":1}}',
      response_rate: '100.0',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    };
    expect(parseSummary(fields).ok).toBe(true);
    const parsed = JSON.parse(summaryJsonText(fields)) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      id: 'summary:party:0',
      invitation_id: 'party',
      total_invited: 1,
      response_rate: 100,
      sequence: 0,
      timestamp: fields.timestamp,
      v: '2',
      responses: [{ id: 'r1', guest_id: 'g1@agent', response: 'yes', message: 'line\nbreak' }],
      no_response: [],
      never_asked: '',
      answers: { q1: { a: 1 } },
      attendees: [{ guest_id: 'g1@agent', guest_name: 'Guest "1" é', state: 'accepted', plus_ones: 0 }],
    });
    expect(parsed).not.toHaveProperty('traceparent');
    expect(Object.keys(parsed)).toEqual(Object.keys(fields).filter((k) => k !== 'traceparent'));
  });
});
