import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import type { Logger } from '../shared/logging/logger.ts';
import type { LiveGuest } from '../shared/registry/guest-registry.ts';
import { openingProblem } from '../shared/schema/event-definition.ts';
import { CLOCK_ALLOWANCE_MS, type Invitation, parseInvitation } from '../shared/schema/invitation.ts';
import { type EntryOutcome, type StreamEntry, ack, dead, retry } from '../shared/streams/entry.ts';
import { entryIdTime } from '../shared/util/time.ts';
import type { EventStore, RevisionResult, Staged } from './event-store.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { OutboxDrainer } from './outbox.ts';
import type { QuestionCache } from './version-questions.ts';
import { type LiveGuests, resolveTargeting } from './targeting.ts';

const tracer = trace.getTracer('event-planner/coordinator');

/**
 * Handles `event_invitations` (and its priority lane): applies each entry's revision of its event
 * (apply-revision.lua: a replay changes nothing; a new version closes the open one and asks
 * everyone again; a cancellation closes it for good), then drains what that decided from the
 * event's outbox onto the streams and schedules the event's next timer. The entry is acknowledged
 * only after both, so a crash at any point is healed by its redelivery.
 */
export class InvitationHandler {
  private readonly store: EventStore;
  private readonly outbox: OutboxDrainer;
  private readonly live: LiveGuests;
  private readonly metrics: CoordinatorMetrics;
  private readonly log: Logger;
  private readonly questions: QuestionCache | undefined;

  constructor(deps: { store: EventStore; outbox: OutboxDrainer; live: LiveGuests; metrics: CoordinatorMetrics; log: Logger; questions?: QuestionCache }) {
    this.store = deps.store;
    this.questions = deps.questions;
    this.outbox = deps.outbox;
    this.live = deps.live;
    this.metrics = deps.metrics;
    this.log = deps.log;
  }

  handleBatch = (entries: StreamEntry[]): Promise<EntryOutcome[]> => {
    // One registry read per batch, not per invitation: the invitations of a batch are processed
    // at the same moment, so "the guests live now" is the same set for all of them.
    let live: Promise<LiveGuest[]> | undefined;
    const liveGuests = () => (live ??= this.live.read());
    return Promise.all(entries.map((entry) => this.handle(entry, liveGuests)));
  };

  private async handle(entry: StreamEntry, liveGuests: () => Promise<LiveGuest[]>): Promise<EntryOutcome> {
    // Judged against the entry's publication time (its id), not the clock: a redelivery hours later
    // is judged exactly as the first delivery was.
    const publishedAt = entryIdTime(entry.id);
    const parsed = parseInvitation(entry.fields, { publishedAt, clockAllowanceMs: CLOCK_ALLOWANCE_MS });
    if (!parsed.ok) {
      this.metrics.invitations.inc({ outcome: 'refused' });
      return dead(parsed.reason);
    }
    const inv = parsed.value;
    // The span name stays low-cardinality (OTel): the event id is an attribute, not part of the name.
    const span = tracer.startSpan('apply revision', { kind: SpanKind.INTERNAL, attributes: { 'event_planner.event_id': inv.id, 'event_planner.revision': inv.revision } }, entry.traceContext);
    const started = performance.now();
    try {
      return await context.with(trace.setSpan(entry.traceContext ?? context.active(), span), () => this.apply(inv, publishedAt, liveGuests));
    } catch (error) {
      span.recordException(error as Error);
      return retry(error);
    } finally {
      span.end();
      this.metrics.fanOutSeconds.observe((performance.now() - started) / 1000);
    }
  }

  private async apply(inv: Invitation, publishedAt: number, liveGuests: () => Promise<LiveGuest[]>): Promise<EntryOutcome> {
    const log = this.log.child({ eventId: inv.id, revision: inv.revision, sequence: inv.sequence });
    // The opening rules bind a revision that opens a version; only the script knows whether this one does.
    const opening = openingProblem(inv, inv.legacy, { publishedAt, clockAllowanceMs: CLOCK_ALLOWANCE_MS });
    const resolution = inv.method === 'CANCEL' ? { guests: [], unknown: [] } : resolveTargeting(inv.targeting, await liveGuests());
    // The event remembers the context of this span, so its summaries join the same trace.
    const traceFields: Record<string, string> = {};
    propagation.inject(context.active(), traceFields);
    // A large resolution is staged in bounded steps when the script asks for it (`stage`: the
    // revision opens a version or changes the targeting); the script opens it with a rename, and a
    // stage it did not open is dropped here.
    let staged: Staged | undefined;
    const applyOnce = () => this.store.applyRevision(inv, { publishedAt, openingProblem: opening.ok ? '' : opening.reason, resolution, trace: traceFields, staged });
    let result: RevisionResult;
    try {
      result = await applyOnce();
      for (let attempt = 0; (result.kind === 'busy' || result.kind === 'stage') && attempt < 4; attempt += 1) {
        if (result.kind === 'stage') {
          staged ??= await this.store.stage(inv.id, resolution.guests);
        } else {
          // busy: a summary or a fan-out's guests of this event are still being read in steps; draining its outbox finishes them.
          await this.outbox.drain(inv.id, result.outbox, new Map([[inv.revision, result.definition]]), result.handed);
        }
        result = await applyOnce();
      }
    } finally {
      await this.store.unstage(staged);
    }
    if (result.kind === 'busy' || result.kind === 'stage') return retry(new Error(`event ${inv.id}: a summary or a fan-out is still being built in steps`));
    if (result.kind === 'dead') {
      const conflict = result.reason.startsWith('id_');
      this.metrics.invitations.inc({ outcome: conflict ? 'conflict' : 'refused' });
      log.warn({ reason: result.reason }, 'revision refused');
      return dead(result.reason);
    }
    if (result.kind === 'replay') {
      this.metrics.invitations.inc({ outcome: 'duplicate' });
      log.info('revision applied before; completing what it decided');
    } else {
      // The replies to this version are checked against these (replies.ts), without reading them back.
      if (inv.method === 'REQUEST') this.questions?.remember(inv.id, { sequence: inv.sequence, questions: inv.questions }, true);
      const outcome = inv.method === 'CANCEL' ? 'cancelled' : inv.revision === 1 ? 'created' : 'updated';
      this.metrics.invitations.inc({ outcome });
      if (inv.publishAt !== undefined && inv.publishAt > Date.now() && inv.method === 'REQUEST') this.metrics.invitations.inc({ outcome: 'scheduled' });
      log.info(
        { invited: resolution.guests.length, unknown: resolution.unknown.length, event: inv.eventName },
        inv.method === 'CANCEL'
          ? `cancellation of "${inv.eventName}" applied`
          : `invitation "${inv.eventName}" from ${inv.hostName || inv.hostId} (revision ${inv.revision}, sequence ${inv.sequence}): ${resolution.guests.length} guests targeted`,
      );
    }
    // The timer goes in before anything is delivered: whatever happens to this entry from here on,
    // the event is ticked at its next moment (and a tick drains its outbox too).
    await this.store.scheduleTimer(inv.id, result.nextDue);
    if (result.outbox.length > 0) await this.outbox.drain(inv.id, result.outbox, new Map([[inv.revision, result.definition]]), result.handed);
    return ack;
  }
}
