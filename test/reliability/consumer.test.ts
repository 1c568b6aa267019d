import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisUnavailableError, type RedisConnections } from '../../services/shared/streams/connection.ts';
import { StreamConsumer, isolateFromDelivery } from '../../services/shared/streams/consumer.ts';
import { type EntryOutcome, type StreamEntry, ack, dead, retry } from '../../services/shared/streams/entry.ts';
import { deadLetterStream } from '../../services/shared/streams/keys.ts';
import { StreamProducer } from '../../services/shared/streams/producer.ts';
import { backoffMs, sleep } from '../../services/shared/util/time.ts';
import type { Metrics } from '../../services/shared/telemetry/metrics.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { pendingCount } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { connectionsFor, counterValue, fastSettings, memoryLogger, testMetrics } from './support.ts';
import { TcpProxy } from './tcp-proxy.ts';

// The StreamConsumer alone, in this process, against a real redis-server: each guarantee of the
// streams layer on its own. The fault tests next to this file prove them again with real processes.

const stream = 'work';
const group = 'g';
let redis: TestRedis;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await redis.flush();
});

interface Started {
  consumer: StreamConsumer;
  connections: RedisConnections;
  metrics: Metrics;
  logs: ReturnType<typeof memoryLogger>;
}

async function startConsumer(
  opts: { consumer?: string; url?: string; socketTimeoutMs?: number; settings?: Parameters<typeof fastSettings>[0] } & (
    | { handleEntry: (entry: StreamEntry) => Promise<EntryOutcome> }
    | { handleBatch: (entries: StreamEntry[]) => Promise<EntryOutcome[]> }
  ),
): Promise<Started> {
  const logs = memoryLogger();
  const connections = await connectionsFor(opts.url ?? redis.url, logs.log, opts.socketTimeoutMs);
  const metrics = testMetrics();
  const handlers = 'handleEntry' in opts ? { handleEntry: opts.handleEntry } : { handleBatch: opts.handleBatch };
  const consumer = new StreamConsumer({
    stream,
    group,
    consumer: opts.consumer ?? 'c1',
    connections,
    settings: fastSettings(opts.settings),
    log: logs.log,
    metrics,
    ...handlers,
  });
  cleanups.push(async () => {
    await consumer.close(500);
    await connections.close();
  });
  await consumer.start();
  return { consumer, connections, metrics, logs };
}

/** Bytes that are not UTF-8 (a lone continuation byte, an invalid lead byte, NUL, CR LF). */
const binaryJunk = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80, 0x0d, 0x0a, 0xf0, 0x9f, 0x92, 0xa9, 0xed, 0xa0, 0x80]);

