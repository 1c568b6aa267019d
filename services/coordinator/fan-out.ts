import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import type { Logger } from '../shared/logging/logger.ts';
import { GuestRegistry, type LiveGuest } from '../shared/registry/guest-registry.ts';
import { MAX_GUESTS_PER_DELIVERY, deliveryFields } from '../shared/schema/delivery.ts';
import { CLOCK_ALLOWANCE_MS, type Invitation, invitationFingerprint, parseInvitation } from '../shared/schema/invitation.ts';
import { MAX_FIELD_LENGTH } from '../shared/schema/validation.ts';
import { type EntryOutcome, type StreamEntry, ack, dead, retry } from '../shared/streams/entry.ts';
import { deadlinesKey, streams } from '../shared/streams/keys.ts';
import type { Message, StreamProducer } from '../shared/streams/producer.ts';
import { backoffMs, entryIdTime, sleep } from '../shared/util/time.ts';
import type { CoordinatorConfig } from './config.ts';
import type { EventStore } from './event-store.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { SummaryPublisher } from './summary-publisher.ts';

const tracer = trace.getTracer('event-planner/coordinator');

/**
 * Handles `event_invitations`: records the event with the guests live right now (the invited set is
 * fixed from then on), then delivers the invitation to each invited guest's agent inbox. Both steps
 * are idempotent by business key (invitation id; delivery key = event, sequence, agent, chunk), so
 * a replay after a crash anywhere in between completes the work without doing any of it twice.
 */
export class InvitationHandler {
  private readonly redis: Redis;
  private readonly registry: GuestRegistry;
  private readonly store: EventStore;
  private readonly producer: StreamProducer;
  private readonly summaries: SummaryPublisher;
  private readonly config: CoordinatorConfig;
  private readonly metrics: CoordinatorMetrics;
  private readonly log: Logger;

  constructor(deps: {
    redis: Redis;
    store: EventStore;
    producer: StreamProducer;
    summaries: SummaryPublisher;
    config: CoordinatorConfig;
    metrics: CoordinatorMetrics;
    log: Logger;
  }) {
    this.redis = deps.redis;
    this.registry = new GuestRegistry(deps.redis);
    this.store = deps.store;
    this.producer = deps.producer;
    this.summaries = deps.summaries;
    this.config = deps.config;
    this.metrics = deps.metrics;
    this.log = deps.log;
  }

  handleBatch = (entries: StreamEntry[]): Promise<EntryOutcome[]> => {
    // One registry read per batch, not per invitation: the invitations of a batch are processed
    // at the same moment, so "the guests live now" is the same set for all of them.
    let live: Promise<LiveGuest[]> | undefined;
    const liveGuests = () => (live ??= this.liveGuests());
    return Promise.all(entries.map((entry) => this.handle(entry, liveGuests)));
  };

  /**
   * The guests live now. "None" is not taken for an answer while the registry is rebuilding
   * (Redis came back empty, or the system just started: agents that are alive register again
   * within one heartbeat): the registry is asked again with backoff until guests show up or the
   * registry is GUEST_TTL_MS old. With a complete registry, none is none at once.
   */
  private async liveGuests(): Promise<LiveGuest[]> {
    const ttl = this.config.guestTtlMs;
    for (let attempt = 1; ; attempt += 1) {
      const guests = await this.registry.liveGuests(ttl);
      if (guests.length > 0) return guests;
      const rebuilding = await this.registry.rebuildingFor(ttl);
      if (rebuilding === 0) return guests;
      if (attempt === 1) {
        this.metrics.registryWaits.inc();
        this.log.info({ waitMs: rebuilding }, 'no guest registered while the guest registry rebuilds; waiting for agents to register again');
      }
      await sleep(Math.min(rebuilding, backoffMs(attempt, 100, 1_000)));
    }
  }

  private async handle(entry: StreamEntry, liveGuests: () => Promise<LiveGuest[]>): Promise<EntryOutcome> {
    // Judged against the entry's publication time (its id), not the clock: a redelivery hours later
    // (after a crash, its event already made) is judged exactly as the first delivery was.
    const parsed = parseInvitation(entry.fields, { publishedAt: entryIdTime(entry.id), clockAllowanceMs: CLOCK_ALLOWANCE_MS });
    if (!parsed.ok) return dead(parsed.reason);
    const inv = parsed.value;
    // The span name stays low-cardinality (OTel): the event id is an attribute, not part of the name.
    const span = tracer.startSpan('fan-out', { kind: SpanKind.INTERNAL, attributes: { 'event_planner.event_id': inv.id } }, entry.traceContext);
    const started = performance.now();
    try {
      return await context.with(trace.setSpan(entry.traceContext ?? context.active(), span), () => this.fanOut(inv, entry, liveGuests));
    } catch (error) {
      span.recordException(error as Error);
      return retry(error);
    } finally {
      span.end();
      this.metrics.fanOutSeconds.observe((performance.now() - started) / 1000);
    }
  }

