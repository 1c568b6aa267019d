import { join } from 'node:path';
import { backoffMs, sleep } from '../util/time.ts';
import { isConnectionError } from './connection.ts';
import { type ConsumerScope, errorText, reportDeleted } from './consumer-scope.ts';
import type { DeadLetters } from './dead-letters.ts';
import { type EntryOutcome, type StreamEntry, toFields } from './entry.ts';
import type { InFlight } from './in-flight.ts';
import { redisRefusal } from './redis-errors.ts';
import { confirmReplicated, ReplicasUnconfirmed } from './replica-wait.ts';
import { loadLuaScript, runScript, sharedScriptDir } from './scripts.ts';
import type { SuspectLane } from './suspect-lane.ts';

const claimAgainScript = loadLuaScript(join(sharedScriptDir, 'claim-again.lua'));

type ClaimAgain = ['claimed', string[], number] | ['lost'] | ['deleted'];

/**
 * Settles what the handler decided for each entry:
 * - ack: acknowledgements requested in the same tick go out as one XACK;
 * - dead (or a retry at the last delivery): moved to the dead-letter stream atomically with its
 *   acknowledgement;
 * - retry: claimed again after an exponential backoff with jitter, which counts as a delivery
 *   (once: a claim that cannot reach Redis is tried again, the entry kept, not counted again);
 * - retry because Redis refused the work for a while (out of memory, loading, read-only, busy,
 *   unreachable…): handled again after a backoff without spending a delivery, however long the
 *   refusal lasts. The entry cannot be at fault, and counting it would dead-letter valid work
 *   during a memory-limit episode (seen in the chaos run).
 * Nothing is acknowledged on error without a dead letter. A write that cannot reach Redis is
 * made again once it can, the entry kept in hand meanwhile; on any other failure the entry stays
 * pending in Redis and comes back.
 */
export class Settler {
  private readonly scope: ConsumerScope;
  private readonly inFlight: InFlight;
  private readonly deadLetters: DeadLetters;
  private readonly lane: SuspectLane;
  private readonly redelivered: (entry: StreamEntry) => Promise<void>;
  private readonly track: (task: Promise<void>) => void;
  private readonly unconfirmed: () => void;
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  /** Entries handed back by a Redis refusal, with how many times in a row (for the backoff). */
  private readonly refused = new Map<string, number>();
  private pendingAcks: string[] = [];
  private ackFlush: Promise<void> | undefined;

  constructor(deps: {
    scope: ConsumerScope;
    inFlight: InFlight;
    deadLetters: DeadLetters;
    lane: SuspectLane;
    /** Called with an entry claimed again for its retry, to be handled. */
    redelivered: (entry: StreamEntry) => Promise<void>;
    track: (task: Promise<void>) => void;
    /** Called when acknowledgements were withheld (writes not confirmed on replicas): take them up again. */
    unconfirmed: () => void;
  }) {
    this.scope = deps.scope;
    this.inFlight = deps.inFlight;
    this.deadLetters = deps.deadLetters;
    this.lane = deps.lane;
    this.redelivered = deps.redelivered;
    this.track = deps.track;
    this.unconfirmed = deps.unconfirmed;
  }

  async settle(entries: StreamEntry[], outcomes: Map<StreamEntry, EntryOutcome>): Promise<void> {
    const { maxDeliveries } = this.scope.settings;
    const acks: string[] = [];
    const deadOnes: { entry: StreamEntry; reason: string }[] = [];
    const final: string[] = [];
    for (const entry of entries) {
      const outcome = outcomes.get(entry)!;
      const refusal = outcome.type === 'retry' && isTransientRefusal(outcome.error);
      if (outcome.type !== 'retry' || (entry.deliveries >= maxDeliveries && !refusal)) {
        final.push(entry.id);
        this.refused.delete(entry.id);
      }
      if (outcome.type === 'ack') acks.push(entry.id);
      else if (outcome.type === 'dead') deadOnes.push({ entry, reason: outcome.reason });
      else if (refusal) this.scheduleAfterRefusal(entry, outcome.error);
      else if (entry.deliveries >= maxDeliveries) {
        deadOnes.push({ entry, reason: `max_deliveries: ${errorText(outcome.error)}` });
      } else {
        this.scheduleRetry(entry, outcome.error);
      }
    }
    const work: Promise<unknown>[] = [];
    if (acks.length > 0) work.push(this.acknowledge(acks));
    if (deadOnes.length > 0) work.push(this.deadLetter(deadOnes));
    if (final.length > 0) work.push(this.lane.forget(final));
    await Promise.all(work);
  }

