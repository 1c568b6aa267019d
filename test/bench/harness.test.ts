import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBench } from '../../scripts/bench/index.ts';
import { parseOptions } from '../../scripts/bench/options.ts';
import { lineChart } from '../../scripts/bench/svg.ts';

// The harness in a tiny configuration: it must run every scenario end to end against real
// processes and produce well-formed results. Nothing here looks at how fast anything was.
const out = mkdtempSync(join(tmpdir(), 'ep-bench-test-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench in a tiny configuration', () => {
  it('runs every scenario and writes a complete JSON result, charts and a markdown section', async () => {
    const opts = parseOptions(
      [
        '--quick',
        '--no-progress',
        '--duration', '2',
        '--warmup', '1',
        '--event-guests', '40',
        '--window', '4',
        '--latency-events', '6',
        '--latency-rate', '20',
        '--latency-guests', '10',
        '--fanout-guests', '600',
        '--priority-backlog', '20',
        '--soak', '4',
        '--soak-retention', '1',
        '--scaling', '1',
        '--baseline', '1',
        '--out', out,
      ],
      {},
    );
    opts.docs = true;
    opts.docsDir = join(out, 'docs');
    const run = await runBench(opts);
    const r = run.results;

    expect(r.errors).toEqual([]);
    expect(JSON.parse(readFileSync(run.jsonPath, 'utf8'))).toEqual(JSON.parse(JSON.stringify(r)));
    expect(r.machine.cores).toBeGreaterThan(0);
    expect(r.machine.redis).toMatch(/^\d+\.\d+/);
    expect(r.baselines.ioredisXadd).toBeGreaterThan(0);
    // How long the machine itself kept a spinning process off the CPU: the floor of any PING stall.
    expect(r.baselines.before!.intrinsicLatencyMs).toBeGreaterThan(0);

    const t = r.throughput!;
    expect(t.counted).toBeGreaterThan(0);
    expect(t.rsvpPerSecond).toBeGreaterThan(0);
    expect(t.ratioToIoredis).toBeGreaterThan(0);
    expect(t.commandsPerRsvp).toBeGreaterThan(0);
    expect(t.commandMix.map((c) => c.command)).toContain('xadd');
    expect(t.series.length).toBeGreaterThan(0);

    const l = r.latency!;
    expect(l.events).toBe(6);
    expect(l.p50).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.max);
    expect(l.cdf.at(-1)!.share).toBe(1);
    // The per-hop breakdown covers every measured event and its hops add up to the latency.
    expect(l.hops!.events).toBe(6);
    expect(l.hops!.hops).toHaveLength(6);
    const hopSum = l.hops!.hops.reduce((sum, h) => sum + h.meanMs, 0);
    expect(Math.abs(hopSum - l.hops!.totalMeanMs)).toBeLessThan(0.1);

    const f = r.fanout!;
    expect(f.answered).toBe(600);
    expect(f.reason).toBe('all_replied');
    expect(f.deliveryEntries).toBeGreaterThanOrEqual(2);
    expect(f.toAllDeliveriesMs).toBeLessThanOrEqual(f.toSummaryMs);

    const p = r.priority!;
    expect(p.summaries).toBe(21);
    expect(p.backlog).toBe(20);
    expect(p.urgentPath.summary).toBe(p.urgentToSummaryMs);

    // The peers ran with every summary checked (a wrong or missing one fails the scenario).
    expect(r.peers!.map((x) => x.system)).toEqual(['bullmq', 'pubsub']);
    for (const peer of r.peers!) {
      expect(peer.rsvpPerSecond).toBeGreaterThan(0);
      expect(peer.latency.events).toBe(6);
      expect(peer.guarantees.length).toBeGreaterThan(0);
    }

    // The stall probe watched every scenario's Redis.
    expect(r.stalls.map((x) => x.scenario)).toEqual(
      expect.arrayContaining(['throughput', 'latency', 'fan-out', 'priority', 'peers: bullmq', 'peers: pubsub', 'soak', 'scaling-2c-2a']),
    );
    for (const stall of r.stalls) {
      expect(stall.pings).toBeGreaterThan(0);
      expect(stall.longestMs).toBeGreaterThan(0);
      expect(stall.longestMs).toBeGreaterThanOrEqual(stall.p99Ms);
      // Redis' own latency events (threshold 1 ms) come with the stall, the longest command among them.
      expect(stall.redisLongestCommandMs).toBe(stall.redisLatencyEvents.command ?? 0);
    }

    expect(r.scaling!.map((s) => `${s.coordinators}/${s.agents}`)).toEqual(['1/1', '1/2', '1/4', '2/2']);
    const s = r.soak!;
    expect(s.samples.length).toBeGreaterThan(1);
    expect(Object.keys(s.growth)).toEqual(expect.arrayContaining(['redis_used_memory', 'rss_coordinator-1', 'heap_coordinator-1']));
    expect(s.samples[0]!.heap['coordinator-1']).toBeGreaterThan(0);
    expect(Number.isFinite(s.bytesPerRetainedRsvp)).toBe(true);

    expect(r.targets).toHaveLength(8);
    for (const target of r.targets) expect(typeof target.met).toBe('boolean');

    expect(run.charts.sort()).toEqual(['bench-latency-cdf.svg', 'bench-soak-memory.svg', 'bench-throughput.svg']);
    for (const chart of run.charts) expect(readFileSync(join(opts.docsDir, chart), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    const md = readFileSync(join(opts.docsDir, 'BENCHMARKS.md'), 'utf8');
    expect(md).toContain(`run \`${r.runId}\``);
    expect(md).toContain('| target | wanted | measured |');
  }, 420_000);
});

describe('bench options and charts', () => {
  it('reads flags, environment and defaults', () => {
    const quick = parseOptions(['--quick'], {});
    expect(quick).toMatchObject({ quick: true, docs: false, durationS: 5, fanoutGuests: 10_000 });
    const full = parseOptions([], { BENCH_DURATION: '12', BENCH_SCENARIOS: 'throughput,latency' });
    expect(full).toMatchObject({ quick: false, docs: true, durationS: 12, scenarios: ['throughput', 'latency'], fanoutGuests: 100_000, soakS: 600 });
    expect(parseOptions(['--coordinator-env', 'STREAM_BATCH_SIZE=500,STREAM_CONCURRENCY=2000'], {}).coordinatorEnv).toEqual({
      STREAM_BATCH_SIZE: '500',
      STREAM_CONCURRENCY: '2000',
    });
    expect(() => parseOptions(['--scenarios', 'nope'], {})).toThrow(/unknown scenario/);
    expect(parseOptions([], {}).redisRealtime).toBe(false);
    expect(parseOptions(['--redis-rt'], {}).redisRealtime).toBe(true);
    expect(parseOptions([], { BENCH_REDIS_RT: '1' }).redisRealtime).toBe(true);
  });

  it('draws a self-contained SVG with escaped text', () => {
    const svg = lineChart({ title: 'a < b & c', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [{ x: 0, y: 1 }, { x: 1, y: 2 }] }] });
    expect(svg).toContain('a &lt; b &amp; c');
    expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+"/);
  });
});
