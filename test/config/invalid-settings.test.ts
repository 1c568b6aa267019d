import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../services/launcher/redis-server.ts';
import { type Finished, runCommand } from '../helpers/command.ts';

// Every setting of the README's configuration table (and the launcher's), each given a value that
// is wrong in type, range, form or relation to another, on a real process start: the process must
// exit 2 and name the variable and what is allowed on stderr, before it touches Redis or the network.

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'services', 'main.ts');
const demo = join(root, 'services', 'launcher', 'demo.ts');
// No .env in the working directory, and only what the process needs from ours.
const cwd = mkdtempSync(join(tmpdir(), 'ep-config-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));
// A file where the launcher wants a folder.
writeFileSync(join(cwd, 'a-file'), '');
// A file that holds something, but no certificate.
writeFileSync(join(cwd, 'password'), 's3cret\n');

function run(args: string[], env: Record<string, string>, timeoutMs = 20_000): Promise<Finished> {
  // A start that does not stop on a wrong value runs on until the timeout: that is the failure.
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, LOG_FORMAT: 'json', PORT: '0' };
  return runCommand(process.execPath, args, { cwd, env: { ...base, ...env }, timeoutMs });
}

type Row = [role: 'host' | 'coordinator' | 'guest', env: Record<string, string>, variable: string, allowed: RegExp];

const rows: Row[] = [
  // Redis
  ['guest', { REDIS_URL: 'http://redis:6379' }, 'REDIS_URL', /a redis:\/\/ or rediss:\/\/ URL/],
  ['guest', { REDIS_URL: 'redis://redis:0/0' }, 'REDIS_URL', /a port from 1 to 65535/],
  ['guest', { REDIS_URL: 'redis://redis:70000/0' }, 'REDIS_URL', /port 1-65535/],
  ['guest', { REDIS_URL: 'redis://redis:6379/16' }, 'REDIS_URL', /a database number from 0 to 15/],
  ['guest', { REDIS_URL: 'redis://redis:6379/0?tls=true' }, 'REDIS_URL', /no \?query/],
  ['coordinator', { REDIS_CLUSTER_NODES: 'redis-0' }, 'REDIS_CLUSTER_NODES', /host:port seeds of a Redis Cluster/],
  ['host', { REDIS_CLUSTER_NODES: '10.0.0.1:6379,10.0.0.2:99999' }, 'REDIS_CLUSTER_NODES', /port from 1 to 65535/],
  ['guest', { REDIS_CLUSTER_NODES: '10.0.0.1:6379', REDIS_DB: '2' }, 'REDIS_CLUSTER_NODES', /only database 0/],
  ['coordinator', { STREAM_PARTITIONS: '0' }, 'STREAM_PARTITIONS', /from 1 to 256/],
  ['guest', { STREAM_ACK_WAIT_REPLICAS: '-1' }, 'STREAM_ACK_WAIT_REPLICAS', /from 0 to 16/],
  ['coordinator', { STREAM_ACK_WAIT_TIMEOUT_MS: '5' }, 'STREAM_ACK_WAIT_TIMEOUT_MS', /from 10 to 60000/],
  ['guest', { REDIS_URL: 'redis://bad_host:6379/0' }, 'REDIS_URL', /RFC 1123/],
  ['guest', { REDIS_URL: 'redis://:s3cr%ZZ@redis:6379/0' }, 'REDIS_URL', /percent-encoded/],
  ['guest', { REDIS_HOST: 'bad host name' }, 'REDIS_HOST', /an IP address .* or a host name \(RFC 1123/],
  ['guest', { REDIS_HOST: 'redis:6379' }, 'REDIS_HOST', /without a port \(that is REDIS_PORT\)/],
  ['guest', { REDIS_HOST: '300.1.1.1' }, 'REDIS_HOST', /RFC 1123/],
  ['guest', { REDIS_PORT: '70000' }, 'REDIS_PORT', /integer from 1 to 65535/],
  ['guest', { REDIS_PORT: 'tcp://10.0.0.7:6379' }, 'REDIS_PORT', /integer from 1 to 65535/],
  ['guest', { REDIS_DB: '16' }, 'REDIS_DB', /integer from 0 to 15/],
  ['guest', { REDIS_USERNAME: 'app' }, 'REDIS_USERNAME', /needs a password/],
  ['guest', { REDIS_USERNAME: 'two words', REDIS_PASSWORD: 'pw' }, 'REDIS_USERNAME', /an ACL user name/],
  ['guest', { REDIS_PASSWORD_FILE: join(cwd, 'missing') }, 'REDIS_PASSWORD_FILE', /a readable file holding the Redis password \(ENOENT\)/],
  ['guest', { REDIS_PASSWORD_FILE: join(cwd, 'a-file') }, 'REDIS_PASSWORD_FILE', /it is empty/],
  ['guest', { REDIS_PASSWORD_FILE: join(cwd, 'password'), REDIS_PASSWORD: 'pw' }, 'REDIS_PASSWORD_FILE', /REDIS_PASSWORD is set as well; set one of them/],
  ['guest', { REDIS_TLS: 'maybe' }, 'REDIS_TLS', /one of true, false/],
  ['guest', { REDIS_URL: 'rediss://redis:6379/0', REDIS_TLS: 'false' }, 'REDIS_TLS', /true \(or unset\) with a rediss:\/\/ REDIS_URL/],
  ['guest', { REDIS_TLS_CA_FILE: join(cwd, 'password') }, 'REDIS_TLS_CA_FILE', /TLS is off/],
  ['guest', { REDIS_TLS_SERVERNAME: 'redis.example' }, 'REDIS_TLS_SERVERNAME', /TLS is off/],
  ['guest', { REDIS_TLS: 'true', REDIS_TLS_CERT_FILE: join(cwd, 'password') }, 'REDIS_TLS_CERT_FILE', /goes together with REDIS_TLS_KEY_FILE/],
  ['guest', { REDIS_TLS: 'true', REDIS_TLS_CA_FILE: join(cwd, 'password') }, 'REDIS_TLS_CA_FILE', /not usable/],
  ['guest', { REDIS_SOCKET_TIMEOUT_MS: '50' }, 'REDIS_SOCKET_TIMEOUT_MS', /integer from 200 to 600000/],
  // HTTP, logs, identity
  ['guest', { PORT: '70000' }, 'PORT', /integer from 0 to 65535/],
  ['host', { PORT: 'http' }, 'PORT', /integer from 0 to 65535/],
  ['guest', { LISTEN_HOST: 'not-an-address' }, 'LISTEN_HOST', /an address of this machine or a name that resolves to one/],
  ['coordinator', { LISTEN_HOST: '999.1.1.1' }, 'LISTEN_HOST', /an IP address .* or a host name/],
  ['host', { LISTEN_HOST: 'localhost:8080' }, 'LISTEN_HOST', /without a port \(that is PORT\)/],
  ['guest', { LISTEN_HOST: '203.0.113.7' }, 'LISTEN_HOST', /an address of this machine, or 0\.0\.0\.0/],
  ['guest', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /one of fatal, error, warn, info, debug, trace, silent/],
  ['guest', { LOG_FORMAT: 'xml' }, 'LOG_FORMAT', /one of json, pretty/],
  ['coordinator', { CONSUMER_NAME: 'has space' }, 'CONSUMER_NAME', /letters, digits or/],
  ['guest', { SHUTDOWN_GRACE_MS: '-1' }, 'SHUTDOWN_GRACE_MS', /integer from 0 to 600000/],
  ['guest', { EVENT_LOOP_STALL_MS: '10' }, 'EVENT_LOOP_STALL_MS', /integer from 100 to 600000/],
  ['guest', { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', /http:\/\/ or https:\/\/ URL/],
  ['host', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', /URL with a host/],
  // Streams
  ['guest', { STREAM_BLOCK_MS: '0' }, 'STREAM_BLOCK_MS', /integer from 10 to 60000/],
  ['guest', { STREAM_BATCH_SIZE: '0' }, 'STREAM_BATCH_SIZE', /integer from 1 to 10000/],
  ['coordinator', { STREAM_CONCURRENCY: '1.5' }, 'STREAM_CONCURRENCY', /integer from 1 to 100000/],
  ['guest', { STREAM_CLAIM_IDLE_MS: '10' }, 'STREAM_CLAIM_IDLE_MS', /integer from 100 to 86400000/],
  ['guest', { STREAM_RECLAIM_INTERVAL_MS: 'often' }, 'STREAM_RECLAIM_INTERVAL_MS', /integer from 50/],
  ['guest', { STREAM_MAX_DELIVERIES: '0' }, 'STREAM_MAX_DELIVERIES', /integer from 1 to 1000/],
  ['guest', { RETRY_BACKOFF_BASE_MS: '0' }, 'RETRY_BACKOFF_BASE_MS', /integer from 1 to 3600000/],
  ['guest', { RETRY_BACKOFF_BASE_MS: '5000', RETRY_BACKOFF_MAX_MS: '2000' }, 'RETRY_BACKOFF_MAX_MS', /must be at least RETRY_BACKOFF_BASE_MS/],
  ['coordinator', { RETRY_BACKOFF_MAX_MS: '70000' }, 'RETRY_BACKOFF_MAX_MS', /must be below STREAM_CLAIM_IDLE_MS \(60000\)/],
  ['guest', { STREAM_RETENTION_MS: '10' }, 'STREAM_RETENTION_MS', /integer from 1000/],
  ['coordinator', { CONSUMER_IDLE_MS: '1d' }, 'CONSUMER_IDLE_MS', /integer from 1000/],
  ['coordinator', { CONSUMER_IDLE_MS: '2000', STREAM_BLOCK_MS: '5000' }, 'CONSUMER_IDLE_MS', /must be above STREAM_BLOCK_MS \(5000\)/],
  ['coordinator', { JANITOR_INTERVAL_MS: '0' }, 'JANITOR_INTERVAL_MS', /integer from 100/],
  ['guest', { STREAM_TEST_CRASH: 'boom' }, 'STREAM_TEST_CRASH', /read:<n>|handled|delay/],
  // Coordinator
  ['coordinator', { RSVP_DEADLINE_MS: '-5' }, 'RSVP_DEADLINE_MS', /integer from 100/],
  ['coordinator', { GUEST_TTL_MS: 'ten' }, 'GUEST_TTL_MS', /integer from 100 to 86400000/],
  ['coordinator', { DEADLINE_SWEEP_INTERVAL_MS: '5' }, 'DEADLINE_SWEEP_INTERVAL_MS', /integer from 10 to 60000/],
  ['coordinator', { SUMMARY_MAX_RESPONSES: '-1' }, 'SUMMARY_MAX_RESPONSES', /integer from 0 to 1000000/],
  ['coordinator', { SUMMARY_STEP_GUESTS: '0' }, 'SUMMARY_STEP_GUESTS', /integer from 1 to 10000000/],
  ['coordinator', { FANOUT_STEP_GUESTS: '0' }, 'FANOUT_STEP_GUESTS', /integer from 1 to 10000000/],
  ['coordinator', { FANOUT_TEST_CRASH: 'after-step:0' }, 'FANOUT_TEST_CRASH', /after-step:<n> with n >= 1/],
  ['coordinator', { EVENT_RETENTION_MS: '100' }, 'EVENT_RETENTION_MS', /integer from 1000/],
  ['coordinator', { AGENT_GC_MS: '0' }, 'AGENT_GC_MS', /integer from 1000/],
  ['coordinator', { AGENT_GC_MS: '5000', GUEST_TTL_MS: '10000' }, 'AGENT_GC_MS', /must be above GUEST_TTL_MS \(10000\)/],
  // Guest
  ['guest', { GUEST_AGENT_ID: 'has space' }, 'GUEST_AGENT_ID', /letters, digits or/],
  ['guest', { GUESTS_PER_AGENT: '0' }, 'GUESTS_PER_AGENT', /integer from 1 to 200000/],
  ['guest', { PERSONAS: 'grumpy' }, 'PERSONAS', /a preset \(original, enthusiasts/],
  ['guest', { PERSONAS: '[{"likely":"sure"}]' }, 'PERSONAS', /"likely" is one of yes, maybe, no/],
  ['guest', { PERSONA_GROUP: 'a b' }, 'PERSONA_GROUP', /1-40 letters, digits, _ or -/],
  ['guest', { GUEST_SEED: 'x'.repeat(201) }, 'GUEST_SEED', /at most 200 characters/],
  ['guest', { HEARTBEAT_INTERVAL_MS: '10' }, 'HEARTBEAT_INTERVAL_MS', /integer from 50 to 600000/],
  ['guest', { REPLY_DELAY_SCALE: '0x10' }, 'REPLY_DELAY_SCALE', /a number from 0 to 1000/],
  // Host
  ['host', { HOST_ID: 'a b' }, 'HOST_ID', /letters, digits or/],
  ['host', { HOST_NAME: 'Sarah\u0007Johnson' }, 'HOST_NAME', /without control characters/],
  ['host', { PUBLISH_SAMPLE_EVENT: 'maybe' }, 'PUBLISH_SAMPLE_EVENT', /one of true, false/],
  ['host', { EXIT_AFTER_SUMMARY: 'true' }, 'EXIT_AFTER_SUMMARY', /needs PUBLISH_SAMPLE_EVENT=true/],
  ['host', { SUMMARY_TIMEOUT_MS: '0' }, 'SUMMARY_TIMEOUT_MS', /integer from 100/],
  ['host', { RSVP_WINDOW_MS: '-1' }, 'RSVP_WINDOW_MS', /integer from 0/],
  ['host', { DEFAULT_TIMEZONE: 'Mars/Olympus' }, 'DEFAULT_TIMEZONE', /an IANA time zone name/],
  ['host', { HOST_EVENT_RETENTION_MS: '10' }, 'HOST_EVENT_RETENTION_MS', /integer from 1000/],
  ['host', { OUTBOX_DRAIN_INTERVAL_MS: '1' }, 'OUTBOX_DRAIN_INTERVAL_MS', /integer from 50/],
  ['host', { API_BODY_LIMIT_BYTES: '1e9' }, 'API_BODY_LIMIT_BYTES', /integer from 1024/],
  ['host', { HOST_FEED_MAXLEN: '5' }, 'HOST_FEED_MAXLEN', /integer from 10/],
  ['host', { SSE_HEARTBEAT_MS: '0' }, 'SSE_HEARTBEAT_MS', /integer from 100/],
  ['host', { GUEST_TTL_MS: '5' }, 'GUEST_TTL_MS', /integer from 100/],
  ['host', { RELEASE_NAME: 'My Release' }, 'RELEASE_NAME', /a Helm release name/],
  ['host', { HOST_TEST_CRASH: 'later' }, 'HOST_TEST_CRASH', /after-save:<n>/],
  ['host', { API_AUTH: 'maybe' }, 'API_AUTH', /one of on, off/],
  ['host', { API_AUTH: 'on' }, 'API_JWT_SECRET', /is required while API_AUTH=on/],
  ['host', { API_JWT_SECRET: 'short' }, 'API_JWT_SECRET', /at least 32 are needed/],
  ['host', { API_JWT_SECRET_FILE: '/nonexistent/key' }, 'API_JWT_SECRET_FILE', /a readable file/],
  ['host', { API_JWT_SECRET: 'x'.repeat(40), API_JWT_SECRET_FILE: '/etc/hostname' }, 'API_JWT_SECRET_FILE', /set only one of/],
  ['host', { API_CORS_ORIGINS: 'https://ok.example,*' }, 'API_CORS_ORIGINS', /comma-separated origins/],
  ['host', { API_RATE_LIMIT_PER_MINUTE: '-1' }, 'API_RATE_LIMIT_PER_MINUTE', /integer from 0/],
];

/** The stderr line that reports `variable` (a problem line names it first). */
function problemLine(output: string, variable: string): string | undefined {
  return output.split('\n').find((line) => line.startsWith(`  - ${variable}=`) || line.startsWith(`  - ${variable} (`) || line.startsWith(`  - ${variable}: `));
}

/** Runs `items` with at most `n` at a time (each is a process start). */
async function inParallel<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  }));
}

describe('a wrong setting stops the start with exit code 2, naming the variable and what is allowed', () => {
  it(`for each of ${rows.length} wrong values (type, range, form, relation) of the README's variables`, async () => {
    const failures: string[] = [];
    await inParallel(rows, 4, async ([role, env, variable, allowed]) => {
      const { code, output } = await run([main, role], env);
      const line = problemLine(output, variable);
      const what = `${role} ${JSON.stringify(env)}`;
      if (code !== 2) failures.push(`${what}: exit code ${code}, output: ${output.slice(0, 400)}`);
      else if (!output.startsWith(`event-planner ${role}: invalid configuration:`)) failures.push(`${what}: stderr does not start with the problem list: ${output.slice(0, 300)}`);
      else if (!line || !allowed.test(line)) failures.push(`${what}: no line naming ${variable} and ${allowed}: ${output.slice(0, 400)}`);
    });
    expect(failures).toEqual([]);
  }, 240_000);

  it('ROLE: an unknown role', async () => {
    const { code, output } = await run([main], { ROLE: 'chef' });
    expect(code, output).toBe(2);
    expect(output).toMatch(/usage: node services\/main\.ts <host\|coordinator\|guest> +\(or set ROLE\); got "chef"/);
  });

  it('.env that cannot be read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ep-config-dotenv-'));
    try {
      mkdirSync(join(dir, '.env'));
      const { code, output } = await runCommand(process.execPath, [main, 'guest'], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, timeoutMs: 20_000 });
      expect(code, output).toBe(2);
      expect(output).toMatch(/^ {2}- \.env in .* cannot be read \(it is a folder\): expected a file of NAME=value lines, or none$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists every problem at once', async () => {
    const { code, output } = await run([main, 'coordinator'], { LISTEN_HOST: 'a b', REDIS_DB: '99', GUEST_TTL_MS: 'x' });
    expect(code, output).toBe(2);
    for (const v of ['LISTEN_HOST', 'REDIS_DB', 'GUEST_TTL_MS']) expect(problemLine(output, v), output).toBeDefined();
  });
});

