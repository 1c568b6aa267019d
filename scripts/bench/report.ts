import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BaselineResult } from './baselines.ts';
import type { BenchOptions } from './options.ts';
import type { FanoutResult, LatencyResult, SoakResult, ThroughputResult } from './scenarios.ts';
import { fmt, round } from './scenarios.ts';
import { type PeerResult, guaranteesOf } from './peers/index.ts';
import type { PriorityResult } from './priority.ts';
import { type RedisTimeBreakdown, scriptNamesBySha } from './redis-time.ts';
import type { StallRecord } from './stack.ts';
import { compact, lineChart } from './svg.ts';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGB: number;
  node: string;
  redis: string;
  os: string;
  loadAverageAtStart: number[];
}

export interface ScalingPoint {
  agents: number;
  coordinators: number;
  rsvpPerSecond: number;
  ratioToIoredis: number;
  commandsPerRsvp: number;
  cpuPerRsvpUs: number;
  cpu: Record<string, number>;
}

export interface TargetCheck {
  name: string;
  target: string;
  value: string;
  /** null when the scenario did not run. */
  met: boolean | null;
}

export interface BenchResults {
  version: 1;
  runId: string;
  mode: 'quick' | 'full' | 'custom';
  startedAt: string;
  finishedAt: string;
  options: BenchOptions;
  machine: Machine;
  baselines: { before?: BaselineResult; after?: BaselineResult; ioredisXadd: number | null; redisBenchmarkXadd: number | null };
  throughput?: ThroughputResult & { ratioToIoredis: number | null };
  latency?: LatencyResult;
  fanout?: FanoutResult;
  priority?: PriorityResult;
  peers?: PeerResult[];
  soak?: SoakResult;
  scaling?: ScalingPoint[];
  /** Per scenario stack: the PING probe's longest round trip and Redis' longest command. */
  stalls: StallRecord[];
  targets: TargetCheck[];
  errors: { scenario: string; error: string }[];
}

export function describeMachine(): Machine {
  let redis = 'unknown';
  try {
    redis = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? redis;
  } catch {
    /* reported as unknown */
  }
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    redis,
    os: `${process.platform} ${release()}`,
    loadAverageAtStart: loadavg().map((v) => round(v, 2)),
  };
}

/** The worst intrinsic latency the baselines measured (null when not measured). */
function intrinsicLatency(r: Omit<BenchResults, 'targets'>): number | null {
  const xs = [r.baselines.before?.intrinsicLatencyMs, r.baselines.after?.intrinsicLatencyMs].filter((x): x is number => typeof x === 'number');
  return xs.length > 0 ? Math.max(...xs) : null;
}

/** The scenario's slowest command in Redis' slow log, when the scenario keeps one (throughput, fan-out, priority): whose call the longest was. */
function slowestLogged(r: Omit<BenchResults, 'targets'>, scenario: string): string {
  const logged = { throughput: r.throughput?.slowlog, 'fan-out': r.fanout?.slowlog, priority: r.priority?.slowlog }[scenario];
  const top = logged?.[0];
  if (!top) return '';
  // Results saved before the slow log named scripts carry the SHA1.
  const [command, sha] = top.command.split(' ');
  const name = command?.toLowerCase() === 'evalsha' ? `script ${scriptNamesBySha().get(sha ?? '') ?? sha}` : command;
  return ` (slow log: ${name} ${(top.durationUs / 1000).toFixed(1)} ms)`;
}

/** Redis' latency events other than commands (a fork for the AOF rewrite, a slow AOF write), for the stall rows. */
function otherLatencyEvents(s: StallRecord): string {
  const others = Object.entries(s.redisLatencyEvents ?? {}).filter(([event]) => event !== 'command');
  return others.length > 0 ? `; ${others.map(([event, ms]) => `${event} ${ms} ms`).join(', ')}` : '';
}

