import { describe, expect, it } from 'vitest';
import { feedMessages } from '../../services/host/read-model/feed-hub.ts';
import { type GuestRow, ReadModel, applyTries } from '../../services/host/read-model/read-model.ts';
import type { GuestChange } from '../../services/shared/schema/activity.ts';
import type { RedisClient } from '../../services/shared/streams/redis-client.ts';
import { hostKeys } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';

const ctx = useRedisStack();

const options = { feedMaxLen: 10_000, retentionMs: 600_000 };
let entries = 0;
const nextId = (): string => `${1_700_000_000_000 + (entries += 1)}-0`;

const reply = (state: GuestChange['state'], reply_rev: number, message: string): GuestChange => ({ guest_id: 'g1@agent', guest_name: 'Guest 1', outcome: 'counted', state, reply_rev, message });
const apply = (model: ReadModel, eventId: string, entryId: string, guests: GuestChange[]): Promise<number> =>
  model.applyActivity(entryId, { type: 'replies', at: 5, events: [{ invitation_id: eventId, host_id: 'h', sequence: 0, revision: 1, guests }] }, 'h');

/**
 * The shared client, but each script pipeline waits for `before()` first: what another replica
 * does between this one's read of the rows and its compare-and-set.
 */
function between(client: RedisClient, before: () => Promise<void>): RedisClient {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'pipeline') {
        return () => {
          const pipeline = target.pipeline();
          const exec = pipeline.exec.bind(pipeline);
          pipeline.exec = async () => {
            await before();
            return exec();
          };
          return pipeline;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function fedRows(eventId: string): Promise<GuestRow[]> {
  const raw = (await ctx.redis.client.xrange(hostKeys.event(eventId).feed, '-', '+')) as [string, string[]][];
  return raw.flatMap(([id, f]) => feedMessages(id, Object.fromEntries(f.flatMap((v, i) => (i % 2 === 0 ? [[v, f[i + 1]!]] : []))))).filter((m) => m.kind === 'guest').map((m) => JSON.parse(m.data) as GuestRow);
}

describe('two replicas applying different entries to the same guest at once', () => {
  it('ends with the later change whichever writes first; the loser reads again, and the feed has exactly the changes applied', async () => {
    const other = new ReadModel(ctx.redis.client, options);
    const [early, late] = [nextId(), nextId()];

    /** A replica overtaken once, between its read and its write, by `other` applying `entryId`'s change. */
    const overtaken = (eventId: string, entryId: string, guests: GuestChange[]): ReadModel => {
      let once = true;
      return new ReadModel(between(ctx.redis.client, async () => {
        if (once) {
          once = false;
          await apply(other, eventId, entryId, guests);
        }
      }), options);
    };

    // The earlier entry's replica: after reading again it finds the later change and writes nothing.
    const slow = overtaken('race-1', late, [reply('declined', 1, 'changed my mind')]);
    expect(await apply(slow, 'race-1', early, [reply('accepted', 0, 'yes!')])).toBe(0);
    const [one] = await other.readMany(['race-1']);
    expect(one!.guests).toEqual([expect.objectContaining({ state: 'declined', reply_rev: 1, message: 'changed my mind' })]);
    expect((await fedRows('race-1')).map((r) => r.reply_rev)).toEqual([1]);

    // The later entry's replica, overtaken by the earlier one: it reads again and writes over it.
    const slowLate = overtaken('race-2', early, [reply('accepted', 0, 'yes!')]);
    expect(await apply(slowLate, 'race-2', late, [reply('declined', 1, 'changed my mind')])).toBe(1);
    const [two] = await other.readMany(['race-2']);
    expect(two!.guests).toEqual([expect.objectContaining({ state: 'declined', reply_rev: 1, message: 'changed my mind' })]);
    // Both applied, in the order written: a client of the feed ends with what GET shows.
    expect((await fedRows('race-2')).map((r) => r.reply_rev)).toEqual([0, 1]);
    expect((await fedRows('race-2')).at(-1)).toEqual(two!.guests[0]);
  });

  it('gives up after applyTries reads that each went stale, writing nothing (the entry is retried later)', async () => {
    const other = new ReadModel(ctx.redis.client, options);
    await apply(other, 'busy', nextId(), [reply('accepted', 0, '')]);
    let rev = 0;
    // Another replica changes the row between every read and write of this one.
    const starved = new ReadModel(between(ctx.redis.client, async () => {
      await apply(other, 'busy', nextId(), [reply('tentative', (rev += 1), `change ${rev}`)]);
    }), options);
    const before = await ctx.redis.client.xlen(hostKeys.event('busy').feed);
    await expect(apply(starved, 'busy', nextId(), [reply('declined', 99, 'never written')])).rejects.toThrow(`${applyTries} tries`);
    expect(rev).toBe(applyTries);
    const [read] = await other.readMany(['busy']);
    expect(read!.guests).toEqual([expect.objectContaining({ reply_rev: applyTries, message: `change ${applyTries}` })]);
    expect(await ctx.redis.client.xlen(hostKeys.event('busy').feed)).toBe(before + applyTries);
    // Redelivered when the others are done: applied.
    expect(await apply(other, 'busy', nextId(), [reply('declined', 99, 'written')])).toBe(1);
  });
});
