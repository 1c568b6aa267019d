// Redis CPU of the host read model alone (services/host/read-model): a fresh redis-server, events
// whose guests are invited, answer in reply batches as the coordinator reports them, and close with
// a summary listing the same answers; Redis' used_cpu (INFO cpu, user + sys) and the scripts' time
// (INFO commandstats, EVALSHA usec) per guest for each phase; then GET's read of one big event
// (the longest single command, by SLOWLOG). Redis is private to the run, so its CPU is all ours.
//   node scripts/bench/read-model-micro.ts [events=20] [guests=500] [big=100000] [rounds=3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ReadModel } from '../../services/host/read-model/read-model.ts';
import { RedisServerProcess } from '../../services/launcher/redis-server.ts';
import { type Activity, type GuestChange, activityFields, parseActivity } from '../../services/shared/schema/activity.ts';
import { parseSummary } from '../../services/shared/schema/summary.ts';
import { type CommandStats, commandStats, diffStats, info, resetSlowlog, slowlog } from './redis-info.ts';

const [events = 20, guests = 500, big = 100_000, rounds = 3] = process.argv.slice(2).map(Number);
const replyBatch = Number(process.env.MICRO_REPLY_BATCH ?? 50);
const states = ['accepted', 'declined', 'tentative'] as const;

const dir = mkdtempSync(join(tmpdir(), 'ep-rm-micro-'));
const server = await new RedisServerProcess({ dir }).start();
const redis = new Redis(server.url);
const model = new ReadModel(redis, { feedMaxLen: 1000, retentionMs: 3_600_000 });
let entry = 0;
const nextId = (): string => `${Date.now()}-${(entry += 1)}`;

/** An activity entry as the host reads it: written as fields, parsed back. */
function activity(a: Activity): Activity {
  const fields = activityFields(a);
  const record: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
  const parsed = parseActivity(record);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

const guestId = (e: string, i: number): string => `guest-${i}.${e}@bench-agent-${i % 2}`;
const name = (i: number): string => `Guest Number ${i}`;
const reply = (e: string, i: number): GuestChange => ({
  guest_id: guestId(e, i),
  guest_name: name(i),
  outcome: 'counted',
  state: states[i % 3]!,
  reply_rev: 0,
  plus_ones: 0,
  ...(i % 5 === 0 ? { answers: { dietary: 'vegan', arrival: ['friday', 'saturday'] } } : {}),
  message: i % 2 === 0 ? 'Count me in!' : '',
});

function summaryFieldsOf(e: string, n: number): Record<string, string> {
  const attendees = Array.from({ length: n }, (_, i) => {
    const r = reply(e, i);
    return { guest_id: r.guest_id, guest_name: r.guest_name, plus_ones: 0, ...(r.answers ? { answers: r.answers } : {}), state: r.state };
  });
  const responses = Array.from({ length: n }, (_, i) => {
    const r = reply(e, i);
    return { id: `reply:${e}:0:${r.guest_id}`, invitation_id: e, guest_name: r.guest_name, guest_id: r.guest_id, response: { accepted: 'yes', declined: 'no', tentative: 'maybe' }[r.state as 'accepted'], message: r.message, timestamp: new Date().toISOString() };
  });
  const yes = attendees.filter((a) => a.state === 'accepted').length;
  return {
    id: `summary:${e}:0`, invitation_id: e, host_id: 'bench', event_name: 'Bench', total_invited: String(n), total_responses: String(n),
    yes_count: String(yes), no_count: String(attendees.filter((a) => a.state === 'declined').length), maybe_count: String(attendees.filter((a) => a.state === 'tentative').length),
    responses: JSON.stringify(responses), no_response: '[]', attendees: JSON.stringify(attendees), accepted_count: String(yes), confirmed_count: String(yes), headcount: String(yes),
    reason: 'all_replied', sequence: '0', revision: '1', timestamp: new Date().toISOString(), v: '2',
  };
}

interface Cost { cpuUs: number; scriptUs: number; hostUs?: number; stats?: CommandStats }
async function cost(): Promise<Cost> {
  const cpu = await info(redis, 'cpu');
  const stats = await commandStats(redis);
  return { cpuUs: (Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys)) * 1e6, scriptUs: stats.evalsha?.usec ?? 0, stats };
}
/** Redis' CPU and this process' (the host's part: ReadModel's own work) around `work`. */
async function measure(work: () => Promise<void>): Promise<Cost> {
  const before = await cost();
  const host = process.cpuUsage();
  await work();
  const { user, system } = process.cpuUsage(host);
  const after = await cost();
  return { cpuUs: after.cpuUs - before.cpuUs, scriptUs: after.scriptUs - before.scriptUs, hostUs: user + system, stats: diffStats(before.stats!, after.stats!) };
}

