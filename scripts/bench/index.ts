// `npm run bench`: throughput, latency, fan-out, soak and scaling of the real services against a
// private redis-server, next to raw-Redis baselines measured in the same run. See
// docs/BENCHMARKS.md for what each scenario does and what the numbers have changed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { clusterScenario, clusterTable } from './cluster.ts';
import type { BaselineResult } from './baselines.ts';
import { type BenchOptions, parseOptions } from './options.ts';
import { type PeerResult, peerScenario } from './peers/index.ts';
import { priorityScenario } from './priority.ts';
import { Progress } from './progress.ts';
import {
  type BenchResults,
  type ScalingPoint,
  appendMarkdown,
  checkTargets,
  combineBaselines,
  describeMachine,
  printReport,
  writeCharts,
  writeJson,
} from './report.ts';
import { stallRecords, stopAllStacks } from './stack.ts';
import { type RunContext, baselineScenario, fanoutScenario, latencyScenario, round, soakScenario, throughputScenario } from './scenarios.ts';

export interface BenchRun {
  results: BenchResults;
  jsonPath: string;
  charts: string[];
}

/** Planned seconds per scenario, for the progress bar (start-up and teardown included roughly). */
function plannedSeconds(o: BenchOptions): number {
  const has = (s: string) => o.scenarios.includes(s as never);
  return (
    (has('baselines') ? 2 * (2 * o.baselineS + 2) : 0) +
    (has('throughput') ? o.durationS + o.warmupS + 6 : 0) +
    (has('latency') ? o.latencyEvents / o.latencyRate + 6 : 0) +
    (has('fanout') ? 25 : 0) +
    (has('priority') ? o.priorityBacklog / 400 + 10 : 0) +
    (has('peers') ? 2 * (o.durationS + o.warmupS + o.latencyEvents / o.latencyRate + 8) : 0) +
    (has('scaling') ? 4 * (o.scalingS + o.warmupS + 6) : 0) +
    (has('soak') ? o.soakS + 8 : 0)
  );
}

/** True when nothing that changes what is measured differs from a plain `npm run bench`. */
function sameAsDefaults(opts: BenchOptions): boolean {
  const defaults = parseOptions([], {});
  const cosmetic = new Set(['progress', 'docs', 'docsDir', 'outDir']);
  return Object.entries(defaults).every(([k, v]) => cosmetic.has(k) || JSON.stringify(v) === JSON.stringify(opts[k as keyof BenchOptions]));
}

