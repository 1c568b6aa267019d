import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Role } from '../../services/shared/config/common-config.ts';
import { aclUserKeys } from '../../services/shared/security/acl.ts';
import { type ConfigMap, type KubeObject, Rendered, type Secret, type Service, type Workload, componentOf, resolvePort, secretValue } from './chart-render.ts';
import { directlyReadVariables, readRoleEnv } from './code-env.ts';
import { containerEnv, withMountedFiles } from './pod-env.ts';
import { withFileDiscovery } from './prometheus-config.ts';
import { needTools, repoRoot, run } from './tools.ts';

const valueSets: Record<string, string[]> = {
  defaults: [],
  'existing Redis secret': ['existing-secret.yaml'],
  'five guest groups': ['five-groups.yaml'],
  'local cluster timings': ['local-cluster.yaml'],
};
/** Stand-ins for the Secrets an existingSecret names (the chart does not render them). */
const externalSecrets = {
  // existing-secret.yaml keeps the default persona groups.
  'shared-redis-auth': Object.fromEntries(aclUserKeys({ guestGroups: ['enthusiasts', 'sceptics', 'undecided'] }).map((key) => [`${key}-password`, `${key}-from-outside`])),
  'shared-grafana-admin': { 'admin-user': 'a', 'admin-password': 'b' },
};

/** What a role cannot do without in a cluster, and why. */
const requiredEverywhere: Record<string, string> = {
  REDIS_URL: 'the default 127.0.0.1 is the pod itself',
  REDIS_USERNAME: 'the role\'s own ACL user: the chart\'s Redis has the default user off',
  REDIS_PASSWORD_FILE: 'the chart\'s Redis requires a password (a file from the Secret, the role\'s key only)',
  PORT: 'must match the containerPort the probes and Prometheus use',
  CONSUMER_NAME: 'unique per pod and stable across container restarts',
};
const requiredByRole: Record<Role, string[]> = {
  host: ['HOST_ID'],
  coordinator: ['RSVP_DEADLINE_MS', 'GUEST_TTL_MS'],
  guest: ['GUEST_AGENT_ID', 'PERSONAS', 'PERSONA_GROUP', 'GUESTS_PER_AGENT'],
};

let helm: string;
beforeEach((ctx) => {
  ({ helm } = needTools(ctx, ['helm'] as const));
});

const renders = new Map<string, Rendered>();
function rendered(set: string): Rendered {
  let r = renders.get(set);
  if (!r) renders.set(set, (r = Rendered.render(helm, { valuesFiles: valueSets[set] ?? [] })));
  return r;
}

const mountDir = mkdtempSync(join(tmpdir(), 'ep-chart-mounts-'));
afterAll(() => rmSync(mountDir, { recursive: true, force: true }));

/** The container's environment, with the files it mounts from Secrets written here and their paths pointing at them. */
function podEnv(r: Rendered, w: Workload): Record<string, string> {
  const spec = w.spec.template.spec;
  const container = spec.containers[0]!;
  const env = containerEnv(r, container, { name: `${w.metadata.name}-5d9c7b-x2x4z`, namespace: r.namespace }, externalSecrets);
  return withMountedFiles(r, spec, container, env, join(mountDir, `${r.namespace}-${w.metadata.name}-${Math.random().toString(36).slice(2)}`), externalSecrets);
}

