import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../services/launcher/redis-server.ts';
import { eventually } from '../helpers/wait.ts';

const launcher = (name: string) => join(import.meta.dirname, '..', '..', 'services', 'launcher', name);

async function localEnv(dataDir: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    DATA_DIR: dataDir,
    HOST_PORT: String(await freePort()),
    COORDINATOR_PORT: String(await freePort()),
    GUEST_PORT: String(await freePort()),
  };
  delete env.REDIS_URL;
  delete env.REDIS_HOST;
  return env;
}

/** Runs a launcher script as `npm start`/`npm run demo` would, collecting everything it prints. */
function runLauncher(name: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [launcher(name)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = {
    child,
    output: '',
    exited: new Promise<number | null>((resolve) => child.once('exit', resolve)),
  };
  child.stdout.on('data', (d: Buffer) => (run.output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (run.output += d.toString()));
  return run;
}

/** PING without credentials over a plain socket: Redis' raw reply. */
function anonymousPing(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' }, () => socket.write('PING\r\n'));
    socket.setTimeout(3_000, () => socket.destroy(new Error('no reply')));
    socket.on('error', reject);
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString());
    });
  });
}

describe('npm run demo', () => {
  it('runs Redis, coordinator, five guests and the host, prints the summary and exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ep-demo-'));
    const env = { ...(await localEnv(dataDir)), DEMO_TIMEOUT_MS: '40000' };
    const run = runLauncher('demo.ts', env);
    const code = await run.exited;
    const output = run.output;
    rmSync(dataDir, { recursive: true, force: true });

    expect(code, output).toBe(0);
    expect(output).toContain('📊 EVENT SUMMARY — Team Building Workshop');
    expect(output).toMatch(/Total invited: 5 {3}Responses: 5 {3}No response: 0/);
    for (const name of ['Alice Chen', 'Bob Rodriguez', 'Carol Williams', 'David Kim', 'Emma Thompson']) {
      expect(output).toMatch(new RegExp(`host\\s+│\\s+\\S+ ${name}: (YES|NO|MAYBE) — "`));
    }
    expect(output).toMatch(/Response rate: 100\.0% {3}Attendance rate: \d+\.\d%/);
    // Every component stopped cleanly.
    expect(output).toMatch(/coordinator\s+│.*coordinator stopped/);
    expect(output).toMatch(/guests\s+│.*guest stopped/);
  }, 90_000);
});

describe('npm start', () => {
  it('keeps everything running until Ctrl+C, which stops every component cleanly', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ep-start-'));
    const env = await localEnv(dataDir);
    const run = runLauncher('start.ts', env);
    const { child, exited } = run;
    try {
      await eventually(() => run.output.includes('📊 EVENT SUMMARY'), 40_000, 'the sample summary');
      // Still serving after the summary: the host API takes another event.
      // The API requires a token; the launcher printed an admin one with the page's sign-in link.
      const token = /sign in to the page: http:\/\/localhost:\d+\/#token=([\w.-]+)/.exec(run.output)?.[1];
      expect(token, run.output).toBeDefined();
      expect((await fetch(`http://127.0.0.1:${env.HOST_PORT}/api/events`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(401);
      const res = await fetch(`http://127.0.0.1:${env.HOST_PORT}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ event_name: 'Second event' }),
      });
      expect(res.status).toBe(202);
      // It says where the web page is, and the page is there.
      expect(run.output).toContain(`web page: http://localhost:${env.HOST_PORT}/`);
      const page = await fetch(`http://127.0.0.1:${env.HOST_PORT}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="root"></div>');
      await eventually(() => run.output.includes('summary received for "Second event"'), 40_000, 'the second summary');
      // The private Redis has the default user off: the roles above each logged in as their own ACL user.
      const redisPort = Number(/private redis-server on port (\d+)/.exec(run.output)?.[1]);
      expect(await anonymousPing(redisPort)).toMatch(/^-NOAUTH/);
      child.kill('SIGINT');
      expect(await exited, run.output).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
    for (const role of ['coordinator', 'guest', 'host']) expect(run.output).toContain(`${role} stopped`);
    expect(run.output).toMatch(/launcher\s+│ stopped/);
  }, 90_000);

  it('says how to install redis-server when there is none and no REDIS_URL', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ep-noredis-'));
    const env = { ...(await localEnv(dataDir)), PATH: dirname(process.execPath) };
    const run = runLauncher('start.ts', env);
    const code = await run.exited;
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(1);
    expect(run.output).toMatch(/redis-server was not found on PATH.*apt-get install -y redis-server.*REDIS_URL/s);
  });
});
