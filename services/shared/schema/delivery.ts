import { toFieldList } from '../streams/entry.ts';
import { type EventDefinition, definitionFields, readEventDefinition } from './event-definition.ts';
import { type Parsed, FieldReader, SCHEMA_VERSION, invalid } from './validation.ts';

/** At most this many guests share one delivery entry (an agent may host thousands). */
export const MAX_GUESTS_PER_DELIVERY = 500;

/**
 * What a delivery asks of the guests it names (docs/EVENTS.md):
 * - request:        answer (a new event or a new version; iTIP REQUEST with RSVP);
 * - details:        new details of the same version, no answer needed;
 * - reminder:       answer if you have not (reply reminder);
 * - start_reminder: the event starts soon (confirmed guests);
 * - promoted:       you moved from the waitlist to a seat;
 * - cancel:         the event is cancelled (scope event) or you were removed from it (scope guest).
 */
export const deliveryTypes = ['request', 'details', 'reminder', 'start_reminder', 'promoted', 'cancel'] as const;
export type DeliveryType = (typeof deliveryTypes)[number];
export const cancelScopes = ['event', 'guest'] as const;
export type CancelScope = (typeof cancelScopes)[number];

/** Who a delivery is for and what it says beyond the event's definition. */
export interface DeliveryTarget {
  type: DeliveryType;
  invitationId: string;
  sequence: number;
  revision: number;
  /** The version's RSVP deadline in force (ms). */
  rsvpDeadline: number;
  guestIds: string[];
  /** Business key: one delivery entry per key (docs/EVENTS.md, "Exactly once"). */
  deliveryKey: string;
  /** The reminder's minutes (before the deadline, or before the start) for reminder types. */
  reminder?: number;
  /** For `cancel`: the whole event, or only the guests named. */
  scope?: CancelScope;
}

/** A message for the guests one agent hosts, on `guest_inbox:{agentId}` (or its priority lane). */
export interface Delivery extends Omit<EventDefinition, 'rsvpDeadline'>, DeliveryTarget {}

/** The entry the coordinator adds to an agent's inbox. */
export function deliveryFields(event: EventDefinition, target: DeliveryTarget, now = Date.now()): string[] {
  return deliveryFieldsOf(definitionFields(event), target, now);
}

/**
 * The same entry from the definition's entry fields (`definitionFields`), as the coordinator keeps
 * them per revision: a delivery decided earlier carries the definition of the revision that decided it.
 */
export function deliveryFieldsOf(definition: Record<string, string | undefined>, target: DeliveryTarget, now = Date.now()): string[] {
  return toFieldList({
    type: target.type,
    invitation_id: target.invitationId,
    ...definition,
    sequence: target.sequence,
    revision: target.revision,
    rsvp_deadline: new Date(target.rsvpDeadline).toISOString(),
    guests: JSON.stringify(target.guestIds),
    delivery_key: target.deliveryKey,
    reminder: target.reminder,
    scope: target.scope,
    timestamp: new Date(now).toISOString(),
    v: SCHEMA_VERSION,
  });
}

export function parseDelivery(fields: Record<string, string>): Parsed<Delivery> {
  const r = new FieldReader(fields);
  const definition = readEventDefinition(r, false);
  const delivery: Delivery = {
    ...definition,
    // A v1 delivery (before types existed) was always a request.
    type: r.choice('type', deliveryTypes, 'request'),
    invitationId: r.identifier('invitation_id'),
    sequence: r.integer('sequence', 0, 0, 1_000_000),
    revision: r.integer('revision', 1, 1, 1_000_000),
    rsvpDeadline: 0,
    guestIds: [],
    deliveryKey: r.required('delivery_key'),
    reminder: r.has('reminder') ? r.integer('reminder', 0, 1, 525_600) : undefined,
    scope: r.has('scope') ? r.choice('scope', cancelScopes, 'event') : undefined,
  };
  r.required('rsvp_deadline');
  r.required('guests');
  const guests = r.identifierList('guests', MAX_GUESTS_PER_DELIVERY);
  const failure = r.failure();
  if (failure) return failure;
  if (guests.length === 0) return invalid('invalid_field: guests must be a non-empty JSON array of guest ids', 'guests');
  delivery.rsvpDeadline = definition.rsvpDeadline!;
  delivery.guestIds = guests;
  return { ok: true, value: delivery };
}
