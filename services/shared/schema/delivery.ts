import { toFieldList } from '../streams/entry.ts';
import { type EventDetails, type Invitation, eventDetailFields, readEventDetails } from './invitation.ts';
import { type Parsed, FieldReader, SCHEMA_VERSION, parseTimestamp } from './validation.ts';
import { identifierPattern } from '../streams/keys.ts';

/** At most this many guests share one delivery entry (an agent may host thousands). */
export const MAX_GUESTS_PER_DELIVERY = 500;

/** An invitation delivered to the guests one agent hosts, on `guest_inbox:{agentId}`. */
export interface Delivery extends EventDetails {
  invitationId: string;
  sequence: number;
  rsvpDeadline: number;
  guestIds: string[];
  /** Business key: (event, sequence, agent, chunk); one delivery entry per key. */
  deliveryKey: string;
}

export function deliveryFields(inv: Invitation, deadline: number, guestIds: string[], deliveryKey: string): string[] {
  return toFieldList({
    invitation_id: inv.id,
    ...eventDetailFields(inv),
    sequence: inv.sequence,
    rsvp_deadline: new Date(deadline).toISOString(),
    guests: JSON.stringify(guestIds),
    delivery_key: deliveryKey,
    timestamp: new Date().toISOString(),
    v: SCHEMA_VERSION,
  });
}

export function parseDelivery(fields: Record<string, string>): Parsed<Delivery> {
  const r = new FieldReader(fields);
  const delivery: Delivery = {
    invitationId: r.identifier('invitation_id'),
    ...readEventDetails(r, false),
    sequence: r.integer('sequence', 0, 0, 1_000_000),
    rsvpDeadline: 0,
    guestIds: [],
    deliveryKey: r.required('delivery_key'),
  };
  const guests = r.required('guests');
  if (r.problem) return { ok: false, reason: r.problem };
  const deadline = parseTimestamp(fields.rsvp_deadline ?? '');
  if (deadline === undefined) return { ok: false, reason: 'invalid_field: rsvp_deadline is not an ISO 8601 date-time' };
  delivery.rsvpDeadline = deadline;
  let ids: unknown;
  try {
    ids = JSON.parse(guests);
  } catch {
    return { ok: false, reason: 'invalid_json: guests is not JSON' };
  }
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string' && identifierPattern.test(id))) {
    return { ok: false, reason: 'invalid_field: guests must be a non-empty JSON array of guest ids' };
  }
  delivery.guestIds = ids as string[];
  return { ok: true, value: delivery };
}