describe('retries and dead letters', () => {
  it('backoff with full jitter stays within [ceiling/2, ceiling] and spreads over that range', () => {
    for (let attempt = 1; attempt <= 8; attempt += 1) {
      const ceiling = Math.min(30_000, 1_000 * 2 ** (attempt - 1));
      const samples = Array.from({ length: 400 }, () => backoffMs(attempt, 1_000, 30_000));
      expect(Math.min(...samples)).toBeGreaterThanOrEqual(ceiling / 2);
      expect(Math.max(...samples)).toBeLessThanOrEqual(ceiling);
      expect(Math.min(...samples)).toBeLessThan(ceiling * 0.6);
      expect(Math.max(...samples)).toBeGreaterThan(ceiling * 0.9);
    }
  });

  it('retries a failing entry with growing backoff, then dead-letters it with reason, delivery count and its original bytes', async () => {
    const calls = new Map<string, { at: number; deliveries: number }[]>();
    const { metrics } = await startConsumer({
      settings: { maxDeliveries: 4, backoffBaseMs: 100, backoffMaxMs: 400 },
      handleEntry: async (entry) => {
        const list = calls.get(entry.id) ?? [];
        list.push({ at: Date.now(), deliveries: entry.deliveries });
        calls.set(entry.id, list);
        if (entry.fields.kind === 'hopeless') return dead('invalid_field: kind=hopeless can never work');
        return retry(new Error('database is down'));
      },
    });
    const c = redis.client;
    const failing = (await c.xadd(stream, '*', 'kind', 'job', Buffer.from([0x62, 0x6c, 0x6f, 0x62]), binaryJunk, binaryJunk, 'junk-name')) as string;
    const hopeless = (await c.xadd(stream, '*', 'kind', 'hopeless')) as string;

    const letters = await eventually(async () => {
      const all = await c.xrangeBuffer(deadLetterStream(stream), '-', '+');
      return all.length === 2 ? all : undefined;
    }, 10_000, 'two dead letters');

    // Four deliveries, each after the backoff of the one before: [50,100], [100,200], [200,400] ms.
    const attempts = calls.get(failing)!;
    expect(attempts.map((a) => a.deliveries)).toEqual([1, 2, 3, 4]);
    for (let i = 1; i < attempts.length; i += 1) {
      const ceiling = Math.min(400, 100 * 2 ** (i - 1));
      const gap = attempts[i]!.at - attempts[i - 1]!.at;
      expect(gap).toBeGreaterThanOrEqual(ceiling / 2 - 5);
      expect(gap).toBeLessThan(ceiling + 250);
    }
    // A `dead` outcome goes at once: one handler call.
    expect(calls.get(hopeless)).toHaveLength(1);

    const [original] = await c.xrangeBuffer(stream, failing, failing);
    const byEntry = new Map(letters.map(([, flat]) => [fieldsOf(flat).dead_letter_entry_id!, flat]));
    const letter = byEntry.get(failing)!;
    expect(fieldsOf(letter)).toMatchObject({
      dead_letter_reason: 'max_deliveries: database is down',
      dead_letter_stream: stream,
      dead_letter_group: group,
      dead_letter_entry_id: failing,
      dead_letter_deliveries: '4',
    });
    // After the six dead_letter_* pairs come the original fields, byte for byte.
    expect(Buffer.concat(letter.slice(12))).toEqual(Buffer.concat(original![1]));
    expect(letter.slice(12).map((b) => b.toString('hex'))).toEqual(original![1].map((b) => b.toString('hex')));
    expect(fieldsOf(byEntry.get(hopeless)!)).toMatchObject({ dead_letter_reason: 'invalid_field: kind=hopeless can never work', dead_letter_deliveries: '1' });

    await eventually(async () => (await pendingCount(c, stream, group)) === 0, 2_000, 'nothing pending');
    expect(await counterValue(metrics, 'event_planner_stream_retries_total')).toBe(3);
    expect(await counterValue(metrics, 'event_planner_dead_letters_total', { reason: 'max_deliveries' })).toBe(1);
  });

  it.each([
    ['the same consumer name (a restarted agent)', true],
    ['a new consumer name each time (a replaced replica)', false],
  ])('a poison entry that kills its process on every delivery ends in dead letters, and the batch read with it does not: %s', async (_label, sameName) => {
    const c = redis.client;
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    await c.xgroup('CREATE', stream, 'workers', '0', 'MKSTREAM');
    const ids = new Map<string, string>();
    for (const key of keys) ids.set(key, (await c.xadd(stream, '*', 'key', key, ...(key === 'k3' ? ['poison', '1'] : []))) as string);

    const fixture = join(import.meta.dirname, 'fixtures', 'poison-worker.ts');
    const exits: (string | number | null)[] = [];
    const finished = async () =>
      (await c.xlen(deadLetterStream(stream))) === 1 && (await c.hlen('effects')) === 9 && (await pendingCount(c, stream, 'workers')) === 0;
    for (let run = 1; run <= 12 && !(await finished()); run += 1) {
      const child = spawn(process.execPath, [fixture], {
        env: { ...process.env, REDIS_URL: redis.url, STREAM: stream, CONSUMER: sameName ? 'worker' : `worker-${run}` },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = new Promise<string | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
      let outcome: string | number | null;
      try {
        outcome = await Promise.race([exited, eventually(finished, 15_000, 'poison run').then(() => 'finished' as const)]);
      } finally {
        // Stopped whatever happened: a failed run must not leave a worker behind.
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      }
      if (outcome === 'finished') {
        await exited;
        break;
      }
      exits.push(outcome);
    }

    // Killed by it on each of its 5 (maxDeliveries) deliveries; the next one dead-letters it unread.
    expect(exits).toEqual(Array(5).fill('SIGKILL'));
    const [letter] = await c.xrange(deadLetterStream(stream), '-', '+');
    const f = fieldsOf(letter![1].map((v) => Buffer.from(v)));
    expect(f).toMatchObject({ dead_letter_entry_id: ids.get('k3'), dead_letter_deliveries: '6', key: 'k3', poison: '1' });
    expect(f.dead_letter_reason).toMatch(/^max_deliveries: delivered 6 times without completing/);
    // The nine others took effect, once each, and none went to dead letters.
    const effects = await c.hgetall('effects');
    expect(Object.keys(effects).sort()).toEqual(keys.filter((k) => k !== 'k3').sort());
    for (const [key, id] of Object.entries(effects)) expect(id).toBe(ids.get(key));
    // A suspect is started alone: the poison entry itself was started only while it could still run.
    expect(Number(await c.hget('handled', 'k3'))).toBe(5);
    expect(await c.exists(`${stream}:attempts`, 'attempts:{work}')).toBe(0);
    expect(isolateFromDelivery).toBe(3);
  }, 60_000);
});

describe('reclaim, keep-alive and deleted entries', () => {
  it("takes over a dead consumer's pending entries after the claim timeout, dropping one deleted meanwhile", async () => {
    const c = redis.client;
    await c.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await c.xadd(stream, '*', 'n', String(i))) as string);
    // Another replica reads them and dies before acknowledging.
    await c.xreadgroup('GROUP', group, 'dead-replica', 'COUNT', 10, 'STREAMS', stream, '>');
    const readAt = Date.now();
    await c.xdel(stream, ids[2]!);

    const seen: { id: string; deliveries: number; at: number }[] = [];
    const { metrics } = await startConsumer({
      consumer: 'survivor',
      handleEntry: async (entry) => {
        seen.push({ id: entry.id, deliveries: entry.deliveries, at: Date.now() });
        return ack;
      },
    });
    await eventually(() => seen.length === 4, 5_000, 'four reclaimed entries handled');
    expect(seen.map((s) => s.id).sort()).toEqual(ids.filter((_, i) => i !== 2).sort());
    for (const s of seen) {
      expect(s.deliveries).toBe(2);
      expect(s.at - readAt).toBeGreaterThanOrEqual(1_000);
    }
    await eventually(async () => (await pendingCount(c, stream, group)) === 0, 2_000, 'nothing pending');
    expect(await counterValue(metrics, 'event_planner_stream_reclaimed_total')).toBe(4);
    expect(await counterValue(metrics, 'event_planner_stream_deleted_pending_total')).toBe(1);
  });

  it('keeps a handler slower than the claim timeout from being redelivered to another consumer', async () => {
    const c = redis.client;
    const starts: { consumer: string; id: string; deliveries: number }[] = [];
    const slow = (consumer: string) => async (entry: StreamEntry) => {
      starts.push({ consumer, id: entry.id, deliveries: entry.deliveries });
      await sleep(2_600);
      return ack;
    };
    await startConsumer({ consumer: 'a', handleEntry: slow('a') });
    await startConsumer({ consumer: 'b', handleEntry: slow('b') });
    for (let i = 0; i < 6; i += 1) await c.xadd(stream, '*', 'n', String(i));
    await eventually(async () => starts.length === 6 && (await pendingCount(c, stream, group)) === 0, 10_000, 'all six handled');
    await delay(300);
    // 2.6 s each with a 1 s claim timeout: without the keep-alive the other consumer would have
    // taken them over (twice); instead each ran once, on its first delivery.
    expect(starts).toHaveLength(6);
    expect(new Set(starts.map((s) => s.id)).size).toBe(6);
    expect(starts.every((s) => s.deliveries === 1)).toBe(true);
  });

  it('counts and drops entries trimmed while being handled, and own pending entries deleted before a restart', async () => {
    const c = redis.client;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    const first = await startConsumer({
      consumer: 'trimmed',
      handleEntry: async (entry) => {
        handled.push(entry.id);
        await gate;
        return ack;
      },
    });
    for (let i = 0; i < 3; i += 1) await c.xadd(stream, '*', 'n', String(i));
    await eventually(() => handled.length === 3, 3_000, 'three in flight');
    await c.xtrim(stream, 'MAXLEN', 0);
    // The keep-alive (every claim timeout / 3) finds them gone.
    await eventually(async () => (await counterValue(first.metrics, 'event_planner_stream_deleted_pending_total')) === 3, 3_000, 'three counted');
    expect(await pendingCount(c, stream, group)).toBe(0);
    release();
    await eventually(() => first.consumer.inFlightCount === 0, 2_000, 'handlers done');
    expect(first.logs.count(/deleted or trimmed/)).toBeGreaterThanOrEqual(1);
    expect(first.consumer.isHealthy()).toBe(true);
    await first.consumer.close(500);

    // A consumer that restarts under its name finds two of its three pending entries deleted.
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await c.xadd(stream, '*', 'n', String(i))) as string);
    await c.xreadgroup('GROUP', group, 'restarted', 'COUNT', 10, 'STREAMS', stream, '>');
    await c.xdel(stream, ids[0]!, ids[1]!);
    const seen: StreamEntry[] = [];
    const second = await startConsumer({
      consumer: 'restarted',
      handleEntry: async (entry) => {
        seen.push(entry);
        return ack;
      },
    });
    await eventually(() => seen.length === 1, 3_000, 'the remaining entry');
    expect(seen[0]).toMatchObject({ id: ids[2], deliveries: 2 });
    await eventually(async () => (await pendingCount(c, stream, group)) === 0, 2_000, 'nothing pending');
    expect(await counterValue(second.metrics, 'event_planner_stream_deleted_pending_total')).toBe(2);
    expect(second.consumer.isHealthy()).toBe(true);
  });
});

