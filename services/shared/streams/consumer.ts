import { ROOT_CONTEXT, SpanKind, context, trace, type Link, type Span } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import { join } from 'node:path';
import type { StreamSettings } from '../config/stream-settings.ts';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { extractTraceContext, tracingEnabled } from '../telemetry/trace-context.ts';
import { backoffMs, entryIdTime, sleep } from '../util/time.ts';
import type { RedisConnections } from './connection.ts';
import { CrashTrigger, parseCrashPoint } from './crash-point.ts';
import { DeadLetters } from './dead-letters.ts';
import { type EntryOutcome, type RawEntry, type StreamEntry, toFields } from './entry.ts';
import { attemptsKey, streamLabel } from './keys.ts';
import { loadLuaScript, runScript, sharedScriptDir } from './scripts.ts';

const tracer = trace.getTracer('event-planner/streams');

export type BatchHandler = (entries: StreamEntry[]) => Promise<EntryOutcome[]>;
export type EntryHandler = (entry: StreamEntry) => Promise<EntryOutcome>;

export interface ConsumerOptions {
  stream: string;
  group: string;
  /** Unique per process; a restarted process that reuses its name resumes its own pending entries. */
  consumer: string;
  connections: RedisConnections;
  settings: StreamSettings;
  log: Logger;
  metrics?: Metrics;
  /**
   * Either a batch handler (one call per XREADGROUP batch, outcomes in the same order) or an entry
   * handler (one call per entry, up to `settings.concurrency` at once; acknowledgements of entries
   * that finish in the same tick go out as one XACK).
   */
  handleBatch?: BatchHandler;
  handleEntry?: EntryHandler;
  /** Where a newly created group starts: '0' (everything retained) or '$' (only new entries). */
  groupStart?: '0' | '$';
}

interface InFlight {
  entry: StreamEntry;
  /** When the entry's idle time in Redis was last reset (delivery, claim or keep-alive). */
  touched: number;
  /** Another consumer owns it now (it reclaimed it while this one stalled): no more keep-alives. */
  lost?: boolean;
}

/** Extra time on top of BLOCK after which a read is presumed stuck on a dead connection. */
const readWatchdogMs = 3_000;

/**
 * From this delivery on, an entry is suspected of crashing its consumer (a crash or kill is
 * normal once; twice in a row is suspicious). Suspects are handled one at a time, and only a
 * handler that actually starts counts against them, so a poison entry that kills the process
 * uses up its own deliveries and not those of the entries that were read with it.
 */
export const isolateFromDelivery = 3;

const keepAliveScript = loadLuaScript(join(sharedScriptDir, 'keep-alive.lua'));

/**
 * Reads one stream with one consumer group and turns at-least-once delivery into exactly-once
 * effects together with idempotent handlers:
 * - a dedicated blocking connection per reader, bounded BLOCK and a watchdog for zombie sockets;
 * - on (re)start, first re-reads this consumer's own pending entries, then new ones (`>`);
 * - XAUTOCLAIM of entries idle past `claimIdleMs` (a dead replica's work), with their delivery
 *   counts, dropping entries deleted or trimmed while pending;
 * - a keep-alive that resets the idle time of entries still being handled (only while they are
 *   still this consumer's);
 * - retries with exponential backoff and jitter; after `maxDeliveries` the entry moves to the
 *   dead-letter stream atomically with its acknowledgement. Nothing is acknowledged on error
 *   without a dead letter;
 * - entries redelivered `isolateFromDelivery` times or more handled one at a time, counted by
 *   handler starts, so a poison entry that crashes the process does not drag others with it.
 * docs/RELIABILITY.md describes all of it and the tests that prove it.
 */
