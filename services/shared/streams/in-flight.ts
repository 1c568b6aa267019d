import type { StreamEntry } from './entry.ts';

export interface Held {
  entry: StreamEntry;
  /** When the entry's idle time in Redis was last reset (delivery, claim or keep-alive). */
  touched: number;
  /** Another consumer owns it now (it reclaimed it while this one stalled): no more keep-alives. */
  lost?: boolean;
}

/**
 * The entries one consumer holds: read, claimed, being handled or waiting for a retry. It bounds
 * the consumer's concurrency (readers wait for room), is what the keep-alive keeps alive, and is
 * how the reader and the reclaimer skip entries this process is already handling.
 */
export class InFlight {
  private readonly held = new Map<string, Held>();
  private readonly limit: number;
  private waiters: (() => void)[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  get size(): number {
    return this.held.size;
  }

  /** Free places under the concurrency limit. */
  get room(): number {
    return this.limit - this.held.size;
  }

  has(id: string): boolean {
    return this.held.has(id);
  }

  get(id: string): Held | undefined {
    return this.held.get(id);
  }

  hold(entry: StreamEntry, now = Date.now()): void {
    this.held.set(entry.id, { entry, touched: now });
  }

  [Symbol.iterator](): IterableIterator<[string, Held]> {
    return this.held.entries();
  }

  /** Drops entries from this consumer's books; in Redis they stay pending until settled. */
  release(ids: Iterable<string>): void {
    for (const id of ids) this.held.delete(id);
    this.wake();
  }

  /** Resolves once there is room (or at once when `stopped` is aborted). */
  waitForRoom(stopped: AbortSignal): Promise<void> {
    if (this.room > 0 || stopped.aborted) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Wakes everyone waiting for room (they check again). */
  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