describe('Redis losing the group', () => {
  it('recreates a group destroyed under a blocked reader (NOGROUP) and goes on, logging it once', async () => {
    const c = redis.client;
    const seen: string[] = [];
    const { consumer, logs } = await startConsumer({
      handleEntry: async (entry) => {
        seen.push(entry.fields.n!);
        return ack;
      },
    });
    await c.xadd(stream, '*', 'n', 'before');
    await eventually(() => seen.includes('before'), 3_000, 'first entry');
    await delay(300);
    await c.xgroup('DESTROY', stream, group);
    await delay(1_000);
    await c.xadd(stream, '*', 'n', 'after');
    await eventually(() => seen.includes('after'), 5_000, 'entry after the group was recreated');
    expect(consumer.isHealthy()).toBe(true);
    expect(logs.count(/consumer group missing/)).toBe(1);
  });

  it('recreates stream and group with MKSTREAM when Redis comes back empty', async () => {
    const empty = await startTestRedis({ appendonly: false });
    cleanups.push(() => empty.stop());
    const seen: string[] = [];
    const { consumer, connections, logs } = await startConsumer({
      url: empty.url,
      handleEntry: async (entry) => {
        seen.push(entry.fields.n!);
        return ack;
      },
    });
    await empty.client.xadd(stream, '*', 'n', 'before');
    await eventually(() => seen.length === 1, 3_000, 'first entry');
    await empty.server.kill();
    await eventually(() => !connections.isReady() && !consumer.isHealthy(), 5_000, 'not ready while Redis is down');
    await delay(1_500);
    await empty.server.start();
    await eventually(() => consumer.isHealthy(), 10_000, 'reading again');
    expect(await empty.client.exists(stream)).toBe(1);
    await empty.client.xadd(stream, '*', 'n', 'after');
    await eventually(() => seen.includes('after'), 5_000, 'entry after the restart');
    // One line per change of state, not one per reconnect attempt.
    expect(logs.count('redis connection lost; reconnecting with backoff')).toBe(1);
    expect(logs.count('redis connection restored')).toBe(1);
    expect(logs.count(/stream read failed/)).toBeLessThanOrEqual(2);
  });
});

