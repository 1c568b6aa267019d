import { describe, expect, it } from 'vitest';
import { activityBatchHandler } from '../../services/host/read-model/activity-receiver.ts';
import { feedMessages } from '../../services/host/read-model/feed-hub.ts';
import { ReadModel } from '../../services/host/read-model/read-model.ts';
import { type Activity, type EventActivity, type GuestChange, type VersionCounts, activityFields } from '../../services/shared/schema/activity.ts';
import type { StreamEntry } from '../../services/shared/streams/entry.ts';
import { hostKeys } from '../../services/shared/streams/keys.ts';
import type { RedisClient } from '../../services/shared/streams/redis-client.ts';
import { useRedisStack } from '../helpers/stack.ts';

const ctx = useRedisStack();

// A small step, so the entries' rows are split and packed across several script calls.
const stepGuests = 3;
const options = { feedMaxLen: 10_000, retentionMs: 600_000, stepGuests };
let clock = 1_800_000_000_000;
const nextId = (): string => `${(clock += 1)}-0`;

const counts = (accepted: number, declined = 0): VersionCounts => ({
  invited: 6, accepted, declined, tentative: 0, needs_action: 6 - accepted - declined, confirmed: accepted, headcount: accepted, waitlisted: 0, stale: 0, late: 0, rejected: 0, reminders_sent: 0, never_asked: 0,
});
const g = (n: number, change: Partial<GuestChange> = {}): GuestChange => ({ guest_id: `g${n}@agent`, guest_name: `Guest ${n}`, outcome: 'counted', state: 'accepted', ...change });
const invited = (n: number): GuestChange => g(n, { outcome: 'invited', state: 'needs_action' });

/** A sequence of entries about two events of host `h` (and one of another host), `prefix` naming the events. */
function script(prefix: string): { id: string; activity: Activity }[] {
  const ev = (name: string, e: Omit<EventActivity, 'invitation_id' | 'host_id'>, host = 'h'): EventActivity => ({ invitation_id: `${prefix}-${name}`, host_id: host, ...e });
  const ids = Array.from({ length: 9 }, (_, i) => `${1_800_000_000_000 + i * 10}-${i % 2}`);
  const entries: Activity[] = [
    { type: 'version', at: 1, events: [ev('a', { sequence: 0, revision: 1, status: 'open', deadline: 99, counts: counts(0), guests: [1, 2, 3, 4, 5, 6].map(invited) }), ev('b', { sequence: 0, revision: 1, status: 'open', guests: [1, 2].map(invited) })] },
    // A guest listed twice in one entry: its first change stands (same rank, same entry).
    { type: 'replies', at: 2, events: [ev('a', { sequence: 0, revision: 1, status: 'open', counts: counts(2), guests: [g(1, { reply_rev: 0, message: 'yes' }), g(2, { reply_rev: 0 }), g(1, { reply_rev: 0, state: 'declined', message: 'no' })] })] },
    // The same guest again in a later entry, a later reply: merged over the earlier entry's row.
    { type: 'replies', at: 3, events: [ev('a', { sequence: 0, revision: 1, status: 'open', counts: counts(1, 1), guests: [g(1, { reply_rev: 1, state: 'declined' }), g(3, { reply_rev: 0, plus_ones: 2 })] }), ev('x', { sequence: 0, revision: 1, guests: [g(1)] }, 'other')] },
    // A replay of an older reply: no later than the row it would replace.
    { type: 'replies', at: 4, events: [ev('a', { sequence: 0, revision: 1, status: 'open', counts: counts(1, 1), guests: [g(1, { reply_rev: 0, message: 'again' })] }), ev('b', { sequence: 0, revision: 1, status: 'open', counts: counts(1), guests: [g(2, { reply_rev: 0 })] })] },
    // Changes without a reply follow the order of entries.
    { type: 'promoted', at: 5, events: [ev('a', { sequence: 0, revision: 1, status: 'open', guests: [g(3, { outcome: 'promoted' }), g(4, { outcome: 'removed', state: 'declined' }), g(5, { reply_rev: 0 }), g(6, { reply_rev: 0, state: 'tentative' })] })] },
    { type: 'reminder', at: 6, events: [ev('a', { sequence: 0, revision: 1, status: 'open', guests: [g(5, { outcome: 'reminded', state: 'needs_action' })] })] },
    // A new version, then the old one's close reported late.
    { type: 'version', at: 7, events: [ev('a', { sequence: 1, revision: 2, status: 'open', deadline: 199, counts: counts(0), guests: [1, 2, 3].map(invited) })] },
    { type: 'closed', at: 8, events: [ev('a', { sequence: 0, revision: 1, status: 'closed', counts: counts(3, 1) }), ev('b', { sequence: 0, revision: 1, status: 'closed' })] },
    { type: 'replies', at: 9, events: [ev('a', { sequence: 1, revision: 2, status: 'open', counts: counts(1), guests: [g(2, { reply_rev: 0, message: 'back' })] })] },
  ];
  return entries.map((activity, i) => ({ id: ids[i]!, activity }));
}