describe('the environment the chart gives each role', () => {
  const direct = directlyReadVariables();

  it.each(Object.keys(valueSets))('with %s, is read by the code, valid, and complete', async (set) => {
    const r = rendered(set);
    for (const w of r.appWorkloads()) {
      const role = componentOf(w) as Role;
      const env = podEnv(r, w);
      const { read, problems } = await readRoleEnv(role, env);
      expect(problems, `${w.metadata.name}: the role would exit 2`).toEqual([]);
      const unread = Object.keys(env).filter((name) => !read.has(name) && !direct.has(name));
      expect(unread, `${w.metadata.name} sets variables no code reads`).toEqual([]);
      for (const name of [...Object.keys(requiredEverywhere), ...requiredByRole[role]]) {
        expect(env[name], `${w.metadata.name} must set ${name}`).toBeTruthy();
      }
      const container = w.spec.template.spec.containers[0]!;
      expect(Number(env.PORT), `${w.metadata.name}: PORT is the http containerPort`).toBe(resolvePort(container, 'http'));
      if (role === 'guest') expect(env.PERSONA_GROUP).toBe(w.spec.template.metadata.labels['event-planner.io/persona-group']);
    }
  });

  it('gives the night-owls group its own personas as JSON the guest code accepts', async () => {
    const r = rendered('five guest groups');
    const env = podEnv(r, r.get<Workload>('Deployment', 'event-planner-guest-night-owls'));
    expect(JSON.parse(env.PERSONAS!)).toEqual([
      { name: 'Olga Nachtigall', likely: 'maybe', delayMs: [3000, 9000], probabilities: { yes: 0.3, maybe: 0.5, no: 0.2 } },
    ]);
    expect(env).toMatchObject({ REPLY_DELAY_SCALE: '0.5', HEARTBEAT_INTERVAL_MS: '5000', GUESTS_PER_AGENT: '10', PERSONA_GROUP: 'night-owls' });
    expect((await readRoleEnv('guest', env)).problems).toEqual([]);
  });

  it('is refused by the code when a value is wrong (so the check above can fail)', async () => {
    const r = rendered('defaults');
    const env = { ...podEnv(r, r.get<Workload>('Deployment', 'event-planner-guest-enthusiasts')), GUESTS_PER_AGENT: 'many' };
    expect((await readRoleEnv('guest', env)).problems.join()).toContain('GUESTS_PER_AGENT');
  });
});