/** Mean of the baselines measured in this run (before and after the scenarios). */
export function combineBaselines(before?: BaselineResult, after?: BaselineResult): { ioredisXadd: number | null; redisBenchmarkXadd: number | null } {
  const mean = (xs: (number | null | undefined)[]) => {
    const ok = xs.filter((x): x is number => typeof x === 'number' && x > 0);
    return ok.length ? Math.round(ok.reduce((a, b) => a + b, 0) / ok.length) : null;
  };
  return { ioredisXadd: mean([before?.ioredisXadd, after?.ioredisXadd]), redisBenchmarkXadd: mean([before?.redisBenchmarkXadd, after?.redisBenchmarkXadd]) };
}

export function checkTargets(r: Omit<BenchResults, 'targets'>): TargetCheck[] {
  const t = r.throughput;
  const stalls = r.stalls ?? [];
  const worstStall = stalls.reduce<StallRecord | undefined>((a, b) => (!a || b.longestMs > a.longestMs ? b : a), undefined);
  const worstCommand = stalls.reduce((m, s) => Math.max(m, s.redisLongestCommandMs), 0);
  // The targets of issue 17 (2 cores, Redis on the same machine, figures from one run).
  const checks: TargetCheck[] = [
    {
      name: `latency, ${r.latency?.guestsPerEvent ?? 100}-guest events at ${r.latency?.ratePerSecond ?? 10}/s`,
      target: 'p50 <= 3 ms, p99 <= 10 ms',
      value: r.latency ? `p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms (p95 ${r.latency.p95}, max ${r.latency.max})` : 'not run',
      met: r.latency ? r.latency.p50 <= 3 && r.latency.p99 <= 10 : null,
    },
    {
      name: 'throughput vs ioredis XADD loop',
      target: '>= 0.25 x',
      value: t?.ratioToIoredis != null ? `${t.ratioToIoredis.toFixed(3)} x (${fmt(t.rsvpPerSecond)} RSVP/s of ${fmt(r.baselines.ioredisXadd)}/s)` : 'not run',
      met: t?.ratioToIoredis != null ? t.ratioToIoredis >= 0.25 : null,
    },
    ...peerTargets(r),
    {
      name: 'longest Redis stall (PING probe), every scenario',
      target: '<= 5 ms',
      value: worstStall
        ? `${worstStall.longestMs} ms (${worstStall.scenario}); Redis' longest command ${worstCommand} ms${r.options.redisRealtime ? ' (Redis at real-time priority)' : ''}${intrinsicLatency(r) !== null ? `; machine intrinsic latency ${intrinsicLatency(r)} ms` : ''}`
        : 'not run',
      met: worstStall ? stalls.every((s) => s.longestMs <= 5) : null,
    },
    {
      name: `fan-out ${fmt(r.fanout?.guests ?? 100_000)} guests, invitation -> summary`,
      target: '< 2 s',
      value: r.fanout ? `${(r.fanout.toSummaryMs / 1000).toFixed(2)} s (deliveries ${(r.fanout.toAllDeliveriesMs / 1000).toFixed(2)} s)` : 'not run',
      met: r.fanout ? r.fanout.toSummaryMs < 2_000 && r.fanout.answered === r.fanout.guests : null,
    },
    {
      name: 'soak memory growth after warm-up',
      target: '< 5 %',
      value: r.soak
        ? `${(r.soak.growth.redis_used_memory! * 100).toFixed(1)} % Redis used_memory; worst RSS ${worst(r.soak, 'rss_')}; worst heap in use (floors) ${worst(r.soak, 'heap_')}` +
          (Object.keys(r.soak.growth).some((k) => k.startsWith('retained_heap_')) ? `; worst retained heap (snapshots) ${worst(r.soak, 'retained_heap_')}` : '')
        : 'not run',
      // Heap in use sampled every few seconds is reported but not judged: it mostly shows where the
      // GC cycle happened to be. Redis used_memory, every RSS and the heap the snapshots retain
      // (after a full GC; with --heap-snapshots) are the criterion.
      met: r.soak ? Object.entries(r.soak.growth).every(([k, g]) => k.startsWith('heap_') || g < 0.05) : null,
    },
  ];
  return checks;
}

