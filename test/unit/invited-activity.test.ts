import { describe, expect, it } from 'vitest';
import { invitedEntries } from '../../services/coordinator/invited-activity.ts';
import { parseActivity } from '../../services/shared/schema/activity.ts';
import { toFields } from '../../services/shared/streams/entry.ts';

const chunk = (guests: string[]) => ({ eventId: 'e'.repeat(128), hostId: 'h'.repeat(128), sequence: 3, revision: 7, key: 'gala:12:c4', guests });

describe('the delivered entries naming a fan-out request chunk’s guests', () => {
  it('names a small chunk’s guests in one entry, as invited, under a once-key derived from the chunk’s', () => {
    const [entry, ...more] = invitedEntries(chunk(['a.1', 'a.2']), 1_000);
    expect(more).toEqual([]);
    expect(entry!.onceKey).toBe('delivered:gala:12:c4:g0');
    const parsed = parseActivity(toFields(entry!.fields));
    expect(parsed).toEqual({
      ok: true,
      value: {
        type: 'delivered',
        at: 1_000,
        events: [
          {
            invitation_id: 'e'.repeat(128),
            host_id: 'h'.repeat(128),
            sequence: 3,
            revision: 7,
            delivery: 'request',
            guests: [
              { guest_id: 'a.1', outcome: 'invited', state: 'needs_action' },
              { guest_id: 'a.2', outcome: 'invited', state: 'needs_action' },
            ],
          },
        ],
      },
    });
  });

  it('splits a chunk of 500 of the longest ids into entries that each parse within the field limits, naming each guest once', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `${i}.`.padEnd(128, 'x'));
    const entries = invitedEntries(chunk(ids), 1_000);
    expect(entries.length).toBeGreaterThan(1);
    expect(new Set(entries.map((e) => e.onceKey)).size).toBe(entries.length);
    const named = entries.flatMap((e) => {
      const parsed = parseActivity(toFields(e.fields));
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.value.events.flatMap((ev) => ev.guests ?? []).map((g) => g.guest_id);
    });
    expect(named).toEqual(ids);
  });
});
