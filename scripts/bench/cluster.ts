import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';
import { RedisServerProcess, freePort } from '../../services/launcher/redis-server.ts';
import { registryKeys } from '../../services/shared/streams/keys.ts';
import { TestRedisCluster } from '../../test/helpers/redis-cluster.ts';
import { EventDriver } from './driver.ts';
import { type CommandStats, commandStats, diffStats, info, totalCalls } from './redis-info.ts';
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
  /** Answers counted in the summaries that arrived in the window, per second. */
  rsvpPerSecond: number;
  /** Replies the guests sent in the window, per second (the flow rate; the per-RSVP figures divide by these replies). */
  repliesPerSecond: number;
  measuredSeconds: number;
  events: number;
  endToEndP50Ms: number;
  endToEndP99Ms: number;
  /** Redis commands per RSVP over the measured window, every master, commands inside Lua included. */
  commandsPerRsvp: number;
  /** Socket read events per RSVP, every master (total_reads_processed): about one per round trip. */
  readsPerRsvp: number;
  /** The commands per RSVP by name, most called first (the top 12): calls and Redis time. */
  topCommands: Record<string, string>;
  /** Redis server CPU per RSVP (used_cpu_user + used_cpu_sys, every master), µs. */
  redisCpuUsPerRsvp: number;
  /** Time Redis spent in commands per RSVP (commandstats usec, every master), µs. */
  commandUsPerRsvp: number;
  /** Clients connected at the end of the window, every master. */
  clients: number;
  /** CPU time (user + system) per RSVP by process kind (redis, coordinator, guest, host), µs. */
  cpuUsPerRsvp: Record<string, number>;
  /** Entries added per RSVP by stream (XINFO STREAM entries-added), partitions and inboxes summed. */
  entriesPerRsvp: Record<string, number>;
}

/** utime + stime of a process in µs (/proc/<pid>/stat; 0 where there is no /proc). */
function processCpuUs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of the stat line (utime, stime), counted after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicks;
  } catch {
    return 0;
  }
}
/** USER_HZ, the unit of utime and stime: 100 on Linux. */
const clockTicks = 100;

/** CPU µs used so far by kind of process. */
function processCpu(procs: { kind: string; pid: number | undefined }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { kind, pid } of procs) out[kind] = (out[kind] ?? 0) + processCpuUs(pid);
  return out;
}

interface Snapshot {
  commands: CommandStats;
  reads: number;
  cpuUs: number;
  clients: number;
  /** entries-added by stream kind (a partition's or an inbox's own name folded into its kind). */
  added: Record<string, number>;
}

/** `event_invitations:{p1}` → `event_invitations`, `guest_inbox:{agent}` → `guest_inbox`. */
const streamKind = (key: string): string => key.replace(/:?\{[^}]*\}/g, '');

/** commandstats and read events of every master, summed. */
async function snapshot(nodes: Redis[]): Promise<Snapshot> {
  const commands: CommandStats = {};
  let reads = 0;
  let cpuUs = 0;
  let clients = 0;
  const added: Record<string, number> = {};
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = (await node.call('SCAN', cursor, 'COUNT', '1000', 'TYPE', 'stream')) as [string, string[]];
      cursor = next;
      for (const key of keys) {
        const fields = (await node.call('XINFO', 'STREAM', key)) as unknown[];
        const at = fields.indexOf('entries-added');
        added[streamKind(key)] = (added[streamKind(key)] ?? 0) + Number(at >= 0 ? fields[at + 1] : 0);
      }
    } while (cursor !== '0');
    for (const [name, c] of Object.entries(await commandStats(node))) {
      const sum = (commands[name] ??= { calls: 0, usec: 0 });
      sum.calls += c.calls;
      sum.usec += c.usec;
    }
    reads += Number((await info(node, 'stats')).total_reads_processed ?? 0);
    const cpu = await info(node, 'cpu');
    cpuUs += Math.round((Number(cpu.used_cpu_user ?? 0) + Number(cpu.used_cpu_sys ?? 0)) * 1e6);
    clients += Number((await info(node, 'clients')).connected_clients ?? 0);
  }
  return { commands, reads, cpuUs, clients, added };
}