/** Against the peers of the same run: >= 4 x BullMQ's RSVP/s and <= 1/3 of its p99; >= 0.5 x Pub/Sub's RSVP/s. */
function peerTargets(r: Omit<BenchResults, 'targets'>): TargetCheck[] {
  const bull = r.peers?.find((p) => p.system === 'bullmq');
  const pubsub = r.peers?.find((p) => p.system === 'pubsub');
  const ours = r.throughput?.rsvpPerSecond;
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? a / b : undefined);
  const vsBull = ratio(ours, bull?.rsvpPerSecond);
  const p99 = ratio(r.latency?.p99, bull?.latency.p99);
  const vsPubsub = ratio(ours, pubsub?.rsvpPerSecond);
  return [
    { name: 'RSVP/s vs BullMQ flows', target: '>= 4 x', value: vsBull !== undefined ? `${vsBull.toFixed(2)} x (${fmt(ours)} vs ${fmt(bull!.rsvpPerSecond)})` : 'not run', met: vsBull !== undefined ? vsBull >= 4 : null },
    { name: 'latency p99 vs BullMQ flows', target: '<= 1/3', value: p99 !== undefined ? `${p99.toFixed(2)} x (${r.latency!.p99} vs ${bull!.latency.p99} ms)` : 'not run', met: p99 !== undefined ? p99 <= 1 / 3 : null },
    { name: 'RSVP/s vs plain Pub/Sub', target: '>= 0.5 x', value: vsPubsub !== undefined ? `${vsPubsub.toFixed(2)} x (${fmt(ours)} vs ${fmt(pubsub!.rsvpPerSecond)})` : 'not run', met: vsPubsub !== undefined ? vsPubsub >= 0.5 : null },
  ];
}

function worst(soak: SoakResult, prefix: string): string {
  const rows = Object.entries(soak.growth).filter(([k]) => k.startsWith(prefix));
  if (rows.length === 0) return 'n/a';
  const [name, g] = rows.reduce((a, b) => (b[1] > a[1] ? b : a));
  return `${(g * 100).toFixed(1)} % (${name.slice(prefix.length)})`;
}

