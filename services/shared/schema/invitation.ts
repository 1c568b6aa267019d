import { createHash } from 'node:crypto';
import { type Parsed, FieldReader, SCHEMA_VERSION, type TextRule, invalid, parseTimestamp } from './validation.ts';
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

// One definition of an invitation, used by every side: the HTTP API runs parseInvitation on the
// very fields it is about to add to the stream, and the coordinator runs it on every entry it
// reads. So whatever the API accepts the coordinator processes, and whatever the coordinator
// would dead-letter the API refuses (400, naming the field) instead of answering 202.

/** The descriptive text fields and their limits (characters). */
export const textRules = {
  event_name: { maxLength: 200, required: true },
  location: { maxLength: 500 },
  description: { maxLength: 4_000, multiline: true },
  host_name: { maxLength: 200 },
} as const satisfies Record<string, TextRule>;

/** The fields a client sends to POST /api/events (the host fills in host_id, timestamp, sequence). */
export const invitationBodyFields = ['id', 'event_name', 'event_date', 'event_time', 'location', 'description', 'host_name', 'rsvp_deadline'] as const;
export type InvitationBodyField = (typeof invitationBodyFields)[number];

/** An RSVP deadline may be at most this far after the invitation is published (an event stays open until then). */
export const MAX_RSVP_WINDOW_MS = 366 * 86_400_000;

/**
 * How far the coordinator lets an RSVP deadline lie before the entry's publication time (its id):
 * the API refuses a deadline that is not after its own clock, and the entry id comes from Redis'
 * clock a moment later. This covers that moment and the skew between the two clocks, so nothing
 * the API accepted is dead-lettered as past.
 */
export const CLOCK_ALLOWANCE_MS = 60_000;

export interface InvitationCheck {
  /** When the invitation is published: the stream entry id's time on the coordinator, now in the API. */
  publishedAt: number;
  /** Tolerance on both ends of the deadline window (0 in the API, which reads its own clock). */
  clockAllowanceMs: number;
}

/**
 * Reads and checks an invitation. The deadline is judged against `publishedAt`, never against
 * the reader's clock, so a redelivery (after a crash, hours later) is judged as the first delivery was.
 */
export function parseInvitation(fields: Record<string, string>, check: InvitationCheck): Parsed<Invitation> {
  const r = new FieldReader(fields);
  const invitation: Invitation = {
    id: r.identifier('id'),
    ...readEventDetails(r, true),
    timestamp: r.timestamp('timestamp'),
    sequence: r.integer('sequence', 0, 0, 1_000_000),
    rsvpDeadline: undefined,
  };
  const failure = r.failure();
  if (failure) return failure;
  const deadlineText = fields.rsvp_deadline;
  if (deadlineText !== undefined && deadlineText !== '') {
    const deadline = readRsvpDeadline(deadlineText, check);
    if (!deadline.ok) return deadline;
    invitation.rsvpDeadline = deadline.value;
  }
  return { ok: true, value: invitation };
}

/** An RSVP deadline: a date-time with a zone, after the publication and at most MAX_RSVP_WINDOW_MS later. */
export function readRsvpDeadline(text: string, { publishedAt, clockAllowanceMs }: InvitationCheck): Parsed<number> {
  const deadline = parseTimestamp(text, { requireZone: true });
  if (deadline === undefined) {
    return invalid('invalid_field: rsvp_deadline must be an ISO 8601 date-time with a zone, e.g. 2026-05-01T18:00:00Z or 2026-05-01T20:00:00+02:00', 'rsvp_deadline');
  }
  const at = new Date(publishedAt).toISOString();
  if (deadline <= publishedAt - clockAllowanceMs) {
    return invalid(`deadline_passed: rsvp_deadline ${new Date(deadline).toISOString()} is not after ${at}, when the invitation was published`, 'rsvp_deadline');
  }
  if (deadline > publishedAt + MAX_RSVP_WINDOW_MS + clockAllowanceMs) {
    return invalid(`invalid_field: rsvp_deadline must be at most ${MAX_RSVP_WINDOW_MS / 86_400_000} days after the invitation is published (${at})`, 'rsvp_deadline');
  }
  return { ok: true, value: deadline };
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

/**
 * What makes two invitations with the same id the same invitation: everything but the creation
 * timestamp and transport fields (schema version, trace context). A replay of an entry has the
 * same fingerprint; an id used again for something else does not.
 */
export function invitationFingerprint(inv: Invitation): string {
  const content = [inv.id, inv.eventName, inv.eventDate, inv.eventTime, inv.location, inv.description, inv.hostName, inv.hostId, inv.sequence, inv.rsvpDeadline ?? null];
  return createHash('sha256').update(JSON.stringify(content)).digest('base64url');
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
 * Reads the descriptive fields. From a host (`check: true`) every field is validated; further
 * hops carry what the coordinator already accepted and only need a name.
 */
export function readEventDetails(r: FieldReader, check: boolean): EventDetails {
  if (!check) {
    return {
      eventName: r.required('event_name'),
      eventDate: r.optional('event_date'),
      eventTime: r.optional('event_time'),
      location: r.optional('location'),
      description: r.optional('description'),
      hostName: r.optional('host_name'),
      hostId: r.optional('host_id'),
    };
  }
  return {
    eventName: r.text('event_name', textRules.event_name),
    eventDate: r.date('event_date'),
    eventTime: r.time('event_time'),
    location: r.text('location', textRules.location),
    description: r.text('description', textRules.description),
    hostName: r.text('host_name', textRules.host_name),
    hostId: r.identifier('host_id'),
  };
}
