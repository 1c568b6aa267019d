import type { StreamSettings } from '../config/stream-settings.ts';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { Periodic } from '../util/periodic.ts';
import { sleep } from '../util/time.ts';
import type { RedisConnections } from './connection.ts';
import { ensureGroup } from './consumer-group.ts';
import { type ConsumerScope, errorText } from './consumer-scope.ts';
import { CrashTrigger, parseCrashPoint } from './crash-point.ts';
import { DeadLetters } from './dead-letters.ts';
import type { StreamEntry } from './entry.ts';
import { type BatchHandler, type EntryHandler, HandlerRunner } from './handler-runner.ts';
import { InFlight } from './in-flight.ts';
import { KeepAlive } from './keep-alive.ts';
import { streamLabel } from './keys.ts';
import { OwnPending } from './own-pending.ts';
import { PendingClaims } from './pending-claims.ts';
import { Reclaimer } from './reclaimer.ts';
import { Settler } from './settler.ts';
import { StreamReader } from './stream-reader.ts';
import { SuspectLane } from './suspect-lane.ts';

export type { BatchHandler, EntryHandler } from './handler-runner.ts';
export { isolateFromDelivery } from './suspect-lane.ts';

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

/**
 * Reads one stream with one consumer group and turns at-least-once delivery into exactly-once
 * effects together with idempotent handlers. It composes parts that each do one thing:
 * - StreamReader (stream-reader.ts): the read loop on a blocking connection of its own, with a
 *   watchdog for zombie sockets;
 * - OwnPending (own-pending.ts): this consumer's own pending entries, taken up at start and after
 *   every reconnect without counting them as failed deliveries;
 * - HandlerRunner (handler-runner.ts): the role's handler inside a `process` span;
 * - Settler (settler.ts): batched XACK, dead letters, retries with backoff;
 * - Reclaimer (reclaimer.ts): entries other consumers abandoned, claimed with their counts;
 * - PendingClaims (pending-claims.ts): the one script that claims pending entries and decides
 *   what counts as a delivery, for both;
 * - KeepAlive (keep-alive.ts): the lease on entries still being handled;
 * - SuspectLane (suspect-lane.ts): entries redelivered often, handled one at a time, so a poison
 *   entry that crashes the process does not drag others with it;
 * - InFlight (in-flight.ts): the entries held, which bounds the concurrency.
 * docs/RELIABILITY.md describes all of it and the tests that prove it.
 */
export class StreamConsumer {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  private readonly scope: ConsumerScope;
  private readonly stop = new AbortController();
  private readonly inFlight: InFlight;
  private readonly tasks = new Set<Promise<void>>();
  private readonly groupStart: '0' | '$';
  private readonly lane: SuspectLane;
  private readonly settler: Settler;
  private readonly runner: HandlerRunner;
  private readonly reader: StreamReader;
  private readonly claims: PendingClaims;
  private readonly ownPending: OwnPending;
  private readonly reclaimer: Reclaimer;
  private readonly keepAlive: KeepAlive;
  private readonly timers: Periodic[] = [];
  private removeReadyListener: (() => void) | undefined;
  private readonly crash: CrashTrigger | undefined;
  private crashEntry: StreamEntry | undefined;

  constructor(opts: ConsumerOptions) {
    if (!opts.handleBatch === !opts.handleEntry) throw new Error('StreamConsumer needs exactly one of handleBatch or handleEntry');
    this.stream = opts.stream;
    this.group = opts.group;
    this.consumer = opts.consumer;
    this.groupStart = opts.groupStart ?? '0';
    const scope: ConsumerScope = {
      stream: opts.stream,
      group: opts.group,
      consumer: opts.consumer,
      connections: opts.connections,
      settings: opts.settings,
      log: opts.log.child({ stream: opts.stream, group: opts.group }),
      metrics: opts.metrics,
      labels: { stream: streamLabel(opts.stream), group: opts.group },
      stopped: this.stop.signal,
    };
    this.scope = scope;
    opts.metrics?.trackConsumer(scope.labels, () => this.isHealthy());
    const point = opts.settings.testCrash ? parseCrashPoint(opts.settings.testCrash) : undefined;
    this.crash = typeof point === 'object' && point.stream === opts.stream ? new CrashTrigger(point) : undefined;

    const track = (task: Promise<void>) => this.track(task);
    this.inFlight = new InFlight(opts.settings.concurrency);
    this.lane = new SuspectLane(scope, this.inFlight, (entry) => this.runner.process([entry]), track);
    this.settler = new Settler({
      scope,
      inFlight: this.inFlight,
      deadLetters: new DeadLetters(opts.connections, opts.metrics),
      lane: this.lane,
      // A retry is a failure this process saw, not a crash: only a suspect stays in its lane.
      redelivered: async (entry) => {
        if (this.lane.counts(entry.id)) this.lane.enqueue([entry]);
        else await this.runner.process([entry]);
      },
      track,
      unconfirmed: () => this.ownPending.request(),
    });
    this.runner = new HandlerRunner({
      scope,
      inFlight: this.inFlight,
      settler: this.settler,
      handleBatch: opts.handleBatch,
      handleEntry: opts.handleEntry,
      afterHandled: (entries) => {
        if (this.crashEntry !== undefined && entries[0] === this.crashEntry) this.crash?.afterHandled();
      },
    });
    this.reader = new StreamReader({
      scope,
      inFlight: this.inFlight,
      groupStart: this.groupStart,
      onNew: (entries) => {
        if (this.crash?.afterRead(entries.length)) this.crashEntry = entries[0];
        this.dispatch(entries);
      },
      // Whatever Redis delivered into a lost reply is pending under this consumer's name.
      onFailure: () => this.ownPending.request(),
    });
    const dispatch = (entries: StreamEntry[]) => this.dispatch(entries);
    this.claims = new PendingClaims(scope);
    this.ownPending = new OwnPending(scope, this.inFlight, this.claims, dispatch);
    this.reclaimer = new Reclaimer({ scope, inFlight: this.inFlight, claims: this.claims, dispatch, reading: () => this.reader.reading });
    this.keepAlive = new KeepAlive(scope, this.inFlight);
  }

