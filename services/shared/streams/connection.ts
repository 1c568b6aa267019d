import type { RedisConfig } from '../config/redis-config.ts';
import type { Logger } from '../logging/logger.ts';
import { type RedisClient, createRedisClient } from './redis-client.ts';
import { SocketWatchdog } from './socket-watchdog.ts';

export type { RedisClient } from './redis-client.ts';

/** Thrown to callers while Redis is unreachable, so they fail fast instead of queueing without bound. */
export class RedisUnavailableError extends Error {
  constructor(cause?: unknown) {
    super(`Redis is not reachable right now${cause instanceof Error ? `: ${cause.message}` : ''}`, { cause });
    this.name = 'RedisUnavailableError';
  }
}

export function isConnectionError(error: unknown): boolean {
  if (error instanceof RedisUnavailableError) return true;
  const message = error instanceof Error ? error.message : String(error);
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|max retries per request|connect ETIMEDOUT|LOADING|Socket closed|Socket timeout|Command timed out/i.test(
    message,
  );
}

type ConnectionState = 'connecting' | 'up' | 'down' | 'closed';

/** How often the command connection is pinged: an idle connection is checked as well. */
export function healthIntervalMs(socketTimeoutMs: number): number {
  return Math.max(100, Math.min(2_000, Math.floor(socketTimeoutMs / 4)));
}

/**
 * The Redis connections of one process: one shared command connection (auto-pipelined, so commands
 * issued in the same tick go out in one write) and one dedicated connection per blocking reader.
 * Connection state changes are logged once each, not once per retry.
 */
export class RedisConnections {
  /** A Redis, or a Redis Cluster when REDIS_CLUSTER_NODES is set (redis-client.ts). */
  readonly command: RedisClient;
  private readonly blocking = new Set<RedisClient>();
  private readonly config: RedisConfig;
  private readonly log: Logger;
  private readonly clientName: string;
  private state: ConnectionState = 'connecting';
  private closing: Promise<void> | undefined;
  private readonly readyListeners = new Set<() => void>();
  private readonly health: NodeJS.Timeout;
  /** TCP keep-alive does not notice a cut where nothing answers at all (or a proxy still does). */
  private readonly watchdogs = new Map<RedisClient, SocketWatchdog>();

  constructor(config: RedisConfig, clientName: string, log: Logger) {
    this.config = config;
    this.log = log;
    this.clientName = clientName;
    const socketTimeoutMs = config.socketTimeoutMs;
    this.command = createRedisClient(config, clientName, { autoPipelining: true });
    this.watchdogs.set(this.command, new SocketWatchdog(this.command, socketTimeoutMs));
    this.watch(this.command, true);
    // A PING that gets no answer trips the socket timeout: readiness turns false and the connection
    // is rebuilt even while the process has nothing else to send.
    this.health = setInterval(() => {
      if (this.command.status === 'ready') this.command.ping().catch(() => undefined);
    }, healthIntervalMs(socketTimeoutMs));
    this.health.unref();
  }

  /** Starts connecting; resolves once connected (it keeps retrying in the background until then). */
  async connect(): Promise<void> {
    this.command.connect().catch(() => {
      /* reported through the 'error' listener; the retry strategy keeps trying */
    });
    await this.waitUntilReady();
  }

  isReady(): boolean {
    return this.state === 'up' && this.command.status === 'ready';
  }

  /**
   * Resolves once the command connection is ready, or when `signal` aborts (its listener is then
   * removed: a loop that waits again and again while Redis is down must not pile them up).
   */
  waitUntilReady(signal?: AbortSignal): Promise<void> {
    if (this.isReady() || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = () => {
        this.readyListeners.delete(listener);
        signal?.removeEventListener('abort', listener);
        resolve();
      };
      this.readyListeners.add(listener);
      signal?.addEventListener('abort', listener, { once: true });
    });
  }

  /** Called (again) on every reconnect: consumers use it to recreate groups lost with the data. */
  onReady(listener: () => void): () => void {
    const wrapped = () => listener();
    this.command.on('ready', wrapped);
    return () => this.command.off('ready', wrapped);
  }

  /**
   * A dedicated connection for one blocking reader: no auto-pipelining (a BLOCK would hold up the
   * commands batched behind it) and no command timeout (the BLOCK itself bounds the wait). Its
   * socket timeout must exceed the BLOCK time, which the reader passes in.
   */
  createBlocking(purpose: string, socketTimeoutMs: number): RedisClient {
    // On a cluster, a Cluster client of its own: the read goes to the connection it holds to the
    // node that owns the stream's slot, which nothing else uses, and follows the slot on failover.
    const client = createRedisClient(this.config, `${this.clientName}:${purpose}`, { autoPipelining: false });
    this.blocking.add(client);
    this.watchdogs.set(client, new SocketWatchdog(client, socketTimeoutMs));
    this.watch(client, false);
    client.connect().catch(() => {
      /* reported through the 'error' listener */
    });
    return client;
  }

  /**
   * A dedicated connection for commands that must not share the auto-pipelined one: a WATCH
   * transaction (producer.ts) would otherwise take in whatever other commands are sent between its
   * WATCH and its EXEC. The same kind of client as a blocking reader's, with the command socket timeout.
   */
  createDedicated(purpose: string): RedisClient {
    return this.createBlocking(purpose, this.config.socketTimeoutMs);
  }

  async releaseBlocking(client: RedisClient): Promise<void> {
    this.blocking.delete(client);
    this.watchdogs.get(client)?.stop();
    this.watchdogs.delete(client);
    client.disconnect(false);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closed';
      clearInterval(this.health);
      for (const watchdog of this.watchdogs.values()) watchdog.stop();
      this.watchdogs.clear();
      for (const client of this.blocking) client.disconnect(false);
      this.blocking.clear();
      try {
        if (this.command.status === 'ready') await this.command.quit();
        else this.command.disconnect(false);
      } catch {
        this.command.disconnect(false);
      }
    })();
    return this.closing;
  }

  private watch(client: RedisClient, primary: boolean): void {
    let lastError = '';
    client.on('error', (error: Error) => {
      // ioredis emits an error per failed reconnect attempt; report only a change of cause.
      if (error.message !== lastError && this.state !== 'closed') {
        lastError = error.message;
        if (primary && this.state !== 'down') this.log.warn({ err: error.message, redis: this.config.display }, 'redis connection error');
      }
    });
    if (!primary) return;
    client.on('ready', () => {
      lastError = '';
      if (this.state === 'closed') return;
      if (this.state === 'down') this.log.info({ redis: this.config.display }, 'redis connection restored');
      else this.log.debug({ redis: this.config.display }, 'redis connected');
      this.state = 'up';
      for (const listener of [...this.readyListeners]) listener();
    });
    client.on('close', () => {
      if (this.state === 'up') this.log.warn({ redis: this.config.display }, 'redis connection lost; reconnecting with backoff');
      if (this.state !== 'closed') this.state = 'down';
    });
  }
}
