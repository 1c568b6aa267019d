import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Janitor } from '../../services/coordinator/janitor.ts';
import { GuestRegistry } from '../../services/shared/registry/guest-registry.ts';
import { groups, streams } from '../../services/shared/streams/keys.ts';
import { infoObject } from '../../services/shared/streams/stream-ids.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { delay } from '../helpers/wait.ts';
import { fastSettings, memoryLogger } from './support.ts';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await redis.flush();
});

const hour = 3_600_000;

function janitor(overrides: Parameters<typeof fastSettings>[0] = {}, agentGcMs = 10 * hour): Janitor {
  return new Janitor({ redis: redis.client, owner: 'test', settings: fastSettings({ retentionMs: hour, consumerIdleMs: 1_000, ...overrides }), agentGcMs, log: memoryLogger().log });
}

/** `count` entries with ids two days old, one ms apart: all past a one-hour retention. */
async function oldEntries(stream: string, count: number): Promise<string[]> {
  const base = Date.now() - 48 * hour;
  const ids: string[] = [];
  const pipeline = redis.client.pipeline();
  for (let i = 0; i < count; i += 1) {
    ids.push(`${base + i}-0`);
    pipeline.xadd(stream, ids[i]!, 'n', String(i));
  }
  await pipeline.exec();
  return ids;
}

async function present(stream: string, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids) if ((await redis.client.xrange(stream, id, id)).length === 1) out.push(id);
  return out;
}

async function consumerNames(stream: string, group: string): Promise<string[]> {
  return ((await redis.client.xinfo('CONSUMERS', stream, group)) as unknown[][]).map((r) => String(infoObject(r).name)).sort();
}

