// The host's application of event_activity one entry at a time against a batch at a time
// (read-model.ts, applyActivities): a fresh redis-server, events whose guests are invited and then
// answer in reply entries as the coordinator reports them (several events' entries interleaved),
// applied either entry by entry or in batches of `batch` entries (as a consumer reads them). Per
// reply: apply-changes calls and their Redis time (INFO commandstats), HMGET time, and the host's
// CPU (process.cpuUsage); the two ways alternate each round, on the same Redis.
//   node scripts/bench/activity-batch-micro.ts [events=10] [guests=1000] [replies per entry=25] [batch=20] [rounds=3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ReadModel } from '../../services/host/read-model/read-model.ts';
import { RedisServerProcess } from '../../services/launcher/redis-server.ts';
import type { Activity, GuestChange } from '../../services/shared/schema/activity.ts';
import { commandStats, diffStats } from './redis-info.ts';

const [events = 10, guests = 1000, perEntry = 25, batch = 20, rounds = 3] = process.argv.slice(2).map(Number);

const dir = mkdtempSync(join(tmpdir(), 'ep-batch-micro-'));
const server = await new RedisServerProcess({ dir }).start();
const redis = new Redis(server.url);
const model = new ReadModel(redis, { feedMaxLen: 1000, retentionMs: 3_600_000 });
let clock = Date.now();
const nextId = (): string => `${(clock += 1)}-0`;

const counts = { invited: guests, accepted: 0, declined: 0, tentative: 0, needs_action: guests, confirmed: 0, headcount: 0, waitlisted: 0, stale: 0, late: 0, rejected: 0, reminders_sent: 0, never_asked: 0 };
const guest = (i: number, change: Partial<GuestChange>): GuestChange => ({ guest_id: `guest-${i}@bench-agent-${i % 2}`, guest_name: `Guest Number ${i}`, outcome: 'counted', state: 'accepted', ...change });

/** The entries of one round: each event's invitation, then its replies, the events' entries interleaved. */
function entriesOf(round: string): { id: string; activity: Activity }[] {
  const ids = Array.from({ length: events }, (_, e) => `${round}-${e}`);
  const out: Activity[] = ids.map((id) => ({ type: 'version', at: Date.now(), events: [{ invitation_id: id, host_id: 'bench', sequence: 0, revision: 1, status: 'open', counts, guests: Array.from({ length: guests }, (_, i) => guest(i, { outcome: 'invited', state: 'needs_action' })) }] }));
  for (let start = 0; start < guests; start += perEntry) {
    for (const id of ids) {
      const replies = Array.from({ length: Math.min(perEntry, guests - start) }, (_, k) => guest(start + k, { reply_rev: 0, plus_ones: 0, message: 'Count me in!' }));
      out.push({ type: 'replies', at: Date.now(), events: [{ invitation_id: id, host_id: 'bench', sequence: 0, revision: 1, status: 'open', counts: { ...counts, accepted: start + replies.length }, guests: replies }] });
    }
  }
  return out.map((activity) => ({ id: nextId(), activity }));
}

async function measure(mode: 'one by one' | 'batch', round: number): Promise<Record<string, number>> {
  const entries = entriesOf(`r${round}-${mode === 'batch' ? 'b' : 'o'}`);
  const before = await commandStats(redis);
  const cpu = process.cpuUsage();
  const started = performance.now();
  if (mode === 'batch') {
    for (let i = 0; i < entries.length; i += batch) await model.applyActivities(entries.slice(i, i + batch), 'bench');
  } else {
    for (const { id, activity } of entries) await model.applyActivity(id, activity, 'bench');
  }
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const stats = diffStats(before, await commandStats(redis));
  const replies = events * guests;
  return {
    'apply-changes calls per 1,000 replies': ((stats.evalsha?.calls ?? 0) / replies) * 1000,
    'apply-changes µs per reply': (stats.evalsha?.usec ?? 0) / replies,
    'hmget µs per reply': (stats.hmget?.usec ?? 0) / replies,
    'host CPU µs per reply': (used.user + used.system) / replies,
    'wall µs per reply': (wall * 1000) / replies,
  };
}

try {
  const results: Record<string, Record<string, number>[]> = { 'one by one': [], batch: [] };
  for (let round = 0; round < rounds; round += 1) {
    for (const mode of round % 2 === 0 ? (['one by one', 'batch'] as const) : (['batch', 'one by one'] as const)) results[mode]!.push(await measure(mode, round));
  }
  console.log(`${events} events × ${guests} guests, ${perEntry} replies per entry, batches of ${batch} entries, ${rounds} rounds (median)`);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const metric of Object.keys(results['one by one']![0]!)) {
    const one = median(results['one by one']!.map((r) => r[metric]!));
    const many = median(results.batch!.map((r) => r[metric]!));
    console.log(`${metric.padEnd(40)} one by one ${one.toFixed(2).padStart(9)}   batch ${many.toFixed(2).padStart(9)}   ratio ${(many / one).toFixed(2)}`);
  }
} finally {
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