const totals = { replies: { cpuUs: 0, scriptUs: 0, hostUs: 0 }, summary: { cpuUs: 0, scriptUs: 0, hostUs: 0 } };
for (let round = 0; round < rounds; round += 1) {
  const ids = Array.from({ length: events }, (_, e) => `ev-${round}-${e}`);
  for (const e of ids) {
    const invited = Array.from({ length: guests }, (_, i): GuestChange => ({ guest_id: guestId(e, i), outcome: 'invited', state: 'needs_action' }));
    await model.applyActivity(nextId(), activity({ type: 'version', at: Date.now(), events: [{ invitation_id: e, host_id: 'bench', sequence: 0, revision: 1, guests: invited, status: 'open' }] }), 'bench');
  }
  const replies = await measure(async () => {
    for (let start = 0; start < guests; start += replyBatch) {
      for (const e of ids) {
        const batch = Array.from({ length: Math.min(replyBatch, guests - start) }, (_, k) => reply(e, start + k));
        await model.applyActivity(nextId(), activity({ type: 'replies', at: Date.now(), events: [{ invitation_id: e, host_id: 'bench', sequence: 0, revision: 1, guests: batch, status: 'open' }] }), 'bench');
      }
    }
  });
  const summaries = ids.map((e) => {
    const fields = summaryFieldsOf(e, guests);
    const parsed = parseSummary(fields);
    if (!parsed.ok) throw new Error(parsed.reason);
    return { fields, summary: parsed.value };
  });
  const summary = await measure(async () => {
    for (const { fields, summary: s } of summaries) await model.applySummary(nextId(), s, fields);
  });
  for (const [k, c] of [['replies', replies], ['summary', summary]] as const) {
    totals[k].cpuUs += c.cpuUs;
    totals[k].scriptUs += c.scriptUs;
    totals[k].hostUs += c.hostUs!;
  }
  const per = (c: Cost) => `${(c.cpuUs / (events * guests)).toFixed(2)} µs CPU, ${(c.scriptUs / (events * guests)).toFixed(2)} µs in scripts, host ${(c.hostUs! / (events * guests)).toFixed(2)} µs`;
  console.log(`round ${round + 1}: per guest — replies ${per(replies)}; summary ${per(summary)}`);
  if (process.env.MICRO_COMMANDS) for (const [k, c] of [['replies', replies], ['summary', summary]] as const) console.log(k, Object.entries(c.stats!).map(([n, s]) => `${n} ${s.calls} calls ${s.usec} µs`).join('; '));
}
const guestsApplied = rounds * events * guests;
const line = (k: 'replies' | 'summary') => `${(totals[k].cpuUs / guestsApplied).toFixed(2)} µs CPU (${(totals[k].scriptUs / guestsApplied).toFixed(2)} µs in scripts), host ${(totals[k].hostUs / guestsApplied).toFixed(2)} µs`;
console.log(`Redis per guest, ${rounds} rounds of ${events} events x ${guests} guests: replies ${line('replies')}; summary ${line('summary')}`);
const [feedRows] = await Promise.all([redis.xlen(`host:event:{ev-0-0}:feed`)]);
console.log(`feed entries of one event: ${feedRows}`);

if (big > 0) {
  // One big event's rows, written directly (the apply path is measured above), then read as GET reads them.
  const e = 'big';
  for (let start = 0; start < big; start += 1000) {
    const args: string[] = [];
    for (let i = start; i < Math.min(big, start + 1000); i += 1) args.push(guestId(e, i), JSON.stringify({ ...reply(e, i), sequence: 0, updated_at: Date.now(), src: '1-1' }));
    await redis.hset(`host:event:{${e}}:guests`, ...args);
  }
  await resetSlowlog(redis, 0);
  const statsBefore = await commandStats(redis);
  const started = performance.now();
  const [read] = await model.readMany([e]);
  const wall = performance.now() - started;
  const reads = Object.entries(diffStats(statsBefore, await commandStats(redis))).filter(([n]) => n !== 'slowlog|get' && n !== 'slowlog|reset');
  console.log(`GET's commands: ${reads.map(([n, c]) => `${n} ${c.calls} calls, ${(c.usec / c.calls).toFixed(0)} µs each`).join('; ')}`);
  const logged = (await slowlog(redis, 1000)).filter((s) => !/^(slowlog|config|info)/i.test(s.command)).sort((a, b) => b.durationUs - a.durationUs);
  const longest = logged[0];
  if (process.env.MICRO_COMMANDS) console.log(logged.slice(0, 8).map((s) => `${s.durationUs} µs ${s.command}`).join("\n"));
  console.log(`GET's read of a ${big}-guest event: ${read!.guests.length} rows in ${wall.toFixed(0)} ms; longest command ${longest?.durationUs ?? 0} µs (${longest?.command ?? ''})`);
}

redis.disconnect();
await server.stop();
rmSync(dir, { recursive: true, force: true });
