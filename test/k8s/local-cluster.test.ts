import { spawnSync } from 'node:child_process';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { streams } from '../../services/shared/streams/keys.ts';
import { readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import { componentOf } from './chart-render.ts';
import type { LocalCluster, LocalPod } from './local-cluster.ts';
import type { LocalPrometheus } from './local-prometheus.ts';
import { type LocalStack, localStackTools, startLocalStack } from './local-stack.ts';
import { findTool, needTools } from './tools.ts';

// The chart rendered with test/k8s/values/local-cluster.yaml (short timings through ordinary
// values), its workloads run as local processes from the assembled image: a cluster on one machine.
const tools = localStackTools;
const release = 'event-planner';
const enthusiasts = `${release}-guest-enthusiasts`;

let stack: LocalStack;
let cluster: LocalCluster;
let prometheus: LocalPrometheus;
let redis: Redis;

beforeAll(async () => {
  if (tools.some((t) => !findTool(t))) return; // each test reports what is missing
  stack = await startLocalStack(['local-cluster.yaml'], release);
  ({ cluster, prometheus, redis } = stack);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

beforeEach((ctx) => {
  needTools(ctx, tools);
});

/** A sample's value summed over matching series of one /metrics text. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[4]);
  }
  return total;
}

/** Live guests of a persona group as the coordinators export it (only the lease holder does: max). */
async function liveGuests(group: string): Promise<number> {
  const values = await Promise.all(
    cluster.podsOf(`${release}-coordinator`).map(async (pod) => {
      const text = await (await fetch(`http://127.0.0.1:${pod.ports.get(8081)}/metrics`)).text();
      return sample(text, 'event_planner_guests_live', { persona_group: group });
    }),
  );
  return Math.max(0, ...values);
}

interface SummaryFields {
  invitation_id: string;
  total_invited: string;
  total_responses: string;
  reason: string;
  responses: string;
}

/** Publishes through the host's Service as a client in the cluster would, and waits for the summary. */
async function publishAndSummarize(id: string): Promise<{ summary: SummaryFields; guestIds: string[] }> {
  const res = await fetch(`${cluster.resolveUrl(`http://${release}-host:8080`)}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...stack.apiAuth },
    body: JSON.stringify({ id, event_name: `Kubernetes check ${id}`, location: 'one machine' }),
  });
  expect(res.status, await res.clone().text()).toBe(202);
  const entry = await eventually(
    async () => (await readAll(redis, streams.summaries)).find((e) => e.fields.invitation_id === id),
    30_000,
    `summary of ${id}`,
  );
  const summary = entry.fields as unknown as SummaryFields;
  const guestIds = (JSON.parse(summary.responses) as { guest_id: string }[]).map((r) => r.guest_id);
  return { summary, guestIds };
}

const agentsIn = (guestIds: string[], pods: LocalPod[]) => pods.filter((p) => guestIds.some((g) => g.includes(p.name)));

describe('the chart as a cluster on one machine', () => {
  it('runs Redis as the StatefulSet configures it: AOF on, everysec, no snapshots, password required', async () => {
    const config = async (key: string) => ((await redis.config('GET', key)) as string[])[1];
    expect(await config('appendonly')).toBe('yes');
    expect(await config('appendfsync')).toBe('everysec');
    expect(await config('save')).toBe('');
    const redisPod = cluster.podsOf(`${release}-redis`)[0]!;
    const port = String(redisPod.ports.get(6379));
    const anonymous = spawnSync(findTool('redis-cli')!, ['-h', '127.0.0.1', '-p', port, 'ping'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(`${anonymous.stdout}${anonymous.stderr}`).toMatch(/NOAUTH/);
    for (const probe of [redisPod.container.livenessProbe!, redisPod.container.readinessProbe!]) {
      expect(await cluster.probe(redisPod, probe)).toMatchObject({ ok: true });
    }
  });

  it('starts every app pod from its rendered args and env, and each answers its probes', async () => {
    const apps = cluster.pods.filter((p) => p.workload.kind === 'Deployment');
    expect(apps.map((p) => p.workload.metadata.name).sort()).toEqual([
      `${release}-coordinator`,
      `${release}-coordinator`,
      `${release}-guest-enthusiasts`,
      `${release}-guest-sceptics`,
      `${release}-guest-undecided`,
      `${release}-host`,
    ]);
    for (const pod of apps) {
      for (const [kind, probe] of Object.entries({ startup: pod.container.startupProbe, liveness: pod.container.livenessProbe, readiness: pod.container.readinessProbe })) {
        expect(await cluster.probe(pod, probe!), `${pod.name} ${kind} probe`).toMatchObject({ ok: true });
      }
      const info = (await (await fetch(`http://127.0.0.1:${pod.ports.get(Number(pod.container.ports![0]!.containerPort))}/info`)).json()) as Record<string, unknown>;
      expect(info.role).toBe(componentOf(pod.workload));
      expect(info.consumer, 'CONSUMER_NAME is the pod name').toBe(pod.name);
      if (info.role === 'guest') expect(info.agentId, 'GUEST_AGENT_ID is the pod name').toBe(pod.name);
    }
  });

  it('publishes an event through the host Service and gets its summary, every group invited', async () => {
    await eventually(async () => (await liveGuests('enthusiasts')) === 3 && (await liveGuests('sceptics')) === 3 && (await liveGuests('undecided')) === 3, 15_000, 'nine live guests');
    const { summary, guestIds } = await publishAndSummarize('k8s-event-1');
    expect(summary).toMatchObject({ total_invited: '9', total_responses: '9', reason: 'all_replied' });
    const agents = agentsIn(guestIds, cluster.pods.filter((p) => componentOf(p.workload) === 'guest'));
    expect(agents.map((a) => a.labels['event-planner.io/persona-group']).sort()).toEqual(['enthusiasts', 'sceptics', 'undecided']);
  });

  it('scales the enthusiasts from 1 to 4: the coordinator counts them, the next summary includes them', async () => {
    const { started } = await cluster.scale(enthusiasts, 4);
    expect(started).toHaveLength(3);
    await eventually(async () => (await liveGuests('enthusiasts')) === 12, 15_000, 'twelve live enthusiasts');
    const { summary, guestIds } = await publishAndSummarize('k8s-event-2');
    expect(summary).toMatchObject({ total_invited: '18', total_responses: '18' });
    expect(agentsIn(guestIds, cluster.podsOf(enthusiasts))).toHaveLength(4);
  });

  it('lets Prometheus scrape exactly the app pods, and Redis through its exporter', async () => {
    prometheus.refreshTargets();
    const appPods = cluster.pods.filter((p) => p.process.running && p.workload.kind === 'Deployment');
    expect(appPods).toHaveLength(9);
    const expected = appPods.map((p) => `http://127.0.0.1:${p.ports.get(p.container.ports![0]!.containerPort)}/metrics`).sort();
    await eventually(
      async () => {
        const targets = await prometheus.activeTargets();
        const app = targets.filter((t) => t.labels.job === 'event-planner');
        return JSON.stringify(app.map((t) => t.scrapeUrl).sort()) === JSON.stringify(expected) && app.every((t) => t.health === 'up');
      },
      20_000,
      `Prometheus scraping the ${expected.length} app pods`,
    );
    const byPod = Object.fromEntries((await prometheus.activeTargets()).filter((t) => t.labels.job === 'event-planner').map((t) => [t.labels.pod, t.labels.namespace]));
    expect(Object.keys(byPod).sort()).toEqual(appPods.map((p) => p.name).sort());
    await eventually(async () => {
      const rows = await prometheus.query('max by (persona_group) (event_planner_guests_live)');
      return rows.find((r) => r.metric.persona_group === 'enthusiasts')?.value[1] === '12';
    }, 15_000, 'Prometheus sees the twelve enthusiasts');

    // The Redis pod's exporter, and nothing else of it, as job "redis" (every panel and alert on
    // real data: observability-proof.test.ts).
    const redisPod = cluster.podsOf(`${release}-redis`)[0]!;
    await eventually(async () => {
      const redisTargets = (await prometheus.activeTargets()).filter((t) => t.labels.job === 'redis');
      return redisTargets.length === 1 && redisTargets[0]!.scrapeUrl === `http://127.0.0.1:${redisPod.ports.get(9121)}/metrics` && redisTargets[0]!.health === 'up';
    }, 15_000, 'Prometheus scraping the Redis exporter');
    expect((await prometheus.query('redis_up{job="redis"}'))[0]?.value[1]).toBe('1');
  });

  it('stops three enthusiasts with SIGTERM: they exit cleanly, leave the registry, and the next summary is without them', async () => {
    const leaving = cluster.podsOf(enthusiasts).slice(1);
    expect(leaving).toHaveLength(3);
    const exits = await Promise.all(leaving.map((pod) => cluster.terminate(pod)));
    expect(exits).toEqual([0, 0, 0].map((code) => ({ code, signal: null })));
    for (const pod of leaving) expect(pod.process.logs().some((l) => String(l.msg).includes('deregistered')), `${pod.name} deregistered`).toBe(true);
    await eventually(async () => (await liveGuests('enthusiasts')) === 3, 10_000, 'three live enthusiasts');
    const { summary, guestIds } = await publishAndSummarize('k8s-event-3');
    expect(summary).toMatchObject({ total_invited: '9', total_responses: '9' });
    expect(agentsIn(guestIds, leaving)).toEqual([]);
  });

  it('refused nothing to the roles, the exporter and the probes: each used its own ACL user (docs/SECURITY.md)', async () => {
    const log = (await redis.call('ACL', 'LOG')) as unknown[][];
    const entries = log.map((e) => Object.fromEntries(e.flatMap((v, i) => (i % 2 === 0 ? [[String(v), String(e[i + 1])]] : []))));
    expect(entries.map((e) => `${e.username} ${e.reason} ${e.object}`)).toEqual([]);
    const users = String(await redis.call('CLIENT', 'LIST')).match(/ user=\S+/g) ?? [];
    // (The exporter and the probes connect per scrape and per probe: redis_up above shows the exporter logs in.)
    // The guest agents log in as their persona group's user, each reaching only its own group's inboxes.
    for (const user of ['host', 'coordinator', 'guest-enthusiasts', 'guest-sceptics', 'guest-undecided']) expect(users, user).toContain(` user=event-planner-${user}`);
    expect(users).not.toContain(' user=default');
  });
});
