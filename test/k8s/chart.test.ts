import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type Container,
  type KubeObject,
  Rendered,
  type Service,
  type Workload,
  appComponents,
  chartDir,
  componentOf,
  renderNotes,
  resolvePort,
  selects,
} from './chart-render.ts';
import { KubeSchemas } from './kube-schemas.ts';
import { needTools, run } from './tools.ts';
import { readParams, readmeTable, valuesTable } from './values-table.ts';

/** The value sets CI renders: defaults plus the files under test/k8s/values/. */
const valueSets: Record<string, string[]> = {
  defaults: [],
  'observability off': ['observability-off.yaml'],
  'existing Redis secret': ['existing-secret.yaml'],
  'five guest groups': ['five-groups.yaml'],
  'local cluster timings': ['local-cluster.yaml'],
  'Jaeger on': ['tracing.yaml'],
};
/** Oldest and newest Kubernetes the chart is checked against (docs/KUBERNETES.md says 1.29+). */
const kubeVersions = ['1.29.0', '1.37.0'];

let helm: string;
let schemaRoot: string;
beforeEach((ctx) => {
  ({ helm, 'k8s-json-schema': schemaRoot } = needTools(ctx, ['helm', 'k8s-json-schema'] as const));
});

const renders = new Map<string, Rendered>();
function rendered(set: keyof typeof valueSets | string): Rendered {
  let r = renders.get(set);
  if (!r) {
    r = Rendered.render(helm, { valuesFiles: valueSets[set] ?? [] });
    renders.set(set, r);
  }
  return r;
}

const podSpecs = (r: Rendered) => [
  ...r.workloads().map((w) => ({ owner: `${w.kind}/${w.metadata.name}`, spec: w.spec.template.spec, labels: w.spec.template.metadata.labels })),
  ...r.ofKind<KubeObject & { spec: Workload['spec']['template']['spec'] }>('Pod').map((p) => ({ owner: `Pod/${p.metadata.name}`, spec: p.spec, labels: p.metadata.labels ?? {} })),
];

