// `npm run chaos -- --minutes 5`: the fault tests of test/reliability as one long randomized run.
// A private redis-server (AOF) behind a TCP proxy, two coordinators, three guest agents and a host
// take invitations, hostile entries and repeated replies while faults are injected one after the
// other: kill -9 of a coordinator (anywhere, or at a crash point between read and ack), of a guest
// agent, of redis-server; Redis frozen; the network blackholed or reset; duplicate storms; hostile
// bursts. Next to plain invitations, the host's API publishes events with the event model's
// features (docs/EVENTS.md): capacity with a waitlist, plus-ones and a required question; RSVP
// deadlines with reminders (a fourth agent's silent guests are reminded); scheduled (publish_at)
// and expiring (expires_at) invitations; and follows them with updates that bump SEQUENCE (a moved
// location) or keep it (a new description), and cancellations, some racing the last replies.
// Three phases run once each, at a quarter, half and three quarters of the run: Redis
// restarted empty (kill -9, data deleted, same port), Redis hanging (SIGSTOP for 5-10 s), and Redis
// out of memory (maxmemory just above its usage, noeviction, for 8-15 s). Then the faults stop,
// everything settles, and the invariants are checked and printed. Exit code 0 when every invariant
// holds. What an empty restart wiped is not counted as lost: see `wiped` below.
//
//   --minutes N            how long faults are injected (CHAOS_MINUTES, default 2)
//   --seed S               makes the fault schedule and the traffic reproducible (CHAOS_SEED)
//   --appendfsync MODE     everysec (default) or always (CHAOS_APPENDFSYNC)
import { Redis } from 'ioredis';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type AppendFsync, RedisServerProcess, freePort } from '../services/launcher/redis-server.ts';
import { parseReply } from '../services/shared/schema/response.ts';
import { toFields } from '../services/shared/streams/entry.ts';
import { eventKeys, streams } from '../services/shared/streams/keys.ts';
import { seededRandom } from '../services/shared/util/random.ts';
import { RoleProcess, type Role, fastStreamEnv } from '../test/helpers/processes.ts';
import { flat, originalInvitation } from '../test/helpers/streams.ts';
import { hostileEntries } from '../test/reliability/hostile.ts';
import { type InvariantRow, checkInvariants, formatTable, readStream } from '../test/reliability/invariants.ts';
import { TcpProxy } from '../test/reliability/tcp-proxy.ts';

const { values: args } = parseArgs({
  options: { minutes: { type: 'string' }, seed: { type: 'string' }, appendfsync: { type: 'string' } },
  allowPositionals: false,
});
const minutes = Number(args.minutes ?? process.env.CHAOS_MINUTES ?? 2);
const seed = args.seed ?? process.env.CHAOS_SEED ?? String(Date.now());
const appendfsync = (args.appendfsync ?? process.env.CHAOS_APPENDFSYNC ?? 'everysec') as AppendFsync;
if (!(minutes > 0) || !['everysec', 'always'].includes(appendfsync)) {
  process.stderr.write('usage: npm run chaos -- [--minutes N] [--seed S] [--appendfsync everysec|always]\n');
  process.exit(2);
}

const random = seededRandom('chaos', seed);
const between = (min: number, max: number) => Math.round(min + random() * (max - min));
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started = Date.now();
const say = (text: string) => process.stdout.write(`[chaos ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${text}\n`);

// ---------------------------------------------------------------------------------------------
// the stack

const dataDir = mkdtempSync(join(tmpdir(), 'ep-chaos-'));
const redisServer = await new RedisServerProcess({ dir: dataDir, appendfsync }).start();
const proxy = await new TcpProxy(redisServer.port).listen();
// The driver writes past the proxy, like any other program next to the roles.
const client = new Redis(redisServer.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false });
client.on('error', () => undefined);
const checker = new Redis(redisServer.url, { maxRetriesPerRequest: 5 });
checker.on('error', () => undefined);

const roleEnv: Record<string, string> = {
  ...fastStreamEnv,
  REDIS_URL: proxy.url,
  LOG_LEVEL: 'info',
  REDIS_SOCKET_TIMEOUT_MS: '2000',
  GUEST_TTL_MS: '15000',
  RSVP_DEADLINE_MS: '20000',
  CONSUMER_IDLE_MS: '5000',
};

