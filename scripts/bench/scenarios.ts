import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import * as hdr from 'hdr-histogram-js';
import { RedisServerProcess } from '../../services/launcher/redis-server.ts';
import { entryIdTime } from '../../services/shared/util/time.ts';
import { type BaselineResult, intrinsicLatencyMs, measureBaselines } from './baselines.ts';
import { EventDriver, type SummarySeen } from './driver.ts';
import { groupByConstructor } from './heap-compare.ts';
import { type RedisTimeBreakdown, redisTimePer } from './redis-time.ts';
import { type HopBreakdown, type ReaderStat, eventHops, readerStats } from './hops.ts';
import { type LoadResult, runLoad } from './load.ts';
import type { BenchOptions } from './options.ts';
import type { Progress } from './progress.ts';
import { type SlowEntry, info, resetSlowlog, slowlog } from './redis-info.ts';
import { type Sample, cpuShares, rateSeries, takeSample } from './sampler.ts';
import { sumMetric } from '../../test/helpers/prometheus-text.ts';
import { BenchStack } from './stack.ts';

export interface StackShape {
  agents: number;
  /** Guests per event, split evenly across the agents. */
  eventGuests: number;
  coordinators: number;
  coordinatorEnv?: Record<string, string>;
  env?: Record<string, string>;
  /** coordinator-1, agent-1 and the host write a V8 heap snapshot into this folder on SIGUSR2 (soak). */
  heapSnapshotDir?: string;
}

export interface RunContext {
  opts: BenchOptions;
  progress: Progress;
  runId: string;
}

/** The processes the soak takes heap snapshots of (--heap-snapshots): one of each role. */
const snapshotted = new Set(['coordinator-1', 'agent-1', 'host']);

const guestEnv = { PERSONAS: 'instant', REPLY_DELAY_SCALE: '0', GUEST_SEED: 'bench' };