describe('retention', () => {
  it('trims far more than one XTRIM call removes (10,000 entries) in a single run', async () => {
    const stream = 'guest_responses';
    await oldEntries(stream, 50_000);
    expect(await redis.client.xlen(stream)).toBe(50_000);
    await janitor().run();
    // Approximate trimming keeps at most one partly old node (100 entries by default).
    expect(await redis.client.xlen(stream)).toBeLessThan(200);
  });

  it('trims entries past the retention but never one still pending or not yet read by some group', async () => {
    const c = redis.client;
    const stream = 'event_invitations';
    const ids = await oldEntries(stream, 1_000);
    // Group a: read 650, acknowledged all but 600..649. Group b: read 800, all acknowledged.
    await c.xgroup('CREATE', stream, 'a', '0');
    await c.xgroup('CREATE', stream, 'b', '0');
    await c.xreadgroup('GROUP', 'a', 'a1', 'COUNT', 650, 'STREAMS', stream, '>');
    await c.xack(stream, 'a', ...ids.slice(0, 600));
    await c.xreadgroup('GROUP', 'b', 'b1', 'COUNT', 800, 'STREAMS', stream, '>');
    await c.xack(stream, 'b', ...ids.slice(0, 800));

    const report = await janitor().trim(stream);
    expect(report.trimmed).toBeGreaterThan(0);
    // Everything from the oldest pending entry on is still there: the pending ones, the ones
    // group a read and acknowledged after them, and everything a group has not read yet.
    expect(await present(stream, ids.slice(600))).toEqual(ids.slice(600));
    expect(Number((await c.xpending(stream, 'a'))[0])).toBe(50);
    // And only entries every group is done with were trimmed.
    const first = ((await c.xrange(stream, '-', '+', 'COUNT', 1)) as [string, string[]][])[0]![0];
    expect(ids.indexOf(first)).toBeLessThanOrEqual(600);
    expect(ids.indexOf(first)).toBeGreaterThan(0);

    // Once group a is done with them and has read the rest, the stream shrinks to what b has not read.
    await c.xack(stream, 'a', ...ids.slice(600, 650));
    await c.xreadgroup('GROUP', 'a', 'a1', 'COUNT', 1_000, 'STREAMS', stream, '>');
    await c.xack(stream, 'a', ...ids.slice(650));
    await janitor().trim(stream);
    expect(await present(stream, ids.slice(800))).toEqual(ids.slice(800));
    const now = ((await c.xrange(stream, '-', '+', 'COUNT', 1)) as [string, string[]][])[0]![0];
    expect(ids.indexOf(now)).toBeGreaterThan(600);
  });

  it('keeps entries younger than the retention even when every group is done with them', async () => {
    const c = redis.client;
    const stream = 'guest_responses';
    await c.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    const pipeline = c.pipeline();
    for (let i = 0; i < 500; i += 1) pipeline.xadd(stream, '*', 'n', String(i));
    await pipeline.exec();
    const read = (await c.xreadgroup('GROUP', 'g', 'c', 'COUNT', 500, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    await c.xack(stream, 'g', ...read[0]![1].map(([id]) => id));
    const report = await janitor().trim(stream);
    expect(report.trimmed).toBe(0);
    expect(await c.xlen(stream)).toBe(500);
  });
});

describe('idle consumers', () => {
  it('removes consumers idle past CONSUMER_IDLE_MS with nothing pending, and keeps the others', async () => {
    const c = redis.client;
    const stream = 'guest_responses';
    const ids = await oldEntries(stream, 10);
    await c.xgroup('CREATE', stream, 'g', '0');
    // gone-empty: read and acknowledged everything long ago; gone-busy: died with an entry pending.
    await c.xreadgroup('GROUP', 'g', 'gone-empty', 'COUNT', 5, 'STREAMS', stream, '>');
    await c.xack(stream, 'g', ...ids.slice(0, 5));
    await c.xreadgroup('GROUP', 'g', 'gone-busy', 'COUNT', 1, 'STREAMS', stream, '>');
    await delay(1_200);
    // active: idle less than the threshold.
    await c.xgroup('CREATECONSUMER', stream, 'g', 'active');

    const report = await janitor().trim(stream);
    expect(report.removedConsumers).toBe(1);
    expect(await consumerNames(stream, 'g')).toEqual(['active', 'gone-busy']);
    // The entry of the dead consumer is still pending, to be reclaimed; after that it goes too.
    expect(Number((await c.xpending(stream, 'g'))[0])).toBe(1);
    await c.xautoclaim(stream, 'g', 'active', 0, '0-0');
    await c.xack(stream, 'g', ids[5]!);
    await janitor().trim(stream);
    expect(await consumerNames(stream, 'g')).toEqual(['active']);
  });

  it('does not remove a consumer that read an entry after it was found idle (the check and the delete are one step)', async () => {
    const c = redis.client;
    const stream = 'guest_responses';
    await oldEntries(stream, 3);
    await c.xgroup('CREATE', stream, 'g', '0');
    await c.xgroup('CREATECONSUMER', stream, 'g', 'sleepy');
    await delay(1_100);
    // Between the janitor's look and its delete the consumer wakes up and reads.
    const j = janitor();
    const xinfo = c.xinfo.bind(c);
    c.xinfo = (async (...args: Parameters<typeof c.xinfo>) => {
      const result = await (xinfo as (...a: unknown[]) => Promise<unknown>)(...args);
      if (String(args[0]).toUpperCase() === 'CONSUMERS') await c.xreadgroup('GROUP', 'g', 'sleepy', 'COUNT', 1, 'STREAMS', stream, '>');
      return result;
    }) as typeof c.xinfo;
    try {
      const report = await j.trim(stream);
      expect(report.removedConsumers).toBe(0);
    } finally {
      c.xinfo = xinfo;
    }
    expect(await consumerNames(stream, 'g')).toEqual(['sleepy']);
    expect(Number((await c.xpending(stream, 'g'))[0])).toBe(1);
  });
});

describe('inboxes of agents that are gone', () => {
  it('deletes the inbox of an agent that deregistered once nothing was delivered to it or read from it for AGENT_GC_MS, and a priority lane left alone by the same rule', async () => {
    const c = redis.client;
    const registry = new GuestRegistry(c);
    await registry.register({ agentId: 'present', group: 'g', guests: [{ id: 'p.0@present', name: 'P', persona: 'p', tags: ['g', 'p'] }] });
    // left: deregistered long ago; reading: deregistered but its process still reads; recent: got a delivery just now.
    for (const agentId of ['present', 'left', 'reading', 'recent']) {
      const inbox = streams.inbox(agentId);
      await c.xadd(inbox, `${Date.now() - 48 * hour}-0`, 'n', 'old');
      await c.xgroup('CREATE', inbox, groups.guests, '0');
      await c.xreadgroup('GROUP', groups.guests, agentId, 'COUNT', 10, 'STREAMS', inbox, '>');
      // Every agent also reads its priority lane (created empty by its consumer group).
      await c.xgroup('CREATE', streams.inboxHigh(agentId), groups.guests, '0', 'MKSTREAM');
    }
    // lone, lone-reading: only a priority lane is left (re-created by a reader after the inbox went);
    // lone-reading's process still reads it.
    for (const agentId of ['lone', 'lone-reading']) {
      await c.xadd(streams.inboxHigh(agentId), `${Date.now() - 48 * hour}-0`, 'n', 'old');
      await c.xgroup('CREATE', streams.inboxHigh(agentId), groups.guests, '0');
      await c.xreadgroup('GROUP', groups.guests, agentId, 'COUNT', 10, 'STREAMS', streams.inboxHigh(agentId), '>');
    }
    await delay(1_100);
    await c.xadd(streams.inbox('recent'), '*', 'n', 'new');
    await c.xautoclaim(streams.inboxHigh('lone-reading'), groups.guests, 'lone-reading', 0, '0-0');
    // A running consumer's reclaim round (XAUTOCLAIM) counts as activity, also on an idle stream.
    await c.xautoclaim(streams.inbox('reading'), groups.guests, 'reading', 0, '0-0');

    let removed = 0;
    const j = janitor({}, 1_000);
    // One SCAN page per run: a few runs cover a small keyspace.
    for (let i = 0; i < 5; i += 1) removed += await j.removeOrphanInboxes(new Set(['present']));
    expect(removed).toBe(2);
    expect(await c.exists(streams.inbox('left'), streams.inboxHigh('left'), streams.inboxHigh('lone'))).toBe(0);
    expect(await c.exists(streams.inboxHigh('lone-reading'))).toBe(1);
    for (const agentId of ['present', 'reading', 'recent']) expect(await c.exists(streams.inbox(agentId), streams.inboxHigh(agentId)), agentId).toBe(2);
  });
});