  /** True while the read loop runs on a live connection (part of /readyz). */
  isHealthy(): boolean {
    return this.reader.isHealthy && !this.stop.signal.aborted;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  async start(): Promise<void> {
    const { connections, settings, log } = this.scope;
    await connections.waitUntilReady();
    await ensureGroup(this.scope, this.groupStart);
    await this.claims.markStart();
    // On every reconnect: recreate the group (a Redis that restarted without its data has lost
    // it), then take up what is pending here and not in hand (replies lost with the connection).
    this.removeReadyListener = connections.onReady(() => {
      ensureGroup(this.scope, this.groupStart)
        .catch((error: unknown) => log.warn({ err: String(error) }, 'could not recreate consumer group'))
        .finally(() => this.ownPending.request());
    });
    this.ownPending.request();
    this.reader.start();
    const every = (name: string, ms: number, fn: () => Promise<void>) => {
      const timer = new Periodic(ms, fn, (error) => log.debug({ err: String(error) }, `${name} failed`), 0.2);
      this.timers.push(timer.start(ms * Math.random()));
    };
    every('reclaim', settings.reclaimIntervalMs, () => this.reclaimer.run());
    every('keep-alive', this.keepAlive.intervalMs, () => this.keepAlive.run());
  }

  /**
   * Stops reading, lets in-flight handlers finish within `graceMs`, flushes acknowledgements.
   * Entries not finished stay pending in Redis and are reclaimed by another consumer (or by this
   * one after a restart under the same name).
   */
  async close(graceMs = this.scope.settings.shutdownGraceMs): Promise<void> {
    if (this.stop.signal.aborted) return this.reader.close();
    this.stop.abort();
    this.removeReadyListener?.();
    for (const timer of this.timers) void timer.stop();
    this.inFlight.release([...this.settler.cancelRetries(), ...this.lane.drop()]);
    await this.reader.close();
    await this.ownPending.settled();
    const drained = Promise.allSettled([...this.tasks]).then(() => 'drained' as const);
    const outcome = await Promise.race([drained, sleep(graceMs).then(() => 'timeout' as const)]);
    if (outcome === 'timeout') this.scope.log.warn({ inFlight: this.inFlight.size }, 'shutdown grace over; unfinished entries stay pending');
    await this.settler.flush().catch((error: unknown) => this.scope.log.debug({ err: errorText(error) }, 'final acknowledgements failed; entries stay pending'));
  }

  /**
   * Hands entries to the handler: suspects to their lane, the others at full speed. An entry
   * already in hand (the reclaimer and the own-pending pass can meet the same one) is skipped.
   */
  private dispatch(all: StreamEntry[]): void {
    const entries = all.filter((entry) => !this.inFlight.has(entry.id));
    if (entries.length === 0) return;
    const now = Date.now();
    for (const entry of entries) this.inFlight.hold(entry, now);
    const suspects = entries.filter((entry) => this.lane.takes(entry));
    if (suspects.length > 0) this.lane.enqueue(suspects);
    const fresh = suspects.length === 0 ? entries : entries.filter((entry) => !this.lane.takes(entry));
    if (fresh.length === 0) return;
    if (this.runner.perEntry) {
      for (const entry of fresh) this.track(this.runner.process([entry]));
    } else {
      this.track(this.runner.process(fresh));
    }
  }

  private track(task: Promise<void>): void {
    this.tasks.add(task);
    void task.finally(() => {
      this.tasks.delete(task);
    });
  }
}