export class StreamConsumer {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  private readonly opts: ConsumerOptions;
  private readonly s: StreamSettings;
  private readonly log: Logger;
  private readonly deadLetters: DeadLetters;
  private readonly labels: { stream: string; group: string };
  private blocking: Redis | undefined;
  private readonly inFlight = new Map<string, InFlight>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly tasks = new Set<Promise<void>>();
  private pendingAcks: string[] = [];
  private ackFlush: Promise<void> | undefined;
  private capacityWaiters: (() => void)[] = [];
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private reclaimCursor = '0-0';
  private loopHealthy = false;
  private lastReadError = '';
  private removeReadyListener: (() => void) | undefined;
  /** Entries the blocking read in progress may still return (reclaim leaves room for them). */
  private reading = 0;
  private readonly suspects: StreamEntry[] = [];
  private suspectLaneRunning = false;
  /** Entries with a handler-start count in Redis (attemptsKey), forgotten once settled. */
  private readonly tracked = new Set<string>();
  private readonly crash: CrashTrigger | undefined;
  private crashEntry: StreamEntry | undefined;

  constructor(opts: ConsumerOptions) {
    if (!opts.handleBatch === !opts.handleEntry) throw new Error('StreamConsumer needs exactly one of handleBatch or handleEntry');
    this.opts = opts;
    this.stream = opts.stream;
    this.group = opts.group;
    this.consumer = opts.consumer;
    this.s = opts.settings;
    this.log = opts.log.child({ stream: opts.stream, group: opts.group });
    this.deadLetters = new DeadLetters(opts.connections, opts.metrics);
    this.labels = { stream: streamLabel(opts.stream), group: opts.group };
    opts.metrics?.trackConsumer(this.labels, () => this.isHealthy());
    const point = opts.settings.testCrash ? parseCrashPoint(opts.settings.testCrash) : undefined;
    this.crash = typeof point === 'object' && point.stream === opts.stream ? new CrashTrigger(point) : undefined;
  }