export interface ClusterShape {
  shards: number;
  coordinators: number;
  agents: number;
  eventGuests: number;
  window: number;
  durationS: number;
  warmupS: number;
  /** `--cpu-prof`: the coordinators and agents write V8 CPU profiles here, one folder per point. */
  profileDir?: string;
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
  const profileDir = shape.profileDir ? join(shape.profileDir, shape.shards === 0 ? 'plain' : `cluster-${shape.shards}`) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const start = async (role: 'host' | 'coordinator' | 'guest', label: string, extra: Record<string, string>) => {
    const nodeArgs = profileDir && role !== 'host' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${label}.cpuprofile`] : [];
    const p = new BenchProcess(role, label, await freePort(), { ...env, ...extra }, nodeArgs);
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
    const masters = plain ? [client as Redis] : cluster!.client.nodes('master');
    let atStartRead: Promise<Snapshot> | undefined;
    let atEndRead: Promise<Snapshot> | undefined;
    const pids = [...processes.map((p) => ({ kind: p.role, pid: p.child.pid })), ...(plain ? [plain] : cluster!.servers).map((s) => ({ kind: 'redis', pid: s.pid }))];
    let cpuAtStart: Record<string, number> = {};
    let cpuAtEnd: Record<string, number> = {};
    const startTimer = setTimeout(() => {
      cpuAtStart = processCpu(pids);
      atStartRead = snapshot(masters);
    }, measureFrom - Date.now());
    const endTimer = setTimeout(() => {
      cpuAtEnd = processCpu(pids);
      atEndRead = snapshot(masters);
    }, endAt - Date.now());
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
    clearTimeout(startTimer);
    clearTimeout(endTimer);
    if (failure) throw failure;
    if (!atStartRead || !atEndRead) throw new Error('the closed loop ended before the measured window did');
    const [atStart, atEnd] = await Promise.all([atStartRead, atEndRead]);
    // SCAN and XINFO: the snapshots' own stream count (the roles' janitor scans rarely).
    const commands = Object.fromEntries(Object.entries(diffStats(atStart.commands, atEnd.commands)).filter(([name]) => name !== 'scan' && !name.startsWith('xinfo')));
    // Per reply sent in the window (guest_responses entries added, both lanes, every partition), not
    // per answer counted in a summary: with a few events of seconds each in flight, the summaries
    // that happen to land in the window say little about the work done in it.
    const replies = ['guest_responses', 'guest_responses:high'].reduce((sum, kind) => sum + (atEnd.added[kind] ?? 0) - (atStart.added[kind] ?? 0), 0);
    const perRsvp = (n: number) => (replies > 0 ? Math.round((n / replies) * 1000) / 1000 : 0);
    const point: ClusterPoint = {
      shards: shape.shards,
      coordinators: shape.coordinators,
      agents: shape.agents,
      eventGuests: shape.eventGuests,
      rsvpPerSecond: Math.round(counted / shape.durationS),
      repliesPerSecond: Math.round(replies / shape.durationS),
      measuredSeconds: shape.durationS,
      events,
      endToEndP50Ms: histogram.getValueAtPercentile(50),
      endToEndP99Ms: histogram.getValueAtPercentile(99),
      commandsPerRsvp: perRsvp(totalCalls(commands)),
      readsPerRsvp: perRsvp(atEnd.reads - atStart.reads),
      redisCpuUsPerRsvp: perRsvp(atEnd.cpuUs - atStart.cpuUs),
      commandUsPerRsvp: perRsvp(Object.values(commands).reduce((sum, c) => sum + c.usec, 0)),
      clients: atEnd.clients,
      cpuUsPerRsvp: Object.fromEntries(Object.entries(cpuAtEnd).map(([kind, us]) => [kind, perRsvp(us - (cpuAtStart[kind] ?? 0))])),
      entriesPerRsvp: Object.fromEntries(Object.entries(atEnd.added).map(([kind, n]) => [kind, perRsvp(n - (atStart.added[kind] ?? 0))])),
      topCommands: Object.fromEntries(
        Object.entries(commands)
          .sort((a, b) => b[1].calls - a[1].calls)
          .slice(0, 12)
          .map(([name, c]) => [name, `${perRsvp(c.calls)} calls, ${perRsvp(c.usec)} µs`]),
      ),
    };
    note(`${shape.shards === 0 ? 'plain Redis' : `cluster ${shape.shards} shard(s)`}, ${shape.coordinators} coordinator(s), ${shape.agents} agents: ${point.rsvpPerSecond} RSVP/s over ${events} events (p50 ${point.endToEndP50Ms} ms); per RSVP ${point.commandsPerRsvp} commands, ${point.readsPerRsvp} read events; ${JSON.stringify(point.topCommands)}`);
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

/** One plain Redis, then 1 shard against 3 shards (or the shard counts asked for), the same roles on each. */
export async function clusterScenario(base: Omit<ClusterShape, 'shards'>, note: (text: string) => void, shardCounts: number[] = [0, 1, 3]): Promise<ClusterPoint[]> {
  const points: ClusterPoint[] = [];
  for (const shards of shardCounts) points.push(await clusterPoint({ ...base, shards }, note));
  return points;
}

/** The points as a markdown table (docs/BENCHMARKS.md). */
export function clusterTable(points: ClusterPoint[]): string {
  const rows = points.map((p) => `| ${p.shards === 0 ? 'plain Redis' : p.shards} | ${p.coordinators} | ${p.agents} | ${p.eventGuests} | ${p.rsvpPerSecond.toLocaleString('en')} | ${p.repliesPerSecond.toLocaleString('en')} | ${p.events} | ${p.endToEndP50Ms} / ${p.endToEndP99Ms} | ${p.commandsPerRsvp} | ${p.readsPerRsvp} |`);
  return ['| shards | coordinators | agents | guests/event | RSVP/s (summaries) | replies/s (sent) | events measured | end-to-end p50 / p99 ms | Redis commands/RSVP | read events/RSVP |', '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|', ...rows].join('\n');
}
