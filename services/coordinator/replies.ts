import { SpanKind, context, trace, type Link } from '@opentelemetry/api';
import type { RedisClient } from '../shared/streams/redis-client.ts';
import type { Logger } from '../shared/logging/logger.ts';
import { type Question, answersProblem } from '../shared/schema/questions.ts';
import { type ResponseEntry, parseResponse } from '../shared/schema/response.ts';
import { type EntryOutcome, type StreamEntry, ack, dead, retry } from '../shared/streams/entry.ts';
import { eventKeys } from '../shared/streams/keys.ts';
import { type EventStore, REPLIES_PER_CALL, type ReplyResult, type ReplyToRecord, arrivalScore, receiptToRecord, replyToRecord } from './event-store.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { OutboxDrainer } from './outbox.ts';
import { QuestionCache, type VersionQuestions } from './version-questions.ts';

const tracer = trace.getTracer('event-planner/coordinator');

interface Pending {
  index: number;
  entry: StreamEntry;
  response: ResponseEntry;
}

/**
 * Handles `guest_responses` (and its priority lane) a batch at a time: replies and expiry receipts
 * are grouped by event and each group is recorded by one record-replies.lua call (all calls in one
 * pipeline), which decides counts, seats, the waitlist and promotions atomically; what it decided
 * is drained from the event's outbox before the batch is acknowledged (a summary the call decided
 * goes out in the drain's first round trip, its lists built from what the script handed back).
 * Answers are checked here
 * against the version's questions with the shared reader; a reply whose answers do not fit is
 * recorded as rejected with the reason.
 */
export class ReplyHandler {
  private readonly redis: RedisClient;
  private readonly store: EventStore;
  private readonly outbox: OutboxDrainer;
  private readonly metrics: CoordinatorMetrics;
  private readonly log: Logger;
  private readonly questions: QuestionCache;

  constructor(deps: { redis: RedisClient; store: EventStore; outbox: OutboxDrainer; metrics: CoordinatorMetrics; log: Logger; questions?: QuestionCache }) {
    this.redis = deps.redis;
    this.questions = deps.questions ?? new QuestionCache();
    this.store = deps.store;
    this.outbox = deps.outbox;
    this.metrics = deps.metrics;
    this.log = deps.log;
  }

  handleBatch = async (entries: StreamEntry[]): Promise<EntryOutcome[]> => {
    const outcomes: EntryOutcome[] = new Array<EntryOutcome>(entries.length);
    const byEvent = new Map<string, Pending[]>();
    entries.forEach((entry, index) => {
      const parsed = parseResponse(entry.fields);
      if (!parsed.ok) {
        outcomes[index] = dead(parsed.reason);
        this.metrics.replyOutcomes.inc({ outcome: 'rejected' });
        return;
      }
      const eventId = parsed.value.kind === 'reply' ? parsed.value.reply.invitationId : parsed.value.receipt.invitationId;
      const list = byEvent.get(eventId) ?? [];
      list.push({ index, entry, response: parsed.value });
      byEvent.set(eventId, list);
    });
    if (byEvent.size === 0) return outcomes;

    let calls: { eventId: string; items: Pending[]; replies: ReplyToRecord[] }[];
    let recorded;
    try {
      const questions = await this.questionsOf([...byEvent].map(([eventId, items]) => ({ eventId, sequence: Math.max(...items.map((p) => sequenceOf(p.response))) })));
      calls = [];
      for (const [eventId, items] of byEvent) {
        for (let i = 0; i < items.length; i += REPLIES_PER_CALL) {
          const slice = items.slice(i, i + REPLIES_PER_CALL);
          calls.push({ eventId, items: slice, replies: slice.map((p) => toRecord(p, questions.get(eventId))) });
        }
      }
      recorded = await this.store.recordReplies(calls);
    } catch (error) {
      for (const items of byEvent.values()) for (const item of items) outcomes[item.index] = retry(error);
      return outcomes;
    }

    // Metrics are added once per batch, not once per reply: prom-client hashes the labels on
    // every inc, which showed up in the coordinator's CPU profile at tens of thousands per second.
    const tally = new Tally();
    await Promise.all(
      calls.map(async (call, i) => {
        const { results, outbox, handed, error } = recorded[i]!;
        if (error) {
          for (const item of call.items) outcomes[item.index] = retry(error);
          return;
        }
        const span = this.countSpan(call.eventId, call.items);
        try {
          call.items.forEach((item, k) => {
            outcomes[item.index] = this.outcomeFor((results[k] ?? 'unknown') as ReplyResult, item, tally);
          });
          // Drain before acknowledging: if this fails, the replies are redelivered (duplicates
          // now) and the outbox is drained then.
          if (outbox.length > 0) await context.with(trace.setSpan(context.active(), span), () => this.outbox.drain(call.eventId, outbox, undefined, handed));
        } catch (drainError) {
          span.recordException(drainError as Error);
          for (const item of call.items) outcomes[item.index] = retry(drainError);
        } finally {
          span.end();
        }
      }),
    );
    tally.flush(this.metrics);
    return outcomes;
  };