describe('Redis wiring', () => {
  it.each(Object.keys(valueSets))('with %s, each role reaches the Redis Service as its own ACL user, with the password Redis hashed into its aclfile', (set) => {
    const r = rendered(set);
    const redis = r.get<Workload>('StatefulSet', 'event-planner-redis');
    const redisContainer = redis.spec.template.spec.containers[0]!;
    // Redis loads the aclfile its init container writes into a volume both mount.
    const args = [...(redisContainer.command ?? []), ...(redisContainer.args ?? [])];
    const aclfile = args[args.indexOf('--aclfile') + 1]!;
    expect(args).not.toContain('--requirepass');
    const init = redis.spec.template.spec.initContainers!.find((c) => c.name === 'acl')!;
    expect(init.command).toContain(aclfile);
    const volumeOf = (c: typeof init, path: string) => c.volumeMounts!.find((m) => path.startsWith(`${m.mountPath}/`))!.name;
    expect(volumeOf(init, aclfile)).toBe(volumeOf(redisContainer, aclfile));
    const secretName = redis.spec.template.spec.volumes!.find((v) => v.name === 'passwords')!.secret!.secretName;
    const password = (role: string) => {
      const inChart = r.find<Secret>('Secret', secretName);
      return inChart ? secretValue(inChart, `${role}-password`) : (externalSecrets as Record<string, Record<string, string>>)[secretName]?.[`${role}-password`];
    };
    // One user per persona group (its guest Deployment's label), one per other role.
    const groupOf = (w: Workload) => w.spec.template.metadata.labels['event-planner.io/persona-group']!;
    const groups = r.appWorkloads().filter((w) => componentOf(w) === 'guest').map(groupOf);
    for (const key of aclUserKeys({ guestGroups: groups })) expect(password(key), `${key}-password`).toBeTruthy();
    const redisEnv = podEnv(r, redis);
    expect(redisEnv.REDISCLI_AUTH, 'no password in the environment').toBeUndefined();
    expect(readFileSync(redisEnv.REDIS_PROBE_PASSWORD_FILE!, 'utf8'), 'the probes log in as the metrics user').toBe(password('metrics'));

    const service = r.get<Service>('Service', 'event-planner-redis');
    const headless = r.get<Service>('Service', redis.spec.serviceName!);
    expect(headless.spec.clusterIP).toBe('None');
    for (const s of [service, headless]) {
      expect(Object.entries(s.spec.selector!).every(([k, v]) => redis.spec.template.metadata.labels[k] === v)).toBe(true);
      expect(resolvePort(redisContainer, s.spec.ports[0]!.targetPort!)).toBe(6379);
    }
    for (const w of r.appWorkloads()) {
      const env = podEnv(r, w);
      const url = new URL(env.REDIS_URL!);
      expect(url.hostname, `${w.metadata.name} REDIS_URL host`).toBe(service.metadata.name);
      expect(Number(url.port), `${w.metadata.name} REDIS_URL port`).toBe(service.spec.ports[0]!.port);
      expect(url.password, 'no credentials in the URL').toBe('');
      const role = componentOf(w) as Role;
      const key = role === 'guest' ? `guest-${groupOf(w)}` : role;
      expect(env.REDIS_USERNAME, `${w.metadata.name} REDIS_USERNAME`).toBe(`event-planner-${key}`);
      expect(env.REDIS_PASSWORD, 'no password in the environment').toBeUndefined();
      expect(readFileSync(env.REDIS_PASSWORD_FILE!, 'utf8'), `${w.metadata.name} REDIS_PASSWORD_FILE`).toBe(password(key));
    }
  });

  it('configures Redis for append-only persistence on the claimed volume', () => {
    for (const appendfsync of ['everysec', 'always']) {
      const r = Rendered.render(helm, { set: { 'redis.persistence.appendfsync': appendfsync } });
      const redis = r.get<Workload>('StatefulSet', 'event-planner-redis');
      const container = redis.spec.template.spec.containers[0]!;
      const configFile = container.args!.find((a) => a.endsWith('.conf'))!;
      const configMount = container.volumeMounts!.find((m) => configFile.startsWith(`${m.mountPath}/`))!;
      const volume = redis.spec.template.spec.volumes!.find((v) => v.name === configMount.name)!;
      const conf = r.get<ConfigMap>('ConfigMap', volume.configMap!.name).data![configFile.slice(configMount.mountPath.length + 1)]!;
      const directives = Object.fromEntries(conf.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#')).map((l) => [l.trim().split(/\s+/)[0], l.trim().split(/\s+/).slice(1).join(' ')]));
      expect(directives).toMatchObject({ appendonly: 'yes', appendfsync, save: '""', port: '6379' });
      const dataMount = container.volumeMounts!.find((m) => m.mountPath === directives.dir)!;
      expect(dataMount, 'the data dir is a mounted volume').toBeDefined();
      expect(redis.spec.volumeClaimTemplates!.map((t) => t.metadata.name)).toEqual([dataMount.name]);
      // What NOTES.txt and docs/KUBERNETES.md select the left-behind claim by.
      expect(redis.spec.volumeClaimTemplates![0]!.metadata.labels).toMatchObject({ 'app.kubernetes.io/instance': 'event-planner', 'app.kubernetes.io/component': 'redis' });
    }
  });
});

describe('Prometheus', () => {
  it('has a config promtool accepts (Kubernetes discovery swapped for file discovery: Debian builds it without)', (ctx) => {
    const { promtool } = needTools(ctx, ['promtool'] as const);
    const dir = mkdtempSync(join(tmpdir(), 'ep-prom-'));
    const targets = join(dir, 'targets.json');
    writeFileSync(targets, '[]');
    // Every file of the ConfigMap where the config expects it (the rule files are checked too).
    const data = rendered('defaults').get<ConfigMap>('ConfigMap', 'event-planner-prometheus').data!;
    for (const [name, text] of Object.entries(data)) writeFileSync(join(dir, name), text);
    const file = join(dir, 'prometheus.yml');
    writeFileSync(file, withFileDiscovery(data['prometheus.yml']!, targets, { configDir: dir }));
    const out = run(promtool, ['check', 'config', file]);
    expect(out).toMatch(/SUCCESS/);
    expect(out).toMatch(/alert-rules\.yml\s+SUCCESS: \d+ rules found/);
  });

  it('may discover the pods of its namespace: its ServiceAccount is bound to a Role that lists and watches pods', () => {
    const r = rendered('defaults');
    const deployment = r.get<Workload>('Deployment', 'event-planner-prometheus');
    const sa = deployment.spec.template.spec.serviceAccountName;
    const binding = r.get<KubeObject & { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] }>(
      'RoleBinding',
      'event-planner-prometheus',
    );
    expect(binding.subjects).toContainEqual({ kind: 'ServiceAccount', name: sa, namespace: r.namespace });
    const role = r.get<KubeObject & { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }>('Role', binding.roleRef.name);
    expect(role.rules).toContainEqual({ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] });
    const config = parse(r.get<ConfigMap>('ConfigMap', 'event-planner-prometheus').data!['prometheus.yml']!) as {
      scrape_configs: { job_name: string; kubernetes_sd_configs?: { role: string; namespaces: { names: string[] } }[] }[];
    };
    const job = config.scrape_configs.find((j) => j.job_name === 'event-planner')!;
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod', namespaces: { names: [r.namespace] } }]);
  });
});

