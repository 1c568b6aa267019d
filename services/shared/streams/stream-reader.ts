import type { RedisClient } from './redis-client.ts';
import { backoffMs, entryIdTime, sleep } from '../util/time.ts';
import type { RedisConnections } from './connection.ts';
import { ensureGroup } from './consumer-group.ts';
import { type ConsumerScope, errorText } from './consumer-scope.ts';
import { type RawEntry, type StreamEntry, toFields } from './entry.ts';
import type { InFlight } from './in-flight.ts';

/** Extra time on top of BLOCK after which a read is presumed stuck on a dead connection. */
const readWatchdogMs = 3_000;

/**
 * The read loop of one consumer, on a blocking connection of its own: new entries (`>`), never
 * more than there is room for. Every read is raced against a watchdog; a failed read is retried
 * with backoff and reported (`onFailure`), since whatever Redis delivered into a lost reply is
 * pending under this consumer's name and must be taken up (own-pending.ts does that, on the
 * command connection).
 */
export class StreamReader {
  private readonly scope: ConsumerScope;
  private readonly inFlight: InFlight;
  private readonly groupStart: '0' | '$';
  private readonly onNew: (entries: StreamEntry[]) => void;
  private readonly onFailure: () => void;
  private blocking: RedisClient | undefined;
  private loop: Promise<void> | undefined;
  private healthy = false;
  private lastError = '';
  /** Entries the blocking read in progress may still return. */
  private inRead = 0;

  constructor(deps: {
    scope: ConsumerScope;
    inFlight: InFlight;
    groupStart: '0' | '$';
    onNew: (entries: StreamEntry[]) => void;
    onFailure: () => void;
  }) {
    this.scope = deps.scope;
    this.inFlight = deps.inFlight;
    this.groupStart = deps.groupStart;
    this.onNew = deps.onNew;
    this.onFailure = deps.onFailure;
  }

  /** True while the loop reads on a live connection. */
  get isHealthy(): boolean {
    return this.healthy;
  }

  /** How many entries the read in progress may still return (the reclaimer leaves room for them). */
  get reading(): number {
    return this.inRead;
  }

  start(): void {
    const { connections, stream, settings } = this.scope;
    // The read watchdog fires first; the socket timeout also catches a handshake that never ends.
    this.blocking = connections.createBlocking(`read:${stream}`, settings.blockMs + readWatchdogMs + 1_000);
    this.loop = this.run(this.blocking);
  }

  /** Ends the loop; disconnecting ends a BLOCK at once (what Redis delivered into it stays pending). */
  async close(): Promise<void> {
    if (this.blocking) await this.scope.connections.releaseBlocking(this.blocking);
    await this.loop;
    this.healthy = false;
  }

  private async run(blocking: RedisClient): Promise<void> {
    const { connections, settings, stopped, metrics, labels, log } = this.scope;
    let failures = 0;
    // The first read on a (re)connected socket does not block: the loop counts as healthy as soon
    // as Redis answers, not only after a BLOCK ran out.
    let first = true;
    const succeeded = () => {
      this.healthy = true;
      failures = 0;
      if (this.lastError) {
        log.info('stream reads resumed');
        this.lastError = '';
      }
    };
    while (!stopped.aborted) {
      try {
        await this.inFlight.waitForRoom(stopped);
        if (stopped.aborted) break;
        if (blocking.status !== 'ready' || !connections.isReady()) {
          // Both connections, whichever comes back first: entries read while the command
          // connection is down could be handled but not acknowledged, and would come back.
          this.healthy = false;
          first = true;
          await waitForConnections(blocking, connections, stopped);
          continue;
        }
        const count = Math.max(1, Math.min(settings.batchSize, this.inFlight.room));
        const entries = await this.readNew(blocking, count, first ? undefined : settings.blockMs);
        first = false;
        succeeded();
        if (entries.length > 0) this.onNew(entries);
      } catch (error) {
        if (stopped.aborted) break;
        this.healthy = false;
        failures += 1;
        const message = errorText(error);
        metrics?.readErrors.inc(labels);
        if (message.startsWith('NOGROUP')) {
          if (message !== this.lastError) log.warn('consumer group missing (Redis lost its data?); recreating it');
          await ensureGroup(this.scope, this.groupStart).catch(() => undefined);
        } else if (message !== this.lastError) {
          log.warn({ err: message }, 'stream read failed; retrying with backoff');
        }
        this.lastError = message;
        this.onFailure();
        first = true;
        await sleep(backoffMs(failures, 100, 3_000), stopped);
      }
    }
    this.healthy = false;
  }

  private async readNew(blocking: RedisClient, count: number, blockMs: number | undefined): Promise<StreamEntry[]> {
    const { stream, group, consumer, metrics, labels } = this.scope;
    this.inRead = count;
    const read = (
      blockMs === undefined
        ? blocking.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, '>')
        : blocking.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', stream, '>')
    ) as Promise<[string, RawEntry[]][] | null>;
    const reply = await this.withWatchdog(blocking, read).finally(() => {
      this.inRead = 0;
    });
    const raw = reply?.[0]?.[1];
    if (!raw || raw.length === 0) return [];
    const now = Date.now();
    const entries: StreamEntry[] = [];
    for (const [id, flat] of raw) {
      metrics?.waitSeconds.observe(labels, Math.max(0, now - entryIdTime(id)) / 1000);
      entries.push({ id, fields: toFields(flat ?? []), deliveries: 1 });
    }
    return entries;
  }

  /**
   * Races a read against BLOCK + a margin. A read that outlives it sits on a connection that died
   * without a FIN (ioredis#610): drop the socket; the retry strategy reconnects it.
   */
  private async withWatchdog<T>(blocking: RedisClient, read: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        blocking.disconnect(true);
        reject(new Error('read timed out; connection presumed dead, reconnecting'));
      }, this.scope.settings.blockMs + readWatchdogMs);
    });
    try {
      return await Promise.race([read, watchdog]);
    } finally {
      clearTimeout(timer);
      read.catch(() => undefined);
    }
  }
}

/** Waits (a second at most; the loop then looks again) for the blocking and the command connection. */
async function waitForConnections(client: RedisClient, connections: RedisConnections, stopped: AbortSignal): Promise<void> {
  const done = new AbortController();
  const timer = setTimeout(() => done.abort(), 1_000);
  const stop = () => done.abort();
  stopped.addEventListener('abort', stop, { once: true });
  try {
    if (client.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const ready = () => {
          client.off('ready', ready);
          done.signal.removeEventListener('abort', ready);
          resolve();
        };
        client.once('ready', ready);
        done.signal.addEventListener('abort', ready, { once: true });
      });
    }
    await connections.waitUntilReady(done.signal);
  } finally {
    clearTimeout(timer);
    stopped.removeEventListener('abort', stop);
  }
}
