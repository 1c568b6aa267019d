import { ROOT_CONTEXT, SpanKind, context, propagation, trace } from '@opentelemetry/api';
import type { Logger } from '../shared/logging/logger.ts';
import type { StreamProducer } from '../shared/streams/producer.ts';
import { streams } from '../shared/streams/keys.ts';
import type { CoordinatorMetrics } from './metrics.ts';

const tracer = trace.getTracer('event-planner/coordinator');

const summaryFieldOrder = [
  'id', 'invitation_id', 'host_id', 'total_invited', 'total_responses', 'yes_count', 'no_count', 'maybe_count',
  'responses', 'timestamp', 'no_response_count', 'no_response', 'responses_truncated', 'event_name', 'reason',
  'invited_at', 'published_at', 'sequence', 'revision', 'v',
];

/**
 * Publishes a summary from an event's outbox (written by the script that decided it) to
 * `event_summaries`, once per (event, sequence) whoever publishes it and however often: the XADD
 * is guarded by the once-marker `summary:<id>:<sequence>`; the outbox drainer removes the item after.
 */
export class SummaryPublisher {
  private readonly producer: StreamProducer;
  private readonly metrics: CoordinatorMetrics;
  private readonly log: Logger;

  constructor(producer: StreamProducer, metrics: CoordinatorMetrics, log: Logger) {
    this.producer = producer;
    this.metrics = metrics;
    this.log = log;
  }

  async publish(eventId: string, summary: string[], onceKey: string): Promise<void> {
    const carrier: Record<string, string> = {};
    const values: Record<string, string> = {};
    for (let i = 0; i + 1 < summary.length; i += 2) {
      const name = summary[i]!;
      const value = summary[i + 1]!;
      if (name === '_traceparent') carrier.traceparent = value;
      else if (name === '_tracestate') carrier.tracestate = value;
      else values[name] = value;
    }
    values.timestamp = new Date().toISOString();
    // The outbox is a hash (no order); entries read best with the original's fields first.
    const fields: string[] = [];
    for (const name of [...summaryFieldOrder, ...Object.keys(values).filter((n) => !summaryFieldOrder.includes(n))]) {
      if (values[name] !== undefined) fields.push(name, values[name]);
    }
    // The summary continues the event's trace (started by the host's publish), not the batch's.
    const parent = carrier.traceparent ? propagation.extract(ROOT_CONTEXT, carrier) : context.active();
    const span = tracer.startSpan('summarize', { kind: SpanKind.INTERNAL, links: linkToActive(), attributes: { 'event_planner.event_id': eventId } }, parent);
    try {
      // The outbox clean-up is part of summarizing: its Redis calls belong under this span too.
      const id = await context.with(trace.setSpan(parent, span), async () => {
        return this.producer.add({ stream: streams.summaries, fields, onceKey });
      });
      if (id !== null) {
        const reason = values.reason ?? 'unknown';
        this.metrics.summaries.inc({ reason });
        this.log.info(
          {
            eventId,
            sequence: Number(values.sequence),
            reason,
            invited: Number(values.total_invited),
            yes: Number(values.yes_count),
            no: Number(values.no_count),
            maybe: Number(values.maybe_count),
            noResponse: Number(values.no_response_count),
          },
          `summary published for "${values.event_name}" (${reason})`,
        );
      }
    } finally {
      span.end();
    }
  }
}

function linkToActive() {
  const active = trace.getSpanContext(context.active());
  return active ? [{ context: active }] : [];
}
