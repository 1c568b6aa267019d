import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { streams } from '../../services/shared/streams/keys.ts';
import { flat, originalInvitation } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import { type ConfigMap, type Workload, componentOf } from './chart-render.ts';
import { allPanels, interpolate, loadDashboards } from './dashboards.ts';
import type { LocalPod } from './local-cluster.ts';
import { type LocalStack, localStackTools, startLocalStack } from './local-stack.ts';
import { findTool, needTools } from './tools.ts';

// Observability proven against the real thing: the chart (local-cluster.yaml timings, plus
// observability-proof.yaml) runs here as processes — the real services, Redis with the real
// redis_exporter beside it, and Debian's Prometheus with the scrape configuration and alert rules the
// chart renders (pod discovery replaced by a file of the local pods). Traffic flows throughout: events
// with guests, a poison entry that is dead-lettered, a coordinator killed and restarted, every guest
// agent stopped for a while. Then Prometheus' HTTP API answers for every query of every dashboard
// panel (Grafana's variables filled in) and for every alert.

const release = 'event-planner';
/** What a Grafana panel asks for: $__rate_interval is at least four scrape intervals (1 s here). */
const rateInterval = '10s';

let stack: LocalStack;
let scenarioStart = 0;
/** Every alert state seen while polling Prometheus during the scenario. */
const seen = new Map<string, Set<string>>();
let traffic: { stop: () => Promise<{ published: number; failed: string[] }> } | undefined;

beforeAll(async () => {
  if (localStackTools.some((t) => !findTool(t))) return; // each test reports what is missing
  stack = await startLocalStack(['local-cluster.yaml', 'observability-proof.yaml'], release);
  scenarioStart = Date.now();
}, 180_000);

afterAll(async () => {
  await traffic?.stop();
  await stack?.stop();
}, 120_000);

beforeEach((ctx) => {
  needTools(ctx, localStackTools);
});

