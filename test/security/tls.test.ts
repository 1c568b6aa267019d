import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../services/launcher/redis-server.ts';
import { streams } from '../../services/shared/streams/keys.ts';
import { TestAclUsers } from '../helpers/acl-users.ts';
import { type LogLine, Processes } from '../helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import { type ConfigMap, Rendered, type Workload, componentOf } from '../k8s/chart-render.ts';
import { readRoleEnv } from '../k8s/code-env.ts';
import { containerEnv } from '../k8s/pod-env.ts';
import { needTools } from '../k8s/tools.ts';

// TLS to Redis: a redis-server with a TLS port that requires client certificates (and the ACL
// users), certificates made here with openssl: a CA, the server's (localhost, 127.0.0.1), a client
// certificate, and a second CA nobody trusts. The roles reach it only through rediss://.

const dir = mkdtempSync(join(tmpdir(), 'ep-tls-'));
const file = (name: string) => join(dir, name);
const users = new TestAclUsers({ guestGroups: ['original'] });
let redis: TestRedis;
let tlsPort: number;
let procs: Processes;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, and a certificate it signs for `cn` with `san` (subjectAltName) when given. */
function makeCertificates(): void {
  for (const ca of ['ca', 'other-ca']) openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '1', '-subj', `/CN=${ca}`]);
  const sign = (name: string, cn: string, ext: string) => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    writeFileSync(file(`${name}.ext`), ext);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`]);
  };
  sign('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  sign('client', 'event-planner', 'extendedKeyUsage=clientAuth\n');
}

function tlsEnv(role: 'host' | 'coordinator' | 'guest', overrides: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: `rediss://localhost:${tlsPort}/0`,
    ...users.env(role),
    REDIS_TLS_CA_FILE: file('ca.crt'),
    REDIS_TLS_CERT_FILE: file('client.crt'),
    REDIS_TLS_KEY_FILE: file('client.key'),
    ...overrides,
  };
}

