import { createHash } from 'node:crypto';
import { toFieldList } from '../streams/entry.ts';
import {
  type EventDefinition,
  type OpeningCheck,
  definitionFields,
  openingProblem,
  readEventDefinition,
} from './event-definition.ts';
import { type Parsed, FieldReader, SCHEMA_VERSION } from './validation.ts';

export {
  type EventDetails,
  eventDetailFields,
  readEventDetails,
  textRules,
} from './event-definition.ts';

/** iTIP methods an organizer sends: REQUEST (create or update) and CANCEL. */
export const methods = ['REQUEST', 'CANCEL'] as const;
export type Method = (typeof methods)[number];

/**
 * An invitation entry on `event_invitations`: the whole event as of one revision (docs/EVENTS.md).
 * Entries can be applied in any order: a revision at or below the one applied is a replay.
 */
export interface Invitation extends EventDefinition {
  /** The event's UID, global across host applications. */
  id: string;
  method: Method;
  /** The host's change counter: 1 when created. */
  revision: number;
  /** iCalendar SEQUENCE of this revision. */
  sequence: number;
  /** When the host created this revision, as sent (the original sends a local time without zone). */
  timestamp: string;
  /** Written in the original's format (no `v`): date and time are descriptive text, as there. */
  legacy: boolean;
}

/**
 * How far the coordinator lets a deadline lie before the entry's publication time (its id): the
 * API checks against its own clock, and the entry id comes from Redis' clock a moment later. This
 * covers that moment and the skew between the two clocks, so nothing the API accepted is
 * dead-lettered as past.
 */
export const CLOCK_ALLOWANCE_MS = 60_000;

/** The limit of a version's window (deadline, publish_at, expires_at after publication). */
export { limits as eventLimits } from './event-definition.ts';

/**
 * Reads and checks an invitation entry. The rules that depend on time (deadline, start, expiry
 * ahead of publication) bind an entry that opens a version: the first revision always (checked
 * here); a later revision only when it raises SEQUENCE, which the coordinator finds out against the
 * event's state and checks with `openingProblem` then.
 */
export function parseInvitation(fields: Record<string, string>, check: OpeningCheck): Parsed<Invitation> {
  const r = new FieldReader(fields);
  const invitation: Invitation = {
    id: r.identifier('id'),
    method: r.choice('method', methods, 'REQUEST'),
    revision: r.integer('revision', 1, 1, 1_000_000),
    sequence: r.integer('sequence', 0, 0, 1_000_000),
    timestamp: r.timestamp('timestamp'),
    legacy: fields.v === undefined,
    ...readEventDefinition(r, true),
  };
  const failure = r.failure();
  if (failure) return failure;
  if (invitation.revision === 1 && invitation.method === 'REQUEST') {
    const opening = openingProblem(invitation, invitation.legacy, check);
    if (!opening.ok) return opening;
  }
  return { ok: true, value: invitation };
}

/** The entry a host adds to `event_invitations` for one revision. */
export function invitationFields(inv: Invitation): string[] {
  return toFieldList({
    id: inv.id,
    ...definitionFields(inv),
    timestamp: inv.timestamp,
    v: SCHEMA_VERSION,
    method: inv.method === 'REQUEST' ? undefined : inv.method,
    revision: inv.revision,
    sequence: inv.sequence,
  });
}

/**
 * What makes two entries the same revision of the same event: everything but the creation
 * timestamp and transport fields (schema version, trace context). A replay of an entry has the
 * same fingerprint; an id (and revision) used again for something else does not.
 */
export function invitationFingerprint(inv: Invitation): string {
  const content = { ...definitionFields(inv), id: inv.id, method: inv.method, revision: inv.revision, sequence: inv.sequence };
  const canonical = Object.entries(content)
    .filter(([, v]) => v !== undefined && v !== '')
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}