export async function runBench(opts: BenchOptions): Promise<BenchRun> {
  const startedAt = new Date();
  const runId = startedAt.toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  const progress = new Progress(plannedSeconds(opts), opts.progress);
  const ctx: RunContext = { opts, progress, runId };
  const machine = describeMachine();
  mkdirSync(opts.outDir, { recursive: true });
  const has = (s: string) => opts.scenarios.includes(s as never);
  const errors: BenchResults['errors'] = [];
  const attempt = async <T>(scenario: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      errors.push({ scenario, error: text });
      progress.note(`${scenario} failed: ${text.split('\n')[0]}`);
      return undefined;
    }
  };

  let before: BaselineResult | undefined;
  let after: BaselineResult | undefined;
  if (has('baselines')) before = await attempt('baselines', () => baselineScenario(ctx, 'before'));
  const ratio = (rate: number) => {
    const io = combineBaselines(before, after).ioredisXadd;
    return io ? round(rate / io, 3) : null;
  };

  const shape = { agents: opts.agents, eventGuests: opts.eventGuests, coordinators: opts.coordinators };
  const throughput = has('throughput') ? await attempt('throughput', () => throughputScenario(ctx, shape, 'throughput', opts.durationS)) : undefined;
  const latency = has('latency') ? await attempt('latency', () => latencyScenario(ctx)) : undefined;
  const fanout = has('fanout') ? await attempt('fanout', () => fanoutScenario(ctx)) : undefined;
  const priority = has('priority') ? await attempt('priority', () => priorityScenario(ctx)) : undefined;
  const peers: PeerResult[] = [];
  if (has('peers')) {
    for (const system of ['bullmq', 'pubsub'] as const) {
      const result = await attempt(`peers ${system}`, () => peerScenario(ctx, system));
      if (result) peers.push(result);
    }
  }

  const scalingRuns: { agents: number; coordinators: number; result: Awaited<ReturnType<typeof throughputScenario>> }[] = [];
  if (has('scaling')) {
    const points = [
      { agents: 1, coordinators: 1 },
      { agents: 2, coordinators: 1 },
      { agents: 4, coordinators: 1 },
      { agents: 2, coordinators: 2 },
    ];
    for (const p of points) {
      const result = await attempt(`scaling ${p.coordinators}c/${p.agents}a`, () =>
        throughputScenario(ctx, { ...p, eventGuests: opts.eventGuests }, `scaling-${p.coordinators}c-${p.agents}a`, opts.scalingS),
      );
      if (result) scalingRuns.push({ ...p, result });
    }
  }

  let soak;
  if (has('soak')) {
    const max = throughput?.rsvpPerSecond ?? Math.max(0, ...scalingRuns.map((s) => s.result.rsvpPerSecond));
    const rate = opts.soakRate > 0 ? opts.soakRate : max / 2;
    if (rate > 0) soak = await attempt('soak', () => soakScenario(ctx, rate));
    else errors.push({ scenario: 'soak', error: 'no rate: run throughput first or pass --soak-rate' });
  }
  if (has('cluster')) {
    const base = {
      coordinators: opts.coordinators,
      agents: opts.agents,
      eventGuests: opts.eventGuests,
      window: opts.window,
      durationS: opts.scalingS,
      warmupS: opts.warmupS,
      ...(opts.cpuProf ? { profileDir: resolve(opts.outDir, 'profiles', runId) } : {}),
    };
    const points = await attempt('cluster', () => clusterScenario(base, (text) => progress.note(text), opts.clusterShards));
    if (points) {
      writeFileSync(join(opts.outDir, `cluster-${runId}.json`), `${JSON.stringify(points, null, 2)}\n`);
      progress.note(`cluster scenario:\n${clusterTable(points)}`);
    }
  }
  if (has('baselines')) after = await attempt('baselines', () => baselineScenario(ctx, 'after'));
  progress.end();

  const combined = combineBaselines(before, after);
  const scaling: ScalingPoint[] = scalingRuns.map(({ agents, coordinators, result }) => ({
    agents,
    coordinators,
    rsvpPerSecond: result.rsvpPerSecond,
    ratioToIoredis: ratio(result.rsvpPerSecond) ?? 0,
    commandsPerRsvp: result.commandsPerRsvp,
    cpuPerRsvpUs: result.systemCpuPerRsvpUs,
    cpu: result.cpu,
  }));
  const partial: Omit<BenchResults, 'targets'> = {
    version: 1,
    runId,
    mode: opts.quick ? 'quick' : sameAsDefaults(opts) ? 'full' : 'custom',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: opts,
    machine,
    baselines: { before, after, ...combined },
    ...(throughput ? { throughput: { ...throughput, ratioToIoredis: ratio(throughput.rsvpPerSecond) } } : {}),
    ...(latency ? { latency } : {}),
    ...(fanout ? { fanout } : {}),
    ...(priority ? { priority } : {}),
    ...(peers.length > 0 ? { peers } : {}),
    ...(soak ? { soak } : {}),
    ...(scaling.length > 0 ? { scaling } : {}),
    stalls: stallRecords.splice(0),
    errors,
  };
  const results: BenchResults = { ...partial, targets: checkTargets(partial) };
  const jsonPath = writeJson(results, opts.outDir);
  let charts: string[] = [];
  if (opts.docs) {
    charts = writeCharts(results, opts.docsDir);
    appendMarkdown(results, opts.docsDir, jsonPath, charts);
  }
  return { results, jsonPath, charts };
}

if (import.meta.main) {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n(npm run bench -- --help lists the options)\n`);
    process.exit(2);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n[bench] ${signal}: stopping the benchmark's processes\n`);
      void stopAllStacks().finally(() => process.exit(130));
    });
  }
  const run = await runBench(opts);
  process.stdout.write(printReport(run.results));
  process.stdout.write(`\nJSON: ${run.jsonPath}${run.charts.length ? `\ncharts: ${run.charts.map((c) => `${opts.docsDir}/${c}`).join(', ')}; appended to ${opts.docsDir}/BENCHMARKS.md` : ''}\n`);
  process.exit(run.results.errors.length > 0 ? 1 : 0);
}