const mark = (met: boolean | null) => (met === null ? '–' : met ? 'met' : 'MISSED');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r, i) => `${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}${i === 0 ? `\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : ''}`).join('\n');
}

function mdTable(rows: string[][]): string {
  const line = (r: string[]) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(rows[0]!), line(rows[0]!.map(() => '---')), ...rows.slice(1).map(line)].join('\n');
}

function resultRows(r: BenchResults): string[][] {
  const rows: string[][] = [['measure', 'value', 'same-run baseline', 'ratio']];
  const b = r.baselines;
  rows.push(['redis-benchmark -P 16 XADD', `${fmt(b.redisBenchmarkXadd)}/s`, '', '']);
  rows.push(['ioredis pipelined XADD loop (1 process)', `${fmt(b.ioredisXadd)}/s`, '', '']);
  const intrinsic = intrinsicLatency(r);
  if (intrinsic !== null) rows.push(['machine intrinsic latency (redis-cli --intrinsic-latency)', `${intrinsic} ms`, 'the floor under any PING stall', '']);
  if (r.throughput) {
    const t = r.throughput;
    rows.push([
      `throughput (${t.shape.coordinators} coord, ${t.shape.agents} agents, ${fmt(t.shape.eventGuests)}-guest events)`,
      `${fmt(t.rsvpPerSecond)} RSVP/s`,
      `ioredis ${fmt(b.ioredisXadd)}/s`,
      t.ratioToIoredis != null ? `${t.ratioToIoredis.toFixed(3)} x` : '',
    ]);
    rows.push(['Redis commands per RSVP (all, incl. in Lua)', t.commandsPerRsvp.toFixed(2), '1 XADD', '']);
    rows.push([
      'CPU per RSVP (Redis + roles)',
      `${t.systemCpuPerRsvpUs} µs`,
      `others used ${(t.cpu.others ?? 0).toFixed(2)} cores`,
      `idle-machine projection ${fmt(t.projectedRsvpPerSecondOnIdleMachine)} RSVP/s`,
    ]);
    rows.push(['Redis CPU per RSVP', `${t.redisCpuPerRsvpUs} µs`, b.redisBenchmarkXadd ? `${(1e6 / b.redisBenchmarkXadd).toFixed(2)} µs per XADD (redis-benchmark)` : '', '']);
    rows.push(['CPU µs per RSVP by process', Object.entries(t.cpuPerRsvpUs ?? {}).map(([k, v]) => `${k} ${v}`).join(', '), '', '']);
    if (t.redisTime) {
      // The 3 s window also finishes events of the measured one, so its absolute times per RSVP are
      // not the window's: its shares, applied to the measured Redis CPU per RSVP, are.
      const total = Math.max(1, t.redisTime.usPerUnit);
      const shares = t.redisTime.rows.slice(0, 6).map((x) => `${x.command} ${Math.round((100 * x.usPerUnit) / total)} % (~${round((t.redisCpuPerRsvpUs * x.usPerUnit) / total, 1)} µs)`);
      rows.push(['  Redis time by script (SLOWLOG, 3 s after the window)', shares.join(', '), '', '']);
    }
    rows.push(['cores used (throughput)', Object.entries(t.cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', '), '', '']);
  }
  if (r.latency) {
    const l = r.latency;
    rows.push([`latency, ${l.guestsPerEvent}-guest events at ${l.ratePerSecond}/s (n=${l.events})`, `p50 ${l.p50} / p95 ${l.p95} / p99 ${l.p99} / max ${l.max} ms`, '', '']);
    for (const h of l.hops?.hops ?? []) rows.push([`  hop: ${h.hop}`, `mean ${h.meanMs} / p50 ${h.p50Ms} / p99 ${h.p99Ms} ms`, '', '']);
    if (l.hops) rows.push(['  hops add up to (mean, published -> host)', `${l.hops.totalMeanMs} ms over ${l.hops.events} events`, '', '']);
    if (l.redisTime) {
      rows.push(redisTimeRow(l.redisTime));
    }
    for (const r of l.readers ?? []) {
      rows.push([`  reader: ${r.process} ${r.stream}`, `wait mean ${r.waitMeanMs} ms (${r.entries} entries), handling mean ${r.processingMeanMs} ms (${r.batches} batches)`, '', '']);
    }
  }
  if (r.fanout) {
    const f = r.fanout;
    rows.push([`fan-out ${fmt(f.guests)} guests on ${f.agents} agents: all deliveries`, `${(f.toAllDeliveriesMs / 1000).toFixed(2)} s`, '', '']);
    rows.push([`fan-out ${fmt(f.guests)} guests: summary at host`, `${(f.toSummaryMs / 1000).toFixed(2)} s (${f.answered} answered, ${f.reason})`, '', '']);
    rows.push(['fan-out counting rate', `${fmt(f.countingRate)} RSVP/s`, `ioredis ${fmt(b.ioredisXadd)}/s`, b.ioredisXadd ? `${(f.countingRate / b.ioredisXadd).toFixed(3)} x` : '']);
  }
  if (r.priority) {
    const p = r.priority;
    rows.push([
      `priority lane: 1 high-priority invitation behind ${fmt(p.backlog)} normal (${p.guestsPerEvent} guests each)`,
      `urgent: ${p.urgentToSummaryMs} ms to summary (${fmt(p.backlogDoneBeforeUrgent)} of the backlog summarized before it)`,
      `backlog: p50 ${(p.backlogToSummaryMs.p50 / 1000).toFixed(2)} s, p99 ${(p.backlogToSummaryMs.p99 / 1000).toFixed(2)} s, max ${(p.backlogToSummaryMs.max / 1000).toFixed(2)} s`,
      p.backlogToSummaryMs.max > 0 ? `${(p.urgentToSummaryMs / p.backlogToSummaryMs.max).toFixed(3)} x the backlog's last` : '',
    ]);
    rows.push(['  the urgent event\u2019s path (ms after its invitation)', Object.entries(p.urgentPath).map(([k, v]) => `${k} ${v}`).join(', '), '', '']);
  }
  for (const p of r.peers ?? []) {
    const ours = r.throughput?.rsvpPerSecond;
    rows.push([
      `peer ${p.system}: throughput (same layout, ${r.options.eventGuests}-guest events)`,
      `${fmt(p.rsvpPerSecond)} RSVP/s, ${p.cpuPerRsvpUs} µs CPU/RSVP`,
      ours ? `ours ${fmt(ours)} RSVP/s` : '',
      ours && p.rsvpPerSecond > 0 ? `ours = ${(ours / p.rsvpPerSecond).toFixed(2)} x` : '',
    ]);
    rows.push([
      `peer ${p.system}: latency, ${r.options.latencyGuests}-guest events at ${r.options.latencyRate}/s (n=${p.latency.events})`,
      `p50 ${p.latency.p50} / p99 ${p.latency.p99} / max ${p.latency.max} ms`,
      r.latency ? `ours p50 ${r.latency.p50} / p99 ${r.latency.p99} ms` : '',
      r.latency && p.latency.p99 > 0 ? `ours = ${(r.latency.p99 / p.latency.p99).toFixed(2)} x its p99` : '',
    ]);
  }
  for (const s of r.scaling ?? []) {
    rows.push([
      `scaling: ${s.coordinators} coord, ${s.agents} agents`,
      `${fmt(s.rsvpPerSecond)} RSVP/s, ${s.cpuPerRsvpUs} µs CPU/RSVP (others ${(s.cpu.others ?? 0).toFixed(2)} cores)`,
      `ioredis ${fmt(b.ioredisXadd)}/s`,
      `${s.ratioToIoredis.toFixed(3)} x`,
    ]);
  }
  for (const s of r.stalls ?? []) {
    rows.push([
      `longest Redis stall: ${s.scenario}`,
      `${s.longestMs} ms PING round trip (p99 ${s.p99Ms} ms, ${s.over5ms} of ${fmt(s.pings)} over 5 ms)`,
      `Redis' longest command ${s.redisLongestCommandMs} ms${slowestLogged(r, s.scenario)}${otherLatencyEvents(s)}`,
      `load ${s.loadAverage}`,
    ]);
  }
  if (r.soak) {
    const s = r.soak;
    rows.push([`soak ${s.durationS} s at ${fmt(s.rsvpPerSecond)} RSVP/s (retention ${s.retentionS} s, janitor every ${s.janitorIntervalMs} ms)`, `Redis ${s.redisUsedMemoryMB.start} -> ${s.redisUsedMemoryMB.end} MB (max ${s.redisUsedMemoryMB.max})`, '', '']);
    rows.push(['soak growth after warm-up', Object.entries(s.growth).map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`).join(', '), '', '']);
    if (s.cpuPerRsvpUs) rows.push(['soak CPU µs per RSVP by process (fixed rate)', Object.entries(s.cpuPerRsvpUs).map(([k, v]) => `${k} ${v}`).join(', '), '', '']);
    if (s.secondHalfGrowth) rows.push(['soak growth over the second half (levels off?)', Object.entries(s.secondHalfGrowth).map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`).join(', '), '', '']);
    rows.push(['Redis bytes per retained RSVP', `${fmt(s.bytesPerRetainedRsvp)} B (${fmt(s.retainedRsvps)} retained)`, '', '']);
  }
  return rows;
}

