import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { deadLetterPattern, streams } from '../../services/shared/streams/keys.ts';
import { seededRandom } from '../../services/shared/util/random.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { flat, originalInvitation } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import { hostileEntries } from './hostile.ts';
import { checkInvariants, failures } from './invariants.ts';
import { errorLines, processStatuses, waitForNothingPending, waitForSummaries } from './scenario.ts';

const ctx = useRedisStack();

async function deadLetterCount(redis: Redis): Promise<number> {
  let total = 0;
  for (const key of await redis.keys(deadLetterPattern)) total += await redis.xlen(key);
  return total;
}

/** Every entry of `stream` as raw bytes, by id. */
async function rawEntries(redis: Redis, stream: string): Promise<Map<string, Buffer[]>> {
  const out = new Map<string, Buffer[]>();
  let start = '-';
  for (;;) {
    const page = await redis.xrangeBuffer(stream, start, '+', 'COUNT', 2_000);
    for (const [id, fields] of page) out.set(id.toString(), fields);
    if (page.length < 2_000) return out;
    start = `(${page[page.length - 1]![0].toString()}`;
  }
}

describe('10,000 malformed and hostile entries mixed into valid traffic', () => {
  it('each lands in dead letters once, with a reason and its original bytes; valid events complete; nothing crashes', async () => {
    const c = ctx.redis.client;
    const seed = String(Date.now());
    const random = seededRandom('hostile', seed);
    const env = { RSVP_DEADLINE_MS: '600000' };
    const agentId = 'hostile-target';
    const all: RoleProcess[] = [
      await ctx.procs.coordinator(env),
      await ctx.procs.coordinator(env),
      await ctx.procs.guests({ GUEST_AGENT_ID: agentId, GUESTS_PER_AGENT: '8', PERSONAS: 'instant' }),
      await ctx.procs.guests({ GUEST_AGENT_ID: 'bystander', GUESTS_PER_AGENT: '8', PERSONAS: 'instant' }),
      await ctx.procs.host({ HOST_ID: 'hostile-host' }),
    ];

    const events = Array.from({ length: 20 }, (_, i) => `valid-${seed}-${i}`);
    const hostile = hostileEntries(10_000, random, { eventIds: events, agentId });
    // Valid invitations at random places among the hostile entries, sent in pipelines of 250.
    const plan: ({ valid: string } | { bad: number })[] = hostile.map((_, i) => ({ bad: i }));
    for (const id of events) plan.splice(Math.floor(random() * plan.length), 0, { valid: id });
    const bad: { stream: string; id: string }[] = new Array(hostile.length);
    for (let i = 0; i < plan.length; i += 250) {
      const slice = plan.slice(i, i + 250);
      const pipeline = c.pipeline();
      for (const item of slice) {
        if ('valid' in item) pipeline.xadd(streams.invitations, '*', ...flat(originalInvitation({ id: item.valid, host_id: 'hostile-host' })));
        else pipeline.xadd(hostile[item.bad]!.stream, '*', ...hostile[item.bad]!.fields);
      }
      const results = (await pipeline.exec())!;
      slice.forEach((item, k) => {
        const [error, id] = results[k]!;
        if (error) throw error;
        if ('bad' in item) bad[item.bad] = { stream: hostile[item.bad]!.stream, id: id as string };
      });
    }

    await waitForSummaries(c, events, 60_000);
    await eventually(async () => (await deadLetterCount(c)) >= hostile.length, 60_000, '10,000 dead letters');
    await waitForNothingPending(c, [agentId, 'bystander'], 20_000);
    const rows = await checkInvariants({ redis: c, events, everyoneAnswers: true, badEntries: bad, processes: processStatuses(all, new Set()) });
    expect(failures(rows), `seed ${seed}`).toBe('');

    // Each dead letter: a reason of the kind expected, and the original entry byte for byte.
    const letters = new Map<string, { reason: string; tail: Buffer[] }>();
    for (const key of await c.keys(deadLetterPattern)) {
      for (const [, fields] of await rawEntries(c, key)) {
        const meta: Record<string, string> = {};
        for (let i = 0; i < 12; i += 2) meta[fields[i]!.toString()] = fields[i + 1]!.toString();
        letters.set(`${meta.dead_letter_stream} ${meta.dead_letter_entry_id}`, { reason: meta.dead_letter_reason!, tail: fields.slice(12) });
      }
    }
    const originals = new Map<string, Map<string, Buffer[]>>();
    const wrong: string[] = [];
    for (let i = 0; i < hostile.length; i += 1) {
      const { stream, id } = bad[i]!;
      if (!originals.has(stream)) originals.set(stream, await rawEntries(c, stream));
      const letter = letters.get(`${stream} ${id}`)!;
      const code = letter.reason.split(':')[0]!;
      const { kind, codes } = hostile[i]!;
      if (codes.length > 0 && !codes.includes(code)) wrong.push(`${kind} on ${stream}: reason ${letter.reason.slice(0, 80)}`);
      const original = originals.get(stream)!.get(id)!;
      if (!Buffer.concat(letter.tail).equals(Buffer.concat(original)) || letter.tail.length !== original.length) wrong.push(`${kind} on ${stream} ${id}: fields changed`);
    }
    expect(wrong.slice(0, 10), `${wrong.length} wrong dead letters (seed ${seed})`).toEqual([]);

    for (const p of all) {
      expect((await p.get('/readyz')).status).toBe(200);
      expect(errorLines(p)).toEqual([]);
    }
  }, 180_000);
});
