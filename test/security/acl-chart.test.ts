import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { type AclSetup, aclUsers, renderAclFile, renderChartRules } from '../../services/shared/security/acl.ts';
import { guestAgentIdPrefix } from '../../services/shared/streams/keys.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { type ConfigMap, Rendered, type RenderOptions, type Secret, type Workload, componentOf, renderChart, secretValue } from '../k8s/chart-render.ts';
import { containerEnv } from '../k8s/pod-env.ts';
import { needTools, repoRoot } from '../k8s/tools.ts';

// The chart's Redis users are the code's: the rules file is acl.ts' rendering (its guest user a
// template), the ConfigMap repeats the guest user for the values' persona groups exactly as acl.ts
// renders them for those groups, and the aclfile the Redis pod's init container writes from it and
// the Secret makes Redis hold exactly the users that renderAclFile gives with the same passwords.

/** The chart's default persona groups, and the agent ids of their pods (<fullname>-guest-<group>-...). */
const chartSetup: AclSetup = { guestGroups: ['enthusiasts', 'sceptics', 'undecided'], agentIdScope: 'event-planner-' };
const keysOf = (setup: AclSetup) => aclUsers(setup).map((u) => u.key);
const usernameOf = (setup: AclSetup, key: string) => aclUsers(setup).find((u) => u.key === key)!.username;