  /** Sends the acknowledgements not sent yet (on close). */
  async flush(): Promise<void> {
    if (this.pendingAcks.length === 0) return;
    const ids = this.pendingAcks;
    this.pendingAcks = [];
    const { connections, settings, stream, group } = this.scope;
    // The handlers' writes first reach the replicas asked for (STREAM_ACK_WAIT_REPLICAS), then the
    // entries that caused them are acknowledged; short of that they stay pending (replica-wait.ts).
    await confirmReplicated(connections.command, settings.ackWaitReplicas, settings.ackWaitTimeoutMs);
    await connections.command.xack(stream, group, ...ids);
  }

  /** On close: retries not due yet are dropped (the entries stay pending); their ids, to release. */
  cancelRetries(): string[] {
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    const ids = [...this.retryTimers.keys()];
    this.retryTimers.clear();
    this.refused.clear();
    return ids;
  }

  private async acknowledge(ids: string[]): Promise<void> {
    const { metrics, labels } = this.scope;
    const done = await this.untilWritten('acknowledgement', ids.length, async () => {
      this.pendingAcks.push(...ids);
      await this.scheduleAckFlush();
    });
    if (done) metrics?.consumed.inc({ ...labels, outcome: 'acked' }, ids.length);
    this.inFlight.release(ids);
  }

