import { type Parsed, FieldReader, SCHEMA_VERSION, parseTimestamp } from './validation.ts';
import { toFieldList } from '../streams/entry.ts';

/** An invitation as hosts publish it on `event_invitations` (the original's fields plus extras). */
export interface Invitation {
  id: string;
  eventName: string;
  eventDate: string;
  eventTime: string;
  location: string;
  description: string;
  hostName: string;
  hostId: string;
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
    eventName: r.required('event_name'),
    eventDate: r.date('event_date'),
    eventTime: r.time('event_time'),
    location: r.optional('location'),
    description: r.optional('description'),
    hostName: r.optional('host_name'),
    hostId: r.identifier('host_id'),
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
    event_name: inv.eventName,
    event_date: inv.eventDate,
    event_time: inv.eventTime,
    location: inv.location,
    description: inv.description,
    host_name: inv.hostName,
    host_id: inv.hostId,
    timestamp: inv.timestamp,
    v: SCHEMA_VERSION,
    sequence: inv.sequence,
    rsvp_deadline: inv.rsvpDeadline === undefined ? undefined : new Date(inv.rsvpDeadline).toISOString(),
  });
}
