import { type ConsumerScope, errorText } from './consumer-scope.ts';
import type { StreamEntry } from './entry.ts';
import type { InFlight } from './in-flight.ts';
import { attemptsKey } from './keys.ts';

/**
 * From this delivery on, an entry is suspected of crashing its consumer (a crash or kill is
 * normal once; twice in a row is suspicious). Suspects are handled one at a time, and only a
 * handler that actually starts counts against them, so a poison entry that kills the process
 * uses up its own deliveries and not those of the entries that were read with it.
 */
export const isolateFromDelivery = 3;

/**
 * The lane for suspects: one at a time, each in a handler call of its own. Redis' delivery counter
 * also counts the entries that merely waited next to a poison entry when it killed the process, so
 * a suspect is counted by handler starts instead, recorded in Redis before the handler runs
 * (attemptsKey: a hash field per suspect, removed once it is settled).
 */
export class SuspectLane {
  private readonly scope: ConsumerScope;
  private readonly inFlight: InFlight;
  private readonly run: (entry: StreamEntry) => Promise<void>;
  private readonly track: (task: Promise<void>) => void;
  private readonly queue: StreamEntry[] = [];
  private running = false;
  /** Entries with a handler-start count in Redis, forgotten once settled. */
  private readonly tracked = new Set<string>();

  constructor(scope: ConsumerScope, inFlight: InFlight, run: (entry: StreamEntry) => Promise<void>, track: (task: Promise<void>) => void) {
    this.scope = scope;
    this.inFlight = inFlight;
    this.run = run;
    this.track = track;
  }

  /**
   * True for an entry that must go through the lane: delivered this often to processes that are
   * gone (a retry this process decided itself does not make a suspect; see pending-claims.ts).
   */
  takes(entry: StreamEntry): boolean {
    return entry.deliveries >= isolateFromDelivery;
  }

  /** True once the entry's handler starts are counted in Redis (a retry of it stays in the lane). */
  counts(id: string): boolean {
    return this.tracked.has(id);
  }

  enqueue(entries: StreamEntry[]): void {
    this.queue.push(...entries);
    if (this.running) return;
    this.running = true;
    this.track(this.drain());
  }

  /**
   * Entries settled for good (acknowledged or dead-lettered, or out of retries): their counts in
   * Redis go.
   */
  async forget(ids: string[]): Promise<void> {
    const counted = ids.filter((id) => this.tracked.delete(id));
    if (counted.length === 0) return;
    await this.scope.connections.command.hdel(attemptsKey(this.scope.stream), ...counted).catch(() => undefined);
  }

  /** On close: suspects not started yet stay pending in Redis; their ids, to release. */
  drop(): string[] {
    return this.queue.splice(0).map((entry) => entry.id);
  }

  /** Suspects one at a time; each handler start is counted in Redis before the handler runs. */
  private async drain(): Promise<void> {
    const { connections, stream, settings, stopped, log } = this.scope;
    try {
      while (this.queue.length > 0 && !stopped.aborted) {
        const entry = this.queue.shift()!;
        let attempts: number;
        try {
          const key = attemptsKey(stream);
          // One transaction: the count and the hash's expiry are written together, never the one alone.
          const result = await connections.command.multi().hincrby(key, entry.id, 1).pexpire(key, settings.retentionMs).exec();
          const failed = result?.find(([error]) => error);
          if (!result || failed) throw failed?.[0] ?? new Error('transaction aborted');
          attempts = Number(result[0]![1]);
        } catch (error) {
          // Without a count the entry is not run; it stays pending here and is taken up again after
          // the reconnect (own-pending.ts), or by the reclaim.
          log.debug({ err: errorText(error), entryId: entry.id }, 'could not count a handler start; entry stays pending');
          this.inFlight.release([entry.id]);
          continue;
        }
        this.tracked.add(entry.id);
        this.scope.metrics?.suspects.inc(this.scope.labels);
        await this.run({ ...entry, deliveries: isolateFromDelivery - 1 + attempts });
      }
    } finally {
      this.running = false;
    }
  }
}