beforeAll(async () => {
  makeCertificates();
  tlsPort = await freePort();
  // The plain port stays for this test's own assertions (admin); the roles get only the TLS one.
  redis = await startTestRedis({
    aclFile: users.aclFile(),
    username: users.user('admin').username,
    password: users.password('admin'),
    args: ['--tls-port', String(tlsPort), '--tls-cert-file', file('server.crt'), '--tls-key-file', file('server.key'), '--tls-ca-cert-file', file('ca.crt'), '--tls-auth-clients', 'yes'],
  });
});
afterEach(async () => {
  await procs?.stopAll();
  await redis.flush();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('TLS to Redis', () => {
  it('runs the whole flow over rediss:// with client certificates and each role\'s ACL user', async () => {
    procs = new Processes({});
    await procs.coordinator(tlsEnv('coordinator'));
    await procs.guests({ ...tlsEnv('guest'), GUESTS_PER_AGENT: '5', PERSONAS: 'original' });
    const host = await procs.host({ ...tlsEnv('host'), PUBLISH_SAMPLE_EVENT: 'true', HOST_ID: 'tls-host' });
    await host.waitForLog((l) => l.msg.startsWith('📊 summary received'), 30_000, 'summary over TLS');
    expect(await readAll(redis.client, streams.summaries)).toHaveLength(1);
    expect(JSON.parse((await host.get('/info')).body).redis.address).toBe(`rediss://localhost:${tlsPort}/0`);
    // Every connection of the three roles is on the TLS port (CLIENT LIST names the local port).
    const clients = String(await redis.client.call('CLIENT', 'LIST'))
      .trim()
      .split('\n')
      .filter((line) => /user=event-planner-(host|coordinator|guest) /.test(line));
    expect(clients.length).toBeGreaterThanOrEqual(3);
    for (const line of clients) expect(line).toContain(`laddr=127.0.0.1:${tlsPort}`);
  });

  it('does not connect to a server whose certificate another CA signed, nor without a client certificate', async () => {
    procs = new Processes({});
    // Each starts (Redis may come later) but is never ready, and says why.
    const untrusting = await procs.start('coordinator', tlsEnv('coordinator', { REDIS_TLS_CA_FILE: file('other-ca.crt') }), { ready: false });
    const { REDIS_TLS_CERT_FILE: _c, REDIS_TLS_KEY_FILE: _k, ...withoutClientCertificate } = tlsEnv('guest');
    const anonymous = await procs.start('guest', withoutClientCertificate, { ready: false });
    const redisError = (p: typeof untrusting) => p.logs.map((l) => String(l.err ?? '')).find((e) => e !== '');
    // Under load, starting the process is most of the wait, and has nothing to do with TLS: at load
    // ~15–20 on 2 cores it logged "listening" 3.3–14.3 s after the spawn (~1 s when quiet), and a
    // fixed 15 s from the spawn failed 2 runs in 12. So each process is given its start-up (up to
    // that line, logged just before its first connection attempt), then 15 s to be refused; the
    // refusal came 0.06–0.3 s after that line in every run measured.
    const refused = async (p: typeof untrusting, refusal: (l: LogLine) => boolean, what: string) => {
      await p.waitForLog((l) => l.msg.startsWith(`${p.role} listening on`), 60_000, 'its start-up (listening, then connecting)');
      await p.waitForLog(refusal, 15_000, what);
    };
    await Promise.all([
      refused(untrusting, (l) => /self[- ]signed|unable to verify|certificate/i.test(String(l.err ?? '')), 'a certificate error'),
      refused(anonymous, (l) => l.msg === 'redis connection error', 'a refused handshake'),
    ]);
    await Promise.all(
      [untrusting, anonymous].map(async (p) => {
        // The probe's answer itself, so that a timeout says what was seen (on a loaded machine, each
        // refused TLS handshake and reconnect costs the process some time).
        await eventually(async () => {
          const answer = await p.get('/readyz');
          if (answer.status !== 503) throw new Error(`status ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
          return true;
        }, 30_000, `${p.role} answering not ready`);
        expect(p.running, redisError(p)).toBe(true);
      }),
    );
    // A refused client certificate reads as the server's alert or as a reset, whichever the client
    // meets first (measured: a reset in 30–44 % of handshakes, quiet or loaded).
    expect(redisError(anonymous)).toMatch(/certificate required|alert|socket|ECONNRESET|Connection is closed/i);
  }, 120_000);

  it('stops at start (exit 2) when the client key does not belong to its certificate', async () => {
    procs = new Processes({});
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'stray.key', '-out', 'stray.csr', '-subj', '/CN=stray']);
    const p = await procs.start('guest', tlsEnv('guest', { REDIS_TLS_KEY_FILE: file('stray.key') }), { ready: false });
    expect((await p.exited).code).toBe(2);
    expect(p.stderr.join('\n')).toMatch(/REDIS_TLS_CERT_FILE: not usable \(.*key values mismatch/);
  });
});

describe('the chart with redis.tls.enabled', () => {
  it('serves TLS only, and gives every role rediss:// and the CA (only the CA) from the Secret', async (ctx) => {
    const { helm } = needTools(ctx, ['helm'] as const);
    const r = Rendered.render(helm, { set: { 'redis.tls.enabled': 'true', 'redis.tls.existingSecret': 'redis-tls' } });
    const conf = r.get<ConfigMap>('ConfigMap', 'event-planner-redis-config').data!['redis.conf']!;
    expect(conf).toMatch(/^port 0$/m);
    expect(conf).toMatch(/^tls-port 6379$/m);
    const redisPod = r.get<Workload>('StatefulSet', 'event-planner-redis').spec.template.spec;
    const tlsMount = redisPod.containers[0]!.volumeMounts!.find((m) => m.name === 'tls')!;
    for (const key of ['tls-cert-file', 'tls-key-file', 'tls-ca-cert-file']) expect(new RegExp(`^${key} ${tlsMount.mountPath}/`, 'm').test(conf), key).toBe(true);
    expect(redisPod.volumes!.find((v) => v.name === 'tls')!.secret!.secretName).toBe('redis-tls');
    const exporter = redisPod.containers.find((c) => c.name === 'redis-exporter')!;
    expect(exporter.env!.find((e) => e.name === 'REDIS_ADDR')!.value).toMatch(/^rediss:\/\//);
    for (const w of r.appWorkloads()) {
      const spec = w.spec.template.spec;
      const container = spec.containers[0]!;
      const env = containerEnv(r, container, { name: `${w.metadata.name}-x`, namespace: r.namespace });
      expect(env.REDIS_URL, w.metadata.name).toMatch(/^rediss:\/\/event-planner-redis:6379\//);
      const mount = container.volumeMounts!.find((m) => env.REDIS_TLS_CA_FILE!.startsWith(`${m.mountPath}/`))!;
      const volume = spec.volumes!.find((v) => v.name === mount.name)!;
      expect(volume.secret, w.metadata.name).toEqual({ secretName: 'redis-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
      // The code takes these settings (the CA file as this test made it).
      const role = componentOf(w) as 'host' | 'coordinator' | 'guest';
      writeFileSync(file('password'), 'x');
      // The host also reads its token signing key from a mounted file (its own Secret, not the TLS one).
      const apiKey: Record<string, string> = env.API_JWT_SECRET_FILE ? (writeFileSync(file('api-key'), 'k'.repeat(48)), { API_JWT_SECRET_FILE: file('api-key') }) : {};
      expect((await readRoleEnv(role, { ...env, REDIS_TLS_CA_FILE: file('ca.crt'), REDIS_PASSWORD_FILE: file('password'), ...apiKey })).problems, w.metadata.name).toEqual([]);
    }
  });

  it('refuses TLS without the Secret holding the certificates', (ctx) => {
    const { helm } = needTools(ctx, ['helm'] as const);
    expect(() => Rendered.render(helm, { set: { 'redis.tls.enabled': 'true' } })).toThrow(/redis.tls.enabled needs redis.tls.existingSecret/);
  });
});
