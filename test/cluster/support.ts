import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { type Summary, parseSummary } from '../../services/shared/schema/summary.ts';
import { partitionOf, streams } from '../../services/shared/streams/keys.ts';
import type { RedisClient } from '../../services/shared/streams/redis-client.ts';
import { Processes } from '../helpers/processes.ts';
import { TestRedisCluster } from '../helpers/redis-cluster.ts';
import { readStream } from '../reliability/invariants.ts';

export interface ClusterStack {
  readonly cluster: TestRedisCluster;
  readonly procs: Processes;
}

/**
 * One real Redis Cluster (3 masters, 3 replicas) per test file, role processes pointed at it with
 * REDIS_CLUSTER_NODES and `partitions` partitions; processes stopped and the cluster emptied after
 * each test, the cluster removed after the file.
 */
export function useClusterStack(partitions: number): ClusterStack {
  let cluster: TestRedisCluster | undefined;
  let procs: Processes | undefined;
  beforeAll(async () => {
    cluster = await new TestRedisCluster({ masters: 3, replicas: 1 }).start();
  }, 120_000);
  beforeEach(() => {
    // Every master has a replica: acknowledge only what one holds (docs/RELIABILITY.md §7).
    procs = new Processes({ REDIS_CLUSTER_NODES: cluster!.nodesEnv, STREAM_PARTITIONS: String(partitions), STREAM_ACK_WAIT_REPLICAS: '1' });
  });
  afterEach(async () => {
    await procs?.stopAll();
    await cluster?.waitHealthy().catch(() => undefined);
    await cluster?.flush().catch(() => undefined);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  return {
    get cluster() {
      return cluster!;
    },
    get procs() {
      return procs!;
    },
  };
}

/** An event id `<prefix>-<n>` whose traffic goes to partition `partition` of `count`. */
export function idInPartition(prefix: string, partition: number, count: number): string {
  for (let n = 0; ; n += 1) if (partitionOf(`${prefix}-${n}`, count) === partition) return `${prefix}-${n}`;
}

/** The well-formed summaries on event_summaries, by event id. */
export async function summariesByEvent(redis: RedisClient): Promise<Map<string, Summary[]>> {
  const out = new Map<string, Summary[]>();
  for (const entry of await readStream(redis, streams.summaries)) {
    const parsed = parseSummary(entry.fields);
    if (!parsed.ok) continue;
    out.set(parsed.value.invitationId, [...(out.get(parsed.value.invitationId) ?? []), parsed.value]);
  }
  return out;
}
