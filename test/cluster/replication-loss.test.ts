import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { slotOf } from '../../services/shared/streams/slots.ts';
import { TestRedisCluster } from '../helpers/redis-cluster.ts';
import { delay, eventually } from '../helpers/wait.ts';

// What Redis Cluster's asynchronous replication can lose: a master acknowledges an XADD before its
// replica has it, so a kill -9 of the master followed by the replica's promotion can drop
// acknowledged entries. WAIT <replicas> <timeout> after a write returns how many replicas have it;
// counting a write as done only when WAIT says 1 closes that window for a single failure. Measured
// here on a real 3+3 cluster; the numbers are in docs/RELIABILITY.md ("Redis Cluster").

let cluster: TestRedisCluster;
beforeAll(async () => {
  cluster = await new TestRedisCluster({ masters: 3, replicas: 1 }).start();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

interface Trial {
  acknowledged: number;
  missing: number;
}

/**
 * Writes batches of 200 XADDs (with `WAIT 1 500` after each batch when `wait`) straight to the
 * master of `stream` as fast as it answers, kills that master with SIGKILL after `killAfterMs`,
 * waits for its replica to be promoted, and counts the acknowledged entries the new master lacks.
 */
async function trial(stream: string, wait: boolean, killAfterMs: number, lagMs = 0): Promise<Trial> {
  const master = await cluster.masterOf(slotOf(stream));
  const replica = await eventually(async () => (await cluster.nodes()).find((n) => n.masterId === master.id), 30_000, `a replica of ${master.port}`).catch(async (error: unknown) => {
    throw new Error(`${String(error)}\n${await cluster.cli(master.port, 'CLUSTER', 'NODES')}`);
  });
  const writer = new Redis({ host: '127.0.0.1', port: master.port, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  writer.on('error', () => undefined);
  await eventually(async () => writer.status === 'ready', 5_000, 'writer connected');
  const acknowledged: string[] = [];
  let stop = false;
  const writing = (async () => {
    for (let batch = 0; !stop; batch += 1) {
      const pipeline = writer.pipeline();
      for (let i = 0; i < 200; i += 1) pipeline.xadd(stream, '*', 'batch', batch, 'i', i);
      if (wait) pipeline.wait(1, 500);
      const results = await pipeline.exec().catch(() => null);
      if (!results || results.some(([error]) => error)) break;
      const ids = results.slice(0, 200).map(([, id]) => String(id));
      // With WAIT, a batch counts as written only once a replica has it.
      if (!wait || Number(results[200]![1]) >= 1) acknowledged.push(...ids);
    }
  })();
  await delay(killAfterMs);
  // A replica that lags (busy, a slow link): frozen, it takes nothing while the master goes on acknowledging.
  if (lagMs > 0) {
    cluster.server(replica.port).freeze();
    await delay(lagMs);
  }
  await cluster.killNode(master.port);
  if (lagMs > 0) cluster.server(replica.port).thaw();
  stop = true;
  await writing;
  writer.disconnect();
  const promoted = await eventually(async () => {
    const owner = await cluster.masterOf(slotOf(stream)).catch(() => undefined);
    return owner && owner.id !== master.id ? owner : undefined;
  }, 30_000, `the replica of ${master.port} promoted (${stream})`).catch(async (error: unknown) => {
    throw new Error(`${String(error)}\n${await cluster.cli((await cluster.nodes())[0]!.port, 'CLUSTER', 'NODES')}`);
  });
  const reader = new Redis({ host: '127.0.0.1', port: promoted.port, maxRetriesPerRequest: 1 });
  reader.on('error', () => undefined);
  const present = new Set<string>();
  let start = '-';
  for (;;) {
    const page = (await reader.xrange(stream, start, '+', 'COUNT', 10_000)) as [string, string[]][];
    for (const [id] of page) present.add(id);
    if (page.length < 10_000) break;
    start = `(${page[page.length - 1]![0]}`;
  }
  reader.disconnect();
  // The killed node rejoins as a replica of the promoted one, for the next trial.
  await cluster.restartNode(master.port);
  await cluster.waitHealthy();
  return { acknowledged: acknowledged.length, missing: acknowledged.filter((id) => !present.has(id)).length };
}

describe('asynchronous replication on Redis Cluster, measured', () => {
  it('a kill -9 of a master loses the XADDs it acknowledged that its lagging replica lacked; with WAIT 1 none acknowledged by a replica is lost', async () => {
    const without: Trial[] = [];
    const withWait: Trial[] = [];
    // One kill with an up-to-date replica, two with a replica 1.5 s behind (more than the socket buffers hold), each way.
    for (const [k, lag] of [0, 1_500, 1_500].entries()) {
      without.push(await trial(`loss:{plain-${k}}`, false, 400, lag));
      withWait.push(await trial(`loss:{wait-${k}}`, true, 400, lag));
    }
    const total = (t: Trial[]) => ({ acknowledged: t.reduce((n, x) => n + x.acknowledged, 0), missing: t.reduce((n, x) => n + x.missing, 0) });
    // The measurement, for docs/RELIABILITY.md.
    console.log(JSON.stringify({ withoutWait: without, withWait, totals: { withoutWait: total(without), withWait: total(withWait) } }));
    for (const t of [...without, ...withWait]) expect(t.acknowledged).toBeGreaterThan(0);
    // Without WAIT a loss is measured, not asserted: whether the lagging replica's socket buffers
    // still carried the tail when the master died varies run to run (docs/RELIABILITY.md).
    expect(total(withWait).missing).toBe(0);
  }, 240_000);
});