describe('helm lint and helm template', () => {
  it.each(Object.keys(valueSets))('lints clean (--strict) with %s', (set) => {
    const args = ['lint', '--strict', chartDir];
    for (const file of valueSets[set]!) args.push('--values', join(import.meta.dirname, 'values', file));
    const out = run(helm, args);
    expect(out).toContain('0 chart(s) failed');
    expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it.each(Object.keys(valueSets))('renders with %s, every object valid for Kubernetes 1.29 and 1.37', (set) => {
    const r = rendered(set);
    const problems: string[] = [];
    for (const version of kubeVersions) {
      const schemas = new KubeSchemas(schemaRoot, version);
      for (const o of r.objects) {
        for (const p of schemas.validate(o)) problems.push(`${version} ${o.kind}/${o.metadata.name}: ${p}`);
      }
    }
    expect(problems).toEqual([]);
    expect(r.objects.length).toBeGreaterThan(10);
    const names = r.objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(names).size, 'no two objects share a kind and name').toBe(names.length);
  });

  it('finds an unknown field (the schemas are strict, so the check above can fail)', () => {
    const deployment = structuredClone(rendered('defaults').get<Workload>('Deployment', 'event-planner-host'));
    (deployment.spec.template.spec.containers[0] as Container & { imagePullPolcy?: string }).imagePullPolcy = 'Always';
    expect(new KubeSchemas(schemaRoot, '1.37.0').validate(deployment).join('\n')).toContain('imagePullPolcy');
  });
});

describe('what each value set renders', () => {
  it('defaults: Redis StatefulSet, two coordinators, a host with its Service, three guest groups, Prometheus and Grafana', () => {
    const r = rendered('defaults');
    expect(r.get<Workload>('StatefulSet', 'event-planner-redis').spec.replicas).toBe(1);
    expect(r.get<Workload>('Deployment', 'event-planner-coordinator').spec.replicas).toBe(2);
    expect(r.get<Service>('Service', 'event-planner-host').spec.ports[0]).toMatchObject({ port: 8080, targetPort: 'http' });
    const guests = r.ofKind<Workload>('Deployment').filter((d) => componentOf(d) === 'guest');
    expect(guests.map((d) => d.metadata.name).sort()).toEqual([
      'event-planner-guest-enthusiasts',
      'event-planner-guest-sceptics',
      'event-planner-guest-undecided',
    ]);
    for (const kind of ['Role', 'RoleBinding']) expect(r.find(kind, 'event-planner-prometheus')).toBeDefined();
    expect(r.find('Deployment', 'event-planner-grafana')).toBeDefined();
    expect(r.find('Secret', 'event-planner-redis')).toBeDefined();
  });

  it('observability off: no Prometheus, no Grafana, no RBAC', () => {
    const r = rendered('observability off');
    const observability = r.objects.filter((o) => ['prometheus', 'grafana'].includes(componentOf(o)));
    expect(observability.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([]);
    expect(r.ofKind('Role')).toEqual([]);
    expect(r.appWorkloads()).toHaveLength(5);
  });

  it('existing Redis secret: no Secret of its own, every reference points at the given one', () => {
    const r = rendered('existing Redis secret');
    expect(r.find('Secret', 'event-planner-redis')).toBeUndefined();
    expect(r.find('Secret', 'event-planner-grafana')).toBeUndefined();
    // No secret is an environment variable anywhere: every one is a file from a mounted Secret
    // (the exporter's from a file the Redis pod's init container writes; docs/SECURITY.md).
    const refs = podSpecs(r).flatMap(({ spec }) => [...spec.containers, ...(spec.initContainers ?? [])].flatMap((c) => (c.env ?? []).filter((e) => e.valueFrom?.secretKeyRef)));
    expect(refs).toEqual([]);
    const grafanaSpec = r.get<Workload>('Deployment', 'event-planner-grafana').spec.template.spec;
    const volumes = podSpecs(r).flatMap(({ spec }) => (spec.volumes ?? []).filter((v) => v.secret && v.name !== 'redis-ca' && v.name !== 'api-auth' && spec !== grafanaSpec).map((v) => v.secret!));
    expect(volumes.length).toBe(7); // host, coordinator, three guest groups (each its own key), Redis' aclfile, its admin and probe passwords
    // The host's token signing key is the chart's own Secret (auth has its own existingSecret).
    const apiAuth = podSpecs(r).flatMap(({ spec }) => (spec.volumes ?? []).filter((v) => v.name === 'api-auth').map((v) => v.secret!.secretName));
    expect(apiAuth).toEqual(['event-planner-api-auth']);
    for (const v of volumes) expect(v.secretName).toBe('shared-redis-auth');
    // Grafana reads its admin's name and password from files (GF_<setting>__FILE) of the given Secret.
    const grafana = grafanaSpec.containers[0]!;
    const fileOf = (name: string) => grafana.env!.find((e) => e.name === name)?.value ?? '';
    const mountOf = (path: string) => grafana.volumeMounts!.find((m) => path.startsWith(`${m.mountPath}/`))!;
    for (const [variable, key] of [['GF_SECURITY_ADMIN_USER__FILE', 'admin-user'], ['GF_SECURITY_ADMIN_PASSWORD__FILE', 'admin-password']] as const) {
      const mount = mountOf(fileOf(variable));
      const secret = grafanaSpec.volumes!.find((v) => v.name === mount.name)!.secret!;
      expect(secret.secretName).toBe('shared-grafana-admin');
      expect(secret.items!.find((i) => `${mount.mountPath}/${i.path}` === fileOf(variable))?.key, variable).toBe(key);
    }
    expect(grafana.env!.map((e) => e.name)).not.toContain('GF_SECURITY_ADMIN_PASSWORD');
  });

  it('an external Redis Cluster: the shared environment names its seeds (REDIS_CLUSTER_NODES) and the partitions', () => {
    const r = Rendered.render(helm, { set: { 'redis.clusterNodes': 'redis-0.redis:6379\\,redis-1.redis:6379', 'app.env.STREAM_PARTITIONS': '3' } });
    const env = r.get<KubeObject & { data: Record<string, string> }>('ConfigMap', 'event-planner-env').data;
    expect(env).toMatchObject({ REDIS_CLUSTER_NODES: 'redis-0.redis:6379,redis-1.redis:6379', STREAM_PARTITIONS: '3' });
    expect(rendered('defaults').get<KubeObject & { data: Record<string, string> }>('ConfigMap', 'event-planner-env').data.REDIS_CLUSTER_NODES).toBeUndefined();
  });

  it('five guest groups: one Deployment and one PodDisruptionBudget per group, with the replicas asked for', () => {
    const r = rendered('five guest groups');
    const replicas = Object.fromEntries(
      r.ofKind<Workload>('Deployment').filter((d) => componentOf(d) === 'guest').map((d) => [d.metadata.name.replace('event-planner-guest-', ''), d.spec.replicas]),
    );
    expect(replicas).toEqual({ enthusiasts: 3, undecided: 2, sceptics: 1, instant: 1, 'night-owls': 2 });
    const pdbs = r.ofKind<KubeObject & { spec: { selector: object } }>('PodDisruptionBudget').filter((p) => componentOf(p) === 'guest');
    expect(pdbs).toHaveLength(5);
  });
});

describe('labels and selectors', () => {
  it.each(Object.keys(valueSets))('with %s, every workload selects its own pods and no other workload\'s', (set) => {
    const r = rendered(set);
    const workloads = r.workloads();
    for (const w of workloads) {
      const matched = workloads.filter((other) => selects(w.spec.selector, other.spec.template.metadata.labels)).map((o) => o.metadata.name);
      expect(matched, `${w.metadata.name}'s selector`).toEqual([w.metadata.name]);
      for (const key of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component']) {
        expect(w.spec.template.metadata.labels[key], `${w.metadata.name} pod label ${key}`).toBeTruthy();
      }
      for (const key of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by', 'helm.sh/chart']) {
        expect(w.metadata.labels?.[key], `${w.metadata.name} label ${key}`).toBeTruthy();
      }
    }
  });

  it.each(Object.keys(valueSets))('with %s, every Service and PodDisruptionBudget selects the pods it is for', (set) => {
    const r = rendered(set);
    const workloads = r.workloads();
    for (const s of r.ofKind<Service>('Service')) {
      const targets = workloads.filter((w) => Object.entries(s.spec.selector ?? {}).every(([k, v]) => w.spec.template.metadata.labels[k] === v));
      expect(targets.map((t) => componentOf(t)), `Service ${s.metadata.name}`).toEqual([componentOf(s)]);
      for (const port of s.spec.ports) {
        const container = targets[0]!.spec.template.spec.containers[0]!;
        expect(resolvePort(container, port.targetPort ?? port.port), `Service ${s.metadata.name} port ${port.name}`).toBeDefined();
      }
    }
    for (const pdb of r.ofKind<KubeObject & { spec: { selector: Workload['spec']['selector'] } }>('PodDisruptionBudget')) {
      const targets = workloads.filter((w) => selects(pdb.spec.selector, w.spec.template.metadata.labels));
      expect(targets.map((t) => t.metadata.name), `PodDisruptionBudget ${pdb.metadata.name}`).toEqual([pdb.metadata.name]);
    }
    const pdbOwners = new Set(r.ofKind('PodDisruptionBudget').map((p) => p.metadata.name));
    for (const w of r.appWorkloads()) expect(pdbOwners.has(w.metadata.name), `${w.metadata.name} has a PodDisruptionBudget`).toBe(true);
  });
});

describe('pod settings', () => {
  it.each(Object.keys(valueSets))('with %s, every pod is non-root, read-only, without capabilities, with seccomp RuntimeDefault', (set) => {
    for (const { owner, spec } of podSpecs(rendered(set))) {
      expect(spec.securityContext?.runAsNonRoot, `${owner} runAsNonRoot`).toBe(true);
      expect(spec.securityContext?.runAsUser, `${owner} numeric non-root uid`).toBeGreaterThan(0);
      expect(spec.enableServiceLinks, `${owner} enableServiceLinks`).toBe(false);
      // Only Prometheus calls the Kubernetes API (pod discovery); no other pod gets a token.
      if (!owner.includes('prometheus')) expect(spec.automountServiceAccountToken, `${owner} automountServiceAccountToken`).toBe(false);
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const sc = c.securityContext ?? {};
        expect(sc.readOnlyRootFilesystem, `${owner}/${c.name} readOnlyRootFilesystem`).toBe(true);
        expect(sc.allowPrivilegeEscalation, `${owner}/${c.name} allowPrivilegeEscalation`).toBe(false);
        expect(sc.capabilities, `${owner}/${c.name} capabilities`).toEqual({ drop: ['ALL'] });
        expect(sc.seccompProfile ?? spec.securityContext?.seccompProfile, `${owner}/${c.name} seccomp`).toEqual({ type: 'RuntimeDefault' });
        expect(c.imagePullPolicy, `${owner}/${c.name} imagePullPolicy`).toBe('IfNotPresent');
        expect(c.resources?.requests?.memory, `${owner}/${c.name} memory request`).toBeTruthy();
        expect(c.resources?.limits?.memory, `${owner}/${c.name} memory limit`).toBeTruthy();
      }
    }
  });

  it.each(Object.keys(valueSets))('with %s, app pods probe /healthz and /readyz on their declared HTTP port and mount no API token', (set) => {
    for (const w of rendered(set).appWorkloads()) {
      const spec = w.spec.template.spec;
      expect(spec.automountServiceAccountToken, w.metadata.name).toBe(false);
      const c = spec.containers[0]!;
      expect(c.args).toEqual([componentOf(w)]);
      expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
      expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(c.startupProbe?.httpGet?.path).toBe('/healthz');
      for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
        expect(resolvePort(c, probe!.httpGet!.port), `${w.metadata.name} probe port`).toBeDefined();
      }
    }
  });

  it('lets the app finish in-flight work: terminationGracePeriodSeconds exceeds SHUTDOWN_GRACE_MS + the app\'s 5 s hard stop', () => {
    for (const set of Object.keys(valueSets)) {
      const r = rendered(set);
      const grace = Number(r.get<KubeObject & { data: Record<string, string> }>('ConfigMap', 'event-planner-env').data.SHUTDOWN_GRACE_MS);
      for (const w of r.appWorkloads()) {
        const own = w.spec.template.spec.containers[0]!.env?.find((e) => e.name === 'SHUTDOWN_GRACE_MS')?.value;
        expect(w.spec.template.spec.terminationGracePeriodSeconds! * 1000, `${set}: ${w.metadata.name}`).toBeGreaterThan(Number(own ?? grace) + 5_000);
      }
    }
  });

  it('takes the app image from image.repository, image.tag or image.digest', () => {
    const images = (r: Rendered) => new Set(r.appWorkloads().map((w) => w.spec.template.spec.containers[0]!.image));
    expect(images(rendered('defaults'))).toEqual(new Set(['event-planner:0.1.0']));
    expect(images(Rendered.render(helm, { set: { 'image.repository': 'registry.test/ep', 'image.tag': 'abc123' } }))).toEqual(new Set(['registry.test/ep:abc123']));
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(images(Rendered.render(helm, { set: { 'image.digest': digest } }))).toEqual(new Set([`event-planner@${digest}`]));
  });
});

