import { parseArgs } from 'node:util';

export const scenarioNames = ['baselines', 'throughput', 'latency', 'fanout', 'priority', 'peers', 'soak', 'scaling', 'cluster'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export interface BenchOptions {
  quick: boolean;
  scenarios: ScenarioName[];
  /** Throughput: measured seconds (after warm-up). */
  durationS: number;
  warmupS: number;
  agents: number;
  /** Guests per event in throughput, scaling and soak (split evenly across the agents). */
  eventGuests: number;
  /** Events in flight at once in the closed loop. */
  window: number;
  coordinators: number;
  latencyEvents: number;
  latencyRate: number;
  latencyGuests: number;
  fanoutGuests: number;
  fanoutAgents: number;
  /** Normal invitations waiting before the high-priority one (priority scenario). */
  priorityBacklog: number;
  soakS: number;
  /** Soak load in RSVPs/s; 0 = half the throughput measured in this run. */
  soakRate: number;
  /** Event and stream retention during the soak, seconds (what makes memory level off). */
  soakRetentionS: number;
  scalingS: number;
  baselineS: number;
  /** STREAM_BATCH_SIZE for the coordinators (the consumer's default when 0). */
  batchSize: number;
  /** Persistence of the benchmark's Redis: AOF with this fsync policy, or 'no-aof' (experiments). */
  aof: 'everysec' | 'always' | 'no' | 'no-aof';
  outDir: string;
  docs: boolean;
  docsDir: string;
  /** Extra environment for the coordinators and for the agents (experiments: K=V,K=V). */
  coordinatorEnv: Record<string, string>;
  guestEnv: Record<string, string>;
  /** Run coordinator and guest agents under node --cpu-prof (profiles into outDir/profiles). */
  cpuProf: boolean;
  /** Soak: heap snapshots of coordinator-1, agent-1 and the host after warm-up and at the end (into outDir/heap). */
  heapSnapshots: boolean;
  /**
   * Redis and the stall probe at real-time priority (chrt, needs root): Redis is never preempted by
   * the role processes, as with a core of its own in a deployment, so the probe sees how long our
   * calls hold Redis and not the OS running another process in its place.
   */
  redisRealtime: boolean;
  progress: boolean;
  /** Cluster scenario: the shard counts to run, 0 for one plain Redis (default 0, 1, 3). */
  clusterShards: number[];
}

const usage = `npm run bench -- [options]      (every option also as BENCH_<NAME>, e.g. BENCH_DURATION=60)
  --quick                  short smoke run (seconds, small sizes; docs untouched unless --docs)
  --scenarios a,b          any of ${scenarioNames.join(', ')} (default: all but cluster)
  --duration S             throughput measurement seconds (default 30; quick 5)
  --warmup S               excluded from throughput measurement (default 5; quick 2)
  --agents K               guest agent processes in throughput and soak (default 2)
  --event-guests N         guests per event in throughput, scaling and soak (default 1000)
  --window N               events in flight at once (default 12)
  --coordinators N         coordinators in throughput and soak (default 1)
  --latency-events N       events in the latency scenario (default 400; quick 40)
  --latency-rate R         latency events per second (default 10)
  --latency-guests N       guests per latency event (default 100)
  --fanout-guests N        guests of the fan-out event (default 100000; quick 10000)
  --priority-backlog N     normal invitations ahead of the high-priority one (default 10000; quick 1000)
  --fanout-agents K        agents hosting them (default 2)
  --soak S                 soak seconds (default 600; quick 20)
  --soak-rate R            soak RSVPs/s (default: half the measured throughput)
  --soak-retention S       event and stream retention in the soak (default 60; quick 5)
  --scaling S              measured seconds per scaling point (default 15; quick 4)
  --baseline S             seconds per baseline (default 5; quick 2)
  --batch N                STREAM_BATCH_SIZE of the coordinators (default: the service default)
  --aof P                  Redis persistence: everysec (default, as deployed), always, no (AOF without fsync), no-aof
  --out DIR                JSON results folder (default bench-results)
  --docs / --no-docs       append to docs/BENCHMARKS.md and write docs/*.svg (default: on, off with --quick)
  --coordinator-env K=V,.. extra environment for the coordinators (e.g. STREAM_CONCURRENCY=1000)
  --guest-env K=V,..       extra environment for the guest agents
  --cpu-prof               profile coordinator, agents and host (node --cpu-prof) into <out>/profiles
  --heap-snapshots         soak: V8 heap snapshots of coordinator-1, agent-1 and the host after warm-up and at the end
                           into <out>/heap (compare: node scripts/bench/heap-compare.ts a b)
  --redis-rt               Redis and the stall probe at real-time priority (chrt -f, root): the probe then
                           measures how long our calls hold Redis, not the OS preempting it (a deployment
                           gives Redis a core of its own)
  --cluster-shards a,b     cluster scenario points: shard counts, 0 = one plain Redis (default 0,1,3)
  --no-progress            no progress bar`;

export function parseOptions(argv: string[], env: Record<string, string | undefined> = process.env): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean' },
      scenarios: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      agents: { type: 'string' },
      'event-guests': { type: 'string' },
      window: { type: 'string' },
      coordinators: { type: 'string' },
      'latency-events': { type: 'string' },
      'latency-rate': { type: 'string' },
      'latency-guests': { type: 'string' },
      'fanout-guests': { type: 'string' },
      'fanout-agents': { type: 'string' },
      soak: { type: 'string' },
      'soak-rate': { type: 'string' },
      'soak-retention': { type: 'string' },
      scaling: { type: 'string' },
      baseline: { type: 'string' },
      batch: { type: 'string' },
      out: { type: 'string' },
      aof: { type: 'string' },
      docs: { type: 'boolean' },
      'no-docs': { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      'heap-snapshots': { type: 'boolean' },
      'redis-rt': { type: 'boolean' },
      'coordinator-env': { type: 'string' },
      'priority-backlog': { type: 'string' },
      'guest-env': { type: 'string' },
      'no-progress': { type: 'boolean' },
      'cluster-shards': { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const pick = (name: string): string | undefined => {
    const flag = (values as Record<string, string | boolean | undefined>)[name];
    if (typeof flag === 'string') return flag;
    return env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  };
  const quick = values.quick === true || env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const num = (name: string, full: number, short = full, min = 0): number => {
    const text = pick(name);
    if (text === undefined) return quick ? short : full;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} ${JSON.stringify(text)}: expected a number >= ${min}`);
    return value;
  };
  const scenarioText = pick('scenarios');
  // `cluster` only when asked for: it forms real Redis Clusters (scripts/bench/cluster.ts).
  const scenarios = scenarioText ? (scenarioText.split(',').map((s) => s.trim()) as ScenarioName[]) : scenarioNames.filter((s) => s !== 'cluster');
  for (const s of scenarios) if (!scenarioNames.includes(s)) throw new Error(`unknown scenario ${JSON.stringify(s)}; expected some of ${scenarioNames.join(', ')}`);
  const docsEnv = env.BENCH_DOCS;
  const docs = values['no-docs'] ? false : values.docs ? true : docsEnv !== undefined ? docsEnv === '1' || docsEnv === 'true' : !quick;
  return {
    quick,
    scenarios,
    durationS: num('duration', 30, 5, 1),
    warmupS: num('warmup', 5, 2),
    agents: Math.round(num('agents', 2, 2, 1)),
    eventGuests: Math.round(num('event-guests', 1000, 1000, 1)),
    window: Math.round(num('window', 12, 12, 1)),
    coordinators: Math.round(num('coordinators', 1, 1, 1)),
    latencyEvents: Math.round(num('latency-events', 400, 40, 1)),
    latencyRate: num('latency-rate', 10, 10, 0.1),
    latencyGuests: Math.round(num('latency-guests', 100, 100, 1)),
    fanoutGuests: Math.round(num('fanout-guests', 100_000, 10_000, 1)),
    fanoutAgents: Math.round(num('fanout-agents', 2, 2, 1)),
    priorityBacklog: Math.round(num('priority-backlog', 10_000, 1_000, 1)),
    soakS: num('soak', 600, 20, 1),
    soakRate: num('soak-rate', 0, 0),
    soakRetentionS: num('soak-retention', 60, 5, 1),
    scalingS: num('scaling', 15, 4, 1),
    baselineS: num('baseline', 5, 2, 1),
    batchSize: Math.round(num('batch', 0, 0)),
    aof: aofPolicy(pick('aof')),
    outDir: pick('out') ?? 'bench-results',
    docs,
    docsDir: 'docs',
    coordinatorEnv: envList(pick('coordinator-env')),
    guestEnv: envList(pick('guest-env')),
    cpuProf: values['cpu-prof'] === true || env.BENCH_CPU_PROF === '1',
    heapSnapshots: values['heap-snapshots'] === true || env.BENCH_HEAP_SNAPSHOTS === '1',
    redisRealtime: values['redis-rt'] === true || env.BENCH_REDIS_RT === '1',
    progress: !values['no-progress'] && env.BENCH_PROGRESS !== '0',
    clusterShards: shardList(pick('cluster-shards')),
  };
}

function shardList(text: string | undefined): number[] {
  if (text === undefined) return [0, 1, 3];
  const shards = text.split(',').map((s) => Number(s.trim()));
  if (shards.length === 0 || shards.some((n) => !Number.isInteger(n) || n < 0 || n > 16)) throw new Error(`--cluster-shards ${JSON.stringify(text)}: expected shard counts 0-16 separated by commas`);
  return shards;
}

function envList(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '').split(',').filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`expected K=V pairs separated by commas, got ${JSON.stringify(pair)}`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

function aofPolicy(text: string | undefined): BenchOptions['aof'] {
  const value = text ?? 'everysec';
  if (value === 'everysec' || value === 'always' || value === 'no' || value === 'no-aof') return value;
  throw new Error(`--aof ${JSON.stringify(value)}: expected everysec, always, no or no-aof`);
}
