import { beforeEach, describe, expect, it } from 'vitest';
import { type KubeObject, Rendered, type Workload, componentOf } from '../k8s/chart-render.ts';
import { needTools } from '../k8s/tools.ts';

// The chart's NetworkPolicies, evaluated with Kubernetes' rules for ingress (a pod selected by no
// Ingress policy takes everything; a selected pod takes what one of its policies' rules allows:
// `from` empty or a matching peer, and `ports` empty or a matching port, named ports resolved on
// the destination's containers). No CNI enforces anything on this machine; the e2e run on kind
// (kindnet enforces NetworkPolicy) checks the release still works with them.

interface Selector { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] }
interface Peer { podSelector?: Selector; namespaceSelector?: Selector; ipBlock?: unknown }
interface Rule { from?: Peer[]; ports?: { port?: number | string; protocol?: string }[] }
interface NetworkPolicy extends KubeObject { spec: { podSelector: Selector; policyTypes?: string[]; ingress?: Rule[] } }

function matches(selector: Selector, labels: Record<string, string>): boolean {
  const plain = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const expressions = (selector.matchExpressions ?? []).every((e) => {
    if (e.operator === 'In') return e.values!.includes(labels[e.key] ?? '\0');
    if (e.operator === 'NotIn') return !e.values!.includes(labels[e.key] ?? '\0');
    if (e.operator === 'Exists') return e.key in labels;
    if (e.operator === 'DoesNotExist') return !(e.key in labels);
    throw new Error(`operator ${e.operator}`);
  });
  return plain && expressions;
}

interface Pod { name: string; labels: Record<string, string>; ports: Map<string, number> }

function podsOf(r: Rendered): Pod[] {
  return r.workloads().map((w: Workload) => ({
    name: componentOf(w) === 'guest' ? w.metadata.name : componentOf(w),
    labels: w.spec.template.metadata.labels,
    ports: new Map(w.spec.template.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => [p.name ?? String(p.containerPort), p.containerPort] as const))),
  }));
}

/** Whether `from` (a pod of the namespace, by its labels) may open a TCP connection to `to` on `port`. */
function allowed(policies: NetworkPolicy[], from: Record<string, string>, to: Pod, port: number): boolean {
  const selecting = policies.filter((p) => (p.spec.policyTypes ?? ['Ingress']).includes('Ingress') && matches(p.spec.podSelector, to.labels));
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (p.spec.ingress ?? []).some((rule) => {
      // Peers with a namespaceSelector or an ipBlock are about other namespaces or addresses, not the pods here.
      const peer = rule.from === undefined || rule.from.length === 0 || rule.from.some((f) => f.podSelector !== undefined && f.namespaceSelector === undefined && f.ipBlock === undefined && matches(f.podSelector, from));
      const ports = rule.ports === undefined || rule.ports.length === 0 || rule.ports.some((p) => (typeof p.port === 'number' ? p.port : to.ports.get(String(p.port))) === port);
      return peer && ports;
    }),
  );
}

let helm: string;
beforeEach((ctx) => {
  ({ helm } = needTools(ctx, ['helm'] as const));
});

describe('NetworkPolicies', () => {
  it('let only the app roles reach Redis, only Prometheus scrape, only Grafana query Prometheus, anyone the host and Grafana', () => {
    const r = Rendered.render(helm, { set: { 'jaeger.enabled': 'true' } });
    const policies = r.objects.filter((o): o is NetworkPolicy => o.kind === 'NetworkPolicy');
    const pods = podsOf(r);
    const pod = (name: string) => pods.find((p) => p.name === name)!;
    const guests = pods.filter((p) => componentOf({ metadata: { labels: p.labels } } as KubeObject) === 'guest');
    const apps = [pod('host'), pod('coordinator'), ...guests];
    // A pod of the namespace that is not the release's (another app, a debugging shell).
    const stranger = { app: 'something-else' };
    // Every pod of the release is selected by a policy: nothing is open by omission.
    for (const p of pods) expect(policies.some((np) => matches(np.spec.podSelector, p.labels)), p.name).toBe(true);

    const redis = pod('redis');
    for (const app of apps) expect(allowed(policies, app.labels, redis, 6379), `${app.name} -> redis`).toBe(true);
    for (const other of [pod('prometheus'), pod('grafana'), pod('jaeger')]) expect(allowed(policies, other.labels, redis, 6379), `${other.name} -> redis`).toBe(false);
    expect(allowed(policies, stranger, redis, 6379), 'a stranger -> redis').toBe(false);
    expect(allowed(policies, pod('prometheus').labels, redis, 9121), 'prometheus -> the exporter').toBe(true);
    expect(allowed(policies, pod('coordinator').labels, redis, 9121), 'coordinator -> the exporter').toBe(false);

    for (const target of [pod('coordinator'), ...guests]) {
      expect(allowed(policies, pod('prometheus').labels, target, target.ports.get('http')!), `prometheus scrapes ${target.name}`).toBe(true);
      expect(allowed(policies, stranger, target, target.ports.get('http')!), `a stranger -> ${target.name}`).toBe(false);
      expect(allowed(policies, pod('host').labels, target, target.ports.get('http')!), `host -> ${target.name}`).toBe(false);
    }
    expect(allowed(policies, stranger, pod('host'), 8080), 'anyone -> the host API').toBe(true);
    expect(allowed(policies, stranger, pod('host'), 9999), 'only the host\'s http port').toBe(false);
    expect(allowed(policies, stranger, pod('grafana'), 3000), 'anyone -> grafana').toBe(true);
    expect(allowed(policies, pod('grafana').labels, pod('prometheus'), 9090), 'grafana -> prometheus').toBe(true);
    expect(allowed(policies, stranger, pod('prometheus'), 9090), 'a stranger -> prometheus').toBe(false);
    for (const app of apps) expect(allowed(policies, app.labels, pod('jaeger'), 4318), `${app.name} -> jaeger OTLP`).toBe(true);
    expect(allowed(policies, stranger, pod('jaeger'), 4318), 'a stranger -> jaeger OTLP').toBe(false);
    expect(allowed(policies, stranger, pod('jaeger'), 16686), 'anyone -> the Jaeger UI').toBe(true);
  });

  it('narrow the host and Grafana to networkPolicy.uiFrom, Prometheus still scraping the host', () => {
    const r = Rendered.render(helm, { set: { 'networkPolicy.uiFrom[0].podSelector.matchLabels.role': 'ingress' } });
    const policies = r.objects.filter((o): o is NetworkPolicy => o.kind === 'NetworkPolicy');
    const pods = podsOf(r);
    const pod = (name: string) => pods.find((p) => p.name === name)!;
    expect(allowed(policies, { role: 'ingress' }, pod('host'), 8080)).toBe(true);
    expect(allowed(policies, { app: 'something-else' }, pod('host'), 8080)).toBe(false);
    expect(allowed(policies, { app: 'something-else' }, pod('grafana'), 3000)).toBe(false);
    expect(allowed(policies, pod('prometheus').labels, pod('host'), 8080)).toBe(true);
  });

  it('can be turned off', () => {
    expect(Rendered.render(helm, { set: { 'networkPolicy.enabled': 'false' } }).objects.filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
  });
});