/** Redis, the coordinators, the agents and a host, every process ready and every guest registered. */
export async function startStack(ctx: RunContext, shape: StackShape, scenario: string): Promise<{ stack: BenchStack; driver: EventDriver }> {
  const stack = await BenchStack.start(shape.env ?? {}, ctx.opts.aof, ctx.opts.redisRealtime);
  stack.scenario = scenario;
  try {
    const profile = ctx.opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${resolve(ctx.opts.outDir, 'profiles', ctx.runId)}`] : [];
    if (profile.length > 0) mkdirSync(resolve(ctx.opts.outDir, 'profiles', ctx.runId), { recursive: true });
    const heap = (label: string) =>
      shape.heapSnapshotDir && snapshotted.has(label) ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${shape.heapSnapshotDir}`] : [];
    if (shape.heapSnapshotDir) mkdirSync(shape.heapSnapshotDir, { recursive: true });
    const batch: Record<string, string> = ctx.opts.batchSize > 0 ? { STREAM_BATCH_SIZE: String(ctx.opts.batchSize) } : {};
    const perAgent = Math.ceil(shape.eventGuests / shape.agents);
    const starting = [];
    for (let i = 1; i <= shape.coordinators; i += 1) {
      starting.push(stack.startRole('coordinator', `coordinator-${i}`, { CONSUMER_NAME: `bench-coordinator-${i}`, ...batch, ...ctx.opts.coordinatorEnv, ...shape.coordinatorEnv }, { nodeArgs: [...profile, ...heap(`coordinator-${i}`)] }));
    }
    for (let i = 1; i <= shape.agents; i += 1) {
      starting.push(stack.startRole('guest', `agent-${i}`, { ...guestEnv, ...ctx.opts.guestEnv, GUEST_AGENT_ID: `bench-agent-${i}`, GUESTS_PER_AGENT: String(perAgent) }, { nodeArgs: [...profile, ...heap(`agent-${i}`)] }));
    }
    starting.push(stack.startRole('host', 'host', { HOST_ID: 'bench-host', CONSUMER_NAME: 'bench-host-1' }, { nodeArgs: [...profile, ...heap('host')] }));
    await Promise.all(starting);
    await stack.waitForGuests(perAgent * shape.agents);
    return { stack, driver: new EventDriver(stack.byRole('host')[0]!) };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// baselines

export async function baselineScenario(ctx: RunContext, label: string): Promise<BaselineResult> {
  ctx.progress.begin(`baselines (${label}): redis-benchmark -P 16 XADD, ioredis pipelined XADD, intrinsic latency`, ctx.opts.baselineS * 3 + 2);
  const dir = mkdtempSync(join(tmpdir(), 'ep-bench-base-'));
  const server = await new RedisServerProcess({ dir, appendfsync: 'everysec' }).start();
  const client = new Redis(server.url, { lazyConnect: true });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const result = await measureBaselines(client, server.url, server.port, ctx.opts.baselineS);
    result.intrinsicLatencyMs = await intrinsicLatencyMs(ctx.opts.baselineS);
    ctx.progress.note(
      `baseline ${label}: redis-benchmark ${fmt(result.redisBenchmarkXadd)} XADD/s, ioredis loop ${fmt(result.ioredisXadd)} XADD/s, intrinsic latency ${result.intrinsicLatencyMs ?? 'n/a'} ms`,
    );
    return result;
  } finally {
    client.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// throughput (and every scaling point)

export interface ThroughputResult {
  shape: StackShape;
  /** Redis time by command and script over 3 s run after the measured window (use its shares: that window also finishes the measured one's events). */
  redisTime?: RedisTimeBreakdown;
  rsvpPerSecond: number;
  measuredSeconds: number;
  counted: number;
  eventsSummarized: number;
  commandsPerRsvp: number;
  /** Calls per RSVP of each command (script-internal calls included), largest first. */
  commandMix: { command: string; perRsvp: number; usecPerCall: number }[];
  cpu: Record<string, number>;
  redisCpuPerRsvpUs: number;
  /** CPU microseconds per RSVP of each process (Redis and every role; the bench driver apart), from /proc. */
  cpuPerRsvpUs: Record<string, number>;
  /** CPU time of Redis, coordinators, agents and host per RSVP (not the bench driver, not others). */
  systemCpuPerRsvpUs: number;
  /**
   * 2 cores' worth of CPU divided by the CPU per RSVP: what this design would count with the
   * machine to itself. A projection, shown next to the measured figure, never instead of it.
   */
  projectedRsvpPerSecondOnIdleMachine: number;
  endToEndMs: LoadResult['endToEnd'];
  series: { t: number; rate: number }[];
  slowlog: SlowEntry[];
}

export async function throughputScenario(ctx: RunContext, shape: StackShape, label: string, measureS: number): Promise<ThroughputResult> {
  const warmupS = ctx.opts.warmupS;
  ctx.progress.begin(`${label}: ${shape.coordinators} coordinator(s), ${shape.agents} agent(s), ${shape.eventGuests}-guest events`, measureS + warmupS + 4);
  const { stack, driver } = await startStack(ctx, shape, label);
  try {
    await resetSlowlog(stack.client);
    const load = await runLoad(stack, driver, {
      idPrefix: `${ctx.runId}-${label}`,
      window: ctx.opts.window,
      durationMs: (measureS + warmupS) * 1000,
      warmupMs: warmupS * 1000,
      onSample: (s) => ctx.progress.update(`${fmt(s.counted)} replies counted`),
    });
    const result = summarizeLoad(shape, load, await slowlog(stack.client));
    // Then 3 s more with every Redis command logged (not part of the figures above): Redis time per RSVP by script.
    // The stall probe stops first: logging every command, and reading and clearing that log, are long calls of their own.
    await stack.recordStalls();
    result.redisTime = await redisTimePer('RSVP', stack.client, async () => {
      const extra = await runLoad(stack, driver, { idPrefix: `${ctx.runId}-${label}-redis`, window: ctx.opts.window, durationMs: 3_000, warmupMs: 0, onSample: () => undefined });
      return extra.countedInWindow;
    });
    ctx.progress.note(`${label}: ${fmt(result.rsvpPerSecond)} RSVP/s, ${result.commandsPerRsvp.toFixed(2)} Redis commands/RSVP`);
    return result;
  } finally {
    driver.close();
    await stack.stop();
  }
}

/** CPU microseconds per RSVP of each process (cores used over RSVPs per second). */
function cpuPerRsvp(cpu: Record<string, number>, rsvpPerSecond: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(cpu)
      .filter(([label]) => !['machine', 'others'].includes(label))
      .map(([label, cores]) => [label, round((cores * 1e6) / Math.max(1, rsvpPerSecond), 1)]),
  );
}

/** Cores used by the system under test: Redis and the role processes. */
function systemCores(cpu: Record<string, number>): number {
  return Object.entries(cpu).reduce((sum, [label, v]) => (['machine', 'others', 'bench-driver'].includes(label) ? sum : sum + v), 0);
}

function summarizeLoad(shape: StackShape, load: LoadResult, slow: SlowEntry[]): ThroughputResult {
  const counted = Math.max(1, load.countedInWindow);
  const commandMix = Object.entries(load.commands)
    .map(([command, s]) => ({ command, perRsvp: round(s.calls / counted, 4), usecPerCall: round(s.usec / Math.max(1, s.calls), 2) }))
    .sort((a, b) => b.perRsvp - a.perRsvp);
  return {
    shape,
    rsvpPerSecond: Math.round(load.rsvpPerSecond),
    measuredSeconds: round(load.measuredSeconds, 2),
    counted: load.countedInWindow,
    eventsSummarized: load.eventsSummarized,
    commandsPerRsvp: round(load.commandsPerRsvp, 3),
    commandMix,
    cpu: Object.fromEntries(Object.entries(load.cpu).map(([k, v]) => [k, round(v, 3)])),
    redisCpuPerRsvpUs: round(((load.cpu.redis ?? 0) * 1e6) / Math.max(1, load.rsvpPerSecond), 2),
    cpuPerRsvpUs: cpuPerRsvp(load.cpu, load.rsvpPerSecond),
    systemCpuPerRsvpUs: round((systemCores(load.cpu) * 1e6) / Math.max(1, load.rsvpPerSecond), 2),
    projectedRsvpPerSecondOnIdleMachine: Math.round((cpus().length * Math.max(1, load.rsvpPerSecond)) / Math.max(1e-9, systemCores(load.cpu))),
    endToEndMs: load.endToEnd,
    series: rateSeries(load.samples),
    slowlog: slow,
  };
}

// ---------------------------------------------------------------------------------------------
// latency

export interface LatencyResult {
  events: number;
  guestsPerEvent: number;
  ratePerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  /** (latency ms, cumulative share 0-1) points for the CDF chart. */
  cdf: { ms: number; share: number }[];
  /** Where the measured events' time went, hop by hop. */
  hops?: HopBreakdown;
  /** Inside the hops: each process's wait and handling time per stream it reads (warm-up included). */
  readers?: ReaderStat[];
  /** Redis time per event by command and script, from extra events run after the measured ones. */
  redisTime?: RedisTimeBreakdown;
}

export async function latencyScenario(ctx: RunContext): Promise<LatencyResult> {
  const { latencyEvents: n, latencyRate: rate, latencyGuests: guests } = ctx.opts;
  ctx.progress.begin(`latency: ${n} events of ${guests} guests at ${rate}/s`, n / rate + 5);
  const { stack, driver } = await startStack(ctx, { agents: 1, eventGuests: guests, coordinators: 1 }, 'latency');
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
  const seen: SummarySeen[] = [];
  let hops: HopBreakdown | undefined;
  const readers: ReaderStat[] = [];
  let redisTime: RedisTimeBreakdown | undefined;
  try {
    // A few unmeasured events first: JIT and script cache, as after any deployment.
    for (let i = 0; i < 5; i += 1) {
      const id = `${ctx.runId}-lat-warm-${i}`;
      await driver.publish(id);
      await driver.waitFor(id, 30_000);
    }
    const waits: Promise<void>[] = [];
    const started = Date.now();
    for (let i = 0; i < n; i += 1) {
      const due = started + (i * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const id = `${ctx.runId}-lat-${i}`;
      await driver.publish(id);
      waits.push(
        driver.waitFor(id, 60_000).then((s) => {
          if (s.answered !== guests) throw new Error(`latency event ${id}: ${s.answered} of ${guests} answered (${s.reason})`);
          histogram.recordValue(Math.max(1, s.receivedAt - s.publishedAt));
          seen.push(s);
        }),
      );
      ctx.progress.update(`${i + 1}/${n} published, ${histogram.totalCount} summarized`);
    }
    await Promise.all(waits);
    await stack.recordStalls();
    hops = await eventHops(stack.client, seen, ['guest_inbox:{bench-agent-1}']);
    for (const p of stack.processes) readers.push(...readerStats(p.label, await (await p.fetch('/metrics')).text()));
    // Then a few events one at a time with every Redis command logged (not part of the latency figures).
    redisTime = await redisTimePer('event', stack.client, async () => {
      const extra = Math.min(50, n);
      for (let i = 0; i < extra; i += 1) {
        const id = `${ctx.runId}-lat-redis-${i}`;
        await driver.publish(id);
        await driver.waitFor(id, 60_000);
      }
      return extra;
    });
  } finally {
    driver.close();
    await stack.stop();
  }
  const cdf: { ms: number; share: number }[] = [];
  for (let p = 0; p <= 100; p += 0.5) cdf.push({ ms: histogram.getValueAtPercentile(p), share: p / 100 });
  for (const p of [99.5, 99.9, 99.99]) cdf.push({ ms: histogram.getValueAtPercentile(p), share: p / 100 });
  cdf.push({ ms: histogram.maxValue, share: 1 });
  cdf.sort((a, b) => a.share - b.share);
  const result: LatencyResult = {
    events: histogram.totalCount,
    guestsPerEvent: guests,
    ratePerSecond: rate,
    p50: histogram.getValueAtPercentile(50),
    p95: histogram.getValueAtPercentile(95),
    p99: histogram.getValueAtPercentile(99),
    max: histogram.maxValue,
    mean: round(histogram.mean, 2),
    cdf,
    hops,
    readers,
    redisTime,
  };
  ctx.progress.note(`latency: p50 ${result.p50} ms, p95 ${result.p95} ms, p99 ${result.p99} ms, max ${result.max} ms`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// fan-out

export interface FanoutResult {
  guests: number;
  agents: number;
  deliveryEntries: number;
  /** Invitation entry -> last delivery entry added, ms. */
  toAllDeliveriesMs: number;
  /** Invitation entry -> summary received by the host, ms. */
  toSummaryMs: number;
  /** Invitation entry -> summary entry added, ms. */
  toSummaryEntryMs: number;
  answered: number;
  reason: string;
  /** Replies per second between the last delivery and the summary. */
  countingRate: number;
  cpu: Record<string, number>;
  slowlog: SlowEntry[];
}

export async function fanoutScenario(ctx: RunContext): Promise<FanoutResult> {
  const { fanoutGuests: guests, fanoutAgents: agents } = ctx.opts;
  ctx.progress.begin(`fan-out: one event to ${fmt(guests)} guests on ${agents} agents`, 25);
  const { stack, driver } = await startStack(ctx, { agents, eventGuests: guests, coordinators: 1, coordinatorEnv: { RSVP_DEADLINE_MS: '600000' } }, 'fan-out');
  try {
    // A small event first so the scripts are loaded and the code warm, as in a running system.
    await driver.publish(`${ctx.runId}-fan-warm`);
    await driver.waitFor(`${ctx.runId}-fan-warm`, 120_000);
    await resetSlowlog(stack.client, 10_000);
    const cpuBefore = await takeSample(stack, Date.now());
    const id = `${ctx.runId}-fan`;
    const publishedAt = await driver.publish(id, 'Fan-out to everyone');
    const seen = await driver.waitFor(id, 300_000);
    const cpuAfter = await takeSample(stack, publishedAt);
    // The stall probe stops here, and the slow log is read: the bench's own reads of whole inboxes
    // below are not the system's (an XRANGE of a 50,000-entry inbox took 14.7 ms and topped it).
    await stack.recordStalls();
    const slow = await slowlog(stack.client);
    let lastDelivery = 0;
    let entries = 0;
    for (let i = 1; i <= agents; i += 1) {
      const raw = (await stack.client.xrange(`guest_inbox:{bench-agent-${i}}`, '-', '+')) as [string, string[]][];
      for (const [entryId, fields] of raw) {
        if (fields[fields.indexOf('invitation_id') + 1] !== id) continue;
        entries += 1;
        lastDelivery = Math.max(lastDelivery, entryIdTime(entryId));
      }
    }
    const summaries = (await stack.client.xrevrange('event_summaries', '+', '-', 'COUNT', 5)) as [string, string[]][];
    const summaryEntry = summaries.find(([, f]) => f[f.indexOf('invitation_id') + 1] === id);
    const cpuWindow = { ...cpuAfter, t: (seen.receivedAt - publishedAt) / 1000 };
    const result: FanoutResult = {
      guests,
      agents,
      deliveryEntries: entries,
      toAllDeliveriesMs: lastDelivery - publishedAt,
      toSummaryMs: seen.receivedAt - publishedAt,
      toSummaryEntryMs: summaryEntry ? entryIdTime(summaryEntry[0]) - publishedAt : -1,
      answered: seen.answered,
      reason: seen.reason,
      countingRate: Math.round(seen.answered / Math.max(0.001, (seen.receivedAt - lastDelivery) / 1000)),
      cpu: Object.fromEntries(Object.entries(cpuShares({ ...cpuBefore, t: 0 }, cpuWindow)).map(([k, v]) => [k, round(v, 3)])),
      slowlog: slow,
    };
    ctx.progress.note(`fan-out: all deliveries after ${result.toAllDeliveriesMs} ms, summary at the host after ${result.toSummaryMs} ms`);
    return result;
  } finally {
    driver.close();
    await stack.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// soak

export interface SoakResult {
  durationS: number;
  rsvpPerSecondTarget: number;
  rsvpPerSecond: number;
  retentionS: number;
  janitorIntervalMs: number;
  warmupS: number;
  /** Growth of the mean of the last tenth after warm-up over the first tenth, per measure. */
  growth: Record<string, number>;
  /**
   * Whether it levelled off: growth of the last tenth of the run over the tenth that starts at its
   * half, per Redis and RSS measure. Node's RSS kept rising for ~5 retentions in the 10-minute
   * soak (V8 sizing its heap, the allocator its arenas) and then stayed flat.
   */
  secondHalfGrowth: Record<string, number>;
  /**
   * CPU microseconds per RSVP of each process at the soak's fixed rate: unlike the closed loop's
   * figure it does not move with the throughput the machine allowed (fixed costs per second, such
   * as heartbeats and metric scrapes, are spread over the same number of RSVPs every run).
   */
  cpuPerRsvpUs: Record<string, number>;
  redisUsedMemoryMB: { start: number; end: number; max: number };
  bytesPerRetainedRsvp: number;
  retainedRsvps: number;
  samples: { t: number; usedMemory: number; rss: Record<string, number>; heap: Record<string, number>; retained: number; counted: number }[];
  /** With --heap-snapshots: the files written (compare them with scripts/bench/heap-compare.ts). */
  heapSnapshots?: HeapSnapshotTaken[];
}

export interface HeapSnapshotTaken {
  label: string;
  /** 'warm' (after warm-up) or 'end'. */
  when: string;
  t: number;
  file: string;
}

/**
 * Asks every process started with --heapsnapshot-signal (coordinator-1, agent-1, the host) for a heap
 * snapshot. Node writes it on the main thread, so the process answers HTTP again once it is written.
 */
async function takeHeapSnapshots(stack: BenchStack, dir: string, when: string, t: number): Promise<HeapSnapshotTaken[]> {
  const taken: HeapSnapshotTaken[] = [];
  for (const p of stack.processes.filter((x) => snapshotted.has(x.label))) {
    const before = new Set(readdirSync(dir));
    p.child.kill('SIGUSR2');
    const deadline = Date.now() + 120_000;
    let file: string | undefined;
    while (!file && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      await p.fetch('/healthz').catch(() => undefined);
      file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    }
    // Found while being written is possible: one more answer means the writing has ended.
    await p.fetch('/healthz').catch(() => undefined);
    if (file) taken.push({ label: p.label, when, t: round(t, 1), file: join(dir, file) });
  }
  return taken;
}

export async function soakScenario(ctx: RunContext, rsvpPerSecond: number): Promise<SoakResult> {
  const { soakS, soakRetentionS: retentionS, eventGuests, agents, coordinators } = ctx.opts;
  const eventsPerSecond = rsvpPerSecond / eventGuests;
  ctx.progress.begin(`soak: ${fmt(rsvpPerSecond)} RSVP/s for ${soakS} s, retention ${retentionS} s`, soakS + 5);
  const retentionMs = String(retentionS * 1000);
  // The janitor trims with XTRIM MINID ~, which stops after 10,000 entries per call (Redis'
  // default LIMIT for ~): below twice the inflow per run, guest_responses outgrows its retention
  // (the first full soak did, +92 %). Until the janitor loops its trim, run it often enough.
  const janitorMs = String(Math.round(Math.max(200, Math.min(10_000, (retentionS * 1000) / 5, (10_000 * 1000) / (2 * rsvpPerSecond)))));
  // Memory settles once the first events expire and the janitor trims: two retentions, or a
  // fifth of the run when that is longer.
  const warmupS = Math.min(soakS * 0.5, Math.max(2 * retentionS + 2 * (Number(janitorMs) / 1000), soakS * 0.2));
  const heapDir = ctx.opts.heapSnapshots ? resolve(ctx.opts.outDir, 'heap', ctx.runId) : undefined;
  const { stack, driver } = await startStack(ctx, {
    agents,
    eventGuests,
    coordinators,
    // The host keeps its events (definition, read model, feed) HOST_EVENT_RETENTION_MS, 30 days by
    // default: without the soak's retention there too, every event's host keys outlive the run.
    env: { STREAM_RETENTION_MS: retentionMs, EVENT_RETENTION_MS: retentionMs, HOST_EVENT_RETENTION_MS: retentionMs, JANITOR_INTERVAL_MS: janitorMs },
    heapSnapshotDir: heapDir,
  }, 'soak');
  const idle = Number((await info(stack.client, 'memory')).used_memory);
  const samples: SoakResult['samples'] = [];
  const heapSnapshots: HeapSnapshotTaken[] = [];
  // The first snapshot a little before the first compared window: writing one forces a full GC,
  // which would otherwise put a low floor into that window's heap figures.
  const snapshotAtS = Math.max(0, warmupS - 10);
  try {
    const load = await runLoad(stack, driver, {
      idPrefix: `${ctx.runId}-soak`,
      window: Math.max(ctx.opts.window, Math.ceil(eventsPerSecond * 5)),
      durationMs: soakS * 1000,
      warmupMs: 0,
      eventsPerSecond,
      sampleEveryMs: soakS > 120 ? 5_000 : 1_000,
      onSample: async (s: Sample) => {
        const retained = await stack.client.xlen('guest_responses');
        // V8 heap in use tells a leak from a heap that is still sizing itself, which RSS cannot.
        const heap: Record<string, number> = {};
        for (const p of stack.processes) {
          const body = await p
            .fetch('/metrics')
            .then((res) => res.text())
            .catch(() => '');
          heap[p.label] = sumMetric(body, 'nodejs_heap_size_used_bytes');
        }
        samples.push({ t: round(s.t, 1), usedMemory: s.redisUsedMemory, rss: s.rss, heap, retained, counted: s.counted });
        if (heapDir && heapSnapshots.length === 0 && s.t >= snapshotAtS) heapSnapshots.push(...(await takeHeapSnapshots(stack, heapDir, 'warm', s.t)));
        ctx.progress.update(`${Math.round(s.t)}/${soakS} s, Redis ${(s.redisUsedMemory / 1e6).toFixed(1)} MB, ${fmt(retained)} RSVPs retained`);
      },
    });
    if (heapDir) heapSnapshots.push(...(await takeHeapSnapshots(stack, heapDir, 'end', soakS)));
    const after = samples.filter((s) => s.t >= warmupS);
    const tenth = Math.max(2, Math.floor(after.length / 10));
    const first = after.slice(0, tenth);
    const last = after.slice(-tenth);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const growthOf = (get: (s: SoakResult['samples'][number]) => number, of: (xs: number[]) => number = mean) => {
      const a = of(first.map(get));
      return a > 0 ? round((of(last.map(get)) - a) / a, 4) : 0;
    };
    const growth: Record<string, number> = { redis_used_memory: growthOf((s) => s.usedMemory) };
    for (const label of Object.keys(samples[0]?.rss ?? {})) growth[`rss_${label}`] = growthOf((s) => s.rss[label] ?? 0);
    // Heap in use is a sawtooth (GC): compare the floors of the two windows, not their means.
    for (const label of Object.keys(samples[0]?.heap ?? {})) growth[`heap_${label}`] = growthOf((s) => s.heap[label] ?? 0, (xs) => Math.min(...xs));
    const half = samples.filter((s) => s.t >= soakS / 2 && s.t < soakS / 2 + soakS / 10);
    const lastTenth = samples.filter((s) => s.t >= soakS - soakS / 10);
    const secondHalfGrowth: Record<string, number> = {};
    const halfGrowth = (get: (s: SoakResult['samples'][number]) => number) => {
      const a = mean(half.map(get));
      return a > 0 && lastTenth.length > 0 ? round((mean(lastTenth.map(get)) - a) / a, 4) : 0;
    };
    if (half.length > 0) {
      secondHalfGrowth.redis_used_memory = halfGrowth((s) => s.usedMemory);
      for (const label of Object.keys(samples[0]?.rss ?? {})) secondHalfGrowth[`rss_${label}`] = halfGrowth((s) => s.rss[label] ?? 0);
    }
    // What the heap really retains: the snapshots are taken after a full GC, so their sizes have no
    // sawtooth. Judged like RSS (growth of the end snapshot over the one after warm-up).
    for (const label of new Set(heapSnapshots.map((h) => h.label))) {
      const warm = heapSnapshots.find((h) => h.label === label && h.when === 'warm');
      const end = heapSnapshots.find((h) => h.label === label && h.when === 'end');
      if (!warm || !end) continue;
      const bytes = (file: string) => [...groupByConstructor(file).values()].reduce((sum, g) => sum + g.bytes, 0);
      const a = bytes(warm.file);
      growth[`retained_heap_${label}`] = a > 0 ? round((bytes(end.file) - a) / a, 4) : 0;
    }
    const perRsvp = after.filter((s) => s.retained > 0).map((s) => (s.usedMemory - idle) / s.retained);
    const used = samples.map((s) => s.usedMemory / 1e6);
    const result: SoakResult = {
      durationS: soakS,
      rsvpPerSecondTarget: Math.round(rsvpPerSecond),
      rsvpPerSecond: Math.round(load.samples.length > 1 ? load.samples[load.samples.length - 1]!.counted / load.samples[load.samples.length - 1]!.t : 0),
      retentionS,
      janitorIntervalMs: Number(janitorMs),
      warmupS: round(warmupS, 1),
      growth,
      secondHalfGrowth,
      cpuPerRsvpUs: cpuPerRsvp(load.cpu, load.rsvpPerSecond),
      redisUsedMemoryMB: { start: round(used[0] ?? 0, 1), end: round(used[used.length - 1] ?? 0, 1), max: round(Math.max(...used), 1) },
      bytesPerRetainedRsvp: Math.round(mean(perRsvp)),
      retainedRsvps: Math.round(mean(after.map((s) => s.retained))),
      samples,
      ...(heapDir ? { heapSnapshots } : {}),
    };
    ctx.progress.note(
      `soak: Redis used_memory growth after warm-up ${(result.growth.redis_used_memory! * 100).toFixed(1)} %, ${result.bytesPerRetainedRsvp} bytes per retained RSVP`,
    );
    return result;
  } finally {
    driver.close();
    await stack.stop();
  }
}

// ---------------------------------------------------------------------------------------------

export function fmt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return 'n/a';
  return Math.round(n).toLocaleString('en-US');
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
