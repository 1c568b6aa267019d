import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../services/launcher/redis-server.ts';
import { TestAclUsers } from '../helpers/acl-users.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { Rendered, type Workload, componentOf } from './chart-render.ts';
import { startLoadingRedis } from './fake-redis.ts';
import { LocalProcess } from './local-process.ts';
import { containerEnv, withMountedFiles } from './pod-env.ts';
import { findTool, needTools, repoRoot } from './tools.ts';

const execFileAsync = promisify(execFile);
const tools = ['helm', 'redis-server', 'redis-cli'] as const;
let rendered: Rendered;
let redis: TestRedis;
const password = 'probe-test-password';

beforeAll(async () => {
  if (tools.some((t) => !findTool(t))) return;
  // Every ACL user with a known password; the probes log in as the metrics user, the roles as
  // their own (the default user is off, as in the chart).
  // The chart's persona groups and agent ids (its pods' names).
  const users = new TestAclUsers({ guestGroups: ['enthusiasts', 'sceptics', 'undecided'], agentIdScope: 'event-planner-' }, (key) => (key === 'metrics' ? password : `${key}-test-password`));
  rendered = Rendered.render(findTool('helm')!, { set: Object.fromEntries(Object.entries(users.passwords).map(([key, value]) => [`redis.auth.passwords.${key}`, value])) });
  redis = await startTestRedis({ aclFile: users.aclFile(), username: users.user('admin').username, password: users.password('admin') });
});
const mountDir = mkdtempSync(join(tmpdir(), 'ep-probe-mounts-'));
afterAll(async () => {
  await redis?.stop();
  rmSync(mountDir, { recursive: true, force: true });
});
beforeEach((ctx) => {
  needTools(ctx, tools);
});

describe('the Redis probes', () => {
  const container = () => rendered.get<Workload>('StatefulSet', 'event-planner-redis').spec.template.spec.containers[0]!;
  /**
   * Runs a rendered exec probe as the kubelet would, inside the container's environment with its
   * Secret files mounted (asynchronously: the stand-in server lives in this process and must keep
   * answering). `auth` replaces the mounted password file's content.
   */
  const probe = async (kind: 'livenessProbe' | 'readinessProbe', port: number, auth?: string) => {
    const command = container()[kind]!.exec!.command;
    const spec = rendered.get<Workload>('StatefulSet', 'event-planner-redis').spec.template.spec;
    const podEnv = containerEnv(rendered, container(), { name: 'event-planner-redis-0', namespace: 'default' });
    const mounted = withMountedFiles(rendered, spec, container(), podEnv, mkdtempSync(join(mountDir, 'redis-')));
    if (auth !== undefined) writeFileSync(mounted.REDIS_PROBE_PASSWORD_FILE!, auth);
    const env = { ...mounted, REDIS_PORT: String(port), PATH: process.env.PATH ?? '' };
    const { stdout, stderr, code } = await execFileAsync(command[0]!, command.slice(1), { env, timeout: 10_000 }).then(
      (r) => ({ ...r, code: 0 }),
      (e: { stdout?: string; stderr?: string; code?: number }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: e.code ?? 1 }),
    );
    return { ok: code === 0, output: `${stdout}${stderr}`.trim() };
  };

  it('pass when Redis answers PONG to the password from the Secret', async () => {
    expect(await probe('livenessProbe', redis.server.port)).toEqual({ ok: true, output: '' });
    expect(await probe('readinessProbe', redis.server.port)).toEqual({ ok: true, output: '' });
  });

  it('tolerate an AOF still loading in liveness only (restarting it would start the replay over)', async () => {
    const loading = await startLoadingRedis();
    try {
      expect((await probe('livenessProbe', loading.port)).ok).toBe(true);
      const readiness = await probe('readinessProbe', loading.port);
      expect(readiness.ok).toBe(false);
      expect(readiness.output).toContain('LOADING');
    } finally {
      await loading.close();
    }
  });

  it('fail with a wrong password and when nothing listens', async () => {
    for (const kind of ['livenessProbe', 'readinessProbe'] as const) {
      expect((await probe(kind, redis.server.port, 'wrong')).ok, `${kind} with a wrong password`).toBe(false);
      expect((await probe(kind, await freePort())).ok, `${kind} with nothing listening`).toBe(false);
    }
  });
});

describe('the app probes', () => {
  /** A role started from its rendered env, with REDIS_URL pointing where the test says. */
  const start = async (w: Workload, redisUrl: string) => {
    const c = w.spec.template.spec.containers[0]!;
    const port = await freePort();
    const podEnv = containerEnv(rendered, c, { name: `${w.metadata.name}-0`, namespace: 'default' });
    const env = { ...withMountedFiles(rendered, w.spec.template.spec, c, podEnv, join(mountDir, `${w.metadata.name}-${port}`)), REDIS_URL: redisUrl, PORT: String(port), PATH: process.env.PATH ?? '' };
    return { port, proc: new LocalProcess(w.metadata.name, [process.execPath, join(repoRoot, 'services', 'main.ts'), ...(c.args ?? [])], { cwd: repoRoot, env }) };
  };
  const get = async (port: number, path: string) => {
    for (let i = 0; i < 100; i += 1) {
      try {
        return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`nothing answers on ${port}`);
  };

  it('report alive but not ready while Redis cannot be reached, for every role', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}/0`;
    const one = (role: string) => rendered.appWorkloads().find((w) => componentOf(w) === role)!;
    const procs = await Promise.all(['host', 'coordinator', 'guest'].map((role) => start(one(role), closed)));
    try {
      for (const { port, proc } of procs) {
        expect(await get(port, '/healthz'), proc.output()).toBe(200);
        expect(await get(port, '/readyz'), proc.output()).toBe(503);
      }
    } finally {
      await Promise.all(procs.map(({ proc }) => proc.stop('SIGKILL')));
    }
  });

  it('turn ready once Redis is there, with the role\'s ACL user and its password from the Secret', async () => {
    const w = rendered.appWorkloads().find((x) => componentOf(x) === 'coordinator')!;
    const { port, proc } = await start(w, `redis://127.0.0.1:${redis.server.port}/0`);
    try {
      for (let i = 0; i < 100 && (await get(port, '/readyz')) !== 200; i += 1) await new Promise((r) => setTimeout(r, 100));
      expect(await get(port, '/readyz'), proc.output()).toBe(200);
      expect(await get(port, '/healthz')).toBe(200);
      expect(await proc.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    } finally {
      await proc.stop('SIGKILL');
    }
  });
});
