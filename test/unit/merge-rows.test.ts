import { describe, expect, it } from 'vitest';
import { later, mergeRows, newerId } from '../../services/host/read-model/merge-rows.ts';
import type { GuestRow } from '../../services/host/read-model/read-model.ts';

const row = (extra: Partial<GuestRow> = {}): GuestRow => ({ guest_id: 'g1@agent', state: 'accepted', sequence: 0, updated_at: 1, ...extra });
/** A row as stored: its JSON with the entry that set it at the end, as merge-rows.ts writes it. */
const storedText = (r: GuestRow, src: string): string => `${JSON.stringify(r).slice(0, -1)},"src":"${src}"}`;

describe('which change of a guest row is later (merge-rows.ts, as apply-changes.lua did)', () => {
  it('compares entry ids as numbers', () => {
    expect(newerId('10-0', '9-0')).toBe(true);
    expect(newerId('9-0', '10-0')).toBe(false);
    expect(newerId('5-10', '5-9')).toBe(true);
    expect(newerId('5-1', '5-1')).toBe(false);
    expect(newerId('1-0', undefined)).toBe(true);
  });

  it('takes a later version, except a stale or late note, which moves no guest into it', () => {
    const old = { ...row({ reply_rev: 3 }), src: '9-0' };
    expect(later(row({ sequence: 1, outcome: 'invited', state: 'needs_action' }), old, '5-0')).toBe(true);
    expect(later(row({ sequence: 1, outcome: 'stale', state: 'needs_action' }), old, '10-0')).toBe(false);
    expect(later(row({ sequence: 1, outcome: 'late' }), old, '10-0')).toBe(false);
    expect(later(row({ sequence: 0, reply_rev: 9 }), { ...old, sequence: 1 }, '10-0')).toBe(false);
  });

  it('keeps a version’s summary as its last word, and a summary over a report', () => {
    const final = { ...row({ final: true }), src: '5-0' };
    expect(later(row({ reply_rev: 4 }), final, '10-0')).toBe(false);
    expect(later(row({ final: true }), { ...row({ reply_rev: 4 }), src: '10-0' }, '5-0')).toBe(true);
  });

  it('orders replies by reply_rev, a promotion or removal by entry, and never lets another note override a reply', () => {
    const replied = { ...row({ reply_rev: 1 }), src: '5-0' };
    expect(later(row({ reply_rev: 0 }), replied, '10-0')).toBe(false);
    expect(later(row({ reply_rev: 2 }), replied, '1-0')).toBe(true);
    expect(later(row({ outcome: 'promoted' }), replied, '6-0')).toBe(true);
    expect(later(row({ outcome: 'removed', state: 'removed' }), replied, '4-0')).toBe(false);
    for (const outcome of ['invited', 'reminded', 'stale', 'late']) expect(later(row({ outcome, state: 'needs_action' }), replied, '99-0'), outcome).toBe(false);
    // Same rank: the entry decides; the same entry again is not later than itself.
    expect(later(row({ reply_rev: 1 }), replied, '6-0')).toBe(true);
    expect(later(row({ reply_rev: 1 }), replied, '5-0')).toBe(false);
  });
});