describe('checksum annotations', () => {
  const checksums = (r: Rendered) =>
    Object.fromEntries(r.workloads().map((w) => [w.metadata.name, Object.fromEntries(Object.entries(w.spec.template.metadata.annotations ?? {}).filter(([k]) => k.startsWith('checksum/')))]));

  it('stay the same from one render to the next (a generated password does not roll the pods)', () => {
    const a = Rendered.render(helm);
    const b = Rendered.render(helm);
    expect(checksums(b)).toEqual(checksums(a));
    const templates = (r: Rendered) => r.workloads().map((w) => JSON.stringify(w.spec.template));
    expect(templates(b)).toEqual(templates(a));
  });

  it('change when the shared environment or the Redis credentials change, so the pods roll', () => {
    const base = checksums(rendered('defaults'));
    const logLevel = checksums(Rendered.render(helm, { set: { 'app.logLevel': 'debug' } }));
    const password = checksums(Rendered.render(helm, { set: { 'redis.auth.passwords.guest-sceptics': 'n3w-pa55' } }));
    const appendfsync = checksums(Rendered.render(helm, { set: { 'redis.persistence.appendfsync': 'always' } }));
    for (const w of rendered('defaults').appWorkloads()) {
      const name = w.metadata.name;
      expect(logLevel[name]!['checksum/config'], name).not.toBe(base[name]!['checksum/config']);
      expect(password[name]!['checksum/redis-secret'], name).not.toBe(base[name]!['checksum/redis-secret']);
    }
    expect(password['event-planner-redis']!['checksum/redis-secret']).not.toBe(base['event-planner-redis']!['checksum/redis-secret']);
    expect(appendfsync['event-planner-redis']!['checksum/config']).not.toBe(base['event-planner-redis']!['checksum/config']);
    const prometheus = checksums(Rendered.render(helm, { set: { 'prometheus.scrapeInterval': '15s' } }));
    expect(prometheus['event-planner-prometheus']!['checksum/config']).not.toBe(base['event-planner-prometheus']!['checksum/config']);
  });
});

