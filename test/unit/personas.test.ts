import { describe, expect, it } from 'vitest';
import { buildGuests } from '../../services/guest/guests.ts';
import { decide, parsePersonas, presets } from '../../services/guest/personas.ts';
import { planReply } from '../../services/guest/reply-maker.ts';
import { mulberry32 } from '../../services/shared/util/random.ts';
import type { Delivery } from '../../services/shared/schema/delivery.ts';
import { defaultEventOptions } from '../../services/shared/schema/event-definition.ts';

const delivery = (invitationId: string): Delivery => ({
  ...defaultEventOptions,
  type: 'request',
  revision: 1,
  invitationId,
  eventName: 'e',
  eventDate: '',
  eventTime: '',
  location: '',
  description: '',
  hostName: '',
  hostId: 'h',
  sequence: 0,
  rsvpDeadline: Date.now() + 1000,
  guestIds: [],
  deliveryKey: 'k',
});

describe('personas', () => {
  it('reproduces the original five guests', () => {
    const original = presets.original!;
    expect(original.map((p) => [p.name, p.likely, p.probabilities.yes, p.probabilities.maybe, p.probabilities.no])).toEqual([
      ['Alice Chen', 'yes', 0.7, 0.2, 0.1],
      ['Bob Rodriguez', 'maybe', 0.3, 0.5, 0.2],
      ['Carol Williams', 'yes', 0.8, 0.1, 0.1],
      ['David Kim', 'no', 0.2, 0.2, 0.6],
      ['Emma Thompson', 'maybe', 0.4, 0.4, 0.2],
    ]);
    // Delays around the original's 2.0, 3.0, 1.5, 4.0 and 2.5 seconds.
    expect(original.map((p) => (p.delayMs[0] + p.delayMs[1]) / 2)).toEqual([2000, 3000, 1500, 4000, 2500]);
  });

  it('follows the likely reply 70% of the time, else draws by the weights', () => {
    const random = mulberry32(42);
    const david = presets.original![3]!; // likely no; 0.2 / 0.2 / 0.6
    const n = 20_000;
    const counts = { yes: 0, maybe: 0, no: 0 };
    for (let i = 0; i < n; i += 1) {
      const d = decide(david, random);
      if (d.reply) counts[d.reply] += 1;
    }
    // P(no) = 0.7 + 0.3 * 0.6 = 0.88; P(yes) = P(maybe) = 0.3 * 0.2 = 0.06
    expect(counts.no / n).toBeCloseTo(0.88, 1);
    expect(counts.yes / n).toBeCloseTo(0.06, 1);
    expect(counts.maybe / n).toBeCloseTo(0.06, 1);
  });

  it('gives the same answer for the same seed, event and guest', () => {
    const [guest] = buildGuests('agent-1', 1, presets.original!, 'seed');
    const a = planReply(guest!, delivery('ev-1'), 'seed', 1);
    const b = planReply(guest!, delivery('ev-1'), 'seed', 1);
    expect(b).toEqual(a);
    const answers = new Set(Array.from({ length: 30 }, (_, i) => planReply(guest!, delivery(`ev-${i}`), 'seed', 1).reply?.response));
    expect(answers.size).toBeGreaterThan(1);
  });

  it('names guests after personas, or deterministically when an agent hosts more', () => {
    expect(buildGuests('a', 5, presets.original!, 's').map((g) => g.name)).toEqual(['Alice Chen', 'Bob Rodriguez', 'Carol Williams', 'David Kim', 'Emma Thompson']);
    const many = buildGuests('a', 50, presets.original!, 's');
    expect(many.map((g) => g.name)).toEqual(buildGuests('a', 50, presets.original!, 's').map((g) => g.name));
    expect(new Set(many.map((g) => g.id)).size).toBe(50);
    expect(many.every((g) => g.id.endsWith('@a'))).toBe(true);
  });

  it('reads personas from JSON with defaults for what is left out', () => {
    const [p] = parsePersonas('[{"name":"Zoe","likely":"yes","delayMs":[10,20],"probabilities":{"yes":1,"maybe":0,"no":0}}]');
    expect(p).toMatchObject({ name: 'Zoe', likely: 'yes', delayMs: [10, 20], followLikely: 0.7, noReplyRate: 0 });
    expect(() => parsePersonas('[{"likely":"yes","delayMs":[5,1]}]')).toThrow(/delayMs/);
    expect(() => parsePersonas('[]')).toThrow(/at least one/);
  });
});
