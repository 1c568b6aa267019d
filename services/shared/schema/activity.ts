// `event_activity`: what the coordinator tells hosts while events live (docs/EVENTS.md), so a host
// can show an event's board without reading the coordinator's keys. One entry per batch of effects;
// at least once (a replayed step emits its changes again), so readers apply changes idempotently:
// a guest's change carries the sequence and reply_rev it is about, counts are absolute.

import { toFieldList } from '../streams/entry.ts';
import type { Answers } from './questions.ts';
import type { AttendeeState, SummaryReason } from './summary.ts';
import { type Parsed, FieldReader, SCHEMA_VERSION, invalid } from './validation.ts';

export const activityTypes = ['version', 'delivered', 'replies', 'reminder', 'promoted', 'never_asked', 'cancelled', 'closed'] as const;
export type ActivityType = (typeof activityTypes)[number];

/** What happened to one guest's reply or place. */
export const guestOutcomes = [
  'invited', // asked (a new event, a new version, or added by a targeting change)
  'removed', // no longer targeted: sent a cancellation of its own
  'counted', // first reply of this version counted
  'changed', // a newer reply replaced the guest's earlier one
  'duplicate', // the same reply again (a redelivery): nothing changed
  'outdated', // an older reply (lower reply_rev) than the one counted: nothing changed
  'stale', // answers an older sequence: kept, not counted
  'late', // after the version closed: kept, not counted
  'rejected', // does not fit the event (answers, plus-ones): kept with the reason, not counted
  'promoted', // moved from the waitlist to a seat
  'displaced', // seated by its acceptance, told nothing yet, and its seat taken by an earlier arrival recorded later: waitlisted
  'reminded', // sent a reminder
  'never_asked', // the delivery expired
] as const;
export type GuestOutcome = (typeof guestOutcomes)[number];

export interface GuestChange {
  guest_id: string;
  guest_name?: string;
  outcome: GuestOutcome;
  /** The guest's state after the change. */
  state: AttendeeState;
  plus_ones?: number;
  /** Place on the waitlist (1 = next) when waitlisted. */
  waitlist?: number;
  reply_rev?: number;
  answers?: Answers;
  message?: string;
  /** Why a reply was rejected. */
  reason?: string;
}

/** The counts of a version after the change (absolute, so applying them twice is harmless). */
export interface VersionCounts {
  invited: number;
  accepted: number;
  declined: number;
  tentative: number;
  needs_action: number;
  confirmed: number;
  headcount: number;
  waitlisted: number;
  stale: number;
  late: number;
  rejected: number;
  reminders_sent: number;
  never_asked: number;
}

export interface EventActivity {
  invitation_id: string;
  host_id: string;
  sequence: number;
  revision: number;
  /** The version's status after the change. */
  status?: 'scheduled' | 'open' | 'closed' | 'cancelled';
  counts?: VersionCounts;
  guests?: GuestChange[];
  /** type-specific details: the reminder's minutes, the summary reason, the deliveries' agent count… */
  reminder?: number;
  reason?: SummaryReason;
  deadline?: number;
  /** For `delivered`: the delivery type the guests were sent (request, details, reminder, …). */
  delivery?: string;
}

export interface Activity {
  type: ActivityType;
  /** When the coordinator made the change (ms). */
  at: number;
  events: EventActivity[];
}

export function activityFields(a: Activity): string[] {
  return toFieldList({ type: a.type, at: a.at, events: JSON.stringify(a.events), v: SCHEMA_VERSION });
}

export function parseActivity(fields: Record<string, string>): Parsed<Activity> {
  const r = new FieldReader(fields);
  const type = r.choice('type', activityTypes, 'version');
  const at = r.integer('at', 0);
  r.required('events');
  const events = r.json<EventActivity[]>('events', [], (value) =>
    Array.isArray(value) && value.every((e) => typeof e === 'object' && e !== null && typeof (e as EventActivity).invitation_id === 'string' && typeof (e as EventActivity).sequence === 'number')
      ? undefined
      : 'must be a JSON array of per-event changes with invitation_id and sequence',
  );
  const failure = r.failure();
  if (failure) return failure;
  if (events.some((e) => e.guests !== undefined && !Array.isArray(e.guests))) return invalid('invalid_field: events[].guests must be an array', 'events');
  return { ok: true, value: { type, at, events } };
}
