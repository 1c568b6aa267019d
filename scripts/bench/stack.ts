import { sumMetric } from '../../test/helpers/prometheus-text.ts';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { type AppendFsync, RedisServerProcess, freePort } from '../../services/launcher/redis-server.ts';
import type { StallReport } from './stall-probe.ts';

const mainEntry = join(import.meta.dirname, '..', '..', 'services', 'main.ts');
const probeEntry = join(import.meta.dirname, 'stall-probe.ts');

/** What the stall probe and Redis' latency monitor saw during one scenario's stack. */
export interface StallRecord extends StallReport {
  scenario: string;
  /** Redis' longest single command of the scenario (latency monitor, event `command`), ms. */
  redisLongestCommandMs: number;
  /**
   * Every latency event Redis recorded (LATENCY LATEST: `command`, `fast-command`, `fork`,
   * `aof-write`, `aof-fsync-always`, `expire-cycle`...) and its longest, ms: a PING that waited
   * while no command was long waited for one of these, or for the OS.
   */
  redisLatencyEvents: Record<string, number>;
  /** 1-minute load average of the machine when the stack stopped. */
  loadAverage: number;
}

/** Every stack's stall record, in the order the stacks stopped (index.ts puts them in the results). */
export const stallRecords: StallRecord[] = [];

export type Role = 'host' | 'coordinator' | 'guest';

/** A JSON log line of a role process (pino). */
export interface LogLine {
  time?: string;
  msg?: string;
  [key: string]: unknown;
}

/**
 * Settings every benchmark process shares: quick reaction to a dead consumer is irrelevant here,
 * but a short BLOCK keeps shutdown fast. Nothing in here changes the hot path.
 */
const benchEnv: Record<string, string> = {
  LOG_FORMAT: 'json',
  NO_COLOR: '1',
  STREAM_BLOCK_MS: '1000',
  SHUTDOWN_GRACE_MS: '3000',
  HEARTBEAT_INTERVAL_MS: '1000',
  GUEST_TTL_MS: '5000',
  // The API as deployed: tokens checked on every request (the driver signs one with this key), no
  // rate limit (the benchmark is the flood).
  API_AUTH: 'on',
  API_JWT_SECRET: 'bench-only-signing-key-0123456789abcdefghij',
  API_RATE_LIMIT_PER_MINUTE: '0',
};

export const benchJwtSecret = benchEnv.API_JWT_SECRET!;

/** A role running as a real process; its log lines are handed to listeners, never kept in bulk. */
export class BenchProcess {
  readonly role: Role;
  readonly label: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number>;
  /** The last lines, for the error message when the process dies. */
  private readonly tail: string[] = [];
  private readonly listeners = new Set<(line: LogLine) => void>();

