// JSON schemas of the host API's bodies and responses (docs/API.md, README "HTTP API"): Fastify
// validates inputs and serializes outputs with them, and @fastify/swagger turns them into the
// OpenAPI document. The event body's properties come from the shared schema (event-body.ts), the
// one definition the coordinator's reader also follows.

import { eventBodyProperties } from '../../shared/schema/event-body.ts';
import { activityTypes, guestOutcomes } from '../../shared/schema/activity.ts';

type Schema = Record<string, unknown>;

export const idPattern = '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$';

export const errorBody = {
  type: 'object',
  description: 'Every error: a human text, a machine code and, for a 400, the body field at fault.',
  required: ['error', 'code'],
  properties: {
    error: { type: 'string' },
    code: { type: 'string' },
    field: { type: 'string' },
    request_id: { type: 'string' },
  },
} as const;

/** The error answers a route can give, by status. */
export function errors(...statuses: number[]): Record<number, Schema> {
  return Object.fromEntries(statuses.map((s) => [s, { ...errorBody, description: errorText[s] ?? 'error' }]));
}
const errorText: Record<number, string> = {
  400: 'Invalid request; `field` names the body property at fault.',
  404: 'No such event (or guest).',
  409: 'Conflict: id_in_use (another host application), id_conflict (same id, other content), cancelled.',
  401: 'No token, or a token that is not valid (expired, wrong signature, wrong algorithm): see WWW-Authenticate.',
  403: 'The token’s role may not do this (a viewer changes nothing; a host sees no other host’s events, nor the whole system).',
  429: 'Too many requests from this address; see Retry-After.',
  412: 'If-Match names a revision that is not the current one.',
  413: 'Body too large.',
  503: 'Redis refuses the work for now (or the host is starting); see Retry-After.',
};

/** The event body: every option of the event model (docs/EVENTS.md). */
export const eventBody = {
  type: 'object',
  additionalProperties: false,
  properties: { ...eventBodyProperties },
} as const;

export const createBody = {
  type: 'object',
  additionalProperties: false,
  // No `required`: what a value must be (event_name among them) is the shared reader's decision,
  // so the API answers exactly as the coordinator would (400 naming the field).
  properties: {
    id: { type: 'string', description: 'Idempotency key and the event’s global id (iCalendar UID); generated when absent.' },
    ...eventBodyProperties,
  },
} as const;

const status = { type: 'string', enum: ['scheduled', 'open', 'closed', 'cancelled'] } as const;

export const createAccepted = {
  type: 'object',
  required: ['id', 'revision', 'sequence', 'status', 'duplicate'],
  properties: {
    id: { type: 'string' },
    revision: { type: 'integer' },
    sequence: { type: 'integer' },
    status,
    duplicate: { type: 'boolean', description: 'The same request was accepted before: nothing new was published.' },
    entry_id: { type: ['string', 'null'], description: 'The invitation entry of this revision, whichever published it: this request or the outbox drainer, when it came first (null for a duplicate: nothing new was published).' },
  },
} as const;

export const changeAccepted = {
  type: 'object',
  required: ['id', 'revision', 'sequence', 'status', 'bumped'],
  properties: {
    ...createAccepted.properties,
    bumped: { type: 'boolean', description: 'SEQUENCE went up: a new version, every guest is asked again.' },
  },
} as const;

export const counts = {
  type: 'object',
  required: ['invited', 'accepted', 'declined', 'tentative', 'needs_action', 'confirmed', 'headcount', 'waitlisted', 'stale', 'late', 'rejected', 'reminders_sent'],
  properties: Object.fromEntries(
    ['invited', 'accepted', 'declined', 'tentative', 'needs_action', 'confirmed', 'headcount', 'waitlisted', 'stale', 'late', 'rejected', 'reminders_sent', 'never_asked'].map((n) => [n, { type: 'integer', minimum: 0 }]),
  ),
} as const;

export const guestStates = ['needs_action', 'accepted', 'declined', 'tentative', 'waitlisted', 'removed', 'never_asked'] as const;

export const guestRow = {
  type: 'object',
  required: ['guest_id', 'state', 'sequence', 'updated_at'],
  properties: {
    guest_id: { type: 'string' },
    guest_name: { type: 'string' },
    state: { type: 'string', enum: [...guestStates] },
    sequence: { type: 'integer' },
    plus_ones: { type: 'integer' },
    waitlist_position: { type: 'integer' },
    reply_rev: { type: 'integer' },
    answers: { type: 'object', additionalProperties: true },
    message: { type: 'string' },
    message_sequence: { type: 'integer', description: 'the sequence `message` answered (kept when a later version asks again)' },
    outcome: { type: 'string', enum: [...guestOutcomes] },
    stale: { type: 'boolean' },
    reason: { type: 'string' },
    updated_at: { type: 'integer', description: 'ms since the epoch' },
  },
} as const;

/** A version's summary: the event_summaries entry as JSON, lists parsed (free-form beyond the original's fields). */
export const summary = {
  type: 'object',
  additionalProperties: true,
  required: ['id', 'invitation_id', 'sequence', 'reason'],
  properties: {
    id: { type: 'string' },
    invitation_id: { type: 'string' },
    sequence: { type: 'integer' },
    revision: { type: 'integer' },
    reason: { type: 'string' },
  },
} as const;

export const eventView = {
  type: 'object',
  required: ['id', 'host_id', 'status', 'revision', 'sequence', 'definition', 'created_at', 'updated_at', 'counts', 'guests', 'waitlist', 'summaries', 'feed_id'],
  properties: {
    id: { type: 'string' },
    host_id: { type: 'string' },
    status,
    revision: { type: 'integer' },
    sequence: { type: 'integer' },
    definition: eventBody,
    created_at: { type: 'integer' },
    updated_at: { type: 'integer' },
    rsvp_deadline: { type: 'string' },
    counts,
    guests: { type: 'array', items: guestRow },
    waitlist: { type: 'array', items: { type: 'string' } },
    summaries: { type: 'array', items: summary },
    feed_id: { type: 'string', description: 'The last read-model change applied; `since` for the SSE stream.' },
  },
} as const;

export const eventListItem = {
  type: 'object',
  required: ['id', 'event_name', 'status', 'revision', 'sequence', 'created_at', 'updated_at', 'counts'],
  properties: {
    id: { type: 'string' },
    event_name: { type: 'string' },
    event_date: { type: 'string' },
    event_time: { type: 'string' },
    timezone: { type: 'string' },
    status,
    revision: { type: 'integer' },
    sequence: { type: 'integer' },
    created_at: { type: 'integer' },
    updated_at: { type: 'integer' },
    counts,
  },
} as const;

export const streamStat = {
  type: 'object',
  required: ['stream', 'length', 'groups', 'dead_letters'],
  properties: {
    stream: { type: 'string' },
    length: { type: 'integer' },
    groups: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'consumers', 'lag', 'pending', 'oldest_pending_ms'],
        properties: {
          name: { type: 'string' },
          consumers: { type: 'integer' },
          lag: { type: 'integer', description: 'Entries not yet delivered to the group (XINFO GROUPS lag).' },
          pending: { type: 'integer' },
          oldest_pending_ms: { type: 'integer' },
        },
      },
    },
    dead_letters: { type: 'integer' },
    rate_per_s: { type: 'number' },
  },
} as const;

export const flowHops = ['invitation', 'delivery', 'reply', 'summary', 'activity', 'dead_letter'] as const;
export { activityTypes };

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: idPattern } },
} as const;