interface Slot {
  label: string;
  role: Role;
  env: Record<string, string>;
  proc: RoleProcess;
}
const everyProcess: RoleProcess[] = [];
const killedOnPurpose = new Set<RoleProcess>();

async function spawnRole(role: Role, env: Record<string, string>): Promise<RoleProcess> {
  const p = new RoleProcess(role, await freePort(), { ...roleEnv, ...env });
  everyProcess.push(p);
  return p;
}

async function slot(label: string, role: Role, env: Record<string, string>): Promise<Slot> {
  return { label, role, env, proc: await spawnRole(role, env) };
}

const slots: Slot[] = [
  await slot('coordinator-1', 'coordinator', { CONSUMER_NAME: 'coordinator-1' }),
  await slot('coordinator-2', 'coordinator', { CONSUMER_NAME: 'coordinator-2' }),
  ...(await Promise.all(
    (['enthusiasts', 'undecided', 'sceptics'] as const).map((personas, i) =>
      slot(`agent-${i + 1}`, 'guest', { GUEST_AGENT_ID: `chaos-${i + 1}`, GUESTS_PER_AGENT: '12', PERSONAS: personas, REPLY_DELAY_SCALE: '0.2', GUEST_SEED: seed }),
    ),
  )),
  // Guests who never answer: every version with a deadline far enough ahead reminds them.
  await slot('agent-4', 'guest', { GUEST_AGENT_ID: 'chaos-4', GUESTS_PER_AGENT: '3', PERSONAS: 'silent', GUEST_SEED: seed }),
  // The API open, explicitly: chaos is about processes and Redis dying, not about tokens.
  await slot('host', 'host', { HOST_ID: 'chaos-host', API_AUTH: 'off', API_RATE_LIMIT_PER_MINUTE: '0' }),
];
const host = slots.find((s) => s.role === 'host')!;
for (const s of slots) await s.proc.waitReady(30_000);
say(`stack up: redis-server ${redisServer.port} (appendfsync ${appendfsync}) behind proxy ${proxy.port}; ${slots.map((s) => s.label).join(', ')}; seed ${seed}`);

/** Slots not ready right now, with what their /readyz says. */
async function notReady(): Promise<string[]> {
  const answers = await Promise.all(
    slots.map((s) =>
      s.proc
        .get('/readyz')
        .then((r) => (r.status === 200 ? undefined : `${s.label}: ${r.body}`))
        .catch((error: unknown) => `${s.label}: ${String(error)}`),
    ),
  );
  return answers.filter((a): a is string => a !== undefined);
}

async function allReady(): Promise<boolean> {
  return (await notReady()).length === 0;
}

async function replace(s: Slot, env: Record<string, string> = {}): Promise<void> {
  s.proc = await spawnRole(s.role, { ...s.env, ...env });
}

// ---------------------------------------------------------------------------------------------
// traffic

const acknowledged: { stream: string; id: string }[] = [];
/** Invitation ids accepted so far: an empty restart wipes every one of them. */
const publishedIds: string[] = [];
/**
 * What empty restarts took away. Redis came back without data, so nothing from before exists to
 * be checked: those invitations are not events of this run, those acknowledged XADDs are not
 * expected back, and a guest's reply to such an invitation is dead-lettered by the coordinator as
 * unknown_invitation, which is right (the invariants accept exactly that, for exactly these ids).
 */
const wiped = { restarts: 0, events: new Set<string>(), acknowledged: 0 };
let hostileSent = 0;
let hostileCounter = 0;
let copiesSent = 0;
let published = 0;
let publishRefused = 0;
let duplicating = false;
let running = true;

/** XADD past the proxy; remembers what Redis acknowledged. Unknown fates are found at the end. */
async function add(stream: string, fields: (string | Buffer)[]): Promise<boolean> {
  if (client.status !== 'ready') return false;
  try {
    acknowledged.push({ stream, id: (await client.xadd(stream, '*', ...fields)) as string });
    return true;
  } catch {
    return false;
  }
}

async function sendHostile(count: number): Promise<void> {
  for (const entry of hostileEntries(count, random, { eventIds: ['chaos-none'], agentId: 'chaos-1' })) {
    // The marker finds every hostile entry afterwards, also one whose XADD reply was lost.
    if (await add(entry.stream, [...entry.fields, 'chaos_hostile', String((hostileCounter += 1))])) hostileSent += 1;
  }
}