  /** The questions of each event's version the replies answer (cached per sequence; one pipeline for the rest). */
  private async questionsOf(wanted: { eventId: string; sequence: number }[]): Promise<Map<string, VersionQuestions>> {
    const out = new Map<string, VersionQuestions>();
    const missing = wanted.filter(({ eventId, sequence }) => {
      const cached = this.questions.get(eventId);
      // A later version known already: these replies answer an older one (stale), whose answers are not checked.
      const known = cached !== undefined && cached.sequence >= sequence;
      if (known) out.set(eventId, cached);
      return !known;
    });
    if (missing.length === 0) return out;
    const pipeline = this.redis.pipeline();
    for (const { eventId } of missing) pipeline.hmget(eventKeys(eventId).event, 'sequence', 'questions');
    const results = (await pipeline.exec()) ?? [];
    missing.forEach(({ eventId }, i) => {
      const [error, value] = results[i]!;
      if (error) throw error;
      const [sequence, questions] = value as [string | null, string | null];
      if (sequence === null) return;
      const entry = { sequence: Number(sequence), questions: questions ? (JSON.parse(questions) as Question[]) : [] };
      out.set(eventId, entry);
      this.questions.remember(eventId, entry);
    });
    return out;
  }

  private outcomeFor(result: ReplyResult, { response }: Pending, tally: Tally): EntryOutcome {
    const eventId = response.kind === 'reply' ? response.reply.invitationId : response.receipt.invitationId;
    const guestId = response.kind === 'reply' ? response.reply.guestId : response.receipt.guestId;
    switch (result) {
      case 'counted':
      case 'changed':
        if (response.kind === 'reply') tally.replies[response.reply.response] += 1;
        tally.add(result);
        return ack;
      case 'late':
        tally.add(result);
        this.log.info({ eventId, guestId }, 'late reply recorded (after the version closed)');
        return ack;
      case 'not_invited':
        tally.add('rejected');
        return dead(`not_invited: guest ${guestId} was not invited to event ${eventId}`);
      case 'unknown_sequence':
        tally.add('rejected');
        return dead(`unknown_sequence: event ${eventId} never had sequence ${sequenceOf(response)}`);
      case 'unknown':
        tally.add('rejected');
        return dead(`unknown_invitation: no event ${eventId}`);
      default:
        tally.add(result);
        return ack;
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

function sequenceOf(response: ResponseEntry): number {
  return response.kind === 'reply' ? response.reply.sequence : response.receipt.sequence;
}

/** A parsed entry as the script takes it; answers checked against the version's questions. */
function toRecord({ entry, response }: Pending, version: VersionQuestions | undefined): ReplyToRecord {
  // `arrival` (the stream entry's order) decides between two replies of the same reply_rev (the
  // original's format has none): entries of one guest can be handled in concurrent batches, so the
  // order they reach the script is not the order they arrived in.
  const arrival = arrivalScore(entry.id);
  if (response.kind === 'receipt') return receiptToRecord(response.receipt, arrival);
  const reply = response.reply;
  // Checked only for the version the questions belong to; a reply to another one is stale or unknown anyway.
  const rejection = version && version.sequence === reply.sequence ? (answersProblem(version.questions, reply.answers, reply.response) ?? '') : '';
  return replyToRecord(reply, arrival, rejection);
}

/** Reply counts of one batch, added to the metrics in one go. */
class Tally {
  readonly replies = { yes: 0, no: 0, maybe: 0 };
  private readonly outcomes = new Map<string, number>();

  add(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  flush(metrics: CoordinatorMetrics): void {
    for (const [reply, n] of Object.entries(this.replies)) if (n > 0) metrics.replies.inc({ reply }, n);
    for (const [outcome, n] of this.outcomes) metrics.replyOutcomes.inc({ outcome }, n);
  }
}
