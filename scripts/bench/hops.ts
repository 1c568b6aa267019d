// Where an event's time goes (issue 17, item 1): the path of each event of the latency scenario,
// hop by hop, from timestamps the system leaves anyway. Stream entry ids are the Redis clock in ms
// when each entry was added; the coordinator records when it applied the revision (invited_at);
// the host logs when it received the summary. Every clock is this machine's, so the hops add up
// to the end-to-end latency. Millisecond timestamps make single hops coarse; the means over
// hundreds of events are not.
import type { Redis } from 'ioredis';
import { entryIdTime } from '../../services/shared/util/time.ts';
import type { SummarySeen } from './driver.ts';

export const hopNames = [
  'published -> applied by a coordinator (read, parse, registry, script)',
  'applied -> deliveries written (outbox drained)',
  'deliveries written -> first reply written (agent read, decide, XADD)',
  'first reply -> last reply written',
  'last reply written -> summary written (read, count, close, drain)',
  'summary written -> read by the host',
] as const;

export interface HopStat {
  hop: string;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

export interface HopBreakdown {
  events: number;
  hops: HopStat[];
  /** Mean end-to-end (published -> host) of the same events, ms. */
  totalMeanMs: number;
}

/** Reads the entries of the events' path from Redis and computes each hop per event. */
export async function eventHops(client: Redis, seen: SummarySeen[], inboxes: string[]): Promise<HopBreakdown> {
  const ids = new Set(seen.map((s) => s.eventId));
  const deliveries = new Map<string, number>();
  for (const inbox of inboxes) {
    for (const [entryId, fields] of await readStream(client, inbox)) {
      const id = field(fields, 'invitation_id');
      if (id && ids.has(id)) deliveries.set(id, Math.max(deliveries.get(id) ?? 0, entryIdTime(entryId)));
    }
  }
  const replies = new Map<string, { first: number; last: number }>();
  for (const [entryId, fields] of await readStream(client, 'guest_responses')) {
    const id = field(fields, 'invitation_id');
    if (!id || !ids.has(id)) continue;
    const t = entryIdTime(entryId);
    const r = replies.get(id) ?? { first: t, last: t };
    r.first = Math.min(r.first, t);
    r.last = Math.max(r.last, t);
    replies.set(id, r);
  }
  const summaries = new Map<string, number>();
  for (const [entryId, fields] of await readStream(client, 'event_summaries')) {
    const id = field(fields, 'invitation_id');
    if (id && ids.has(id)) summaries.set(id, entryIdTime(entryId));
  }
  const pipeline = client.pipeline();
  for (const s of seen) pipeline.hget(`event:{${s.eventId}}`, 'invited_at');
  const applied = ((await pipeline.exec()) ?? []).map(([, v]) => Number(v));

  const per: number[][] = hopNames.map(() => []);
  const totals: number[] = [];
  seen.forEach((s, i) => {
    const d = deliveries.get(s.eventId);
    const r = replies.get(s.eventId);
    const w = summaries.get(s.eventId);
    const a = applied[i]!;
    if (d === undefined || r === undefined || w === undefined || !Number.isFinite(a) || a <= 0) return;
    const points = [s.publishedAt, a, d, r.first, r.last, w, s.receivedAt];
    for (let h = 0; h < hopNames.length; h += 1) per[h]!.push(points[h + 1]! - points[h]!);
    totals.push(s.receivedAt - s.publishedAt);
  });
  const stat = (xs: number[], hop: string): HopStat => {
    const sorted = xs.slice().sort((x, y) => x - y);
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
    return { hop, meanMs: Math.round((xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length)) * 100) / 100, p50Ms: at(0.5), p99Ms: at(0.99) };
  };
  return {
    events: totals.length,
    hops: hopNames.map((name, h) => stat(per[h]!, name)),
    totalMeanMs: Math.round((totals.reduce((x, y) => x + y, 0) / Math.max(1, totals.length)) * 100) / 100,
  };
}

async function readStream(client: Redis, stream: string): Promise<[string, string[]][]> {
  const out: [string, string[]][] = [];
  let start = '-';
  for (;;) {
    const part = (await client.xrange(stream, start, '+', 'COUNT', 5_000)) as [string, string[]][];
    out.push(...part);
    if (part.length < 5_000) return out;
    start = `(${part[part.length - 1]![0]}`;
  }
}

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** One stream as one process read it: mean wait before reading, mean time handling a batch. */
export interface ReaderStat {
  process: string;
  stream: string;
  /** Entries read. */
  entries: number;
  /** Mean ms from an entry's id (when it was added) to the consumer receiving it. */
  waitMeanMs: number;
  /** Batches handled and the mean ms spent on one. */
  batches: number;
  processingMeanMs: number;
}

/**
 * Inside the hops: each role's own histograms (event_planner_stream_wait_seconds and
 * _processing_seconds), per stream. A hop much longer than its reader's wait plus processing is
 * time spent after the handler (acknowledging, draining) or in the writer; a long wait is a reader
 * that was busy or a read loop that was not blocked in XREADGROUP when the entry came.
 */
export function readerStats(process: string, metricsText: string): ReaderStat[] {
  const sums = new Map<string, { wait: number; waitCount: number; proc: number; procCount: number }>();
  for (const line of metricsText.split('\n')) {
    const m = /^event_planner_stream_(wait|processing)_seconds_(sum|count)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const stream = /stream="([^"]*)"/.exec(m[3]!)?.[1] ?? '?';
    const s = sums.get(stream) ?? { wait: 0, waitCount: 0, proc: 0, procCount: 0 };
    const v = Number(m[4]);
    if (m[1] === 'wait' && m[2] === 'sum') s.wait += v;
    else if (m[1] === 'wait') s.waitCount += v;
    else if (m[2] === 'sum') s.proc += v;
    else s.procCount += v;
    sums.set(stream, s);
  }
  const ms = (sum: number, count: number) => (count > 0 ? Math.round((sum / count) * 100_000) / 100 : 0);
  return [...sums]
    .filter(([, s]) => s.waitCount > 0)
    .map(([stream, s]) => ({ process, stream, entries: s.waitCount, waitMeanMs: ms(s.wait, s.waitCount), batches: s.procCount, processingMeanMs: ms(s.proc, s.procCount) }));
}