describe('a network cut while the consumer is blocked, longer than the block time', () => {
  it.each(['blackhole', 'reset'] as const)('%s: not ready and publishes fail fast during the cut; afterwards every entry is handled once', async (mode) => {
    const proxy = await new TcpProxy(redis.server.port).listen();
    cleanups.push(() => proxy.close());
    const c = redis.client;
    const seen: string[] = [];
    const { consumer, connections, logs } = await startConsumer({
      url: proxy.url,
      socketTimeoutMs: 1_000,
      handleEntry: async (entry) => {
        seen.push(entry.fields.n!);
        return ack;
      },
    });
    const producer = new StreamProducer(connections, { onceTtlMs: 60_000 });
    await producer.add({ stream, fields: ['n', 'before'] });
    await eventually(() => seen.length === 1, 3_000, 'first entry');
    await delay(300);

    if (mode === 'blackhole') proxy.blackhole();
    else proxy.reset();
    const cutAt = Date.now();
    for (let i = 0; i < 5; i += 1) await c.xadd(stream, '*', 'n', `during-${i}`);
    await eventually(() => !connections.isReady() && !consumer.isHealthy(), 6_000, 'readiness false');
    const started = Date.now();
    await expect(producer.add({ stream, fields: ['n', 'refused'] })).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(Date.now() - started).toBeLessThan(100);
    // The cut lasts well beyond BLOCK (200 ms) and beyond the first reconnect attempts.
    await delay(Math.max(0, 5_000 - (Date.now() - cutAt)));
    proxy.heal();

    await eventually(() => connections.isReady() && consumer.isHealthy(), 12_000, 'ready again');
    await producer.add({ stream, fields: ['n', 'after'] });
    await eventually(() => seen.length === 7, 5_000, 'all entries');
    expect(seen.sort()).toEqual(['after', 'before', 'during-0', 'during-1', 'during-2', 'during-3', 'during-4']);
    await eventually(async () => (await pendingCount(c, stream, group)) === 0, 3_000, 'nothing pending');
    expect(await c.xlen(stream)).toBe(7);
    // Logged once per change of state, not once per failed attempt.
    expect(logs.count('redis connection lost; reconnecting with backoff')).toBe(1);
    expect(logs.count('redis connection restored')).toBe(1);
    expect(logs.count('redis connection error')).toBeLessThanOrEqual(2);
    expect(logs.count(/stream read failed/)).toBeLessThanOrEqual(2);
  }, 40_000);
});