describe('Grafana', () => {
  it('gets every file of grafana/dashboards/ in its dashboards ConfigMap, byte for byte', () => {
    const dir = join(repoRoot, 'grafana', 'dashboards');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const data = rendered('defaults').get<ConfigMap>('ConfigMap', 'event-planner-grafana-dashboards').data!;
    expect(Object.keys(data).sort()).toEqual(files.sort());
    for (const file of files) expect(data[file], file).toBe(readFileSync(join(dir, file), 'utf8').replace(/\n$/, ''));
  });

  it('provisions the datasource the dashboards default to and loads the dashboards from where they are mounted', () => {
    const r = rendered('defaults');
    const provisioning = r.get<ConfigMap>('ConfigMap', 'event-planner-grafana-provisioning').data!;
    const datasources = (parse(provisioning['datasources.yaml']!) as { datasources: { uid: string; type: string; url: string }[] }).datasources;
    expect(datasources).toHaveLength(1);
    const prometheus = r.get<Service>('Service', 'event-planner-prometheus');
    expect(datasources[0]).toMatchObject({ uid: 'prometheus', type: 'prometheus', url: `http://${prometheus.metadata.name}:${prometheus.spec.ports[0]!.port}` });
    for (const file of readdirSync(join(repoRoot, 'grafana', 'dashboards'))) {
      const dashboard = JSON.parse(readFileSync(join(repoRoot, 'grafana', 'dashboards', file), 'utf8')) as { templating: { list: { name: string; current?: { value: string } }[] } };
      expect(dashboard.templating.list.find((v) => v.name === 'datasource')?.current?.value, file).toBe(datasources[0]!.uid);
    }
    const grafana = r.get<Workload>('Deployment', 'event-planner-grafana').spec.template.spec.containers[0]!;
    const path = (parse(provisioning['dashboards.yaml']!) as { providers: { options: { path: string } }[] }).providers[0]!.options.path;
    expect(grafana.volumeMounts!.find((m) => m.name === 'dashboards')?.mountPath).toBe(path);
    const home = grafana.env!.find((e) => e.name === 'GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH')!.value!;
    expect(home.startsWith(`${path}/`)).toBe(true);
    expect(Object.keys(r.get<ConfigMap>('ConfigMap', 'event-planner-grafana-dashboards').data!)).toContain(home.slice(path.length + 1));
  });
});
