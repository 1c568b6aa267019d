import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StreamConsumer } from '../../services/shared/streams/consumer.ts';
import { ack } from '../../services/shared/streams/entry.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { pendingCount } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { connectionsFor, fastSettings, memoryLogger } from './support.ts';

// STREAM_ACK_WAIT_REPLICAS: a consumer acknowledges an entry only once the writes its handler made
// are on a replica (replica-wait.ts). A real master and a real replica; the replica frozen with
// SIGSTOP plays the lagging replica of docs/RELIABILITY.md §7.

const stream = 'work';
const group = 'g';
let master: TestRedis;
let replica: TestRedis;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  master = await startTestRedis();
  replica = await startTestRedis({ args: ['--replicaof', '127.0.0.1', String(master.server.port)] });
  await eventually(async () => /master_link_status:up/.test(await replica.client.info('replication')), 20_000, 'the replica in sync');
}, 60_000);
afterAll(async () => {
  if (replica?.server.pid) process.kill(replica.server.pid, 'SIGCONT');
  await replica?.stop();
  await master?.stop();
});
afterEach(async () => {
  if (replica.server.pid) process.kill(replica.server.pid, 'SIGCONT');
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await master.flush();
});

/** A consumer whose handler writes `done:<entry id>` (on its own command connection) and counts its runs. */
async function startWriter(ackWaitReplicas: number) {
  const logs = memoryLogger();
  const connections = await connectionsFor(master.url, logs.log);
  const runs = new Map<string, number>();
  const consumer = new StreamConsumer({
    stream,
    group,
    consumer: 'c1',
    connections,
    settings: fastSettings({ ackWaitReplicas, ackWaitTimeoutMs: 200 }),
    log: logs.log,
    metrics: undefined,
    handleEntry: async (entry) => {
      runs.set(entry.id, (runs.get(entry.id) ?? 0) + 1);
      await connections.command.set(`done:${entry.id}`, '1');
      return ack;
    },
  });
  cleanups.push(async () => {
    await consumer.close(500);
    await connections.close();
  });
  await consumer.start();
  return { runs, logs };
}

describe('acknowledging only what a replica holds (STREAM_ACK_WAIT_REPLICAS)', () => {
  it('acknowledges once the replica has the write; a frozen replica holds the acknowledgement back, and the entry is handled again until it has', async () => {
    const { runs, logs } = await startWriter(1);
    const first = (await master.client.xadd(stream, '*', 'n', '1'))!;
    await eventually(async () => (await pendingCount(master.client, stream, group)) === 0 && runs.get(first) === 1, 10_000, 'the first entry acknowledged');
    expect(await replica.client.get(`done:${first}`)).toBe('1');

    process.kill(replica.server.pid!, 'SIGSTOP');
    const second = (await master.client.xadd(stream, '*', 'n', '2'))!;
    await eventually(async () => (runs.get(second) ?? 0) >= 2, 10_000, 'handled again while the replica is frozen');
    expect(await pendingCount(master.client, stream, group)).toBe(1);
    expect(logs.count(/acknowledgement withheld/)).toBeGreaterThan(0);

    process.kill(replica.server.pid!, 'SIGCONT');
    await eventually(async () => (await pendingCount(master.client, stream, group)) === 0, 10_000, 'acknowledged once the replica is back');
    expect(await replica.client.get(`done:${second}`)).toBe('1');
  }, 40_000);

  it('without it (0, the default), a frozen replica holds nothing back', async () => {
    const { runs } = await startWriter(0);
    process.kill(replica.server.pid!, 'SIGSTOP');
    const id = (await master.client.xadd(stream, '*', 'n', '1'))!;
    await eventually(async () => (await pendingCount(master.client, stream, group)) === 0, 10_000, 'acknowledged at once');
    await delay(500);
    expect(runs.get(id)).toBe(1);
  }, 30_000);
});