const publishQueue: string[] = [];
async function publishLoop(): Promise<void> {
  for (let n = 0; running; n += 1) {
    await sleep(between(300, 700));
    if (random() < 0.2) {
      const direct = `chaos-direct-${seed}-${n}`;
      if (await add(streams.invitations, flat(originalInvitation({ id: direct })))) {
        published += 1;
        publishedIds.push(direct);
      }
      continue;
    }
    // Through the host's API; a refused publish is retried later with the same id (idempotency key).
    const id = publishQueue.shift() ?? `chaos-${seed}-${n}`;
    try {
      const res = await fetch(host.proc.url('/api/events'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // The same content on every retry: the same id with other content is refused (409).
        body: JSON.stringify({ id, event_name: `Chaos ${id}` }),
        signal: AbortSignal.timeout(5_000),
      });
      const body = (await res.json()) as { entry_id?: string | null };
      if (res.status === 202) {
        published += 1;
        publishedIds.push(id);
        if (body.entry_id) acknowledged.push({ stream: streams.invitations, id: body.entry_id });
      } else {
        publishRefused += 1;
        publishQueue.push(id);
      }
    } catch {
      publishRefused += 1;
      publishQueue.push(id);
    }
  }
}

// Events with the event model's features, and what the host does to them afterwards.
const featureCounts = new Map<string, number>();
const countFeature = (name: string) => featureCounts.set(name, (featureCounts.get(name) ?? 0) + 1);
const isoIn = (ms: number) => new Date(Date.now() + ms).toISOString();
const dateIn = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
/** Host calls refused for a passing reason (503, cut), tried again later with the same body. */
const hostRetries: { method: string; path: string; body: unknown; label: string }[] = [];
let hostCallsRefused = 0;