  private async fanOut(inv: Invitation, entry: StreamEntry, liveGuests: () => Promise<LiveGuest[]>): Promise<EntryOutcome> {
    const log = this.log.child({ eventId: inv.id });
    const live = await liveGuests();
    const deadline = inv.rsvpDeadline ?? Date.now() + this.config.rsvpDeadlineMs;
    // The event remembers the context of this span, so its summary joins the same trace.
    const traceFields: Record<string, string> = {};
    propagation.inject(context.active(), traceFields);
    const created = await this.store.create(inv, live, deadline, entryIdTime(entry.id), traceFields);

    let guests: LiveGuest[];
    let eventDeadline: number;
    if (created.kind === 'created') {
      this.metrics.invitations.inc({ outcome: 'created' });
      guests = live;
      eventDeadline = deadline;
      log.info({ invited: created.invited, event: inv.eventName }, `invitation "${inv.eventName}" from ${inv.hostName || inv.hostId}: inviting ${created.invited} guests`);
      if (created.summary) {
        await this.summaries.publish(inv.id, created.summary);
        return ack;
      }
    } else {
      // Invitation ids are global (an event's iCalendar UID): the same id from another host
      // application, or with other content, is a different invitation, never a replay to skip.
      if (created.hostId !== inv.hostId) {
        this.metrics.invitations.inc({ outcome: 'conflict' });
        return dead(`id_in_use: invitation id ${inv.id} is already used by host application ${created.hostId}`);
      }
      if (created.fingerprint !== null && created.fingerprint !== invitationFingerprint(inv)) {
        this.metrics.invitations.inc({ outcome: 'conflict' });
        return dead(`id_conflict: invitation id ${inv.id} was already published with different content (updates are not supported; use a new id)`);
      }
      this.metrics.invitations.inc({ outcome: 'duplicate' });
      if (created.status !== 'open') {
        log.info('invitation seen before and already summarized; nothing to do');
        return ack;
      }
      // Seen before but maybe not fully delivered (crash between steps): deliver again to the
      // invited set as recorded; deliveries already made are skipped by their once-markers.
      guests = await this.store.invitedGuests(inv.id);
      eventDeadline = created.deadline;
      log.info({ invited: guests.length }, 'invitation seen before; completing its deliveries');
    }

    // The deadline goes in before any delivery: whatever happens to this entry from here on (even
    // a dead letter after repeated delivery failures), the event is closed at its deadline.
    await this.redis.zadd(deadlinesKey, eventDeadline, inv.id);
    const deliveries = this.deliveries(inv, guests, eventDeadline);
    const ids = await this.producer.addMany(deliveries.map((d) => d.message));
    let delivered = 0;
    ids.forEach((id, i) => {
      if (id !== null) delivered += deliveries[i]!.guests;
    });
    this.metrics.deliveries.inc(delivered);
    log.debug({ entries: deliveries.length, guests: delivered }, 'deliveries added');
    return ack;
  }

  /** One entry per agent (split into chunks for agents hosting many guests); stable order and keys. */
  private deliveries(inv: Invitation, guests: LiveGuest[], deadline: number): { message: Message; guests: number }[] {
    const byAgent = new Map<string, string[]>();
    for (const g of guests) {
      const list = byAgent.get(g.agentId) ?? [];
      list.push(g.id);
      byAgent.set(g.agentId, list);
    }
    const messages: { message: Message; guests: number }[] = [];
    for (const [agentId, ids] of byAgent) {
      chunkGuestIds(ids).forEach((slice, chunk) => {
        const deliveryKey = `${inv.id}:${inv.sequence}:${chunk}`;
        messages.push({
          message: { stream: streams.inbox(agentId), fields: deliveryFields(inv, { type: 'request', invitationId: inv.id, sequence: inv.sequence, revision: inv.revision, rsvpDeadline: deadline, guestIds: slice, deliveryKey }), onceKey: deliveryKey },
          guests: slice.length,
        });
      });
    }
    return messages;
  }
}

/**
 * Splits one agent's guest ids into delivery chunks of at most MAX_GUESTS_PER_DELIVERY ids whose
 * JSON list also fits in one field (MAX_FIELD_LENGTH): agents reject a longer field as malformed,
 * and 500 ids of ~30 characters are twice that. Deterministic for the same ordered ids, so a
 * replay makes the same chunks and the same delivery keys.
 */
export function chunkGuestIds(ids: string[]): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let length = 2;
  for (const id of ids) {
    const size = JSON.stringify(id).length + 1;
    if (current.length > 0 && (current.length >= MAX_GUESTS_PER_DELIVERY || length + size > MAX_FIELD_LENGTH)) {
      chunks.push(current);
      current = [];
      length = 2;
    }
    current.push(id);
    length += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