/** Everything the model keeps of `prefix`'s events: rows, versions, and the feed's messages in order. */
async function state(prefix: string): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const name of ['a', 'b', 'x']) {
    const k = hostKeys.event(`${prefix}-${name}`);
    const feed = (await ctx.redis.client.xrange(k.feed, '-', '+')) as [string, string[]][];
    out[name] = {
      guests: await ctx.redis.client.hgetall(k.guests),
      versions: await ctx.redis.client.hgetall(k.versions),
      feed: feed.flatMap(([id, f]) => feedMessages(id, Object.fromEntries(f.flatMap((v, i) => (i % 2 === 0 ? [[v, f[i + 1]!]] : [])))).map((m) => [m.kind, m.data])),
    };
  }
  return out;
}

async function oneByOne(model: ReadModel, prefix: string): Promise<number> {
  let added = 0;
  for (const { id, activity } of script(prefix)) added += await model.applyActivity(id, activity, 'h');
  return added;
}

/** The shared client, with HMGET of the rows of events named in `failing` answering an error. */
function failingReads(client: RedisClient, failing: (key: string) => boolean): RedisClient {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'hmget') return async (key: string, ...rest: string[]) => (failing(key) ? Promise.reject(new Error(`test: ${key} unreachable`)) : target.hmget(key, ...rest));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('the host applying a batch of event_activity entries', () => {
  it('ends with the same rows, versions and feed messages, in the same order, as applying them one by one', async () => {
    const model = new ReadModel(ctx.redis.client, options);
    const added = await oneByOne(model, 'one');
    const batch = await model.applyActivities(script('batch'), 'h');
    expect(batch.failed.size).toBe(0);
    expect(batch.added).toBe(added);
    const reference = await state('one');
    expect(await state('batch')).toEqual(reference);
    // Rows keep their own entry: guest 6 of `a` was last set by the fifth entry, guest 1 by the new
    // version (keeping the message of its first listing in the second entry), guest 2 by the last.
    const rows = await ctx.redis.client.hgetall(hostKeys.event('batch-a').guests);
    expect(JSON.parse(rows['g6@agent']!)).toMatchObject({ src: script('batch')[4]!.id, state: 'tentative', sequence: 0 });
    expect(JSON.parse(rows['g1@agent']!)).toMatchObject({ src: script('batch')[6]!.id, state: 'needs_action', sequence: 1, message: 'yes', message_sequence: 0 });
    expect(JSON.parse(rows['g2@agent']!)).toMatchObject({ src: script('batch')[8]!.id, message: 'back', sequence: 1 });
    // Applied again (a redelivery), as a batch or one by one: nothing changes.
    expect((await model.applyActivities(script('batch'), 'h')).added).toBe(0);
    expect(await oneByOne(model, 'batch')).toBe(0);
    expect(await state('batch')).toEqual(reference);
    // Fewer script calls than entries × events: the entries about an event share calls.
    await ctx.redis.client.config('RESETSTAT');
    await model.applyActivities(script('calls'), 'h');
    const info = await ctx.redis.client.info('commandstats');
    const calls = Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(info)?.[1] ?? 0);
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThan(script('calls').reduce((n, e) => n + e.activity.events.filter((x) => x.host_id === 'h').length, 0));
  });

  it('resumes a batch killed after any step: the same end as one by one, no message twice', async () => {
    const model = new ReadModel(ctx.redis.client, options);
    await oneByOne(model, 'ref');
    const reference = await state('ref');
    for (let k = 1; k <= 5; k += 1) {
      const prefix = `crash${k}`;
      let steps = 0;
      const dying = new ReadModel(ctx.redis.client, {
        ...options,
        afterStep: () => {
          steps += 1;
          if (steps === k) throw new Error('killed');
        },
      });
      await expect(dying.applyActivities(script(prefix), 'h')).rejects.toThrow('killed');
      // Redelivered: part of the batch again, then the whole batch.
      await model.applyActivities(script(prefix).slice(0, 4), 'h');
      await model.applyActivities(script(prefix), 'h');
      expect(await state(prefix)).toEqual(reference);
    }
  });

  it('dead-letters a malformed entry alone and retries only the entries of an event Redis failed on', async () => {
    const broken = (key: string): boolean => key.includes('err-b}');
    const handle = activityBatchHandler(new ReadModel(failingReads(ctx.redis.client, broken), options), 'h');
    const entries: StreamEntry[] = script('err').map(({ id, activity }) => {
      const flat = activityFields(activity);
      return { id, deliveries: 1, fields: Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]!]] : []))) as Record<string, string> };
    });
    entries.splice(3, 0, { id: nextId(), deliveries: 1, fields: { type: 'replies', events: 'not json' } });
    const outcomes = await handle(entries);
    const concernsB = (e: StreamEntry): boolean => (e.fields.events ?? '').includes('"err-b"');
    expect(outcomes.map((o) => o.type)).toEqual(entries.map((e, i) => (i === 3 ? 'dead' : concernsB(e) ? 'retry' : 'ack')));
    expect(outcomes.filter((o) => o.type === 'retry').length).toBe(3);
    // The other event was applied in full, as one by one.
    const model = new ReadModel(ctx.redis.client, options);
    await oneByOne(model, 'ref2');
    expect(((await state('err')) as Record<string, unknown>).a).toEqual(((await state('ref2')) as Record<string, unknown>).a);
    // The retried entries, once Redis answers, complete event b as one by one.
    const retried = entries.filter((e, i) => i !== 3 && concernsB(e));
    expect((await activityBatchHandler(model, 'h')(retried)).every((o) => o.type === 'ack')).toBe(true);
    expect(((await state('err')) as Record<string, unknown>).b).toEqual(((await state('ref2')) as Record<string, unknown>).b);
  });
});