  /** True while the read loop runs on a live connection (part of /readyz). */
  isHealthy(): boolean {
    return this.loopHealthy && !this.stop.signal.aborted;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  async start(): Promise<void> {
    const { connections } = this.opts;
    await connections.waitUntilReady();
    await this.ensureGroup();
    // A Redis that restarted without its data has lost the group; recreate it on every reconnect.
    this.removeReadyListener = connections.onReady(() => {
      this.ensureGroup().catch((error: unknown) => this.log.warn({ err: String(error) }, 'could not recreate consumer group'));
    });
    // The read watchdog fires first; the socket timeout also catches a handshake that never ends.
    this.blocking = connections.createBlocking(`read:${this.stream}`, this.s.blockMs + readWatchdogMs + 1_000);
    this.loop = this.readLoop();
    const every = (name: string, ms: number, fn: () => Promise<void>) => {
      const schedule = (delay: number) => this.timers.set(name, setTimeout(tick, delay).unref());
      const tick = () => {
        if (this.stop.signal.aborted) return;
        fn()
          .catch((error: unknown) => this.log.debug({ err: String(error) }, `${name} failed`))
          .finally(() => {
            if (!this.stop.signal.aborted) schedule(ms * (0.8 + Math.random() * 0.4));
          });
      };
      schedule(ms * Math.random());
    };
    every('reclaim', this.s.reclaimIntervalMs, () => this.reclaim());
    every('keep-alive', Math.max(50, Math.floor(this.s.claimIdleMs / 3)), () => this.keepAlive());
  }

  /**
   * Stops reading, lets in-flight handlers finish within `graceMs`, flushes acknowledgements.
   * Entries not finished stay pending in Redis and are reclaimed by another consumer (or by this
   * one after a restart under the same name).
   */
  async close(graceMs = this.s.shutdownGraceMs): Promise<void> {
    if (this.stop.signal.aborted) return this.loop;
    this.stop.abort();
    this.removeReadyListener?.();
    for (const timer of this.timers.values()) clearTimeout(timer);
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    for (const id of this.retryTimers.keys()) this.inFlight.delete(id);
    this.retryTimers.clear();
    for (const entry of this.suspects.splice(0)) this.inFlight.delete(entry.id);
    this.wakeCapacity();
    // Disconnecting ends a BLOCK at once; anything Redis delivered into that read stays pending.
    if (this.blocking) await this.opts.connections.releaseBlocking(this.blocking);
    await this.loop;
    const drained = Promise.allSettled([...this.tasks]).then(() => 'drained' as const);
    const outcome = await Promise.race([drained, sleep(graceMs).then(() => 'timeout' as const)]);
    if (outcome === 'timeout') this.log.warn({ inFlight: this.inFlight.size }, 'shutdown grace over; unfinished entries stay pending');
    await this.flushAcks().catch(() => undefined);
    this.loopHealthy = false;
  }

  // ---------------------------------------------------------------------------------------------
  // reading

  private async readLoop(): Promise<void> {
    const blocking = this.blocking!;
    let ownCursor: string | undefined = '0';
    let failures = 0;
    const succeeded = () => {
      this.loopHealthy = true;
      failures = 0;
      if (this.lastReadError) {
        this.log.info('stream reads resumed');
        this.lastReadError = '';
      }
    };
    while (!this.stop.signal.aborted) {
      try {
        await this.waitForCapacity();
        if (this.stop.signal.aborted) break;
        if (blocking.status !== 'ready') {
          this.loopHealthy = false;
          await this.waitForReady(blocking);
          continue;
        }
        const count = Math.max(1, Math.min(this.s.batchSize, this.s.concurrency - this.inFlight.size));
        if (ownCursor !== undefined) {
          const entries = await this.readOwnPending(blocking, ownCursor, count);
          succeeded();
          if (entries === undefined) {
            ownCursor = undefined;
            continue;
          }
          ownCursor = entries.cursor;
          this.dispatch(entries.entries);
          continue;
        }
        this.reading = count;
        const reply = await this.withWatchdog(
          blocking,
          blocking.xreadgroup('GROUP', this.group, this.consumer, 'COUNT', count, 'BLOCK', this.s.blockMs, 'STREAMS', this.stream, '>') as Promise<
            [string, RawEntry[]][] | null
          >,
        ).finally(() => {
          this.reading = 0;
        });
        succeeded();
        const raw = reply?.[0]?.[1];
        if (!raw || raw.length === 0) continue;
        const now = Date.now();
        const entries: StreamEntry[] = [];
        for (const [id, flat] of raw) {
          this.opts.metrics?.waitSeconds.observe(this.labels, Math.max(0, now - entryIdTime(id)) / 1000);
          entries.push({ id, fields: toFields(flat ?? []), deliveries: 1 });
        }
        if (this.crash?.afterRead(entries.length)) this.crashEntry = entries[0];
        this.dispatch(entries);
      } catch (error) {
        if (this.stop.signal.aborted) break;
        this.loopHealthy = false;
        failures += 1;
        const message = error instanceof Error ? error.message : String(error);
        this.opts.metrics?.readErrors.inc(this.labels);
        if (message.startsWith('NOGROUP')) {
          if (message !== this.lastReadError) this.log.warn('consumer group missing (Redis lost its data?); recreating it');
          await this.ensureGroup().catch(() => undefined);
        } else if (message !== this.lastReadError) {
          this.log.warn({ err: message }, 'stream read failed; retrying with backoff');
        }
        this.lastReadError = message;
        // Whatever Redis delivered into a lost reply is pending under our name: read it again.
        ownCursor = '0';
        await sleep(backoffMs(failures, 100, 3_000), this.stop.signal);
      }
    }
    this.loopHealthy = false;
  }

  /** Reads this consumer's own pending entries (history), skipping those it is handling now. */
  private async readOwnPending(blocking: Redis, cursor: string, count: number): Promise<{ cursor: string; entries: StreamEntry[] } | undefined> {
    const reply = (await this.withWatchdog(
      blocking,
      blocking.xreadgroup('GROUP', this.group, this.consumer, 'COUNT', count, 'STREAMS', this.stream, cursor) as Promise<[string, RawEntry[]][] | null>,
    )) as [string, RawEntry[]][] | null;
    const raw = reply?.[0]?.[1] ?? [];
    if (raw.length === 0) return undefined;
    const counts = await this.deliveryCounts(raw[0]![0], raw[raw.length - 1]![0], raw.length);
    const entries: StreamEntry[] = [];
    const deleted: string[] = [];
    for (const [id, flat] of raw) {
      if (this.inFlight.has(id)) continue;
      if (flat === null) deleted.push(id);
      else entries.push({ id, fields: toFields(flat), deliveries: counts.get(id) ?? 2 });
    }
    if (deleted.length > 0) await this.dropDeleted(deleted);
    if (entries.length > 0) this.log.info({ count: entries.length }, 'resuming own pending entries');
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
      }, this.s.blockMs + readWatchdogMs);
    });
    try {
      return await Promise.race([read, watchdog]);
    } finally {
      clearTimeout(timer);
      read.catch(() => undefined);
    }
  }

  private waitForReady(client: Redis): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        client.off('ready', done);
        this.stop.signal.removeEventListener('abort', done);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, 1_000);
      client.once('ready', done);
      this.stop.signal.addEventListener('abort', done, { once: true });
    });
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.opts.connections.command.xgroup('CREATE', this.stream, this.group, this.opts.groupStart ?? '0', 'MKSTREAM');
      this.log.debug('consumer group created');
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('BUSYGROUP')) throw error;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // handling

  private waitForCapacity(): Promise<void> {
    if (this.inFlight.size < this.s.concurrency || this.stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.capacityWaiters.push(resolve));
  }

  private wakeCapacity(): void {
    const waiters = this.capacityWaiters;
    this.capacityWaiters = [];
    for (const wake of waiters) wake();
  }

  private dispatch(entries: StreamEntry[]): void {
    if (entries.length === 0) return;
    const now = Date.now();
    for (const entry of entries) this.inFlight.set(entry.id, { entry, touched: now });
    const fresh = entries.filter((entry) => entry.deliveries < isolateFromDelivery);
    if (fresh.length < entries.length) this.enqueueSuspects(entries.filter((entry) => entry.deliveries >= isolateFromDelivery));
    if (fresh.length === 0) return;
    if (this.opts.handleEntry) {
      for (const entry of fresh) this.track(this.process([entry]));
    } else {
      this.track(this.process(fresh));
    }
  }

  private track(task: Promise<void>): void {
    this.tasks.add(task);
    void task.finally(() => {
      this.tasks.delete(task);
    });
  }

  /** Drops entries from this consumer's books; in Redis they stay pending until settled. */
  private release(ids: string[]): void {
    for (const id of ids) this.inFlight.delete(id);
    this.wakeCapacity();
  }

  private enqueueSuspects(entries: StreamEntry[]): void {
    this.suspects.push(...entries);
    if (this.suspectLaneRunning) return;
    this.suspectLaneRunning = true;
    this.track(this.drainSuspects());
  }

  /** Suspects one at a time; each handler start is counted in Redis before the handler runs. */
  private async drainSuspects(): Promise<void> {
    try {
      while (this.suspects.length > 0 && !this.stop.signal.aborted) {
        const entry = this.suspects.shift()!;
        let attempts: number;
        try {
          const key = attemptsKey(this.stream);
          const command = this.opts.connections.command;
          [attempts] = await Promise.all([command.hincrby(key, entry.id, 1), command.pexpire(key, this.s.retentionMs)]);
        } catch (error) {
          // Without a count the entry is not run; it stays pending and comes back through reclaim.
          this.log.debug({ err: errorText(error), entryId: entry.id }, 'could not count a handler start; entry stays pending');
          this.release([entry.id]);
          continue;
        }
        this.tracked.add(entry.id);
        await this.process([{ ...entry, deliveries: isolateFromDelivery - 1 + attempts }]);
      }
    } finally {
      this.suspectLaneRunning = false;
    }
  }

  /** Handles entries and settles them. Never rejects: on an unexpected error they stay pending. */
  private async process(entries: StreamEntry[]): Promise<void> {
    try {
      await this.handleAndSettle(entries);
    } catch (error) {
      this.log.error({ err: errorText(error), count: entries.length }, 'unexpected error while handling entries; they stay pending and are taken up again');
      this.release(entries.map((entry) => entry.id));
    }
  }

  private async handleAndSettle(entries: StreamEntry[]): Promise<void> {
    const started = performance.now();
    const runnable: StreamEntry[] = [];
    const outcomes = new Map<StreamEntry, EntryOutcome>();
    for (const entry of entries) {
      // An entry that keeps killing its consumer never reaches a handler error: stop it here.
      if (entry.deliveries > this.s.maxDeliveries) {
        outcomes.set(entry, { type: 'dead', reason: `max_deliveries: delivered ${entry.deliveries} times without completing` });
      } else {
        runnable.push(entry);
      }
    }
    if (runnable.length > 0) {
      const span = tracingEnabled() ? this.processSpan(runnable) : undefined;
      const run = async (): Promise<EntryOutcome[]> => {
        if (this.opts.handleEntry) return [await this.opts.handleEntry(runnable[0]!)];
        return this.opts.handleBatch!(runnable);
      };
      try {
        const results = await (span ? context.with(trace.setSpan(context.active(), span), run) : run());
        runnable.forEach((entry, i) => outcomes.set(entry, results[i] ?? { type: 'retry', error: new Error('handler returned no outcome') }));
      } catch (error) {
        span?.recordException(error as Error);
        for (const entry of runnable) outcomes.set(entry, { type: 'retry', error });
      } finally {
        span?.end();
      }
    }
    this.opts.metrics?.processingSeconds.observe(this.labels, (performance.now() - started) / 1000);
    if (this.crashEntry !== undefined && entries[0] === this.crashEntry) this.crash?.afterHandled();
    await this.settle(entries, outcomes);
  }

  /**
   * The `process <stream>` span (OTel messaging conventions): it links every message it handles.
   * A batch span is a root of its own (one batch mixes many traces); a span for a single message
   * is also the child of the message's `send` span, so an entry handler's work (a guest's replies,
   * the host's receipt) stays in the event's trace. Only called while tracing is on.
   */
  private processSpan(runnable: StreamEntry[]): Span {
    const links: Link[] = [];
    for (const entry of runnable) {
      entry.traceContext = extractTraceContext(entry.fields);
      const spanContext = trace.getSpanContext(entry.traceContext);
      if (spanContext) links.push({ context: spanContext });
    }
    const single = this.opts.handleEntry !== undefined;
    return tracer.startSpan(
      `process ${this.labels.stream}`,
      {
        kind: SpanKind.CONSUMER,
        links,
        attributes: {
          'messaging.system': 'redis',
          'messaging.operation.type': 'process',
          'messaging.destination.name': this.labels.stream,
          'messaging.consumer.group.name': this.group,
          ...(single ? { 'messaging.message.id': runnable[0]!.id } : { 'messaging.batch.message_count': runnable.length }),
        },
      },
      single ? runnable[0]!.traceContext : ROOT_CONTEXT,
    );
  }

  private async settle(entries: StreamEntry[], outcomes: Map<StreamEntry, EntryOutcome>): Promise<void> {
    const acks: string[] = [];
    const deadOnes: { entry: StreamEntry; reason: string }[] = [];
    const forget: string[] = [];
    for (const entry of entries) {
      const outcome = outcomes.get(entry)!;
      const final = outcome.type !== 'retry' || entry.deliveries >= this.s.maxDeliveries;
      if (final && this.tracked.delete(entry.id)) forget.push(entry.id);
      if (outcome.type === 'ack') acks.push(entry.id);
      else if (outcome.type === 'dead') deadOnes.push({ entry, reason: outcome.reason });
      else if (entry.deliveries >= this.s.maxDeliveries) {
        deadOnes.push({ entry, reason: `max_deliveries: ${errorText(outcome.error)}` });
      } else {
        this.scheduleRetry(entry, outcome.error);
      }
    }
    const work: Promise<unknown>[] = [];
    if (acks.length > 0) work.push(this.acknowledge(acks));
    if (deadOnes.length > 0) work.push(this.deadLetter(deadOnes));
    if (forget.length > 0) work.push(this.opts.connections.command.hdel(attemptsKey(this.stream), ...forget).catch(() => undefined));
    await Promise.all(work);
  }

  private async acknowledge(ids: string[]): Promise<void> {
    try {
      this.pendingAcks.push(...ids);
      await this.scheduleAckFlush();
      this.opts.metrics?.consumed.inc({ ...this.labels, outcome: 'acked' }, ids.length);
    } catch (error) {
      // Still pending in Redis: this consumer re-reads it after reconnecting, or another reclaims it.
      this.log.warn({ err: errorText(error), count: ids.length }, 'acknowledgement failed; entries stay pending');
    } finally {
      for (const id of ids) this.inFlight.delete(id);
      this.wakeCapacity();
    }
  }

  /** Acknowledgements requested in the same tick go out as one XACK. */
  private scheduleAckFlush(): Promise<void> {
    this.ackFlush ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.ackFlush = undefined;
        this.flushAcks().then(resolve, reject);
      });
    });
    return this.ackFlush;
  }

  private async flushAcks(): Promise<void> {
    if (this.pendingAcks.length === 0) return;
    const ids = this.pendingAcks;
    this.pendingAcks = [];
    await this.opts.connections.command.xack(this.stream, this.group, ...ids);
  }

  private async deadLetter(items: { entry: StreamEntry; reason: string }[]): Promise<void> {
    try {
      await this.deadLetters.move(this.stream, this.group, items);
      this.opts.metrics?.consumed.inc({ ...this.labels, outcome: 'dead_lettered' }, items.length);
      for (const { entry, reason } of items) {
        this.log.warn({ entryId: entry.id, reason, deliveries: entry.deliveries }, 'entry moved to dead letters');
      }
    } catch (error) {
      this.log.warn({ err: errorText(error), count: items.length }, 'dead-lettering failed; entries stay pending');
    } finally {
      for (const { entry } of items) this.inFlight.delete(entry.id);
      this.wakeCapacity();
    }
  }

  private scheduleRetry(entry: StreamEntry, error: unknown): void {
    const delay = backoffMs(entry.deliveries, this.s.backoffBaseMs, this.s.backoffMaxMs);
    this.opts.metrics?.retries.inc(this.labels);
    this.opts.metrics?.consumed.inc({ ...this.labels, outcome: 'retried' });
    this.log.warn({ entryId: entry.id, deliveries: entry.deliveries, retryInMs: delay, err: errorText(error) }, 'handler failed; will retry');
    const timer = setTimeout(() => {
      this.retryTimers.delete(entry.id);
      this.track(this.redeliver(entry));
    }, delay);
    this.retryTimers.set(entry.id, timer);
  }

  /** Claims the entry again for this consumer, which counts as a delivery, then handles it. */
  private async redeliver(entry: StreamEntry): Promise<void> {
    try {
      const claimed = (await this.opts.connections.command.xclaim(this.stream, this.group, this.consumer, 0, entry.id)) as RawEntry[];
      const first = claimed[0];
      if (!first || first[1] === null) {
        // Acknowledged elsewhere meanwhile, or deleted from the stream (XCLAIM then drops it from
        // the pending list): nothing left to do.
        if (first) this.countDeleted([entry.id]);
        this.release([entry.id]);
        return;
      }
      const again: StreamEntry = { id: entry.id, fields: toFields(first[1]), deliveries: entry.deliveries + 1 };
      this.inFlight.set(entry.id, { entry: again, touched: Date.now() });
      if (this.tracked.has(entry.id) || again.deliveries >= isolateFromDelivery) this.enqueueSuspects([again]);
      else await this.process([again]);
    } catch (error) {
      // Redis unreachable: keep it pending; reclaim (here or elsewhere) picks it up later.
      this.inFlight.delete(entry.id);
      this.wakeCapacity();
      this.log.debug({ err: errorText(error), entryId: entry.id }, 'retry claim failed; entry stays pending');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // recovery

  /** Takes over entries other consumers left idle past the claim timeout. */
  private async reclaim(): Promise<void> {
    if (!this.opts.connections.isReady()) return;
    const room = this.s.concurrency - this.inFlight.size - this.reading;
    if (room <= 0) return;
    const [cursor, raw, deleted] = (await this.opts.connections.command.xautoclaim(
      this.stream,
      this.group,
      this.consumer,
      this.s.claimIdleMs,
      this.reclaimCursor,
      'COUNT',
      Math.min(room, this.s.batchSize),
    )) as [string, RawEntry[], string[]];
    this.reclaimCursor = cursor;
    // Redis 7 lists entries trimmed or deleted while pending apart and has dropped them already;
    // Redis 6.2 returns them with null fields and keeps them pending.
    if (deleted && deleted.length > 0) this.countDeleted(deleted);
    const gone = raw.filter(([, flat]) => flat === null).map(([id]) => id);
    if (gone.length > 0) await this.dropDeleted(gone);
    const live = raw.filter(([id, flat]) => flat !== null && !this.inFlight.has(id));
    if (live.length === 0) return;
    const counts = await this.deliveryCounts(live[0]![0], live[live.length - 1]![0], live.length + 16);
    const entries = live.map(([id, flat]) => ({ id, fields: toFields(flat!), deliveries: counts.get(id) ?? 2 }));
    this.opts.metrics?.reclaimed.inc(this.labels, entries.length);
    this.log.info({ count: entries.length }, 'reclaimed entries abandoned by another consumer');
    this.dispatch(entries);
  }

  private async deliveryCounts(first: string, last: string, count: number): Promise<Map<string, number>> {
    const rows = (await this.opts.connections.command.xpending(this.stream, this.group, first, last, count, this.consumer)) as [
      string,
      string,
      number,
      number,
    ][];
    return new Map(rows.map(([id, , , deliveries]) => [id, deliveries]));
  }

  private async dropDeleted(ids: string[]): Promise<void> {
    await this.opts.connections.command.xack(this.stream, this.group, ...ids);
    this.countDeleted(ids);
  }

  private countDeleted(ids: string[]): void {
    this.opts.metrics?.deletedWhilePending.inc(this.labels, ids.length);
    this.log.warn({ count: ids.length, first: ids[0] }, 'pending entries were deleted or trimmed from the stream; dropped from the pending list');
  }

  /** Resets the idle time of entries still being handled so no other consumer reclaims them. */
  private async keepAlive(): Promise<void> {
    if (this.inFlight.size === 0 || !this.opts.connections.isReady()) return;
    const now = Date.now();
    const threshold = this.s.claimIdleMs / 3;
    const ids: string[] = [];
    for (const [id, item] of this.inFlight) {
      if (!item.lost && now - item.touched >= threshold) ids.push(id);
    }
    for (let i = 0; i < ids.length; i += 1000) {
      const slice = ids.slice(i, i + 1000);
      // XCLAIM JUSTID, for entries still ours: resets the idle time without counting a delivery.
      const [deleted, lost] = await runScript<[string[], string[]]>(this.opts.connections.command, keepAliveScript, [this.stream], [this.group, this.consumer, ...slice]);
      for (const id of slice) {
        const item = this.inFlight.get(id);
        if (item) item.touched = now;
      }
      for (const id of lost) {
        const item = this.inFlight.get(id);
        if (item) item.lost = true;
      }
      if (deleted.length > 0) this.countDeleted(deleted);
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