describe('a port already in use', () => {
  let server: Server | undefined;
  afterAll(() => server?.close());

  it('exits 2 naming PORT and LISTEN_HOST, not with a stack trace', async () => {
    server = createServer();
    const port = await new Promise<number>((resolve) => server!.listen(0, '127.0.0.1', () => resolve((server!.address() as { port: number }).port)));
    const { code, output } = await run([main, 'guest'], { PORT: String(port), LISTEN_HOST: '127.0.0.1' });
    expect(code, output).toBe(2);
    expect(problemLine(output, 'PORT'), output).toMatch(new RegExp(`PORT="${port}" is not valid: expected a port nothing else listens on at LISTEN_HOST=127\\.0\\.0\\.1 \\(EADDRINUSE`));
    expect(output).not.toMatch(/^\s+at /m);
  });

  it('stops `npm run demo` with exit 2 when a role cannot take its port, instead of waiting', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ep-config-demo-'));
    try {
      const busy = (server!.address() as { port: number }).port;
      const env = { DATA_DIR: dataDir, COORDINATOR_PORT: String(busy), GUEST_PORT: String(await freePort()), HOST_PORT: String(await freePort()) };
      const { code, output } = await run([demo], env, 40_000);
      expect(code, output).toBe(2);
      expect(output).toMatch(new RegExp(`coordinator +│ +- PORT="${busy}" is not valid: .*EADDRINUSE`));
      expect(output).toMatch(/coordinator exited with code 2 while starting/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the launcher (npm start, npm run demo) checks its own variables first', () => {
  const launcherRows: [Record<string, string>, string, RegExp][] = [
    [{ HOST_PORT: 'abc' }, 'HOST_PORT', /integer from 1 to 65535/],
    [{ COORDINATOR_PORT: '0' }, 'COORDINATOR_PORT', /integer from 1 to 65535/],
    [{ HOST_PORT: '18080', GUEST_PORT: '18080' }, 'HOST_PORT', /must differ/],
    [{ REDIS_APPENDFSYNC: 'sometimes' }, 'REDIS_APPENDFSYNC', /one of everysec, always, no/],
    [{ DEMO_TIMEOUT_MS: '5' }, 'DEMO_TIMEOUT_MS', /integer from 1000/],
    [{ DATA_DIR: join(cwd, 'a-file', 'data') }, 'DATA_DIR', /a folder this user can create and write \(ENOTDIR\)/],
    [{ REDIS_URL: 'redis://redis:6379/42' }, 'REDIS_URL', /database number from 0 to 15/],
    [{ REDIS_HOST: 'my redis' }, 'REDIS_HOST', /RFC 1123/],
  ];
  it.each(launcherRows)('%j', async (env, variable, allowed) => {
    const { code, output } = await run([demo], env);
    expect(code, output).toBe(2);
    expect(output).toMatch(/^(.*│ )?event-planner launcher: invalid configuration:/m);
    expect(problemLine(output.replace(/^.*? │ /gm, ''), variable), output).toMatch(allowed);
  });
});
