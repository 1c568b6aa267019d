// Random field maps (fast-check) into every stream a role reads, the priority lanes and the
// activity feed included, which hostile-input.test.ts (hand-made hostile kinds on the four normal
// streams) does not reach. Each entry must be dead-lettered once with a reason and its fields
// unchanged; every reader stays up and drains its group.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseActivity } from '../../services/shared/schema/activity.ts';
import { parseSummary } from '../../services/shared/schema/summary.ts';
import { groups, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters, flat, pendingCount } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';

const ctx = useRedisStack();

const agent = 'fuzz-agent';
const hostId = 'fuzz-host';
/** Every stream a role reads, with the group that reads it. */
const targets: [stream: string, group: string][] = [
  [streams.invitations, groups.coordinators],
  [streams.invitationsHigh, groups.coordinators],
  [streams.responses, groups.coordinators],
  [streams.responsesHigh, groups.coordinators],
  [streams.inbox(agent), groups.guests],
  [streams.inboxHigh(agent), groups.guests],
  [streams.summaries, groups.host(hostId)],
  [streams.activity, groups.host(hostId)],
];

// Names the readers know (so a map is sometimes nearly valid) and names of any kind.
const known = ['id', 'v', 'host_id', 'invitation_id', 'guest_id', 'event_name', 'response', 'delivery_key', 'guests', 'rsvp_deadline', 'type', 'at', 'events', 'responses', 'sequence', 'revision', 'method', '__proto__', 'constructor'];
const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '1', '-1', 'NaN', '[]', '{}', '[1,2', 'null', 'yes', 'REQUEST', '2030-01-01T00:00:00Z', 'x'.repeat(70_000)),
  fc.json({ maxDepth: 2 }),
);
/**
 * A random map can be a valid entry: a summary needs only `id` and `invitation_id` (the original
 * format), and is then another host application's summary, acknowledged, not dead-lettered; an
 * activity entry with `events: []` is an empty change. The shared parsers say which ones.
 */
const acceptedBy: Record<string, (fields: Record<string, string>) => boolean> = {
  [streams.summaries]: (fields) => parseSummary(fields).ok,
  [streams.activity]: (fields) => parseActivity(fields).ok,
};

const fieldMap = fc.dictionary(fc.oneof(fc.constantFrom(...known), fc.string({ minLength: 1, maxLength: 20 })), value, { minKeys: 1, maxKeys: 12 });

describe('random field maps on every stream', () => {
  it('are each dead-lettered once with a reason, fields unchanged; every reader stays up and drains', async () => {
    const procs = [
      await ctx.procs.coordinator(),
      await ctx.procs.guests({ GUEST_AGENT_ID: agent, GUESTS_PER_AGENT: '3', PERSONAS: 'instant' }),
      await ctx.procs.host({ HOST_ID: hostId }),
    ];
    const c = ctx.redis.client;
    // FUZZ_SEED=<n> replays a failed run (the seed is in every assertion message).
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const sent = fc.sample(fc.tuple(fc.constantFrom(...targets), fieldMap), { numRuns: 400, seed });
    /** The entries each reader must refuse (dead-letter), by "<stream> <entry id>"; and those it may take. */
    const byEntry = new Map<string, Record<string, string>>();
    const valid = new Set<string>();
    for (let i = 0; i < sent.length; i += 100) {
      const pipeline = c.pipeline();
      const slice = sent.slice(i, i + 100);
      for (const [[stream], fields] of slice) pipeline.xadd(stream, '*', ...flat(fields));
      const results = (await pipeline.exec())!;
      slice.forEach(([[stream], fields], k) => {
        const key = `${stream} ${results[k]![1] as string}`;
        if (acceptedBy[stream]?.(fields)) valid.add(key);
        else byEntry.set(key, fields);
      });
    }

    const letters = await eventually(async () => {
      const all = await deadLetters(c);
      return all.length >= byEntry.size ? all : undefined;
    }, 60_000, `${byEntry.size} dead letters (FUZZ_SEED=${seed})`).catch(async (error: unknown) => {
      // Say which entries got none: the seed replays the run.
      const lettered = new Set((await deadLetters(c)).map((l) => `${l.fields.dead_letter_stream} ${l.fields.dead_letter_entry_id}`));
      const missing = [...byEntry].filter(([key]) => !lettered.has(key)).slice(0, 5);
      throw new Error(`${(error as Error).message}; ${byEntry.size - lettered.size} without one, e.g. ${JSON.stringify(missing).slice(0, 2_000)}`);
    });
    expect(letters, `FUZZ_SEED=${seed}`).toHaveLength(byEntry.size);
    const seen = new Set<string>();
    for (const letter of letters) {
      const key = `${letter.fields.dead_letter_stream} ${letter.fields.dead_letter_entry_id}`;
      const original = byEntry.get(key);
      expect(valid.has(key), `FUZZ_SEED=${seed}: a valid entry dead-lettered: ${key}`).toBe(false);
      expect(original, `FUZZ_SEED=${seed}: a dead letter for an entry not sent: ${key}`).toBeDefined();
      expect(seen.has(key), `dead-lettered twice: ${key}`).toBe(false);
      seen.add(key);
      expect(letter.fields.dead_letter_reason, `FUZZ_SEED=${seed} ${key}`).toMatch(/^[a-z_]+(: .+)?$/);
      for (const [name, v] of Object.entries(original!)) expect(letter.fields[name], `${key} ${name}`).toBe(v);
    }
    for (const [stream, group] of targets) await eventually(async () => (await pendingCount(c, stream, group)) === 0, 10_000, `${stream} drained`);
    for (const p of procs) {
      expect(p.running, p.role).toBe(true);
      expect((await p.get('/readyz')).status, p.role).toBe(200);
    }
  }, 120_000);
});