describe('settling while the command connection is down', () => {
  it('an acknowledgement that cannot reach Redis is sent again once it can: nothing is handled twice', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const starts: string[] = [];
    const { consumer, connections, metrics } = await startConsumer({
      handleEntry: async (entry) => {
        starts.push(entry.id);
        await gate;
        return ack;
      },
    });
    const c = redis.client;
    for (let i = 0; i < 5; i += 1) await c.xadd(stream, '*', 'n', String(i));
    await eventually(() => consumer.inFlightCount === 5, 3_000, 'five in flight');
    // Cut the command connection (not the reader's) and let the handlers finish at that moment.
    const name = String(await connections.command.client('GETNAME'));
    await c.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes', ...(await clientIdsNamed(name)));
    await eventually(() => !connections.isReady(), 2_000, 'command connection down');
    release();
    await eventually(async () => (await pendingCount(c, stream, group)) === 0, 10_000, 'all acknowledged');
    await delay(500);
    expect(starts).toHaveLength(5);
    expect(new Set(starts).size).toBe(5);
    expect(await counterValue(metrics, 'event_planner_stream_messages_consumed_total', { outcome: 'acked' })).toBe(5);
  });
});

/** CLIENT KILL filters (ID <id> …) for every connection with this name. */
async function clientIdsNamed(name: string): Promise<string[]> {
  const list = String(await redis.client.client('LIST'));
  const ids = list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /id=(\d+)/.exec(line)![1]!);
  expect(ids.length).toBeGreaterThan(0);
  return ids.flatMap((id) => ['ID', id]);
}

