import { type Parsed, FieldReader, SCHEMA_VERSION, parseTimestamp } from './validation.ts';
import { toFieldList } from '../streams/entry.ts';

/** What an event is: the original invitation's descriptive fields, carried by deliveries too. */
export interface EventDetails {
  eventName: string;
  eventDate: string;
  eventTime: string;
  location: string;
  description: string;
  hostName: string;
  hostId: string;
}

/** An invitation as hosts publish it on `event_invitations` (the original's fields plus extras). */
export interface Invitation extends EventDetails {
  id: string;
  /** When the host created it, as sent (ISO 8601; the original's local time without zone is kept). */
  timestamp: string;
  /** iCalendar-style SEQUENCE: 0 for the first version. */
  sequence: number;
  /** RSVP deadline (ms since epoch) if the host set one; otherwise the coordinator's default applies. */
  rsvpDeadline?: number;
}

export function parseInvitation(fields: Record<string, string>): Parsed<Invitation> {
  const r = new FieldReader(fields);
  const deadlineText = fields.rsvp_deadline;
  const invitation: Invitation = {
    id: r.identifier('id'),
    ...readEventDetails(r, true),
    timestamp: r.timestamp('timestamp'),
    sequence: r.integer('sequence', 0, 0, 1_000_000),
    rsvpDeadline: undefined,
  };
  if (deadlineText !== undefined && deadlineText !== '') {
    const ms = parseTimestamp(deadlineText);
    if (ms === undefined) return { ok: false, reason: 'invalid_field: rsvp_deadline is not an ISO 8601 date-time' };
    invitation.rsvpDeadline = ms;
  }
  if (r.problem) return { ok: false, reason: r.problem };
  return { ok: true, value: invitation };
}

/** The entry a host adds to `event_invitations`. */
export function invitationFields(inv: Invitation): string[] {
  return toFieldList({
    id: inv.id,
    ...eventDetailFields(inv),
    timestamp: inv.timestamp,
    v: SCHEMA_VERSION,
    sequence: inv.sequence,
    rsvp_deadline: inv.rsvpDeadline === undefined ? undefined : new Date(inv.rsvpDeadline).toISOString(),
  });
}

/** The event's descriptive fields under the original's names. */
export function eventDetailFields(d: EventDetails): Record<string, string> {
  return {
    event_name: d.eventName,
    event_date: d.eventDate,
    event_time: d.eventTime,
    location: d.location,
    description: d.description,
    host_name: d.hostName,
    host_id: d.hostId,
  };
}

/**
 * Reads the descriptive fields. From a host (`check: true`) dates, times and the host id are
 * validated; further hops carry what the coordinator already accepted and only need a name.
 */
export function readEventDetails(r: FieldReader, check: boolean): EventDetails {
  return {
    eventName: r.required('event_name'),
    eventDate: check ? r.date('event_date') : r.optional('event_date'),
    eventTime: check ? r.time('event_time') : r.optional('event_time'),
    location: r.optional('location'),
    description: r.optional('description'),
    hostName: r.optional('host_name'),
    hostId: check ? r.identifier('host_id') : r.optional('host_id'),
  };
}