/** One call to the host's API; true when it was decided (2xx, or a 4xx that retrying would not change). */
async function hostCall(method: string, path: string, body: unknown, label: string): Promise<boolean> {
  try {
    const res = await fetch(host.proc.url(path), {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    await res.arrayBuffer();
    if (res.status >= 200 && res.status < 300) {
      countFeature(label);
      return true;
    }
    // An update that lost the race against a cancellation is refused, as it must be.
    if (res.status === 409) {
      countFeature(`${label} refused (409: cancelled)`);
      return true;
    }
    if (res.status >= 400 && res.status < 500) {
      countFeature(`${label} refused (${res.status})`);
      return true;
    }
  } catch {
    // cut or timed out: tried again
  }
  hostCallsRefused += 1;
  hostRetries.push({ method, path, body, label });
  return false;
}

const pendingFollowUps = new Set<Promise<unknown>>();
function later(ms: number, work: () => Promise<unknown>): void {
  pendingFollowUps.add(
    sleep(ms)
      .then(work)
      .catch(() => undefined),
  );
}

const dietary = { id: 'dietary', text: 'Any dietary requirements?', type: 'single', options: ['none', 'vegetarian', 'vegan', 'gluten_free', 'halal', 'kosher'], required: true };

async function featureLoop(): Promise<void> {
  for (let n = 0; running; n += 1) {
    await sleep(between(800, 2_000));
    const id = `chaos-ev-${seed}-${n}`;
    const body: Record<string, unknown> = { id, event_name: `Feature ${n}`, event_date: dateIn(between(3, 30)), event_time: '19:00', timezone: 'Europe/Paris', location: 'Hall A' };
    const kinds: string[] = [];
    if (random() < 0.6) {
      body.capacity = between(3, 10);
      body.plus_ones_max = between(0, 2);
      body.questions = [dietary];
      kinds.push('capacity');
    }
    const roll = random();
    if (roll < 0.3) {
      // Far enough for a reminder a minute before it: the silent guests get one.
      body.rsvp_deadline = isoIn(between(65_000, 80_000));
      body.reminders = [1];
      body.remind_tentative = random() < 0.5;
      kinds.push('reminders');
    } else if (roll < 0.55) {
      body.publish_at = isoIn(between(3_000, 15_000));
      kinds.push('scheduled');
    } else if (roll < 0.75) {
      // Short enough that a delivery held up by a fault may expire.
      body.expires_at = isoIn(between(1_500, 5_000));
      kinds.push('expiring');
    }
    if (!(await hostCall('POST', '/api/events', body, `event: ${kinds.join('+') || 'plain'}`))) continue;
    // What the host does afterwards: some of it while the guests are still answering.
    const follow = random();
    if (follow < 0.3) {
      // A new version needs an RSVP deadline ahead: one with reminders keeps its own, the others get a new one.
      const deadline = body.reminders ? {} : { rsvp_deadline: isoIn(between(25_000, 40_000)) };
      later(between(1_500, 8_000), () => hostCall('PATCH', `/api/events/${id}`, { location: `Room ${n}`, ...deadline }, 'update that bumps SEQUENCE'));
    } else if (follow < 0.5) {
      later(between(1_000, 6_000), () => hostCall('PATCH', `/api/events/${id}`, { description: `Bring a friend (${n})` }, 'update that keeps SEQUENCE'));
    }
    if (random() < 0.25) later(between(1_000, 4_000) + (follow < 0.5 ? 6_000 : 0), () => hostCall('POST', `/api/events/${id}/cancel`, { reason: 'chaos' }, 'cancellation'));
  }
}

async function hostileLoop(): Promise<void> {
  while (running) {
    await sleep(between(500, 1_500));
    await sendHostile(between(5, 30));
  }
}

/** While a duplicate storm lasts, every new valid reply is sent twice more. */
async function duplicateLoop(): Promise<void> {
  let last: string | undefined;
  while (running) {
    if (!duplicating || client.status !== 'ready') {
      last = undefined;
      await sleep(100);
      continue;
    }
    try {
      // Copies only of what arrives from now on.
      last ??= ((await client.xrevrange(streams.responses, '+', '-', 'COUNT', 1)) as [string, string[]][])[0]?.[0] ?? '0-0';
      const reply = (await client.xread('COUNT', 200, 'STREAMS', streams.responses, last)) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) await sleep(50);
      for (const [id, fieldList] of entries) {
        last = id;
        const fields = toFields(fieldList);
        // Not the copies themselves (that would feed back), nor hostile entries.
        if (fields.chaos_copy !== undefined || fields.chaos_hostile !== undefined || !parseReply(fields).ok) continue;
        for (let i = 0; i < 2; i += 1) if (await add(streams.responses, [...fieldList, 'chaos_copy', String(i + 1)])) copiesSent += 1;
      }
    } catch {
      await sleep(100);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// faults

const faultCounts = new Map<string, number>();
const recoveries: number[] = [];
const lostAtKill: string[] = [];
const afterRestart: Promise<void>[] = [];

const coordinators = () => slots.filter((s) => s.role === 'coordinator');
const agents = () => slots.filter((s) => s.role === 'guest');

async function kill(s: Slot): Promise<void> {
  killedOnPurpose.add(s.proc);
  await s.proc.stop('SIGKILL');
}

/** A fault that lasts a random time between `min` and `max` ms. */
function lasting(min: number, max: number, begin: () => void, end: () => void): () => Promise<string> {
  return async () => {
    const ms = between(min, max);
    begin();
    await sleep(ms);
    end();
    return `${ms} ms`;
  };
}

const faults: Record<string, () => Promise<string>> = {
  'kill -9 coordinator': async () => {
    const s = pick(coordinators());
    await kill(s);
    await sleep(between(0, 2_000));
    const name = random() < 0.5 ? s.label : `${s.label}-${Date.now()}`;
    await replace(s, { CONSUMER_NAME: name });
    return `${s.label}, back as ${name}`;
  },
  'coordinator crash point': async () => {
    const s = pick(coordinators());
    const point = `${pick(['read', 'handled', `delay-${between(0, 50)}`])}:${between(1, 3)}:${pick([streams.invitations, streams.responses, streams.responses])}`;
    await kill(s);
    await replace(s, { STREAM_TEST_CRASH: point });
    const exited = await Promise.race([s.proc.exited, sleep(8_000).then(() => undefined)]);
    if (!exited) await kill(s);
    await replace(s);
    return `${s.label} at ${point}${exited ? '' : ' (not reached in 8 s: killed)'}`;
  },
  'kill -9 guest agent': async () => {
    const s = pick(agents());
    await kill(s);
    await sleep(between(0, 1_000));
    await replace(s);
    return `${s.label} (same GUEST_AGENT_ID)`;
  },
  'kill -9 redis-server': async () => {
    await redisServer.kill();
    const before = acknowledged.slice();
    await sleep(between(500, 3_000));
    await redisServer.start();
    // Checked while the roles recover, so the check does not count into the recovery time.
    afterRestart.push(
      (async () => {
        const pipeline = checker.pipeline();
        for (const { stream, id } of before) pipeline.xrange(stream, id, id);
        const results = (await pipeline.exec()) ?? [];
        results.forEach(([error, value], i) => {
          if (error || !Array.isArray(value) || value.length !== 1) lostAtKill.push(`${before[i]!.stream} ${before[i]!.id}`);
        });
      })(),
    );
    return `restarted on the same AOF after ${before.length} acknowledged XADDs`;
  },
  'freeze redis (SIGSTOP)': lasting(2_000, 6_000, () => redisServer.freeze(), () => redisServer.thaw()),
  'network blackhole': lasting(2_000, 8_000, () => proxy.blackhole(), () => proxy.heal()),
  'network reset': lasting(1_000, 5_000, () => proxy.reset(), () => proxy.heal()),
  // Every new reply is sent twice more while it lasts.
  'duplicate storm': lasting(3_000, 8_000, () => (duplicating = true), () => (duplicating = false)),
  'hostile burst': async () => {
    const before = hostileSent;
    await sendHostile(500);
    return `${hostileSent - before} entries`;
  },
};

// ---------------------------------------------------------------------------------------------
// phases: once each, at fixed points of the run

/** kill -9, data folder deleted, started again on the same port: Redis back with nothing. */
async function emptyRestart(): Promise<string> {
  await redisServer.kill();
  // Everything acknowledged or published so far is gone with the data.
  wiped.restarts += 1;
  wiped.acknowledged += acknowledged.length;
  acknowledged.length = 0;
  for (const id of publishedIds) wiped.events.add(id);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir);
  await sleep(between(500, 2_000));
  await redisServer.start();
  return `${wiped.events.size} invitations and ${wiped.acknowledged} acknowledged XADDs wiped so far`;
}

/** maxmemory just above what Redis uses, noeviction: every write that needs memory is refused (OOM). */
async function memoryLimit(): Promise<string> {
  const ms = between(8_000, 15_000);
  const stat = async (section: string, prefix: string) => Number(new RegExp(`^${prefix}(\\d+)`, 'm').exec(await checker.info(section))?.[1] ?? 0);
  const used = await stat('memory', 'used_memory:');
  const oomBefore = await stat('errorstats', 'errorstat_OOM:count=');
  await checker.config('SET', 'maxmemory-policy', 'noeviction');
  await checker.config('SET', 'maxmemory', String(used + 64 * 1024));
  await sleep(ms);
  await checker.config('SET', 'maxmemory', '0');
  const refused = (await stat('errorstats', 'errorstat_OOM:count=')) - oomBefore;
  return `${ms} ms at maxmemory ${Math.round(used / 1024) + 64} KiB: ${refused} commands refused with OOM`;
}

const phases: { name: string; run: () => Promise<string> }[] = [
  { name: 'phase: empty restart', run: emptyRestart },
  { name: 'phase: redis hangs (SIGSTOP)', run: lasting(5_000, 10_000, () => redisServer.freeze(), () => redisServer.thaw()) },
  { name: 'phase: memory limit (noeviction)', run: memoryLimit },
];

async function faultLoop(until: number): Promise<void> {
  const window = until - Date.now();
  const due = phases.map((phase, i) => ({ ...phase, at: Date.now() + (window * (i + 1)) / (phases.length + 1) }));
  while (Date.now() < until || due.length > 0) {
    await sleep(between(2_000, 6_000));
    const phase = due[0] && Date.now() >= due[0].at ? due.shift()! : undefined;
    if (!phase && Date.now() >= until) continue;
    const name = phase?.name ?? pick(Object.keys(faults));
    const detail = await (phase?.run ?? faults[name]!)();
    faultCounts.set(name, (faultCounts.get(name) ?? 0) + 1);
    const healedAt = Date.now();
    let late: string[] = [];
    for (let waiting = await notReady(); waiting.length > 0 && Date.now() - healedAt < 60_000; waiting = await notReady()) {
      // Who is still not ready 3 s after the fault ended, and why: recoveries should be faster.
      if (late.length === 0 && Date.now() - healedAt > 3_000) late = waiting;
      await sleep(100);
    }
    recoveries.push(Date.now() - healedAt);
    say(`${name}: ${detail}; all ready again after ${Date.now() - healedAt} ms${late.length > 0 ? ` (slow: ${late.join('; ')})` : ''}`);
  }
}

// ---------------------------------------------------------------------------------------------
// run, settle, check

const loops = [publishLoop(), featureLoop(), hostileLoop(), duplicateLoop()];
await faultLoop(started + minutes * 60_000);
running = false;
await Promise.all(loops);
say('faults stopped; letting everything settle');

// Every slot runs; nothing is cut or frozen any more.
proxy.heal();
redisServer.thaw();
for (const s of slots) if (!s.proc.running) await replace(s);
const settleStart = Date.now();
while (!(await allReady()) && Date.now() - settleStart < 60_000) await sleep(200);
// Publishes refused during the last fault are sent once more.
for (const id of publishQueue.splice(0)) {
  const res = await fetch(host.proc.url('/api/events'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, event_name: `Chaos ${id}` }) });
  if (res.status === 202) published += 1;
}
// Updates and cancellations still to come, then the calls refused during faults.
while (pendingFollowUps.size > 0) await Promise.all([...pendingFollowUps].map((p) => p.then(() => pendingFollowUps.delete(p))));
for (let round = 0; hostRetries.length > 0 && round < 20; round += 1) {
  for (const call of hostRetries.splice(0)) await hostCall(call.method, call.path, call.body, call.label);
  if (hostRetries.length > 0) await sleep(1_000);
}

/** What ended up in Redis decides: every valid invitation is an event, every marked entry is bad. */
async function classify(): Promise<{ events: string[]; bad: { stream: string; id: string; groups?: number }[] }> {
  const bad: { stream: string; id: string; groups?: number }[] = [];
  const events: string[] = [];
  const inboxes = slots.filter((s) => s.role === 'guest').map((s) => streams.inbox(s.env.GUEST_AGENT_ID!));
  for (const stream of [streams.invitations, streams.responses, streams.summaries, ...inboxes]) {
    for (const entry of await readStream(checker, stream)) {
      if (entry.fields.chaos_hostile !== undefined) bad.push({ stream, id: entry.id });
      else if (stream === streams.invitations && entry.fields.id) events.push(entry.fields.id);
    }
  }
  return { events: [...new Set(events)], bad };
}

let { events } = await classify();
const settleUntil = Date.now() + 120_000;
for (;;) {
  // Every event's last version closed (an update may have opened one after the first summary), its outbox empty.
  const pipeline = checker.pipeline();
  for (const id of events) pipeline.hget(eventKeys(id).event, 'status').hlen(eventKeys(id).outbox);
  const states = ((await pipeline.exec()) ?? []).map(([, v]) => v);
  const settled = events.every((_, i) => ['closed', 'cancelled'].includes(String(states[2 * i])) && Number(states[2 * i + 1]) === 0);
  let pending = 0;
  for (const stream of [streams.invitations, streams.responses, streams.summaries]) {
    for (const g of (await checker.xinfo('GROUPS', stream).catch(() => [])) as unknown[][]) pending += Number(g[g.indexOf('pending') + 1]);
  }
  if ((settled && pending === 0) || Date.now() > settleUntil) break;
  await sleep(500);
}
// Claim timeout and one more reclaim round for anything left pending by the last fault.
await sleep(4_000);
const classified = await classify();
events = classified.events;

const statuses = everyProcess.map((p, i) => {
  const hook = p.stderr.some((l) => l.startsWith('STREAM_TEST_CRASH: SIGKILL'));
  const onPurpose = killedOnPurpose.has(p) || (hook && p.child.signalCode === 'SIGKILL');
  return { label: `${p.role}#${i}`, expected: p.running || onPurpose, detail: `exit code ${p.child.exitCode}, signal ${p.child.signalCode}; ${p.stderr.slice(-2).join(' | ')}` };
});
await Promise.all(afterRestart);
const rows: InvariantRow[] = await checkInvariants({ redis: checker, events, badEntries: classified.bad, processes: statuses, acknowledged, wipedEvents: wiped.events });
rows.push({
  name: 'acknowledged XADDs present right after each Redis restart',
  ok: lostAtKill.length === 0,
  detail: lostAtKill.length === 0 ? `checked at each of ${faultCounts.get('kill -9 redis-server') ?? 0} kills` : lostAtKill.slice(0, 5).join('; '),
});
const errorLines = everyProcess.flatMap((p) => p.logs.filter((l) => l.level >= 50).map((l) => `${p.role}: ${l.msg} (${JSON.stringify((l as { err?: unknown }).err ?? '').slice(0, 300)})`));
rows.push({ name: 'no error-level log line', ok: errorLines.length === 0, detail: errorLines.length === 0 ? 'none' : errorLines.slice(0, 3).join('; ') });

const summaries = await readStream(checker, streams.summaries);
const eventSet = new Set(events);
const versionCount = new Set(summaries.filter((s) => eventSet.has(s.fields.invitation_id!)).map((s) => `${s.fields.invitation_id} ${s.fields.sequence}`)).size;
const reminderCount = summaries.filter((s) => eventSet.has(s.fields.invitation_id!)).reduce((n, s) => n + Number(s.fields.reminders_sent ?? 0), 0);
let promotionCount = 0;
let displacedCount = 0;
for (const entry of await readStream(checker, streams.activity)) {
  for (const e of JSON.parse(entry.fields.events ?? '[]') as { guests?: { outcome?: string }[] }[]) {
    if (entry.fields.type === 'promoted') promotionCount += e.guests?.length ?? 0;
    displacedCount += (e.guests ?? []).filter((g) => g.outcome === 'displaced').length;
  }
}
const reasons = new Map<string, number>();
for (const s of summaries) if (events.includes(s.fields.invitation_id!)) reasons.set(s.fields.reason!, (reasons.get(s.fields.reason!) ?? 0) + 1);
const sorted = [...recoveries].sort((a, b) => a - b);
const runTable = [
  '| run | value |',
  '| --- | --- |',
  `| faults injected for | ${minutes} min (seed ${seed}, appendfsync ${appendfsync}) |`,
  ...[...faultCounts].sort().map(([name, n]) => `| ${name} | ${n} |`),
  `| time to all roles ready after a fault | median ${sorted[Math.floor(sorted.length / 2)] ?? 0} ms, max ${sorted[sorted.length - 1] ?? 0} ms |`,
  `| events (valid invitations) | ${events.length} (${[...reasons].map(([r, n]) => `${r} ${n}`).join(', ')}); ${published} publishes accepted, ${publishRefused} refused (503 or cut) and retried with the same id |`,
  `| wiped by empty restarts (not counted as lost, not checked) | ${wiped.restarts} empty restart(s): ${[...wiped.events].filter((id) => !events.includes(id)).length} invitations accepted before one, ${wiped.acknowledged} acknowledged XADDs |`,
  `| reply entries / extra copies sent | ${(await checker.xlen(streams.responses)) - hostileCount(classified.bad, streams.responses)} / ${copiesSent} |`,
  ...[...featureCounts].sort().map(([name, n]) => `| host API: ${name} | ${n} |`),
  `| host API calls refused (503 or cut) and retried with the same body | ${hostCallsRefused} |`,
  `| versions summarized / reminders sent / promotions from a waitlist / seats taken back by an earlier arrival | ${versionCount} / ${reminderCount} / ${promotionCount} / ${displacedCount} |`,
  `| hostile entries | ${classified.bad.length} |`,
  `| role processes started | ${everyProcess.length} |`,
  `| total run time | ${((Date.now() - started) / 1000).toFixed(0)} s |`,
];
process.stdout.write(`\n${runTable.join('\n')}\n\n${formatTable(rows)}\n\n`);

function hostileCount(bad: { stream: string }[], stream: string): number {
  return bad.filter((b) => b.stream === stream).length;
}

for (const p of everyProcess) if (p.running) p.child.kill('SIGTERM');
await Promise.all(everyProcess.map((p) => Promise.race([p.exited, sleep(10_000)])));
client.disconnect();
checker.disconnect();
await proxy.close();
await redisServer.stop();
rmSync(dataDir, { recursive: true, force: true });
process.exit(rows.every((r) => r.ok) ? 0 : 1);
