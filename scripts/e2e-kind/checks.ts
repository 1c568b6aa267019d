// The checks of `npm run e2e:kind` against the release skaffold deployed into a kind cluster: each
// prints one PASS or FAIL line (with what it saw), and the process exits 1 if any failed.
//   node scripts/e2e-kind/checks.ts          (e2e-kind.sh sets E2E_CONTEXT, E2E_NAMESPACE, KUBECTL)
// Redis is read with redis-cli inside its pod (a port-forward would die with the pod the checks
// delete); the host and Prometheus through `kubectl port-forward` to their Services.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { SigningKey, mintToken } from '../../services/host/auth/tokens.ts';
import { parseSummary, type Summary } from '../../services/shared/schema/summary.ts';
import { toFields } from '../../services/shared/streams/entry.ts';
import { deadLetterPattern, registryKeys, streams } from '../../services/shared/streams/keys.ts';
import { allPanels, interpolate, loadDashboards } from '../../test/k8s/dashboards.ts';

const context = process.env.E2E_CONTEXT ?? 'kind-event-planner-e2e';
const namespace = process.env.E2E_NAMESPACE ?? 'event-planner-e2e';
const release = process.env.E2E_RELEASE ?? 'event-planner';
const kubectlBin = process.env.KUBECTL ?? 'kubectl';
/** Guests each agent hosts (the chart's guests.guestsPerAgent). */
const perAgent = Number(process.env.E2E_GUESTS_PER_AGENT ?? '5');
const groups = ['enthusiasts', 'undecided', 'sceptics'];
const t0 = Date.now();

// --- plumbing --------------------------------------------------------------------------------------
const stamp = () => {
  const s = Math.round((Date.now() - t0) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
const say = (line: string) => process.stdout.write(`[checks ${stamp()}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function kubectl(args: string[], input?: string): string {
  const r = spawnSync(kubectlBin, ['--context', context, '-n', namespace, ...args], { encoding: 'utf8', input, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
  return r.stdout;
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined, every = 1000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(every);
  }
}

/** `kubectl port-forward svc/NAME :PORT`, restarted when it dies (its pod went); the local port. */
class Forward {
  private child?: ChildProcess;
  private port?: Promise<number>;
  private readonly service: string;
  private readonly remote: number;
  constructor(service: string, remote: number) {
    this.service = service;
    this.remote = remote;
  }
  url(): Promise<string> {
    if (!this.port || !this.child || this.child.exitCode !== null) this.port = this.start();
    return this.port.then((p) => `http://127.0.0.1:${p}`);
  }
  private start(): Promise<number> {
    const child = spawn(kubectlBin, ['--context', context, '-n', namespace, 'port-forward', `svc/${this.service}`, `:${this.remote}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', () => reject(new Error(`port-forward to ${this.service} ended: ${out.trim()}`)));
    });
  }
  stop(): void {
    this.child?.kill();
  }
}
const host = new Forward(`${release}-host`, 8080);
const prometheus = new Forward(`${release}-prometheus`, 9090);

/**
 * A Lua expression run by redis-cli in the Redis pod as the admin ACL user (its password is a file
 * mounted there; the default user is off); its value comes back JSON-encoded (cjson: an empty list
 * reads as {}, nil as false).
 */
function redisEval<T>(expression: string, keys: string[] = [], args: string[] = []): T {
  const script = `return cjson.encode(${expression})`;
  const asAdmin = 'REDISCLI_AUTH="$(cat /run/secrets/redis/admin-password)" exec redis-cli --user event-planner-admin --no-auth-warning "$@"';
  const out = kubectl(['exec', `${release}-redis-0`, '-c', 'redis', '--', 'sh', '-c', asAdmin, 'redis-cli', 'EVAL', script, String(keys.length), ...keys, ...args]);
  return JSON.parse(out.trim()) as T;
}
const xrangeJson = "redis.call('XRANGE', KEYS[1], '-', '+')";

/** Every summary in event_summaries, read with the shared schema (the host's own reader). */
function summaries(): Summary[] {
  const raw = redisEval<[string, string[]][] | Record<string, never>>(xrangeJson, [streams.summaries]);
  return (Array.isArray(raw) ? raw : []).flatMap(([, flat]) => {
    const parsed = parseSummary(toFields(flat));
    return parsed.ok ? [parsed.value] : [];
  });
}
const liveGuests = () => redisEval<number>("redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf')", [registryKeys.agents], [String(Date.now() - 10_000)]) * perAgent;

/** An admin token signed with the key of the chart's Secret (the API requires one; docs/SECURITY-API.md). */
let apiToken: string | undefined;
async function apiAuth(): Promise<Record<string, string>> {
  apiToken ??= await mintToken(new SigningKey(Buffer.from(kubectl(['get', 'secret', `${release}-api-auth`, '-o', 'jsonpath={.data.jwt-secret}']).trim(), 'base64').toString()), {
    role: 'admin',
    sub: 'e2e-kind',
    ttlSeconds: 3_600,
  });
  return { authorization: `Bearer ${apiToken}` };
}

async function publish(id: string, extra: Record<string, string> = {}): Promise<void> {
  const res = await fetch(`${await host.url()}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await apiAuth()) },
    body: JSON.stringify({ id, event_name: `kind e2e ${id}`, location: 'a kind cluster', ...extra }),
  });
  if (res.status !== 202) throw new Error(`POST /api/events ${id}: ${res.status} ${await res.text()}`);
}
async function summaryOf(id: string, ms = 90_000): Promise<Summary> {
  return until(`the summary of ${id}`, ms, () => summaries().find((s) => s.invitationId === id), 2000);
}
/** The summary's own consistency: one per event, each reply once, counts that add up. */
function countedOnce(id: string, s: Summary): string[] {
  const problems: string[] = [];
  const all = summaries().filter((x) => x.invitationId === id);
  if (all.length !== 1) problems.push(`${all.length} summaries of ${id}`);
  const guests = s.responses.map((r) => r.guest_id);
  if (new Set(guests).size !== guests.length) problems.push(`a guest counted twice: ${guests.join(',')}`);
  if (s.totalResponses !== guests.length) problems.push(`total_responses ${s.totalResponses} but ${guests.length} responses`);
  return problems;
}
const deadlineIn = (ms: number) => new Date(Date.now() + ms).toISOString();