  constructor(role: Role, label: string, port: number, env: Record<string, string>, nodeArgs: string[] = []) {
    this.role = role;
    this.label = label;
    this.port = port;
    this.child = spawn(process.execPath, [...nodeArgs, mainEntry, role], {
      env: { ...process.env, ...benchEnv, PORT: String(port), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (line: string) => {
      this.tail.push(line);
      if (this.tail.length > 40) this.tail.shift();
    };
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (this.listeners.size > 0 && line.startsWith('{')) {
        try {
          const parsed = JSON.parse(line) as LogLine;
          for (const listener of this.listeners) listener(parsed);
        } catch {
          /* not JSON: only kept in the tail */
        }
      }
      if (!line.includes('"level":30')) keep(line);
    });
    createInterface({ input: this.child.stderr! }).on('line', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  lastLines(): string {
    return this.tail.slice(-10).join('\n');
  }

  onLog(listener: (line: LogLine) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async fetch(path: string, init?: RequestInit): Promise<Response> {
    return fetch(`http://127.0.0.1:${this.port}${path}`, init);
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`${this.label} exited during start:\n${this.lastLines()}`);
      try {
        if ((await this.fetch('/readyz')).ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`${this.label} not ready after ${timeoutMs} ms:\n${this.lastLines()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Sum of a Prometheus sample over the series matching `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const body = await (await this.fetch('/metrics')).text();
    return sumMetric(body, name, labels);
  }

  /** Resident set size in bytes, from /proc (0 when the process is gone). */
  rssBytes(): number {
    return rssOf(this.pid);
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

const running = new Set<BenchStack>();

/** Stops every stack still running (Ctrl+C during a run leaves no processes behind). */
export async function stopAllStacks(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop().catch(() => undefined)));
}

/**
 * A private redis-server and the role processes of one scenario. AOF everysec as in production;
 * the data folder is temporary and removed at the end.
 */
export class BenchStack {
  readonly redis: RedisServerProcess;
  readonly client: Redis;
  readonly processes: BenchProcess[] = [];
  private readonly dir: string;
  private readonly env: Record<string, string>;
  /** The scenario this stack serves, for the stall table. */
  scenario = 'unnamed';
  private probe?: { child: ChildProcess; report: Promise<StallReport | undefined> };

  private constructor(redis: RedisServerProcess, client: Redis, dir: string, env: Record<string, string>) {
    this.redis = redis;
    this.client = client;
    this.dir = dir;
    this.env = env;
  }

  /**
   * `aof`: the persistence of the private Redis ('no' only for experiments: production runs AOF).
   * `realtime`: Redis and the stall probe run at real-time priority (--redis-rt).
   */
  static async start(env: Record<string, string> = {}, aof: AppendFsync | 'no-aof' = 'everysec', realtime = false): Promise<BenchStack> {
    const dir = mkdtempSync(join(tmpdir(), 'ep-bench-'));
    const redis = await new RedisServerProcess(aof === 'no-aof' ? { dir, appendonly: false } : { dir, appendfsync: aof }).start();
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
    client.on('error', () => undefined);
    await client.connect();
    const stack = new BenchStack(redis, client, dir, { REDIS_URL: redis.url, ...env });
    running.add(stack);
    // Every command slower than 1 ms is remembered by Redis' latency monitor (LATENCY LATEST).
    await client.config('SET', 'latency-monitor-threshold', '1');
    stack.probe = startProbe(redis.url);
    if (realtime) {
      realtimePriority(redis.pid);
      realtimePriority(stack.probe.child.pid);
    }
    return stack;
  }

  get url(): string {
    return this.redis.url;
  }

  async startRole(role: Role, label: string, env: Record<string, string> = {}, opts: { ready?: boolean; nodeArgs?: string[] } = {}): Promise<BenchProcess> {
    const p = new BenchProcess(role, label, await freePort(), { ...this.env, ...env }, opts.nodeArgs);
    this.processes.push(p);
    if (opts.ready !== false) await p.waitReady();
    return p;
  }

  byRole(role: Role): BenchProcess[] {
    return this.processes.filter((p) => p.role === role);
  }

  /** Waits until the registry lists `count` live agents hosting `guests` guests in all. */
  async waitForGuests(guests: number, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const agents = await this.client.zrange('registry:agents', '0', '-1');
      let total = 0;
      for (const agentId of agents) total += await this.client.hlen(`registry:agent:{${agentId}}:guests`);
      if (total >= guests) return;
      if (Date.now() > deadline) throw new Error(`only ${total} of ${guests} guests registered after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  redisRssBytes(): number {
    return rssOf(this.redis.pid);
  }

  /** Ends the stall probe and records what it and Redis saw (once; before the processes stop). */
  async recordStalls(): Promise<StallRecord | undefined> {
    const probe = this.probe;
    if (!probe) return undefined;
    this.probe = undefined;
    probe.child.stdin?.end();
    const report = await probe.report;
    let redisLongestCommandMs = 0;
    const redisLatencyEvents: Record<string, number> = {};
    try {
      const latest = (await this.client.call('LATENCY', 'LATEST')) as [string, number, number, number][];
      for (const [event, , , max] of latest) redisLatencyEvents[event] = Number(max);
      redisLongestCommandMs = redisLatencyEvents.command ?? 0;
    } catch {
      /* reported as 0 */
    }
    if (!report) return undefined;
    const record: StallRecord = { scenario: this.scenario, ...report, redisLongestCommandMs, redisLatencyEvents, loadAverage: Math.round(loadavg()[0]! * 100) / 100 };
    stallRecords.push(record);
    return record;
  }

  async stop(): Promise<void> {
    running.delete(this);
    await this.recordStalls().catch(() => undefined);
    await Promise.all(this.processes.map((p) => p.stop()));
    this.processes.length = 0;
    this.client.disconnect();
    await this.redis.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const clockTicks = 100;

/** CPU seconds (user + system) a process has used so far, from /proc (0 when it is gone). */
export function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may contain spaces, start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return 0;
  }
}

/**
 * SCHED_FIFO for a process (chrt, util-linux): on a 2-core machine shared by Redis and five role
 * processes, a PING otherwise waits for the OS to run Redis as much as for Redis to finish a call.
 * Real-time threads get at most 95 % of a core (the kernel's RT throttling), so the roles still run.
 */
function realtimePriority(pid: number | undefined): void {
  if (pid === undefined) return;
  const result = spawnSync('chrt', ['-f', '-p', '10', String(pid)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`--redis-rt: chrt -f -p 10 ${pid} failed (${(result.stderr || result.error?.message || '').trim()}); it needs root (or CAP_SYS_NICE) and util-linux`);
}

/** The probe process (stall-probe.ts) and its report, read when its stdin is closed. */
function startProbe(url: string): { child: ChildProcess; report: Promise<StallReport | undefined> } {
  const child = spawn(process.execPath, [probeEntry, url, '2'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const report = new Promise<StallReport | undefined>((resolve) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => {
      try {
        resolve(JSON.parse(out.trim()) as StallReport);
      } catch {
        resolve(undefined);
      }
    });
  });
  return { child, report };
}
