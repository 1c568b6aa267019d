import type { Redis } from 'ioredis';
import { backoffMs, entryIdTime, sleep } from '../util/time.ts';
import { ensureGroup } from './consumer-group.ts';
import { type ConsumerScope, errorText } from './consumer-scope.ts';
import { type RawEntry, type StreamEntry, toFields } from './entry.ts';
import type { InFlight } from './in-flight.ts';
import { deliveryCounts, dropDeleted } from './reclaimer.ts';

/** Extra time on top of BLOCK after which a read is presumed stuck on a dead connection. */
const readWatchdogMs = 3_000;

/**
 * The read loop of one consumer, on a blocking connection of its own: first this consumer's own
 * pending entries (a restarted process resumes its work), then new ones (`>`), never more than
 * there is room for. Every read is raced against a watchdog, and a failed read is retried with
 * backoff after re-reading the own pending entries (whatever Redis delivered into a lost reply).
 */
export class StreamReader {
  private readonly scope: ConsumerScope;
  private readonly inFlight: InFlight;
  private readonly groupStart: '0' | '$';
  private readonly onOwnPending: (entries: StreamEntry[]) => void;
  private readonly onNew: (entries: StreamEntry[]) => void;
  private blocking: Redis | undefined;
  private loop: Promise<void> | undefined;
  private healthy = false;
  private lastError = '';
  /** Entries the blocking read in progress may still return. */
  private inRead = 0;

  constructor(deps: {
    scope: ConsumerScope;
    inFlight: InFlight;
    groupStart: '0' | '$';
    onOwnPending: (entries: StreamEntry[]) => void;
    onNew: (entries: StreamEntry[]) => void;
  }) {
    this.scope = deps.scope;
    this.inFlight = deps.inFlight;
    this.groupStart = deps.groupStart;
    this.onOwnPending = deps.onOwnPending;
    this.onNew = deps.onNew;
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

  private async run(blocking: Redis): Promise<void> {
    const { settings, stopped, metrics, labels, log } = this.scope;
    let ownCursor: string | undefined = '0';
    let failures = 0;
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
        if (blocking.status !== 'ready') {
          this.healthy = false;
          await waitForReady(blocking, stopped);
          continue;
        }
        const count = Math.max(1, Math.min(settings.batchSize, this.inFlight.room));
        if (ownCursor !== undefined) {
          const page = await this.readOwnPending(blocking, ownCursor, count);
          succeeded();
          if (page === undefined) {
            ownCursor = undefined;
            continue;
          }
          ownCursor = page.cursor;
          this.onOwnPending(page.entries);
          continue;
        }
        const entries = await this.readNew(blocking, count);
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
        // Whatever Redis delivered into a lost reply is pending under our name: read it again.
        ownCursor = '0';
        await sleep(backoffMs(failures, 100, 3_000), stopped);
      }
    }
    this.healthy = false;
  }

  private async readNew(blocking: Redis, count: number): Promise<StreamEntry[]> {
    const { stream, group, consumer, settings, metrics, labels } = this.scope;
    this.inRead = count;
    const reply = await this.withWatchdog(
      blocking,
      blocking.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', settings.blockMs, 'STREAMS', stream, '>') as Promise<[string, RawEntry[]][] | null>,
    ).finally(() => {
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

  /** Reads this consumer's own pending entries (history), skipping those it is handling now. */
  private async readOwnPending(blocking: Redis, cursor: string, count: number): Promise<{ cursor: string; entries: StreamEntry[] } | undefined> {
    const { stream, group, consumer, log } = this.scope;
    const reply = await this.withWatchdog(
      blocking,
      blocking.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, cursor) as Promise<[string, RawEntry[]][] | null>,
    );
    const raw = reply?.[0]?.[1] ?? [];
    if (raw.length === 0) return undefined;
    const counts = await deliveryCounts(this.scope, raw[0]![0], raw[raw.length - 1]![0], raw.length);
    const entries: StreamEntry[] = [];
    const deleted: string[] = [];
    for (const [id, flat] of raw) {
      if (this.inFlight.has(id)) continue;
      if (flat === null) deleted.push(id);
      else entries.push({ id, fields: toFields(flat), deliveries: counts.get(id) ?? 2 });
    }
    if (deleted.length > 0) await dropDeleted(this.scope, deleted);
    if (entries.length > 0) log.info({ count: entries.length }, 'resuming own pending entries');
    return { cursor: raw[raw.length - 1]![0], entries };
  }

  /**
   * Races a read against BLOCK + a margin. A read that outlives it sits on a connection that died
   * without a FIN (ioredis#610): drop the socket; the retry strategy reconnects it.
   */
  private async withWatchdog<T>(blocking: Redis, read: Promise<T>): Promise<T> {
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

/** Waits for the connection to be ready, at most a second (the loop then looks again). */
function waitForReady(client: Redis, stopped: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      client.off('ready', done);
      stopped.removeEventListener('abort', done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, 1_000);
    client.once('ready', done);
    stopped.addEventListener('abort', done, { once: true });
  });
}
