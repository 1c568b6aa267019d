import type { StreamSettings } from '../config/stream-settings.ts';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { RedisConnections } from './connection.ts';

/**
 * What every part of one StreamConsumer shares (reader, settler, reclaimer, keep-alive, suspect
 * lane): which stream, group and consumer it serves, its connections and settings, and the signal
 * that close() aborts, so that every loop and timer of the consumer ends with it.
 */
export interface ConsumerScope {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly connections: RedisConnections;
  readonly settings: StreamSettings;
  readonly log: Logger;
  readonly metrics: Metrics | undefined;
  /** Metric labels: the stream as a label (agent inboxes collapsed) and the group. */
  readonly labels: { stream: string; group: string };
  readonly stopped: AbortSignal;
}

/**
 * Entries that were pending here but are gone from the stream (trimmed or deleted while being
 * handled): every path that meets them reports them the same way, so one metric counts them all.
 */
export function reportDeleted(scope: ConsumerScope, ids: string[]): void {
  scope.metrics?.deletedWhilePending.inc(scope.labels, ids.length);
  scope.log.warn({ count: ids.length, first: ids[0] }, 'pending entries were deleted or trimmed from the stream; dropped from the pending list');
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
