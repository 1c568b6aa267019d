import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { join } from 'node:path';

export type AppendFsync = 'always' | 'everysec' | 'no';

export interface RedisServerOptions {
  /** Data folder (AOF lives here); created if missing. */
  dir: string;
  port?: number;
  appendonly?: boolean;
  appendfsync?: AppendFsync;
  password?: string;
  /** With `password`: the user to authenticate as (an ACL user of `aclFile`) instead of `default`. */
  username?: string;
  /** Contents of an aclfile (services/shared/security/acl.ts renders it): written beside the data and loaded at start. */
  aclFile?: string;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '1gb']. */
  args?: string[];
}

/** Where to get redis-server when it is missing. */
export const redisInstallHint =
  'redis-server was not found on PATH. Install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`, ' +
  'or run scripts/setup.sh), or point REDIS_URL at an existing Redis.';

export function redisServerAvailable(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server process: for `npm start`, `npm run demo`, tests and benchmarks. Persistence
 * is append-only (AOF) with `appendfsync everysec` by default, like the Helm chart's Redis: a crash
 * of Redis loses at most the last second of writes; `always` loses none at a throughput cost.
 */
export class RedisServerProcess {
  readonly opts: Required<Omit<RedisServerOptions, 'password' | 'username' | 'aclFile'>> & Pick<RedisServerOptions, 'password' | 'username' | 'aclFile'>;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(opts: RedisServerOptions) {
    this.opts = { port: 0, appendonly: true, appendfsync: 'everysec', args: [], ...opts };
  }

  get port(): number {
    return this.opts.port;
  }

  get url(): string {
    const auth = this.opts.password ? `${encodeURIComponent(this.opts.username ?? '')}:${encodeURIComponent(this.opts.password)}@` : '';
    return `redis://${auth}127.0.0.1:${this.opts.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<this> {
    if (!redisServerAvailable()) throw new Error(redisInstallHint);
    if (this.opts.port === 0) this.opts.port = await freePort();
    mkdirSync(this.opts.dir, { recursive: true });
    // Only this user may read it (it holds password hashes); Redis reads it again at every start.
    if (this.opts.aclFile !== undefined) writeFileSync(this.aclFilePath(), this.opts.aclFile, { mode: 0o600 });
    const args = [
      '--port', String(this.opts.port),
      '--bind', '127.0.0.1',
      '--dir', this.opts.dir,
      '--appendonly', this.opts.appendonly ? 'yes' : 'no',
      '--appendfsync', this.opts.appendfsync,
      '--appendfilename', 'appendonly.aof',
      // AOF is the persistence; no RDB snapshots on top (as in the chart).
      '--save', '',
      '--daemonize', 'no',
      '--loglevel', 'warning',
      '--logfile', join(this.opts.dir, 'redis.log'),
      ...(this.opts.aclFile !== undefined ? ['--aclfile', this.aclFilePath()] : this.opts.password ? ['--requirepass', this.opts.password] : []),
      ...this.opts.args,
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await this.waitForPing(10_000);
    return this;
  }

  /** Graceful stop (SHUTDOWN via SIGTERM: Redis flushes the AOF). */
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    // A frozen process handles the SIGTERM only once it runs again.
    this.child.kill('SIGCONT');
    await this.exited;
  }

  /** Crash: SIGKILL, nothing flushed beyond what the fsync policy already wrote. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /**
   * Stops the process without ending it (SIGSTOP): the kernel still accepts connections and
   * buffers what clients send, but nothing answers, like a Redis host that hangs.
   */
  freeze(): void {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGSTOP');
  }

  thaw(): void {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGCONT');
  }

  /** Starts again on the same port and data folder (replaying the AOF). */
  async restart(): Promise<this> {
    await this.stop();
    return this.start();
  }

  private aclFilePath(): string {
    return join(this.opts.dir, 'users.acl');
  }

  private async waitForPing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null) throw new Error(`redis-server exited at start (see ${join(this.opts.dir, 'redis.log')})`);
      if (await ping(this.opts.port, this.opts.password, this.opts.username)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on port ${this.opts.port} did not answer PING within ${timeoutMs} ms`);
  }
}

/** PING over a raw socket: true once Redis answers +PONG (not while it is loading the AOF). */
function ping(port: number, password?: string, username?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let data = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write(password ? `${resp(['AUTH', ...(username ? [username] : []), password])}PING\r\n` : 'PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      if (data.includes('+PONG')) done(true);
      else if (data.includes('-')) done(false);
    });
  });
}

/** A command in RESP, so that a password with spaces or quotes goes through as it is. */
function resp(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}