describe('values validation', () => {
  it('refuses bad values with every problem listed at once', () => {
    const render = () =>
      Rendered.render(helm, { set: { 'app.shutdownGraceMs': '60000', 'coordinator.env.CONSUMER_NAME': 'x', 'prometheus.enabled': 'false' } });
    let message = '';
    try {
      render();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('app.terminationGracePeriodSeconds (30) must exceed');
    expect(message).toContain('coordinator.env.CONSUMER_NAME is set by the chart');
    expect(message).toContain('grafana.enabled needs prometheus.enabled or grafana.prometheusUrl');
  });

  it('refuses values the schema does not allow', () => {
    expect(() => Rendered.render(helm, { set: { 'redis.persistence.appendfsync': 'sometimes' } })).toThrow(/appendfsync/);
    expect(() => Rendered.render(helm, { set: { 'guests.groups.Bad_Name.replicas': '1' } })).toThrow(/Bad_Name/);
    expect(() => Rendered.render(helm, { set: { 'guests.groups.x.personas': 'nobody' } })).toThrow(/personas/);
    expect(() => Rendered.render(helm, { set: { 'coordinator.replicaz': '3' } })).toThrow(/replicaz/);
  });
});

describe('documentation of the values', () => {
  const valuesText = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
  const params = readParams(valuesText);

  it('has a ## @param line for every key of values.yaml, and each names a real key', () => {
    const values = parse(valuesText) as Record<string, unknown>;
    const documented = new Set(params.map((p) => p.name));
    const missing: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (path && documented.has(path)) return;
      if (node && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0) {
        for (const [key, child] of Object.entries(node)) walk(child, path ? `${path}.${key}` : key);
      } else missing.push(path);
    };
    walk(values, '');
    expect(missing).toEqual([]);
    for (const { name } of params) {
      const value = name.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], values);
      expect(value, `@param ${name}`).not.toBeUndefined();
    }
  });

  it('has the values table of charts/event-planner/README.md up to date (node test/k8s/values-table.ts --write)', () => {
    expect(readmeTable()).toBe(valuesTable(valuesText));
  });
});

