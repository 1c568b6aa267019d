import { SpanKind, trace } from '@opentelemetry/api';
import type { RedisClient } from '../shared/streams/redis-client.ts';
import type { Logger } from '../shared/logging/logger.ts';
import { type Summary, parseSummary } from '../shared/schema/summary.ts';
import { type EntryOutcome, type StreamEntry, ack, dead, retry } from '../shared/streams/entry.ts';
import { hostSeenKey } from '../shared/streams/keys.ts';
import type { HostMetrics } from './metrics.ts';
import type { ReadModel } from './read-model/read-model.ts';
import { formatSummary } from './summary-report.ts';

const tracer = trace.getTracer('event-planner/host');

/**
 * Reads `event_summaries` in this host application's own group. Summaries for other hosts are
 * acknowledged and skipped; each own summary is handled once (a marker guards against printing it
 * again after a redelivery) and handed to `onSummary`.
 */
export class SummaryReceiver {
  private readonly hostId: string;
  private readonly redis: RedisClient;
  private readonly metrics: HostMetrics;
  private readonly log: Logger;
  private readonly print: boolean;
  private readonly seenTtlMs: number;
  private readonly listeners = new Set<(summary: Summary) => void>();
  private readonly readModel: ReadModel | undefined;

  constructor(deps: { hostId: string; redis: RedisClient; metrics: HostMetrics; log: Logger; print: boolean; seenTtlMs: number; readModel?: ReadModel }) {
    this.hostId = deps.hostId;
    this.redis = deps.redis;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.print = deps.print;
    this.seenTtlMs = deps.seenTtlMs;
    this.readModel = deps.readModel;
  }

  onSummary(listener: (summary: Summary) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  handleEntry = async (entry: StreamEntry): Promise<EntryOutcome> => {
    const parsed = parseSummary(entry.fields);
    if (!parsed.ok) return dead(parsed.reason);
    const summary = parsed.value;
    if (summary.hostId !== this.hostId) {
      this.metrics.summaries.inc({ owner: 'other' });
      return ack;
    }
    // Under the active `process event_summaries` span, itself the child of the summary's `send`.
    const span = tracer.startSpan('receive summary', { kind: SpanKind.INTERNAL, attributes: { 'event_planner.event_id': summary.invitationId } });
    try {
      // The read model first (idempotent): a crash after it and before the marker applies it again, harmlessly.
      await this.readModel?.applySummary(entry.id, summary, entry.fields);
      const first = await this.redis.set(hostSeenKey(this.hostId, summary.id), entry.id, 'PX', this.seenTtlMs, 'NX');
      if (first !== 'OK') return ack;
      this.metrics.summaries.inc({ owner: 'own' });
      const startedAt = summary.publishedAt || summary.invitedAt;
      if (startedAt > 0) this.metrics.endToEnd.observe({ reason: summary.reason }, Math.max(0, Date.now() - startedAt) / 1000);
      this.log.info(
        {
          eventId: summary.invitationId,
          reason: summary.reason,
          invited: summary.totalInvited,
          yes: summary.yes,
          no: summary.no,
          maybe: summary.maybe,
          noResponse: summary.noResponse,
        },
        `📊 summary received for "${summary.eventName}": ${summary.yes} yes, ${summary.maybe} maybe, ${summary.no} no, ${summary.noResponse} no response`,
      );
      if (this.print) process.stdout.write(formatSummary(summary));
      for (const listener of this.listeners) listener(summary);
      return ack;
    } catch (error) {
      return retry(error);
    } finally {
      span.end();
    }
  };
}