/** Publishes an event through the host Service every `everyMs` until stopped. */
function startTraffic(everyMs: number): NonNullable<typeof traffic> {
  let running = true;
  let published = 0;
  const failed: string[] = [];
  const loop = (async () => {
    while (running) {
      const id = `proof-${published + failed.length}`;
      try {
        const res = await fetch(`${stack.hostUrl}/api/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...stack.apiAuth },
          body: JSON.stringify({ id, event_name: `Observability proof ${id}`, location: 'one machine' }),
        });
        if (res.status === 202) published += 1;
        else failed.push(`${id}: ${res.status} ${await res.text()}`);
      } catch (error) {
        failed.push(`${id}: ${String(error)}`);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { published, failed };
    },
  };
}

/** Polls Prometheus' alerts until `done` holds, recording every state seen. */
async function watchAlerts(done: (firing: Set<string>) => boolean, timeoutMs: number, what: string): Promise<void> {
  await eventually(
    async () => {
      const firing = new Set<string>();
      for (const a of await stack.prometheus.alerts()) {
        const name = a.labels.alertname!;
        if (!seen.has(name)) seen.set(name, new Set());
        seen.get(name)!.add(a.state);
        if (a.state === 'firing') firing.add(name);
      }
      return done(firing);
    },
    timeoutMs,
    what,
  );
}

const guestDeployments = () => stack.rendered.ofKind<Workload>('Deployment').filter((d) => componentOf(d) === 'guest');

describe('observability under real traffic', () => {
  it('runs the redis_exporter version the chart pins, and Prometheus scrapes it and every app pod', async () => {
    const exporter = stack.rendered.get<Workload>('StatefulSet', `${release}-redis`).spec.template.spec.containers.find((c) => c.name === 'redis-exporter')!;
    const pinned = exporter.image.split(':')[1]!.replace(/^v/, '');
    const version = spawnSync(findTool('redis_exporter')!, ['-version'], { encoding: 'utf8' });
    expect(`${version.stdout}${version.stderr}`).toMatch(new RegExp(`Redis Metrics Exporter v?${pinned.replaceAll('.', '\\.')}\\b`));

    const redisPod = stack.cluster.podsOf(`${release}-redis`)[0]!;
    const apps = stack.cluster.pods.filter((p) => p.process.running && p.workload.kind === 'Deployment');
    await eventually(
      async () => {
        const up = (await stack.prometheus.activeTargets()).filter((t) => t.health === 'up');
        return up.filter((t) => t.labels.job === 'event-planner').length === apps.length && up.some((t) => t.labels.job === 'redis' && t.labels.pod === redisPod.name);
      },
      20_000,
      'every app pod and the Redis exporter scraped',
    );
    traffic = startTraffic(500);
  });

  it('fires DeadLettersIncreasing once a poison entry is dead-lettered', async () => {
    await stack.redis.xadd(streams.invitations, '*', ...flat(originalInvitation({ id: 'poison entry with spaces' })));
    await watchAlerts((firing) => firing.has('DeadLettersIncreasing'), 20_000, 'DeadLettersIncreasing firing');
    const [alert] = (await stack.prometheus.alerts()).filter((a) => a.labels.alertname === 'DeadLettersIncreasing');
    expect(alert!.labels).toMatchObject({ stream: 'event_invitations', group: 'coordinators', severity: 'warning' });
  });

  it('sees a coordinator killed with SIGKILL and restarted in place as a restart', async () => {
    const coordinator = stack.cluster.podsOf(`${release}-coordinator`)[0]!;
    await stack.cluster.restart(coordinator, 'SIGKILL');
    await watchAlerts(() => true, 1_000, 'alerts');
    await eventually(
      async () => (await stack.prometheus.query(`changes(process_start_time_seconds{pod="${coordinator.name}"}[5m])`))[0]?.value[1] === '1',
      20_000,
      'Prometheus sees the restart',
    );
  });

  it('fires NoLiveGuests while every guest agent is stopped, and resolves it when they are back', async () => {
    const stopped: LocalPod[] = guestDeployments().flatMap((d) => stack.cluster.podsOf(d.metadata.name));
    expect(stopped.length).toBe(3);
    const exits = await Promise.all(stopped.map((pod) => stack.cluster.terminate(pod)));
    expect(exits.every((e) => e.code === 0)).toBe(true);
    stack.prometheus.refreshTargets();
    await watchAlerts((firing) => firing.has('NoLiveGuests'), 30_000, 'NoLiveGuests firing');
    // The guests come back (a new pod per group, as a Deployment scaled up again would make).
    for (const d of guestDeployments()) await stack.cluster.scale(d.metadata.name, 1);
    stack.prometheus.refreshTargets();
    await watchAlerts((firing) => !firing.has('NoLiveGuests'), 30_000, 'NoLiveGuests resolved');
    // Long enough after their return for every rate window to hold their traffic.
    await new Promise((r) => setTimeout(r, 12_000));
    await watchAlerts(() => true, 1_000, 'alerts');
    const result = await traffic!.stop();
    traffic = undefined;
    expect(result.failed).toEqual([]);
    expect(result.published).toBeGreaterThan(20);
  });

  it('shows data in every query of every panel of every dashboard', async () => {
    const end = Date.now();
    const range = `${Math.ceil((end - scenarioStart) / 1000)}s`;
    const empty: string[] = [];
    let queries = 0;
    for (const d of loadDashboards()) {
      for (const panel of allPanels(d).filter((p) => p.type !== 'row')) {
        for (const target of panel.targets ?? []) {
          queries += 1;
          const result = await stack.prometheus.queryRange(interpolate(target.expr, rateInterval, range), scenarioStart, end, 1);
          // Data = at least one sample that is a number (a quantile of no observations is NaN).
          const hasData = result.some((series) => series.values.some(([, v]) => Number.isFinite(Number(v))));
          if (!hasData) empty.push(`${d.file} "${panel.title}" ${target.refId}: ${target.expr}`);
        }
      }
    }
    expect(empty, `panels without data:\n${empty.join('\n')}`).toEqual([]);
    expect(queries).toBeGreaterThan(60);
  });

  it('fired exactly the alerts the scenario calls for, and every alert reads metrics that exist', async () => {
    const end = Date.now();
    const firing = await stack.prometheus.queryRange('ALERTS{alertstate="firing"}', scenarioStart, end, 1);
    expect(new Set(firing.map((s) => s.metric.alertname))).toEqual(new Set(['DeadLettersIncreasing', 'NoLiveGuests']));
    expect([...seen.entries()].filter(([, states]) => states.has('firing')).map(([name]) => name).sort()).toEqual(['DeadLettersIncreasing', 'NoLiveGuests']);
    // An alert over a metric nobody exports would never fire: every metric each rule reads has series.
    const rulesText = stack.rendered.get<ConfigMap>('ConfigMap', `${release}-prometheus`).data!['alert-rules.yml']!;
    const rules = (parse(rulesText) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    const missing: string[] = [];
    for (const rule of rules) {
      for (const metric of new Set(rule.expr.match(/\b(event_planner_[a-z0-9_]+|event_planner:[a-z0-9_]+|redis_[a-z0-9_]+)\b/g) ?? [])) {
        const series = await stack.prometheus.queryRange(`count(${metric})`, scenarioStart, end, 5);
        if (series.length === 0) missing.push(`${rule.alert ?? rule.record}: ${metric}`);
      }
    }
    expect(missing).toEqual([]);
    expect(rules.filter((r) => r.alert)).toHaveLength(11);
  });
});