describe('NOTES.txt', () => {
  it('tells what to run next: the host, every guest group\'s scale command, Grafana, and the volume left behind', () => {
    const notes = renderNotes(helm, { valuesFiles: ['five-groups.yaml'], release: 'demo', namespace: 'planning' });
    expect(notes).toContain('kubectl -n planning port-forward svc/demo-host 8080:8080');
    for (const group of ['enthusiasts', 'undecided', 'sceptics', 'instant', 'night-owls']) {
      expect(notes).toContain(`kubectl -n planning scale deployment/demo-guest-${group} --replicas=5`);
    }
    expect(notes).toContain('port-forward svc/demo-grafana 3000:3000');
    // The API needs a token: the notes say where its key is and how to send one.
    expect(notes).toContain("get secret demo-api-auth -o jsonpath='{.data.jwt-secret}'");
    expect(notes).toContain('-H "authorization: Bearer $TOKEN"');
    expect(notes).toContain('delete pvc -l app.kubernetes.io/instance=demo,app.kubernetes.io/component=redis');
    const quiet = renderNotes(helm, { valuesFiles: ['observability-off.yaml'] });
    expect(quiet).not.toContain('grafana');
    expect(quiet).not.toContain('prometheus');
  });
});

describe('app components', () => {
  it('are the roles services/main.ts accepts', async () => {
    const { roles } = await import('../../services/shared/config/common-config.ts');
    expect([...roles].sort()).toEqual([...appComponents].sort());
  });
});