const dirs: string[] = [];
const servers: TestRedis[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let helm: string;
beforeEach((ctx) => {
  ({ helm } = needTools(ctx, ['helm'] as const));
});

/** ACL LIST of a Redis, each user's rules sorted: a server lists a user's commands in an order of its own. */
async function aclList(redis: TestRedis): Promise<string[]> {
  return ((await redis.client.call('ACL', 'LIST')) as string[]).map((user) => user.split(' ').sort().join(' ')).sort();
}

describe('the chart\'s Redis ACL users', () => {
  it('has the rules of services/shared/security/acl.ts (npm run acl writes them)', () => {
    expect(readFileSync(join(repoRoot, 'charts', 'event-planner', 'files', 'redis-acl.conf'), 'utf8')).toBe(renderChartRules());
  });

  it.each<[string, RenderOptions & { release?: string }, AclSetup]>([
    ['the default groups', {}, chartSetup],
    ['five groups', { valuesFiles: ['five-groups.yaml'] }, { guestGroups: ['enthusiasts', 'instant', 'night-owls', 'sceptics', 'undecided'], agentIdScope: 'event-planner-' }],
    ['another release, one group removed', { release: 'party', set: { 'guests.groups.sceptics': 'null' } }, { guestGroups: ['enthusiasts', 'undecided'], agentIdScope: 'party-' }],
  ])('renders one guest user per persona group, as acl.ts does for them, scoped to the group\'s pod names (%s)', (_name, opts, setup) => {
    const r = Rendered.render(helm, opts);
    const release = opts.release ?? 'event-planner';
    expect(r.get<ConfigMap>('ConfigMap', `${release}-redis-config`).data!['redis-acl.conf']).toBe(renderChartRules(setup));
    const guests = r.appWorkloads().filter((w) => componentOf(w) === 'guest');
    expect(guests.map((w) => w.spec.template.metadata.labels['event-planner.io/persona-group']).sort()).toEqual([...setup.guestGroups]);
    for (const w of guests) {
      const group = w.spec.template.metadata.labels['event-planner.io/persona-group']!;
      // The pods are named <Deployment>-<hash>-<hash>: their ids start with the group's prefix.
      expect(`${w.metadata.name}-`).toBe(guestAgentIdPrefix(group, setup.agentIdScope));
      const spec = w.spec.template.spec;
      const env = containerEnv(r, spec.containers[0]!, { name: `${w.metadata.name}-7d9f-x2k4q`, namespace: 'default' });
      expect(env.GUEST_AGENT_ID!.startsWith(guestAgentIdPrefix(group, setup.agentIdScope))).toBe(true);
      expect(env.REDIS_USERNAME).toBe(usernameOf(setup, `guest-${group}`));
      expect(spec.volumes!.find((v) => v.name === 'redis-password')!.secret!.items).toEqual([{ key: `guest-${group}-password`, path: 'password' }]);
    }
    expect(Object.keys(r.get<Secret>('Secret', `${release}-redis`).data!).sort()).toEqual(keysOf(setup).map((k) => `${k}-password`).sort());
  });

  it('refuses persona groups whose pod names another group\'s user would reach, and names Kubernetes would cut', () => {
    const fails = (set: Record<string, string>) => {
      try {
        renderChart(helm, { set });
        return '';
      } catch (error) {
        return String(error);
      }
    };
    expect(fails({ 'guests.groups.night.replicas': '1', 'guests.groups.night-owls.replicas': '1' })).toContain('guests.groups.night and night-owls');
    expect(fails({ 'guests.groups.a-rather-long-group-name-of-forty-chars.replicas': '1' })).toContain('longer than 57 characters');
    expect(fails({ 'guests.groups.night-owls.replicas': '1' })).toBe('');
    // The code refuses the same pair.
    expect(() => aclUsers({ guestGroups: ['night', 'night-owls'] })).toThrow(/night and night-owls/);
  });

  it('makes Redis hold the same users as the code, with the Secret\'s passwords, from the init container\'s script', async () => {
    const passwords = Object.fromEntries(keysOf(chartSetup).map((key) => [key, `${key}-pw with spaces & $signs`]));
    // A password with the characters JSON escapes, for the exporter's password file.
    passwords.metrics = 'metrics "quoted" \\ back-slashed';
    const r = Rendered.render(helm, { set: Object.fromEntries(Object.entries(passwords).map(([key, value]) => [`redis.auth.passwords.${key}`, value.replace(/\\/g, '\\\\')])) });
    const redis = r.get<Workload>('StatefulSet', 'event-planner-redis');
    const init = redis.spec.template.spec.initContainers!.find((c) => c.name === 'acl')!;
    const config = r.get<ConfigMap>('ConfigMap', 'event-planner-redis-config').data!;
    const secret = r.get<Secret>('Secret', 'event-planner-redis');

    // The init container's command, with its mounts as local folders: sh acl.sh <rules> <secrets> <aclfile>.
    const dir = mkdtempSync(join(tmpdir(), 'ep-acl-chart-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'etc'));
    mkdirSync(join(dir, 'secrets'));
    mkdirSync(join(dir, 'out'));
    for (const [file, text] of Object.entries(config)) writeFileSync(join(dir, 'etc', file), text);
    for (const key of keysOf(chartSetup)) writeFileSync(join(dir, 'secrets', `${key}-password`), secretValue(secret, `${key}-password`)!);
    expect(secretValue(secret, 'metrics-password')).toBe(passwords.metrics);
    expect(init.command).toEqual(['sh', '/etc/redis/acl.sh', '/etc/redis/redis-acl.conf', '/run/secrets/redis', '/run/redis-acl/users.acl']);
    const initEnv = containerEnv(r, init, { name: 'event-planner-redis-0', namespace: 'default' });
    expect(initEnv.EXPORTER_PASSWORD_FILE).toBe('/run/redis-exporter/password.json');
    const script = spawnSync('sh', [join(dir, 'etc', 'acl.sh'), join(dir, 'etc', 'redis-acl.conf'), join(dir, 'secrets'), join(dir, 'out', 'users.acl')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', EXPORTER_REDIS_ADDR: initEnv.EXPORTER_REDIS_ADDR!, EXPORTER_PASSWORD_FILE: join(dir, 'out', 'password.json') },
    });
    expect(script.status, script.stderr).toBe(0);
    const aclfile = readFileSync(join(dir, 'out', 'users.acl'), 'utf8');
    for (const password of Object.values(passwords)) expect(aclfile).not.toContain(password);
    // redis_exporter's password file: its address (REDIS_ADDR) to the metrics user's password.
    const exporter = r.get<Workload>('StatefulSet', 'event-planner-redis').spec.template.spec.containers.find((c) => c.name === 'redis-exporter')!;
    const exporterEnv = containerEnv(r, exporter, { name: 'event-planner-redis-0', namespace: 'default' });
    expect(JSON.parse(readFileSync(join(dir, 'out', 'password.json'), 'utf8'))).toEqual({ [exporterEnv.REDIS_ADDR!]: passwords.metrics });
    expect(exporterEnv.REDIS_PASSWORD_FILE).toBe(initEnv.EXPORTER_PASSWORD_FILE);

    const admin = usernameOf(chartSetup, 'admin');
    const fromChart = await startTestRedis({ aclFile: aclfile, username: admin, password: passwords.admin });
    servers.push(fromChart);
    const fromCode = await startTestRedis({ aclFile: renderAclFile(passwords, chartSetup), username: admin, password: passwords.admin });
    servers.push(fromCode);
    expect(await aclList(fromChart)).toEqual(await aclList(fromCode));
    const users = (await fromChart.client.call('ACL', 'LIST')) as string[];
    expect(users.find((u) => u.startsWith('user default '))).toMatch(/^user default off /);
    // Each role logs in with its password from the Secret.
    for (const key of keysOf(chartSetup)) {
      expect(await fromChart.client.call('ACL', 'DRYRUN', usernameOf(chartSetup, key), 'PING')).toBe('OK');
      const auth = spawnSync('redis-cli', ['-p', String(fromChart.server.port), '--user', usernameOf(chartSetup, key), '--no-auth-warning', 'PING'], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', REDISCLI_AUTH: passwords[key]! },
      });
      expect(auth.stdout.trim(), `${key}: ${auth.stderr}`).toBe('PONG');
    }
  });

  it('gives the Redis container only the admin password (for people) and the metrics one (its probes), the init container every password', () => {
    const r = Rendered.render(helm);
    const spec = r.get<Workload>('StatefulSet', 'event-planner-redis').spec.template.spec;
    const secretVolumes = (c: { volumeMounts?: { name: string; mountPath: string }[] }) =>
      (c.volumeMounts ?? []).flatMap((m) => {
        const secret = spec.volumes!.find((v) => v.name === m.name)?.secret;
        return secret ? [{ path: m.mountPath, secretName: secret.secretName, items: secret.items }] : [];
      });
    expect(secretVolumes(spec.initContainers![0]!)).toEqual([{ path: '/run/secrets/redis', secretName: 'event-planner-redis', items: undefined }]);
    expect(secretVolumes(spec.containers[0]!)).toEqual([
      { path: '/run/secrets/redis', secretName: 'event-planner-redis', items: [{ key: 'admin-password', path: 'admin-password' }, { key: 'metrics-password', path: 'metrics-password' }] },
    ]);
    // The exporter gets no Secret at all: the init container writes its password file into memory.
    expect(secretVolumes(spec.containers.find((c) => c.name === 'redis-exporter')!)).toEqual([]);
    // The operators' command (NOTES.txt, docs/OPERATIONS.md) reads that file.
    expect(readFileSync(join(repoRoot, 'charts', 'event-planner', 'templates', 'NOTES.txt'), 'utf8')).toContain('cat /run/secrets/redis/admin-password');
  });

  it('stops the Redis pod when the Secret lacks a password', () => {
    const r = Rendered.render(helm);
    const config = r.get<ConfigMap>('ConfigMap', 'event-planner-redis-config').data!;
    const dir = mkdtempSync(join(tmpdir(), 'ep-acl-chart-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'acl.sh'), config['acl.sh']!);
    writeFileSync(join(dir, 'rules'), config['redis-acl.conf']!);
    writeFileSync(join(dir, 'host-password'), 'only-this-one');
    const script = spawnSync('sh', [join(dir, 'acl.sh'), join(dir, 'rules'), dir, join(dir, 'users.acl')], { encoding: 'utf8' });
    expect(script.status).not.toBe(0);
    expect(() => readFileSync(join(dir, 'users.acl')), 'no aclfile: Redis would not start').toThrow(/ENOENT/);
    expect(script.stderr).toContain('no password for Redis user event-planner-guest-enthusiasts (guest-enthusiasts-password in the Secret)');
  });
});
