import { type ConsumerScope, reportDeleted } from './consumer-scope.ts';
import { type RawEntry, type StreamEntry, toFields } from './entry.ts';
import type { InFlight } from './in-flight.ts';

/**
 * Takes over entries other consumers left idle past the claim timeout (a dead replica's work) with
 * XAUTOCLAIM, and reads their delivery counts, which decide retries, dead letters and suspects.
 */
export class Reclaimer {
  private readonly scope: ConsumerScope;
  private readonly inFlight: InFlight;
  private readonly dispatch: (entries: StreamEntry[]) => void;
  /** Entries the blocking read in progress may still return: reclaim leaves room for them. */
  private readonly reading: () => number;
  private cursor = '0-0';

  constructor(scope: ConsumerScope, inFlight: InFlight, dispatch: (entries: StreamEntry[]) => void, reading: () => number) {
    this.scope = scope;
    this.inFlight = inFlight;
    this.dispatch = dispatch;
    this.reading = reading;
  }

  async run(): Promise<void> {
    const { connections, stream, group, consumer, settings, metrics, labels, log } = this.scope;
    if (!connections.isReady()) return;
    const room = this.inFlight.room - this.reading();
    if (room <= 0) return;
    const [cursor, raw, deleted] = (await connections.command.xautoclaim(
      stream,
      group,
      consumer,
      settings.claimIdleMs,
      this.cursor,
      'COUNT',
      Math.min(room, settings.batchSize),
    )) as [string, RawEntry[], string[]];
    this.cursor = cursor;
    // Redis 7 lists entries trimmed or deleted while pending apart and has dropped them already;
    // Redis 6.2 returns them with null fields and keeps them pending.
    if (deleted && deleted.length > 0) reportDeleted(this.scope, deleted);
    const gone = raw.filter(([, flat]) => flat === null).map(([id]) => id);
    if (gone.length > 0) await dropDeleted(this.scope, gone);
    const live = raw.filter(([id, flat]) => flat !== null && !this.inFlight.has(id));
    if (live.length === 0) return;
    const counts = await deliveryCounts(this.scope, live[0]![0], live[live.length - 1]![0], live.length + 16);
    const entries = live.map(([id, flat]) => ({ id, fields: toFields(flat!), deliveries: counts.get(id) ?? 2 }));
    metrics?.reclaimed.inc(labels, entries.length);
    log.info({ count: entries.length }, 'reclaimed entries abandoned by another consumer');
    this.dispatch(entries);
  }
}

/** This consumer's delivery counts of its pending entries between `first` and `last`. */
export async function deliveryCounts(scope: ConsumerScope, first: string, last: string, count: number): Promise<Map<string, number>> {
  const rows = (await scope.connections.command.xpending(scope.stream, scope.group, first, last, count, scope.consumer)) as [string, string, number, number][];
  return new Map(rows.map(([id, , , deliveries]) => [id, deliveries]));
}

/** Acknowledges entries that are gone from the stream, so they leave the pending list too. */
export async function dropDeleted(scope: ConsumerScope, ids: string[]): Promise<void> {
  await scope.connections.command.xack(scope.stream, scope.group, ...ids);
  reportDeleted(scope, ids);
}