function scale(group: string, replicas: number): void {
  kubectl(['scale', `deployment/${release}-guest-${group}`, `--replicas=${replicas}`]);
}
async function agentsOf(group: string, n: number): Promise<void> {
  kubectl(['rollout', 'status', `deployment/${release}-guest-${group}`, '--timeout=180s']);
  const expected = groups.length - 1 + n;
  await until(`${expected * perAgent} live guests`, 60_000, () => liveGuests() === expected * perAgent);
}

// --- the checks -------------------------------------------------------------------------------------
const results: { name: string; ok: boolean; detail: string; seconds: number }[] = [];
async function check(name: string, body: () => Promise<string>): Promise<boolean> {
  const started = Date.now();
  say(`${name} ...`);
  let ok = true;
  let detail: string;
  try {
    detail = await body();
  } catch (e) {
    ok = false;
    detail = (e as Error).message;
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  results.push({ name, ok, detail, seconds });
  say(`${ok ? 'PASS' : 'FAIL'} ${name} (${seconds} s): ${detail}`);
  return ok;
}

interface PodList {
  items: { metadata: { name: string; uid: string; labels?: Record<string, string> }; status: { phase: string; conditions?: { type: string; status: string }[] } }[];
}
const pods = () => (JSON.parse(kubectl(['get', 'pods', '-o', 'json'])) as PodList).items.filter((p) => !p.metadata.name.includes('-test-'));
const ready = (p: PodList['items'][number]) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

async function main(): Promise<void> {
  await check('every pod Ready', async () => {
    const list = await until('every pod Ready', 300_000, () => {
      const all = pods();
      return all.length > 0 && all.every(ready) ? all : undefined;
    }, 3000);
    const components = [...new Set(list.map((p) => p.metadata.labels?.['app.kubernetes.io/component']))].sort();
    for (const c of ['coordinator', 'guest', 'host', 'prometheus', 'redis']) if (!components.includes(c)) throw new Error(`no ${c} pod`);
    return `${list.length} pods Ready (${components.join(', ')})`;
  });

  await check("an event POSTed through the host's Service gets its summary", async () => {
    await until('every group registered', 60_000, () => liveGuests() === groups.length * perAgent);
    const id = `e2e-first-${randomUUID().slice(0, 8)}`;
    await publish(id);
    const s = await summaryOf(id);
    const problems = countedOnce(id, s);
    if (s.totalInvited !== groups.length * perAgent) problems.push(`invited ${s.totalInvited}, expected ${groups.length * perAgent}`);
    if (problems.length) throw new Error(problems.join('; '));
    return `${id}: invited ${s.totalInvited}, ${s.totalResponses} replies, reason ${s.reason}`;
  });

  await check('a malformed invitation is dead-lettered, not processed', async () => {
    // An id with spaces breaks the invitation schema: the coordinator must park it, not loop on it.
    const id = `poison entry ${randomUUID().slice(0, 8)}`;
    const fields = { id, event_name: 'poison', event_date: '2025-02-15', event_time: '14:00', location: 'nowhere', host_name: 'e2e', host_id: 'host-1', timestamp: '2025-01-20T10:30:00' };
    redisEval("redis.call('XADD', KEYS[1], '*', unpack(ARGV))", [streams.invitations], Object.entries(fields).flat());
    const where = await until(`${id} in a dead-letter stream`, 60_000, () => {
      const found = redisEval<string[] | Record<string, never>>(
        `(function() local hits = {} for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
           if redis.call('TYPE', k).ok == 'stream' then for _, e in ipairs(redis.call('XRANGE', k, '-', '+')) do
             for i = 1, #e[2] do if e[2][i] == ARGV[2] then table.insert(hits, k) end end end end end return hits end)()`,
        [],
        [deadLetterPattern, id],
      );
      return Array.isArray(found) && found.length > 0 ? found : undefined;
    }, 2000);
    if (summaries().some((x) => x.invitationId === id)) throw new Error(`${id} got a summary`);
    return `"${id}" parked in ${[...new Set(where)].join(', ')}, no summary`;
  });

  await check('scaling enthusiasts 1 -> 4 -> 1 changes who is invited, no reply lost scaling down', async () => {
    scale('enthusiasts', 4);
    await agentsOf('enthusiasts', 4);
    const up = `e2e-scaled-up-${randomUUID().slice(0, 8)}`;
    // A deadline far enough away that every agent's reply is due before it: a missing reply is lost.
    await publish(up, { rsvp_deadline: deadlineIn(120_000) });
    await sleep(1500); // the invitation is delivered to every inbox
    scale('enthusiasts', 1);
    const s = await summaryOf(up, 150_000);
    await agentsOf('enthusiasts', 1);
    const down = `e2e-scaled-down-${randomUUID().slice(0, 8)}`;
    await publish(down);
    const after = await summaryOf(down);
    const problems = [...countedOnce(up, s), ...countedOnce(down, after)];
    if (s.totalInvited !== (groups.length + 3) * perAgent) problems.push(`at 4 agents invited ${s.totalInvited}, expected ${(groups.length + 3) * perAgent}`);
    if (s.totalResponses !== s.totalInvited) problems.push(`scaling down lost replies: ${s.totalResponses} of ${s.totalInvited} (reason ${s.reason})`);
    if (after.totalInvited !== groups.length * perAgent) problems.push(`back at 1 agent invited ${after.totalInvited}, expected ${groups.length * perAgent}`);
    if (problems.length) throw new Error(problems.join('; '));
    return `invited ${groups.length * perAgent} -> ${s.totalInvited} (all ${s.totalResponses} replied while 3 agents stopped) -> ${after.totalInvited}`;
  });

  const marker = randomUUID();
  let before = 0;
  let redisRestarted = false;
  await check('deleting a coordinator pod and the Redis pod mid-event loses nothing', async () => {
    redisEval("redis.call('SET', KEYS[1], ARGV[1], 'EX', 3600)", ['e2e:marker'], [marker]);
    const id = `e2e-chaos-${randomUUID().slice(0, 8)}`;
    const coordinator = pods().find((p) => p.metadata.labels?.['app.kubernetes.io/component'] === 'coordinator')!;
    await publish(id, { rsvp_deadline: deadlineIn(150_000) });
    // At once, while the invitation is fanned out and the first replies come in.
    kubectl(['delete', 'pod', coordinator.metadata.name, '--grace-period=0', '--force', '--wait=false']);
    before = summaries().length;
    const early = summaries().some((x) => x.invitationId === id);
    kubectl(['delete', 'pod', `${release}-redis-0`, '--wait=true']);
    await until('Redis Ready again', 180_000, () => pods().find((p) => p.metadata.name === `${release}-redis-0` && ready(p)), 2000);
    redisRestarted = true;
    const s = await summaryOf(id, 240_000);
    const problems = countedOnce(id, s);
    if (s.totalResponses !== s.totalInvited) problems.push(`${s.totalResponses} of ${s.totalInvited} replies counted (reason ${s.reason})`);
    if (problems.length) throw new Error(problems.join('; '));
    const when = early ? 'summary already written before Redis went down' : 'summary written after Redis came back';
    return `${id}: one summary, ${s.totalResponses} of ${s.totalInvited} replies, each once (coordinator ${coordinator.metadata.name} killed, Redis restarted; ${when})`;
  });

  await check("Redis data survives its pod's deletion", async () => {
    if (!redisRestarted) throw new Error('the Redis pod was not deleted and back (the check before stopped first): nothing to compare');
    const got = redisEval<string | false>("redis.call('GET', KEYS[1])", ['e2e:marker']);
    const count = summaries().length;
    if (got !== marker) throw new Error(`marker key is ${JSON.stringify(got)} after the restart, expected ${marker}`);
    if (count < before) throw new Error(`${before} summaries before the restart, ${count} after`);
    return `marker key and all ${count} summaries back from the AOF`;
  });

  await check('every Prometheus target is up', async () => {
    interface Targets { data: { activeTargets: { labels: Record<string, string>; health: string; lastError: string; scrapePool: string }[] } }
    const up = await until('every target up', 120_000, async () => {
      const t = (await (await fetch(`${await prometheus.url()}/api/v1/targets?state=active`)).json()) as Targets;
      const active = t.data.activeTargets;
      return active.length > 0 && active.every((x) => x.health === 'up') ? active : undefined;
    }, 5000).catch(async (e: Error) => {
      const t = (await (await fetch(`${await prometheus.url()}/api/v1/targets?state=active`)).json()) as Targets;
      const down = t.data.activeTargets.filter((x) => x.health !== 'up').map((x) => `${x.labels.pod ?? x.labels.instance}: ${x.health} ${x.lastError}`);
      throw new Error(`${e.message}; not up: ${down.join('; ')}`);
    });
    const pools = [...new Set(up.map((x) => x.scrapePool))].sort();
    return `${up.length} targets up (${pools.join(', ')})`;
  });

  await check("the dashboards' queries return data through the in-cluster Prometheus", async () => {
    const base = await prometheus.url();
    const end = Date.now() / 1000;
    const start = t0 / 1000 - 600;
    const empty: string[] = [];
    let total = 0;
    for (const d of loadDashboards()) {
      for (const panel of allPanels(d).filter((p) => p.type !== 'row')) {
        for (const target of panel.targets ?? []) {
          total += 1;
          const q = new URLSearchParams({ query: interpolate(target.expr, '1m', `${Math.ceil(end - start)}s`), start: String(start), end: String(end), step: '15' });
          const body = (await (await fetch(`${base}/api/v1/query_range?${q}`)).json()) as { status: string; error?: string; data?: { result: { values: [number, string][] }[] } };
          if (body.status !== 'success') throw new Error(`${d.file} "${panel.title}": ${body.error}`);
          const hasData = body.data!.result.some((series) => series.values.some(([, v]) => Number.isFinite(Number(v))));
          if (!hasData) empty.push(`${d.file} "${panel.title}" ${target.refId}`);
        }
      }
    }
    if (empty.length) throw new Error(`${empty.length} of ${total} queries without data: ${empty.join('; ')}`);
    return `all ${total} queries of ${loadDashboards().length} dashboards return data`;
  });

  await check('the namespace enforces the restricted Pod Security level', async () => {
    const labels = (JSON.parse(kubectl(['get', 'namespace', namespace, '-o', 'json'])) as { metadata: { labels: Record<string, string> } }).metadata.labels;
    if (labels['pod-security.kubernetes.io/enforce'] !== 'restricted') throw new Error(`enforce label is ${labels['pod-security.kubernetes.io/enforce']}`);
    // The admission must refuse a pod that breaks the level, or the chart's pods prove nothing.
    const bad = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'e2e-psa-probe' }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10.1', securityContext: { privileged: true } }] } });
    let refused = '';
    try {
      kubectl(['apply', '--dry-run=server', '-f', '-'], bad);
    } catch (e) {
      refused = (e as Error).message;
    }
    if (!/violates PodSecurity "restricted/.test(refused)) throw new Error(`a privileged pod was not refused: ${refused || 'admitted'}`);
    return `every chart pod admitted under enforce=restricted; a privileged pod refused`;
  });
}

if (process.argv.includes('--list')) {
  // What would run, without a cluster (e2e-kind.sh --dry-run): proves the script and its imports load.
  const names = /await check\((['"])(.+?)\1/g;
  const source = (await import('node:fs')).readFileSync(new URL(import.meta.url), 'utf8');
  for (const m of source.matchAll(names)) process.stdout.write(`${m[2]}\n`);
  process.exit(0);
}
try {
  await main();
} finally {
  host.stop();
  prometheus.stop();
}
const failed = results.filter((r) => !r.ok);
say(`${results.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length ? 1 : 0);
