import { readFileSync } from 'node:fs';
import { info } from './redis-info.ts';
import { type BenchStack, cpuSecondsOf } from './stack.ts';

/** One observation of the whole stack, taken about once a second. */
export interface Sample {
  /** Seconds since the scenario's load started. */
  t: number;
  /** Replies counted by all coordinators so far. */
  counted: number;
  redisUsedMemory: number;
  /** Resident memory by process label (redis included), bytes. */
  rss: Record<string, number>;
  /** CPU seconds used so far by process label (redis included), and `machine` for all processes. */
  cpu: Record<string, number>;
}

/** CPU seconds the whole machine has been busy (all cores, all processes), from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
    return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
  } catch {
    return 0;
  }
}

export async function takeSample(stack: BenchStack, startedAt: number): Promise<Sample> {
  const coordinators = stack.byRole('coordinator');
  const counts = await Promise.all(coordinators.map((c) => c.metric('event_planner_reply_outcomes_total', { outcome: 'counted' }).catch(() => 0)));
  const memory = await info(stack.client, 'memory');
  const rss: Record<string, number> = { redis: stack.redisRssBytes() };
  const cpu: Record<string, number> = { redis: cpuSecondsOf(stack.redis.pid) };
  for (const p of stack.processes) {
    rss[p.label] = p.rssBytes();
    cpu[p.label] = cpuSecondsOf(p.pid);
  }
  const own = process.cpuUsage();
  cpu['bench-driver'] = (own.user + own.system) / 1e6;
  cpu.machine = machineBusySeconds();
  return {
    t: (Date.now() - startedAt) / 1000,
    counted: counts.reduce((a, b) => a + b, 0),
    redisUsedMemory: Number(memory.used_memory ?? 0),
    rss,
    cpu,
  };
}

/** Share of one core each process used between two samples (1.0 = one core fully busy). */
export function cpuShares(a: Sample, b: Sample): Record<string, number> {
  const dt = b.t - a.t;
  const out: Record<string, number> = {};
  for (const [label, seconds] of Object.entries(b.cpu)) out[label] = dt > 0 ? (seconds - (a.cpu[label] ?? 0)) / dt : 0;
  // What the machine did besides this benchmark (other users of a shared box, the bench driver).
  const ours = Object.entries(out).reduce((sum, [label, v]) => (label === 'machine' ? sum : sum + v), 0);
  out.others = Math.max(0, (out.machine ?? 0) - ours);
  return out;
}

/** Replies counted per second between consecutive samples: the throughput-over-time series. */
export function rateSeries(samples: Sample[]): { t: number; rate: number }[] {
  const out: { t: number; rate: number }[] = [];
  for (let i = 1; i < samples.length; i += 1) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const dt = b.t - a.t;
    if (dt > 0) out.push({ t: Number(b.t.toFixed(2)), rate: Math.round((b.counted - a.counted) / dt) });
  }
  return out;
}
