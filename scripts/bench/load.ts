import * as hdr from 'hdr-histogram-js';
import type { EventDriver, SummarySeen } from './driver.ts';
import { type CommandStats, commandStats, diffStats, totalCalls } from './redis-info.ts';
import { type Sample, cpuShares, takeSample } from './sampler.ts';
import type { BenchStack } from './stack.ts';

export interface LoadOptions {
  /** Prefix of invitation ids (unique per run). */
  idPrefix: string;
  /** Events published but not summarized yet, at most. */
  window: number;
  durationMs: number;
  /** Excluded from the measurement (JIT warm-up, first registry reads, first AOF growth). */
  warmupMs: number;
  /** Open loop at this many events per second (still capped by `window`); closed loop when absent. */
  eventsPerSecond?: number;
  sampleEveryMs?: number;
  /** Called after every sample (progress bar, soak bookkeeping). */
  onSample?: (sample: Sample) => void | Promise<void>;
}

export interface LoadResult {
  samples: Sample[];
  /** Replies counted per second in the measured window (after warm-up). */
  rsvpPerSecond: number;
  measuredSeconds: number;
  countedInWindow: number;
  eventsPublished: number;
  eventsSummarized: number;
  /** Every Redis command executed in the window (script-internal ones included), by command. */
  commands: CommandStats;
  commandsPerRsvp: number;
  /** Cores used by each process in the window (1.0 = one core). */
  cpu: Record<string, number>;
  /** Invitation -> summary of the events summarized in the window, ms. */
  endToEnd: { p50: number; p99: number; max: number; count: number };
}

/**
 * Keeps invitations flowing through the real host and measures what the coordinators count.
 * Closed loop by default (a new event whenever one is summarized, `window` at once), which finds
 * the maximum; open loop at a fixed event rate for the soak.
 */
export async function runLoad(stack: BenchStack, driver: EventDriver, opts: LoadOptions): Promise<LoadResult> {
  const startedAt = Date.now();
  const endAt = startedAt + opts.durationMs;
  const measureFrom = startedAt + opts.warmupMs;
  const samples: Sample[] = [];
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 3 });
  let outstanding = 0;
  let published = 0;
  let summarized = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;

  const off = driver.onSummary((s: SummarySeen) => {
    outstanding -= 1;
    summarized += 1;
    if (s.receivedAt >= measureFrom) histogram.recordValue(Math.max(1, s.receivedAt - s.publishedAt));
    wake?.();
  });

  const publisher = (async () => {
    const interval = opts.eventsPerSecond ? 1000 / opts.eventsPerSecond : 0;
    let next = Date.now();
    while (Date.now() < endAt && !failure) {
      if (outstanding >= opts.window) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
        wake = undefined;
        continue;
      }
      if (interval > 0) {
        const wait = next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, endAt - Date.now())));
        next += interval;
        if (Date.now() >= endAt) break;
      }
      outstanding += 1;
      published += 1;
      // Publishing is awaited one at a time in the closed loop; the window keeps enough in flight.
      await driver.publish(`${opts.idPrefix}-${published}`).catch((error: unknown) => {
        failure = error as Error;
      });
    }
  })();

  let before: { sample: Sample; stats: CommandStats } | undefined;
  const every = opts.sampleEveryMs ?? 1_000;
  while (Date.now() < endAt && !failure) {
    await new Promise((r) => setTimeout(r, Math.min(every, endAt - Date.now())));
    const sample = await takeSample(stack, startedAt);
    samples.push(sample);
    if (!before && Date.now() >= measureFrom) before = { sample, stats: await commandStats(stack.client) };
    await opts.onSample?.(sample);
    for (const p of stack.processes) if (!p.running) throw new Error(`${p.label} died during the load:\n${p.lastLines()}`);
  }
  const after = { sample: samples[samples.length - 1]!, stats: await commandStats(stack.client) };
  await publisher;
  off();
  if (failure) throw failure;
  before ??= { sample: samples[0]!, stats: after.stats };

  const dt = after.sample.t - before.sample.t;
  const counted = after.sample.counted - before.sample.counted;
  const commands = diffStats(before.stats, after.stats);
  return {
    samples,
    rsvpPerSecond: dt > 0 ? counted / dt : 0,
    measuredSeconds: dt,
    countedInWindow: counted,
    eventsPublished: published,
    eventsSummarized: summarized,
    commands,
    commandsPerRsvp: counted > 0 ? totalCalls(commands) / counted : 0,
    cpu: cpuShares(before.sample, after.sample),
    endToEnd: {
      p50: histogram.totalCount ? histogram.getValueAtPercentile(50) : 0,
      p99: histogram.totalCount ? histogram.getValueAtPercentile(99) : 0,
      max: histogram.totalCount ? histogram.maxValue : 0,
      count: histogram.totalCount,
    },
  };
}
