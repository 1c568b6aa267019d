import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deadLetterStream, eventKeys, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';

const ctx = useRedisStack();

const hostId = 'property-host';
const hostName = 'Property Host';
const hour = 3_600_000;

// Values around every rule the invitation validator has, valid ones more often than not so that
// both answers are common.
const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>) => fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: invalid, weight: 1 });
const text = (limit: number) =>
  mostly(
    fc.oneof(
      fc.constantFrom('Team Building Workshop', 'Café ☕', '🎉', 'x'.repeat(limit)),
      // Well-formed strings only: a lone surrogate cannot be stored as UTF-8 at all (the API refuses
      // it, while the stream would hold U+FFFD instead); test/unit covers that refusal.
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }),
    ),
    fc.constantFrom('', '   ', '\u00a0\u2003', 'Room\nB', 'tab\there', 'esc\u001b[2J', 'nul\u0000', 'x'.repeat(limit + 1)),
  );
const pad = (n: number, width: number) => String(n).padStart(width, '0');
const date = mostly(
  fc.oneof(fc.constantFrom('2028-02-29', '2000-02-29', '0001-01-01', '9999-12-31'), fc.date({ min: new Date('1900-01-01'), max: new Date('2100-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10))),
  fc.oneof(
    fc.constantFrom('2026-02-30', '0000-00-00', '2026-13-01', '2100-02-29', '2026-2-3', 'tomorrow'),
    fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 })).map(([y, m, d]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`),
  ),
);
const time = mostly(
  fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.boolean()).map(([h, m, s]) => `${pad(h, 2)}:${pad(m, 2)}${s ? ':59' : ''}`),
  fc.oneof(
    fc.constantFrom('24:00', '12:60', '7:00', '14:00:60', 'noon'),
    fc.tuple(fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 })).map(([h, m]) => `${pad(h, 2)}:${pad(m, 2)}`),
  ),
);
// Offsets from now, far enough from the edges (now, now + 366 days) that the moment between the
// API's check and the entry's id cannot flip the answer; test/unit checks the edges exactly.
const deadline = mostly(
  fc.constantFrom(hour, 30 * 24 * hour, 365 * 24 * hour).map((offset) => ({ offset })),
  fc.oneof(fc.constantFrom('2000-01-01T00:00:00Z', '2026-02-30T10:00:00Z', '2030-01-01T10:00:00', 'soon'), fc.constantFrom(-24 * hour, -hour, 400 * 24 * hour).map((offset) => ({ offset }))),
);
const id = mostly(fc.constant({ unique: true as const }), fc.constantFrom('has spaces', '{brace}', '', 'ü-umlaut', `a${'b'.repeat(128)}`));

const bodies = fc.record(
  { id, event_name: text(200), event_date: date, event_time: time, location: text(500), description: text(4_000), host_name: text(200), rsvp_deadline: deadline },
  { requiredKeys: ['event_name'] },
);
type Generated = typeof bodies extends fc.Arbitrary<infer T> ? T : never;

/** The body as JSON, and the fields a producer other than the API would add for the same invitation. */
function render(generated: Generated, run: number): { body: Record<string, string>; direct: Record<string, string>; apiId?: string; directId: string } {
  const body: Record<string, string> = {};
  const { id: _id, rsvp_deadline, ...rest } = generated;
  for (const [name, value] of Object.entries(rest)) if (value !== undefined) body[name] = value;
  if (rsvp_deadline !== undefined) body.rsvp_deadline = typeof rsvp_deadline === 'object' ? new Date(Date.now() + rsvp_deadline.offset).toISOString() : rsvp_deadline;
  let apiId: string | undefined;
  let directId: string;
  if (generated.id === undefined) directId = `direct-${run}`;
  else if (typeof generated.id === 'object') {
    apiId = `api-${run}`;
    directId = `direct-${run}`;
  } else {
    apiId = generated.id;
    directId = generated.id;
  }
  if (apiId !== undefined) body.id = apiId;
  const direct: Record<string, string> = {
    ...body,
    id: directId,
    host_id: hostId,
    host_name: body.host_name ?? hostName,
    timestamp: new Date().toISOString(),
    sequence: '0',
    v: '1',
  };
  return { body, direct, apiId, directId };
}

describe('the API and the coordinator share one definition of an invitation', () => {
  it('the API accepts a body exactly when the coordinator accepts the same invitation from the stream', async () => {
    const c = ctx.redis.client;
    await ctx.procs.coordinator();
    const host = await ctx.procs.host({ HOST_ID: hostId, HOST_NAME: hostName });
    const letters = deadLetterStream(streams.invitations);
    let run = 0;

    /** Whether the coordinator made the event, or the reason of its dead letter. */
    const settled = async (eventId: string, entryId: string): Promise<{ accepted: true } | { accepted: false; reason: string }> =>
      eventually(
        async () => {
          if ((await c.exists(eventKeys(eventId).event)) === 1) return { accepted: true as const };
          const letter = (await readAll(c, letters)).find((l) => l.fields.dead_letter_entry_id === entryId);
          return letter ? { accepted: false as const, reason: letter.fields.dead_letter_reason! } : undefined;
        },
        10_000,
        `the coordinator to settle ${eventId}`,
      );

    await fc.assert(
      fc.asyncProperty(bodies, async (generated) => {
        run += 1;
        const { body, direct, apiId, directId } = render(generated, run);
        const entryId = (await c.xadd(streams.invitations, '*', ...Object.entries(direct).flat()))!;
        const res = await fetch(host.url('/api/events'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        const answer = (await res.json()) as { id?: string; code?: string; field?: string };
        const coordinator = await settled(directId, entryId);
        const context = JSON.stringify({ body, answer, coordinator });
        expect([202, 400], context).toContain(res.status);
        expect(res.status === 202, context).toBe(coordinator.accepted);
        if (!coordinator.accepted) {
          // Refused for the same reason, naming the same field.
          expect(coordinator.reason.split(':')[0], context).toBe(answer.code);
          expect(coordinator.reason, context).toContain(answer.field);
        } else {
          // And what the API published, the coordinator processes.
          expect(answer.id === apiId || apiId === undefined, context).toBe(true);
          expect(await settled(answer.id!, ''), context).toEqual({ accepted: true });
        }
      }),
      { numRuns: 200 },
    );
    // Both answers were common, so the property was not won by one side.
    expect(await host.metric('event_planner_host_invitations_published_total', { outcome: 'published' })).toBeGreaterThan(20);
    expect(await host.metric('event_planner_host_invitations_published_total', { outcome: 'invalid' })).toBeGreaterThan(20);
  }, 120_000);
});