describe('merging a step’s rows with the stored ones', () => {
  it('writes new rows with their src, and feeds them without src and final', () => {
    const { writes, messages } = mergeRows('7-0', [row({ message: 'hi' }), row({ guest_id: 'g2@agent', final: true })], [null, null]);
    expect(writes.map((w) => [w.guestId, w.expected])).toEqual([
      ['g1@agent', ''],
      ['g2@agent', ''],
    ]);
    expect(JSON.parse(writes[0]!.text)).toEqual({ ...row({ message: 'hi', message_sequence: 0 }), src: '7-0' });
    expect(writes[0]!.text.endsWith(',"src":"7-0"}')).toBe(true);
    expect(writes[1]!.text.endsWith(',"src":"7-0","final":true}')).toBe(true);
    expect(messages.map((m) => JSON.parse(m) as [string, string]).map(([kind, data]) => [kind, JSON.parse(data) as unknown])).toEqual([
      ['guest', row({ message: 'hi', message_sequence: 0 })],
      ['guest', row({ guest_id: 'g2@agent' })],
    ]);
  });

  it('leaves a row as it is when the change is not later, or is the same entry’s again (no write, no message)', () => {
    const text = storedText(row({ reply_rev: 2 }), '9-0');
    expect(mergeRows('10-0', [row({ reply_rev: 1 })], [text])).toEqual({ writes: [], messages: [] });
    expect(mergeRows('9-0', [row({ reply_rev: 2 })], [text])).toEqual({ writes: [], messages: [] });
  });

  it('keeps the name, a promoted guest’s reply and what the guest last said', () => {
    const text = storedText(row({ guest_name: 'Zoë', state: 'accepted', waitlist_position: 1, reply_rev: 2, plus_ones: 1, answers: { diet: [] }, message: 'hi' }), '5-0');
    const [promoted] = mergeRows('6-0', [row({ outcome: 'promoted', answers: { other: 1 }, updated_at: 2 })], [text]).writes;
    expect(JSON.parse(promoted!.text)).toEqual({ ...row({ outcome: 'promoted', updated_at: 2 }), guest_name: 'Zoë', reply_rev: 2, plus_ones: 1, answers: { diet: [] }, message: 'hi', message_sequence: 0, src: '6-0' });
    // A new version's invitation: the row asks again and still shows the last message.
    const [asked] = mergeRows('6-0', [row({ sequence: 1, state: 'needs_action', outcome: 'invited' })], [text]).writes;
    expect(JSON.parse(asked!.text)).toMatchObject({ sequence: 1, state: 'needs_action', message: 'hi', message_sequence: 0, guest_name: 'Zoë' });
    expect(JSON.parse(asked!.text)).not.toHaveProperty('reply_rev');
    // A new answer brings its own message, an empty one too.
    const [answered] = mergeRows('7-0', [row({ sequence: 1, reply_rev: 0, message: '' })], [asked!.text]).writes;
    expect(JSON.parse(answered!.text)).toMatchObject({ message: '', message_sequence: 1 });
  });

  it('lets a guest listed twice see its first change, and writes the row once, against the text read', () => {
    const text = storedText(row({ reply_rev: 0 }), '5-0');
    const { writes, messages } = mergeRows('6-0', [row({ reply_rev: 2, state: 'declined' }), row({ reply_rev: 1, state: 'tentative' }), row({ reply_rev: 3, state: 'tentative' })], [text, text, text]);
    expect(writes).toHaveLength(1);
    expect(writes[0]!.expected).toBe(text);
    expect(JSON.parse(writes[0]!.text)).toMatchObject({ state: 'tentative', reply_rev: 3 });
    expect(messages.map((m) => (JSON.parse((JSON.parse(m) as string[])[1]!) as GuestRow).reply_rev)).toEqual([2, 3]);
  });

  it('marks a summary’s row that restates the stored one final by editing its text, without a feed message', () => {
    const text = storedText(row({ guest_name: 'Zoë', reply_rev: 0, plus_ones: 0, outcome: 'counted', message: 'hi', message_sequence: 0 }), '5-0');
    const summaryRow = row({ guest_name: 'Zoë', plus_ones: 0, final: true, message: 'hi', updated_at: 9 });
    const { writes, messages } = mergeRows('8-0', [summaryRow], [text], true);
    expect(messages).toEqual([]);
    expect(writes).toEqual([{ guestId: 'g1@agent', expected: text, text: text.replace('"src":"5-0"}', '"src":"8-0","final":true}') }]);
    // Without `restate`, or when it says something else, the summary's row is applied in full.
    expect(mergeRows('8-0', [summaryRow], [text]).messages).toHaveLength(1);
    expect(mergeRows('8-0', [{ ...summaryRow, state: 'declined' }], [text], true).messages).toHaveLength(1);
  });
});