export function printReport(r: BenchResults): string {
  const lines = [
    '',
    `event-planner benchmark ${r.runId} (${r.mode}) on ${r.machine.cores} cores, Node ${r.machine.node}, Redis ${r.machine.redis}`,
    '',
    table(resultRows(r)),
    '',
    table([['target', 'wanted', 'measured', ''], ...r.targets.map((t) => [t.name, t.target, t.value, mark(t.met)])]),
  ];
  if (r.errors.length > 0) lines.push('', ...r.errors.map((e) => `scenario ${e.scenario} failed: ${e.error}`));
  return `${lines.join('\n')}\n`;
}

export function markdownSection(r: BenchResults, jsonPath: string, charts: string[]): string {
  const m = r.machine;
  const out = [
    `### ${r.startedAt.replace('T', ' ').slice(0, 16)} UTC — ${r.mode} run \`${r.runId}\``,
    '',
    `${m.cores} cores (${m.cpuModel}), ${m.memoryGB} GiB, ${m.os}; Node ${m.node}; Redis ${m.redis} (private, ${r.options.aof === 'no-aof' ? 'no AOF' : `AOF appendfsync ${r.options.aof}`}${r.options.redisRealtime ? ', Redis and the stall probe at real-time priority (--redis-rt)' : ''}, same machine). JSON: \`${jsonPath}\` (not committed).`,
    '',
    mdTable(resultRows(r)),
    '',
    mdTable([['target', 'wanted', 'measured', ''], ...r.targets.map((t) => [t.name, t.target, t.value, mark(t.met)])]),
  ];
  if (r.throughput) {
    out.push('', `Command mix per RSVP (throughput, INFO commandstats delta): ${r.throughput.commandMix.slice(0, 10).map((c) => `${c.command} ${c.perRsvp}`).join(', ')}.`);
    if (r.throughput.slowlog.length > 0) out.push('', `SLOWLOG (> 2 ms) during throughput: ${r.throughput.slowlog.slice(0, 3).map((s) => `${(s.durationUs / 1000).toFixed(1)} ms \`${s.command}\``).join('; ')}.`);
  }
  if (r.fanout?.slowlog.length) out.push('', `SLOWLOG (> 10 ms) during fan-out: ${r.fanout.slowlog.slice(0, 4).map((s) => `${(s.durationUs / 1000).toFixed(1)} ms \`${s.command}\``).join('; ')}.`);
  if (r.priority?.slowlog.length) out.push('', `SLOWLOG (> 10 ms) during priority: ${r.priority.slowlog.slice(0, 4).map((s) => `${(s.durationUs / 1000).toFixed(1)} ms \`${s.command}\``).join('; ')}.`);
  if (r.peers?.length) {
    out.push('', 'What each system guarantees (next to its figures above):', '');
    for (const name of ['event-planner', ...r.peers.map((p) => p.system)] as const) out.push(`- **${name}**: ${guaranteesOf[name]}`);
  }
  out.push('', `Load average (1 min) when each scenario's stack stopped: ${(r.stalls ?? []).map((s) => `${s.scenario} ${s.loadAverage}`).join(', ') || 'n/a'}; at the start ${r.machine.loadAverageAtStart.join(' / ')}.`);
  if (r.errors.length > 0) out.push('', ...r.errors.map((e) => `- scenario **${e.scenario}** failed: ${e.error.split('\n')[0]}`));
  // Charts are redrawn by every run, so a log entry names them instead of embedding a picture
  // that a later run will have replaced.
  if (charts.length > 0) out.push('', `Charts from this run (until the next one redraws them): ${charts.map((c) => `\`docs/${c}\``).join(', ')}.`);
  return `${out.join('\n')}\n\n`;
}

export function writeJson(r: BenchResults, outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${r.runId}.json`);
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}