describe('Redis restarting under entries in flight', () => {
  it.each([
    ['the readers', (hello: string) => /setname/i.test(hello) && !hello.includes(':read:')],
    ['the command connection', (hello: string) => hello.includes(':read:')],
  ])('re-reading them after a restart counts no delivery, whichever connection is back first (%s)', async (_first, holdBack) => {
    const aof = await startTestRedis();
    cleanups.push(() => aof.stop());
    const proxy = await new TcpProxy(aof.server.port).listen();
    cleanups.push(() => proxy.close());
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const starts = new Map<string, number[]>();
    const { consumer, metrics } = await startConsumer({
      url: proxy.url,
      // A claim timeout far beyond the test: only the re-read after the restart takes entries up.
      settings: { claimIdleMs: 60_000, backoffMaxMs: 400, concurrency: 22 },
      handleEntry: async (entry) => {
        starts.set(entry.id, [...(starts.get(entry.id) ?? []), entry.deliveries]);
        await gate;
        return ack;
      },
    });
    const c = aof.client;
    for (let i = 0; i < 20; i += 1) await c.xadd(stream, '*', 'n', String(i));
    await eventually(() => consumer.inFlightCount === 20, 5_000, '20 in flight');

    let orphan = '';
    for (let restart = 0; restart < 2; restart += 1) {
      await aof.server.kill();
      await eventually(() => !consumer.isHealthy(), 5_000, 'not healthy while Redis is down');
      proxy.hold(holdBack);
      await aof.server.start();
      if (restart === 0) {
        // Delivered to this consumer in a reply it never got (read here while it waits for its
        // connections): pending under its name, never handled.
        orphan = (await c.xadd(stream, '*', 'n', 'orphan')) as string;
        await c.xreadgroup('GROUP', group, 'c1', 'COUNT', 1, 'STREAMS', stream, '>');
      }
      await eventually(() => proxy.holding >= 1, 5_000, 'a connection held back');
      await delay(1_000);
      proxy.release();
      await eventually(() => consumer.isHealthy(), 10_000, 'healthy again');
    }
    await eventually(() => starts.has(orphan), 5_000, 'the orphan taken up');
    const rows = (await c.xpending(stream, group, '-', '+', 100)) as [string, string, number, number][];
    expect(rows).toHaveLength(21);
    expect(rows.filter(([, , , deliveries]) => deliveries !== 1)).toEqual([]);
    release();
    await eventually(async () => (await pendingCount(c, stream, group)) === 0, 5_000, 'all acknowledged');
    expect([...starts.values()].every((list) => list.length === 1 && list[0] === 1)).toBe(true);
    expect(starts.size).toBe(21);
    expect(await counterValue(metrics, 'event_planner_stream_suspects_total')).toBe(0);
  }, 60_000);
});

function fieldsOf(flat: Buffer[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!.toString();
    if (!(name in out)) out[name] = flat[i + 1]!.toString();
  }
  return out;
}
