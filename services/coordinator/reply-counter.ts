import { SpanKind, context, trace, type Link } from '@opentelemetry/api';
import type { Logger } from '../shared/logging/logger.ts';
import { type Reply, parseReply, replyRecord } from '../shared/schema/response.ts';
import { type EntryOutcome, type StreamEntry, ack, dead, retry } from '../shared/streams/entry.ts';
import { type EventStore, REPLIES_PER_CALL, type ReplyToRecord } from './event-store.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { SummaryPublisher } from './summary-publisher.ts';

const tracer = trace.getTracer('event-planner/coordinator');

interface Pending {
  index: number;
  entry: StreamEntry;
  reply: Reply;
}

/**
 * Handles `guest_responses` a batch at a time: replies are grouped by event and each group is
 * counted by one script call, all calls in one pipeline; a summary decided by a call is published
 * before the batch is acknowledged. Counting is idempotent per (event, guest), so redeliveries and
 * resent replies change nothing.
 */
export class ReplyHandler {
  private readonly store: EventStore;
  private readonly summaries: SummaryPublisher;
  private readonly metrics: CoordinatorMetrics;
  private readonly log: Logger;

  constructor(deps: { store: EventStore; summaries: SummaryPublisher; metrics: CoordinatorMetrics; log: Logger }) {
    this.store = deps.store;
    this.summaries = deps.summaries;
    this.metrics = deps.metrics;
    this.log = deps.log;
  }

  handleBatch = async (entries: StreamEntry[]): Promise<EntryOutcome[]> => {
    const outcomes: EntryOutcome[] = new Array<EntryOutcome>(entries.length);
    const byEvent = new Map<string, Pending[]>();
    entries.forEach((entry, index) => {
      const parsed = parseReply(entry.fields);
      if (!parsed.ok) {
        outcomes[index] = dead(parsed.reason);
        this.metrics.replyOutcomes.inc({ outcome: 'rejected' });
        return;
      }
      const list = byEvent.get(parsed.value.invitationId) ?? [];
      list.push({ index, entry, reply: parsed.value });
      byEvent.set(parsed.value.invitationId, list);
    });

    const calls: { eventId: string; items: Pending[]; replies: ReplyToRecord[] }[] = [];
    for (const [eventId, items] of byEvent) {
      for (let i = 0; i < items.length; i += REPLIES_PER_CALL) {
        const slice = items.slice(i, i + REPLIES_PER_CALL);
        calls.push({
          eventId,
          items: slice,
          replies: slice.map(({ reply }) => ({ guestId: reply.guestId, response: reply.response, json: JSON.stringify(replyRecord(reply)) })),
        });
      }
    }
    if (calls.length === 0) return outcomes;

    let recorded;
    try {
      recorded = await this.store.recordReplies(calls);
    } catch (error) {
      for (const call of calls) for (const item of call.items) outcomes[item.index] = retry(error);
      return outcomes;
    }

    // Metrics are added once per batch, not once per reply: prom-client hashes the labels on
    // every inc, which showed up in the coordinator's CPU profile at tens of thousands per second.
    const tally = new Tally();
    const debug = this.log.isLevelEnabled('debug');
    await Promise.all(
      calls.map(async (call, i) => {
        const { results, summary, error } = recorded[i]!;
        if (error) {
          for (const item of call.items) outcomes[item.index] = retry(error);
          return;
        }
        const span = this.countSpan(call.eventId, call.items);
        try {
          call.items.forEach((item, k) => {
            outcomes[item.index] = this.outcomeFor(results[k]!, item, tally, debug);
          });
          // Publish before acknowledging: if this fails, the replies are redelivered and the
          // script hands back the same summary from the event's outbox.
          if (summary) {
            await context.with(trace.setSpan(context.active(), span), () => this.summaries.publish(call.eventId, summary));
          }
        } catch (publishError) {
          span.recordException(publishError as Error);
          for (const item of call.items) outcomes[item.index] = retry(publishError);
        } finally {
          span.end();
        }
      }),
    );
    tally.flush(this.metrics);
    return outcomes;
  };

  private outcomeFor(result: string, { reply }: Pending, tally: Tally, debug: boolean): EntryOutcome {
    switch (result) {
      case 'counted':
        tally.replies[reply.response] += 1;
        tally.outcomes.counted += 1;
        if (debug) this.log.debug({ eventId: reply.invitationId, guestId: reply.guestId, reply: reply.response }, 'reply counted');
        return ack;
      case 'duplicate':
        tally.outcomes.duplicate += 1;
        return ack;
      case 'late':
        tally.outcomes.late += 1;
        this.log.info({ eventId: reply.invitationId, guestId: reply.guestId }, 'late reply recorded (after the summary)');
        return ack;
      case 'not_invited':
        tally.outcomes.rejected += 1;
        return dead(`not_invited: guest ${reply.guestId} was not invited to event ${reply.invitationId}`);
      default:
        tally.outcomes.rejected += 1;
        return dead(`unknown_invitation: no event ${reply.invitationId}`);
    }
  }

  /** A counting span per event, child of the first reply's trace and linked to the others. */
  private countSpan(eventId: string, items: Pending[]) {
    const links: Link[] = [];
    for (const { entry } of items.slice(1)) {
      const sc = entry.traceContext && trace.getSpanContext(entry.traceContext);
      if (sc) links.push({ context: sc });
    }
    return tracer.startSpan(
      'count replies',
      { kind: SpanKind.INTERNAL, links, attributes: { 'event_planner.event_id': eventId, 'event_planner.replies': items.length } },
      items[0]?.entry.traceContext ?? context.active(),
    );
  }
}

/** Reply counts of one batch, added to the metrics in one go. */
class Tally {
  readonly replies = { yes: 0, no: 0, maybe: 0 };
  readonly outcomes = { counted: 0, duplicate: 0, late: 0, rejected: 0 };

  flush(metrics: CoordinatorMetrics): void {
    for (const [reply, n] of Object.entries(this.replies)) if (n > 0) metrics.replies.inc({ reply }, n);
    for (const [outcome, n] of Object.entries(this.outcomes)) if (n > 0) metrics.replyOutcomes.inc({ outcome }, n);
  }
}