/** Writes the charts the run has data for; returns their file names (relative to docsDir). */
export function writeCharts(r: BenchResults, docsDir: string): string[] {
  mkdirSync(docsDir, { recursive: true });
  const written: string[] = [];
  const sub = `${r.machine.cores} cores, Node ${r.machine.node}, Redis ${r.machine.redis}, run ${r.runId}`;
  if (r.latency && r.latency.cdf.length > 0) {
    const l = r.latency;
    writeFileSync(
      join(docsDir, 'bench-latency-cdf.svg'),
      lineChart({
        title: `Invitation -> summary at the host, ${l.guestsPerEvent}-guest events (n=${l.events})`,
        subtitle: `${sub}; p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms`,
        xLabel: 'latency (ms, log scale)',
        yLabel: 'share of events at or below',
        xLog: true,
        xMin: 1,
        yMin: 0,
        yMax: 1,
        yFormat: (v) => `${Math.round(v * 100)}%`,
        series: [
          { name: 'CDF', points: l.cdf.map((p) => ({ x: Math.max(1, p.ms), y: p.share })) },
          { name: 'p99 target (20 ms)', points: [{ x: 20, y: 0 }, { x: 20, y: 1 }], color: '#dc2626' },
        ],
      }),
    );
    written.push('bench-latency-cdf.svg');
  }
  const tp = r.throughput;
  if (tp && tp.series.length > 0) {
    const series = [{ name: `throughput: ${tp.shape.coordinators} coord, ${tp.shape.agents} agents`, points: tp.series.map((p) => ({ x: p.t, y: p.rate })) }];
    const levels = [
      { name: '30k target', points: [], level: 30_000, color: '#dc2626' },
      ...(r.baselines.ioredisXadd ? [{ name: `0.3 x ioredis loop (${compact(0.3 * r.baselines.ioredisXadd)})`, points: [], level: 0.3 * r.baselines.ioredisXadd, color: '#9333ea' }] : []),
    ];
    writeFileSync(
      join(docsDir, 'bench-throughput.svg'),
      lineChart({
        title: 'RSVPs counted by the coordinator per second',
        subtitle: `${sub}; first ${r.options.warmupS} s are warm-up`,
        xLabel: 'seconds since load start',
        yLabel: 'RSVP/s',
        yMin: 0,
        series: [...series, ...levels],
      }),
    );
    written.push('bench-throughput.svg');
  }
  if (r.soak && r.soak.samples.length > 1) {
    const s = r.soak;
    writeFileSync(
      join(docsDir, 'bench-soak-memory.svg'),
      lineChart({
        title: `Soak: memory at ${fmt(s.rsvpPerSecond)} RSVP/s, retention ${s.retentionS} s`,
        subtitle: `${sub}; warm-up ${s.warmupS} s; growth after warm-up ${(s.growth.redis_used_memory! * 100).toFixed(1)} %`,
        xLabel: 'seconds',
        yLabel: 'MB',
        yMin: 0,
        series: [
          { name: 'Redis used_memory', points: s.samples.map((p) => ({ x: p.t, y: p.usedMemory / 1e6 })) },
          ...Object.keys(s.samples[0]!.rss).map((label) => ({ name: `${label} RSS`, points: s.samples.map((p) => ({ x: p.t, y: (p.rss[label] ?? 0) / 1e6 })) })),
        ],
      }),
    );
    written.push('bench-soak-memory.svg');
  }
  return written;
}

export function appendMarkdown(r: BenchResults, docsDir: string, jsonPath: string, charts: string[]): string {
  const file = join(docsDir, 'BENCHMARKS.md');
  if (!existsSync(file)) writeFileSync(file, '# Benchmarks\n\n## Results log\n\n');
  appendFileSync(file, markdownSection(r, jsonPath, charts));
  return file;
}

/** Redis time per unit by command and script (scripts/bench/redis-time.ts), the largest first. */
function redisTimeRow(r: RedisTimeBreakdown): string[] {
  const top = r.rows.slice(0, 6).map((x) => `${x.command} ${x.usPerUnit} (${x.callsPerUnit}x)`).join(', ');
  return [`  Redis time per ${r.unit} (SLOWLOG over ${r.units} more, µs)`, `${r.usPerUnit} µs: ${top}`, '', ''];
}
