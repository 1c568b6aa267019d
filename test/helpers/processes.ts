import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../services/launcher/redis-server.ts';
import { sumMetric } from './prometheus-text.ts';
import { eventually } from './wait.ts';

const mainEntry = join(import.meta.dirname, '..', '..', 'services', 'main.ts');

export type Role = 'host' | 'coordinator' | 'guest';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A role running as a real process, with its JSON log lines collected. */
export class RoleProcess {
  readonly role: Role;
  readonly port: number;
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  /** Lines that were not JSON (stack traces, warnings). */
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(role: Role, port: number, env: Record<string, string>) {
    this.role = role;
    this.port = port;
    this.child = spawn(process.execPath, [mainEntry, role], {
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'debug', PORT: String(port), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.stderr.push(line);
      }
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(this.url(path));
    return { status: res.status, body: await res.text() };
  }

  async waitReady(timeoutMs = 20_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.running) throw new ProcessExitedError(this);
      try {
        const res = await this.get('/readyz');
        if (res.status === 200) return this;
        last = res.body;
      } catch (error) {
        last = String(error);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${this.role} not ready after ${timeoutMs} ms; last /readyz: ${last}; logs: ${this.tail()}`);
  }

  /** The last log lines, for failure messages. */
  tail(n = 8): string {
    return [...this.logs.slice(-n).map((l) => JSON.stringify(l)), ...this.stderr.slice(-n)].join('\n');
  }

  /** Resolves with the first log line matching `predicate` (already logged or future). */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs = 20_000, what = 'log line'): Promise<LogLine> {
    return eventually(() => this.logs.find(predicate), timeoutMs, `${this.role}: ${what}`);
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  /** The Prometheus value of a sample, e.g. metric('event_planner_replies_total', {reply: 'yes'}). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return sumMetric((await this.get('/metrics')).body, name, labels);
  }
}

export class ProcessExitedError extends Error {
  readonly addressInUse: boolean;
  constructor(p: RoleProcess) {
    const tail = p.tail();
    super(`${p.role} exited during start (code ${p.child.exitCode}, signal ${p.child.signalCode}):\n${tail}`);
    this.addressInUse = tail.includes('EADDRINUSE');
  }
}

/** Fast settings for tests: short blocks, reclaim after 2 s, quick retries. */
export const fastStreamEnv: Record<string, string> = {
  STREAM_BLOCK_MS: '500',
  STREAM_CLAIM_IDLE_MS: '2000',
  STREAM_RECLAIM_INTERVAL_MS: '500',
  RETRY_BACKOFF_BASE_MS: '100',
  RETRY_BACKOFF_MAX_MS: '1000',
  SHUTDOWN_GRACE_MS: '5000',
  HEARTBEAT_INTERVAL_MS: '500',
  GUEST_TTL_MS: '3000',
  DEADLINE_SWEEP_INTERVAL_MS: '100',
  JANITOR_INTERVAL_MS: '1000',
};

/** Starts processes for a test and stops whatever is still running at the end. */
export class Processes {
  private readonly all: RoleProcess[] = [];
  private readonly baseEnv: Record<string, string>;

  constructor(baseEnv: Record<string, string>) {
    this.baseEnv = baseEnv;
  }

  async start(role: Role, env: Record<string, string> = {}, opts: { ready?: boolean } = {}): Promise<RoleProcess> {
    for (let attempt = 1; ; attempt += 1) {
      // A host's API runs open (API_AUTH=off, explicitly) unless the test asks for tokens with
      // `withAuth` (test/helpers/auth.ts): tests of the pipeline are not about authentication;
      // test/host and test/web are, and send tokens. No rate limit: a test is its only client and
      // may poll fast (test/host/auth.test.ts sets one to test it).
      const hostDefaults: Record<string, string> = role === 'host' ? { API_AUTH: 'off', API_RATE_LIMIT_PER_MINUTE: '0' } : {};
      const p = new RoleProcess(role, await freePort(), { ...fastStreamEnv, ...hostDefaults, ...this.baseEnv, ...env });
      this.all.push(p);
      if (opts.ready === false) return p;
      try {
        return await p.waitReady();
      } catch (error) {
        // Another process on the machine took the free port between our probe and the bind.
        if (!(error instanceof ProcessExitedError && error.addressInUse && attempt < 3)) throw error;
      }
    }
  }

  coordinator(env: Record<string, string> = {}): Promise<RoleProcess> {
    return this.start('coordinator', env);
  }

  guests(env: Record<string, string> = {}): Promise<RoleProcess> {
    return this.start('guest', { REPLY_DELAY_SCALE: '0.05', ...env });
  }

  host(env: Record<string, string> = {}): Promise<RoleProcess> {
    return this.start('host', env);
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.all.map(async (p) => {
        if (!p.running) return;
        const timer = setTimeout(() => p.child.kill('SIGKILL'), 8_000);
        await p.stop('SIGTERM');
        clearTimeout(timer);
      }),
    );
    this.all.length = 0;
  }
}
