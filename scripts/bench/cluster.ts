import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';
import { RedisServerProcess, freePort } from '../../services/launcher/redis-server.ts';
import { registryKeys } from '../../services/shared/streams/keys.ts';
import { TestRedisCluster } from '../../test/helpers/redis-cluster.ts';
import { EventDriver } from './driver.ts';
import { BenchProcess } from './stack.ts';

// The cluster scenario (`npm run bench -- --scenarios cluster`): the same closed loop as the
// throughput scenario (events of `eventGuests` instant guests through the real host, a new one as
// each summary arrives) on a real Redis Cluster of 1 shard and of 3 shards (masters only: a replica
// costs the same CPU whatever the shard count), with STREAM_PARTITIONS equal to the shard count so
// that the hot streams spread. Not in the default run: it needs a cluster-enabled redis-server and
// its numbers are about the cluster, not the code's hot path.

export interface ClusterPoint {
  shards: number;
  coordinators: number;
  agents: number;
  eventGuests: number;
  rsvpPerSecond: number;
  measuredSeconds: number;
  events: number;
  endToEndP50Ms: number;
  endToEndP99Ms: number;
}

export interface ClusterShape {
  shards: number;
  coordinators: number;
  agents: number;
  eventGuests: number;
  window: number;
  durationS: number;
  warmupS: number;
}

const guestEnv = { PERSONAS: 'instant', REPLY_DELAY_SCALE: '0', GUEST_SEED: 'bench' };

/**
 * One point: a cluster of `shards` masters (0: one plain Redis, no cluster, for comparison in the
 * same minute of the same machine), the roles on it, the closed loop measured.
 */
export async function clusterPoint(shape: ClusterShape, note: (text: string) => void = () => undefined): Promise<ClusterPoint> {
  const dir = mkdtempSync(join(tmpdir(), 'ep-bench-plain-'));
  const plain = shape.shards === 0 ? await new RedisServerProcess({ dir }).start() : undefined;
  const cluster = plain ? undefined : await new TestRedisCluster({ masters: shape.shards, replicas: 0 }).start();
  const client = plain ? new Redis(plain.url) : cluster!.client;
  const processes: BenchProcess[] = [];
  const target: Record<string, string> = plain ? { REDIS_URL: plain.url } : { REDIS_CLUSTER_NODES: cluster!.nodesEnv, STREAM_PARTITIONS: String(shape.shards) };
  const env = { ...target, LOG_FORMAT: 'json', STREAM_BLOCK_MS: '1000', HEARTBEAT_INTERVAL_MS: '1000', GUEST_TTL_MS: '5000' };
  const start = async (role: 'host' | 'coordinator' | 'guest', label: string, extra: Record<string, string>) => {
    const p = new BenchProcess(role, label, await freePort(), { ...env, ...extra });
    processes.push(p);
    await p.waitReady();
    return p;
  };
  try {
    const perAgent = Math.ceil(shape.eventGuests / shape.agents);
    const starting: Promise<BenchProcess>[] = [];
    for (let i = 1; i <= shape.coordinators; i += 1) starting.push(start('coordinator', `coordinator-${i}`, { CONSUMER_NAME: `bench-coordinator-${i}` }));
    for (let i = 1; i <= shape.agents; i += 1) starting.push(start('guest', `agent-${i}`, { ...guestEnv, GUEST_AGENT_ID: `bench-agent-${i}`, GUESTS_PER_AGENT: String(perAgent) }));
    starting.push(start('host', 'host', { HOST_ID: 'bench-host', CONSUMER_NAME: 'bench-host-1' }));
    await Promise.all(starting);
    for (const deadline = Date.now() + 60_000; ; ) {
      const agents = await client.zrange(registryKeys.agents, '0', '-1');
      let total = 0;
      for (const agentId of agents) total += await client.hlen(registryKeys.agentGuests(agentId));
      if (total >= perAgent * shape.agents) break;
      if (Date.now() > deadline) throw new Error(`only ${total} guests registered`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const driver = new EventDriver(processes.find((p) => p.role === 'host')!);
    const startedAt = Date.now();
    const measureFrom = startedAt + shape.warmupS * 1000;
    const endAt = measureFrom + shape.durationS * 1000;
    const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 3 });
    let counted = 0;
    let events = 0;
    let next = 0;
    let failure: Error | undefined;
    const runOne = async (): Promise<void> => {
      while (Date.now() < endAt && !failure) {
        const id = `cl-${shape.shards}s-${next++}`;
        await driver.publish(id);
        const seen = await driver.waitFor(id, 120_000);
        if (seen.receivedAt >= measureFrom && seen.receivedAt <= endAt) {
          counted += seen.answered;
          events += 1;
          histogram.recordValue(Math.max(1, seen.receivedAt - seen.publishedAt));
        }
      }
    };
    await Promise.all(Array.from({ length: shape.window }, () => runOne().catch((error: unknown) => void (failure ??= error as Error))));
    if (failure) throw failure;
    const point: ClusterPoint = {
      shards: shape.shards,
      coordinators: shape.coordinators,
      agents: shape.agents,
      eventGuests: shape.eventGuests,
      rsvpPerSecond: Math.round(counted / shape.durationS),
      measuredSeconds: shape.durationS,
      events,
      endToEndP50Ms: histogram.getValueAtPercentile(50),
      endToEndP99Ms: histogram.getValueAtPercentile(99),
    };
    note(`${shape.shards === 0 ? 'plain Redis' : `cluster ${shape.shards} shard(s)`}, ${shape.coordinators} coordinator(s), ${shape.agents} agents: ${point.rsvpPerSecond} RSVP/s over ${events} events (p50 ${point.endToEndP50Ms} ms)`);
    return point;
  } finally {
    await Promise.all(processes.map((p) => p.stop().catch(() => undefined)));
    if (plain) {
      client.disconnect();
      await plain.stop();
    }
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One plain Redis, then 1 shard against 3 shards, the same roles on each. */
export async function clusterScenario(base: Omit<ClusterShape, 'shards'>, note: (text: string) => void): Promise<ClusterPoint[]> {
  const points: ClusterPoint[] = [];
  for (const shards of [0, 1, 3]) points.push(await clusterPoint({ ...base, shards }, note));
  return points;
}

/** The points as a markdown table (docs/BENCHMARKS.md). */
export function clusterTable(points: ClusterPoint[]): string {
  const rows = points.map((p) => `| ${p.shards === 0 ? 'plain Redis' : p.shards} | ${p.coordinators} | ${p.agents} | ${p.eventGuests} | ${p.rsvpPerSecond.toLocaleString('en')} | ${p.events} | ${p.endToEndP50Ms} / ${p.endToEndP99Ms} |`);
  return ['| shards | coordinators | agents | guests/event | RSVP/s | events measured | end-to-end p50 / p99 ms |', '|---:|---:|---:|---:|---:|---:|---:|', ...rows].join('\n');
}
