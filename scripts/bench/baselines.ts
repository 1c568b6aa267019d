import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { sampleReplyFields } from './fixtures.ts';

const run = promisify(execFile);

export interface BaselineResult {
  /** redis-benchmark -P 16 XADD of a reply-shaped entry (50 clients), entries/s. */
  redisBenchmarkXadd: number | null;
  /** One Node process, ioredis, pipelined XADD of the same entry, entries/s. */
  ioredisXadd: number;
  ioredisPipeline: number;
  ioredisInFlight: number;
  /**
   * The machine's intrinsic latency (`redis-cli --intrinsic-latency`, at real-time priority when
   * the run has --redis-rt): the longest a process that only spins was kept off the CPU, ms. No
   * Redis on this machine can answer a PING faster than this in the worst case; null without redis-cli.
   */
  intrinsicLatencyMs?: number | null;
  note?: string;
}

/** Pipelines of 200 with two in flight: the fastest shape measured for ioredis on this machine. */
const pipelineSize = 200;
const inFlight = 2;

export async function redisBenchmarkXadd(port: number, requests: number): Promise<number | null> {
  try {
    const { stdout } = await run(
      'redis-benchmark',
      ['-h', '127.0.0.1', '-p', String(port), '-P', '16', '-n', String(requests), '--csv', 'XADD', 'bench:redis_benchmark', '*', ...sampleReplyFields()],
      { timeout: 300_000, maxBuffer: 1 << 20 },
    );
    const row = stdout.trim().split('\n').pop() ?? '';
    const rps = Number(/^"[^"]*(?:""[^"]*)*","([\d.]+)"/.exec(row)?.[1] ?? /,"([\d.]+)",/.exec(row)?.[1]);
    return Number.isFinite(rps) && rps > 0 ? rps : null;
  } catch {
    return null;
  }
}

export async function ioredisXadd(url: string, seconds: number): Promise<number> {
  const script = join(import.meta.dirname, 'xadd-loop.ts');
  const { stdout } = await run(process.execPath, [script, url, String(seconds), String(pipelineSize), String(inFlight)], { timeout: (seconds + 60) * 1000 });
  return (JSON.parse(stdout.trim()) as { rate: number }).rate;
}

/**
 * redis-cli --intrinsic-latency for `seconds` (one core busy meanwhile): the worst delay the kernel
 * and the hypervisor put on a runnable process, which bounds what the stall probe can show whatever
 * Redis does. Always at normal priority, also with --redis-rt: a spinning process at real-time
 * priority is throttled by the kernel's real-time budget (sched_rt_runtime_us, by default 950 of
 * every 1,000 ms), so under chrt it measured that 50 ms throttle, not the machine (seen here: 0.45
 * ms at normal priority, 50-53 ms under chrt, minutes apart). Redis itself never spins.
 */
export async function intrinsicLatencyMs(seconds: number): Promise<number | null> {
  const cli = ['redis-cli', '--intrinsic-latency', String(Math.max(1, Math.round(seconds)))];
  try {
    const { stdout } = await run(cli[0]!, cli.slice(1), { timeout: (seconds + 30) * 1000, maxBuffer: 1 << 20 });
    const all = [...stdout.matchAll(/Max latency so far: (\d+) microseconds/g)];
    const us = Number(all[all.length - 1]?.[1]);
    return Number.isFinite(us) ? Math.round(us / 10) / 100 : null;
  } catch {
    return null;
  }
}

/** Both baselines against the scenario's own Redis, streams deleted afterwards. */
export async function measureBaselines(client: Redis, url: string, port: number, seconds: number): Promise<BaselineResult> {
  // redis-benchmark runs a fixed number of requests: size it to last about `seconds` at ~400k/s.
  const rb = await redisBenchmarkXadd(port, Math.max(20_000, Math.round(seconds * 400_000)));
  await client.del('bench:redis_benchmark');
  const io = await ioredisXadd(url, seconds);
  return {
    redisBenchmarkXadd: rb,
    ioredisXadd: io,
    ioredisPipeline: pipelineSize,
    ioredisInFlight: inFlight,
    ...(rb === null ? { note: 'redis-benchmark not available (Debian package redis-tools)' } : {}),
  };
}
