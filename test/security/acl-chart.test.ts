import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { aclRoles, aclUser, renderAclFile, renderChartRules } from '../../services/shared/security/acl.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { type ConfigMap, Rendered, type Secret, type Workload, secretValue } from '../k8s/chart-render.ts';
import { needTools, repoRoot } from '../k8s/tools.ts';

// The chart's Redis users are the code's: the rules file is acl.ts' rendering, and the aclfile the
// Redis pod's init container writes from it and the Secret makes Redis hold exactly the users that
// `npm start` gets from renderAclFile with the same passwords.

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

  it('makes Redis hold the same users as the code, with the Secret\'s passwords, from the init container\'s script', async () => {
    const passwords = Object.fromEntries(aclRoles.map((role) => [role, `${role}-pw with spaces & $signs`]));
    const r = Rendered.render(helm, { set: Object.fromEntries(aclRoles.map((role) => [`redis.auth.passwords.${role}`, passwords[role]!])) });
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
    for (const role of aclRoles) writeFileSync(join(dir, 'secrets', `${role}-password`), secretValue(secret, `${role}-password`)!);
    expect(init.command).toEqual(['sh', '/etc/redis/acl.sh', '/etc/redis/redis-acl.conf', '/run/secrets/redis', '/run/redis-acl/users.acl']);
    const script = spawnSync('sh', [join(dir, 'etc', 'acl.sh'), join(dir, 'etc', 'redis-acl.conf'), join(dir, 'secrets'), join(dir, 'out', 'users.acl')], { encoding: 'utf8' });
    expect(script.status, script.stderr).toBe(0);
    const aclfile = readFileSync(join(dir, 'out', 'users.acl'), 'utf8');
    for (const password of Object.values(passwords)) expect(aclfile).not.toContain(password);

    const fromChart = await startTestRedis({ aclFile: aclfile, username: aclUser('admin').username, password: passwords.admin });
    servers.push(fromChart);
    const fromCode = await startTestRedis({ aclFile: renderAclFile(passwords), username: aclUser('admin').username, password: passwords.admin });
    servers.push(fromCode);
    expect(await aclList(fromChart)).toEqual(await aclList(fromCode));
    const users = (await fromChart.client.call('ACL', 'LIST')) as string[];
    expect(users.find((u) => u.startsWith('user default '))).toMatch(/^user default off /);
    // Each role logs in with its password from the Secret.
    for (const role of aclRoles) {
      expect(await fromChart.client.call('ACL', 'DRYRUN', aclUser(role).username, 'PING')).toBe('OK');
      const auth = spawnSync('redis-cli', ['-p', String(fromChart.server.port), '--user', aclUser(role).username, '--no-auth-warning', 'PING'], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', REDISCLI_AUTH: passwords[role]! },
      });
      expect(auth.stdout.trim(), `${role}: ${auth.stderr}`).toBe('PONG');
    }
  });

  it('gives the Redis container only the admin password (for people), the init container every password', () => {
    const r = Rendered.render(helm);
    const spec = r.get<Workload>('StatefulSet', 'event-planner-redis').spec.template.spec;
    const secretVolumes = (c: { volumeMounts?: { name: string; mountPath: string }[] }) =>
      (c.volumeMounts ?? []).flatMap((m) => {
        const secret = spec.volumes!.find((v) => v.name === m.name)?.secret;
        return secret ? [{ path: m.mountPath, secretName: secret.secretName, items: secret.items }] : [];
      });
    expect(secretVolumes(spec.initContainers![0]!)).toEqual([{ path: '/run/secrets/redis', secretName: 'event-planner-redis', items: undefined }]);
    expect(secretVolumes(spec.containers[0]!)).toEqual([{ path: '/run/secrets/redis', secretName: 'event-planner-redis', items: [{ key: 'admin-password', path: 'admin-password' }] }]);
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
    expect(script.stderr).toContain('no password for Redis user event-planner-guest (guest-password in the Secret)');
  });
});