  /**
   * Runs a settling write (XACK, dead letter) again and again while Redis cannot be reached, the
   * entries kept in hand (and alive) meanwhile: given up, they would be handled a second time.
   * False when it gave up (another error, or the consumer is closing): they stay pending in Redis,
   * taken up again after a reconnect (own-pending.ts) or by the reclaim.
   */
  private async untilWritten(what: string, count: number, write: () => Promise<void>): Promise<boolean> {
    const { log, stopped } = this.scope;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await write();
        return true;
      } catch (error) {
        if (error instanceof ReplicasUnconfirmed && !stopped.aborted) {
          // Handled again (idempotent) after a pause: the failover, or the replica, has had time.
          log.warn({ err: errorText(error), count }, `${what} withheld; the entries will be handled again`);
          setTimeout(this.unconfirmed, backoffMs(1, 500, 500)).unref();
          return false;
        }
        if (!isConnectionError(error) || stopped.aborted) {
          log.warn({ err: errorText(error), count }, `${what} failed; entries stay pending`);
          return false;
        }
        if (attempt === 1) log.debug({ err: errorText(error), count }, `${what} failed; trying again`);
        await sleep(backoffMs(attempt, 100, 3_000), stopped);
      }
    }
  }

  /** Acknowledgements requested in the same tick go out as one XACK. */
  private scheduleAckFlush(): Promise<void> {
    this.ackFlush ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.ackFlush = undefined;
        this.flush().then(resolve, reject);
      });
    });
    return this.ackFlush;
  }

  private async deadLetter(items: { entry: StreamEntry; reason: string }[]): Promise<void> {
    const { stream, group, metrics, labels, log } = this.scope;
    // Safe to repeat: the script writes no dead letter for an entry acknowledged already.
    if (await this.untilWritten('dead-lettering', items.length, () => this.deadLetters.move(stream, group, items))) {
      metrics?.consumed.inc({ ...labels, outcome: 'dead_lettered' }, items.length);
      for (const { entry, reason } of items) {
        log.warn({ entryId: entry.id, reason, deliveries: entry.deliveries }, 'entry moved to dead letters');
      }
    }
    this.inFlight.release(items.map(({ entry }) => entry.id));
  }

  private scheduleRetry(entry: StreamEntry, error: unknown): void {
    const { settings, metrics, labels, log } = this.scope;
    const delay = backoffMs(entry.deliveries, settings.backoffBaseMs, settings.backoffMaxMs);
    metrics?.retries.inc(labels);
    metrics?.consumed.inc({ ...labels, outcome: 'retried' });
    log.warn({ entryId: entry.id, deliveries: entry.deliveries, retryInMs: delay, err: errorText(error) }, 'handler failed; will retry');
    this.later(entry, delay, 1, 1);
  }

  /** Redis refused the handler's work: try again later as the same delivery. */
  private scheduleAfterRefusal(entry: StreamEntry, error: unknown): void {
    const { settings, metrics, labels, log } = this.scope;
    const times = (this.refused.get(entry.id) ?? 0) + 1;
    this.refused.set(entry.id, times);
    const delay = backoffMs(times, settings.backoffBaseMs, settings.backoffMaxMs);
    metrics?.retries.inc(labels);
    if (times === 1) log.warn({ entryId: entry.id, retryInMs: delay, err: errorText(error) }, 'Redis refused the work; will try again without counting a delivery');
    this.later(entry, delay, 1, 0);
  }

  private later(entry: StreamEntry, delay: number, attempt: number, extraDeliveries: number): void {
    const timer = setTimeout(() => {
      this.retryTimers.delete(entry.id);
      this.track(this.redeliver(entry, attempt, extraDeliveries));
    }, delay);
    this.retryTimers.set(entry.id, timer);
  }

  /** Claims the entry again for this consumer (counting `extraDeliveries` more), then handles it. */
  private async redeliver(entry: StreamEntry, attempt: number, extraDeliveries: number): Promise<void> {
    const { connections, stream, group, consumer, stopped, log } = this.scope;
    let claimed: ClaimAgain;
    try {
      claimed = await runScript<ClaimAgain>(connections.command, claimAgainScript, [stream], [group, consumer, entry.id, entry.deliveries + extraDeliveries]);
    } catch (error) {
      if (isConnectionError(error) && !stopped.aborted) {
        // Redis unreachable: the entry stays in flight (kept alive once Redis is back) and the
        // claim is tried again. Released, it would come back through a re-read or a reclaim.
        log.debug({ err: errorText(error), entryId: entry.id }, 'retry claim failed; trying again');
        this.later(entry, backoffMs(attempt, 100, 3_000), attempt + 1, extraDeliveries);
      } else {
        // It stays pending in Redis and comes back through the reclaim.
        log.warn({ err: errorText(error), entryId: entry.id }, 'retry claim failed; entry stays pending');
        this.inFlight.release([entry.id]);
      }
      return;
    }
    if (claimed[0] !== 'claimed') {
      // Another consumer took it over (this one stalled past the claim timeout) or acknowledged
      // it; or it was deleted from the stream, and the script dropped it from the pending list.
      if (claimed[0] === 'deleted') reportDeleted(this.scope, [entry.id]);
      this.refused.delete(entry.id);
      this.inFlight.release([entry.id]);
      return;
    }
    const again: StreamEntry = { id: entry.id, fields: toFields(claimed[1]), deliveries: Number(claimed[2]) };
    this.inFlight.hold(again);
    await this.redelivered(again);
  }
}

/**
 * Redis refusing work for a while (memory limit, loading, read-only replica, busy script, cluster
 * moving, unreachable): not the entry's fault. Access denied is a configuration error that does not
 * heal by waiting, so it spends deliveries and ends in dead letters like any other failure.
 */
function isTransientRefusal(error: unknown): boolean {
  const refusal = redisRefusal(error);
  return refusal !== undefined && refusal.code !== 'redis_access_denied';
}
