// The host API's response bodies as the page reads them (API-CONTRACT.md; the host's route schemas
// are the definition, served at /openapi.json). Request bodies are the shared EventBody.
import type { GuestOutcome, VersionCounts } from '../../../../shared/schema/activity.ts';
import type { EventBody } from '../../../../shared/schema/event-body.ts';

export type { EventBody };

export type EventStatus = 'scheduled' | 'open' | 'closed' | 'cancelled';
export const eventStatuses: readonly EventStatus[] = ['scheduled', 'open', 'closed', 'cancelled'];

export type GuestState = 'needs_action' | 'accepted' | 'declined' | 'tentative' | 'waitlisted' | 'removed' | 'never_asked';

/** The counts of an event's current version: the coordinator's activity counts (one definition). */
export type Counts = Omit<VersionCounts, 'never_asked'> & { never_asked?: number };

export interface GuestRow {
  guest_id: string;
  guest_name?: string;
  state: GuestState;
  sequence: number;
  plus_ones?: number;
  waitlist_position?: number;
  reply_rev?: number;
  answers?: Record<string, unknown>;
  message?: string;
  outcome?: GuestOutcome;
  stale?: boolean;
  updated_at?: string;
}

/** One event_summaries entry as JSON (lists parsed); the page reads only what it shows. */
export interface Summary {
  id?: string;
  sequence?: number | string;
  revision?: number | string;
  reason?: string;
  total_invited?: number | string;
  total_responses?: number | string;
  yes_count?: number | string;
  no_count?: number | string;
  maybe_count?: number | string;
  no_response_count?: number | string;
  headcount?: number | string;
  waitlisted_count?: number | string;
  reminders_sent?: number | string;
  answers?: Record<string, Record<string, number>> | string;
  timestamp?: string;
  [field: string]: unknown;
}

export interface EventListItem {
  id: string;
  event_name: string;
  event_date: string;
  event_time?: string;
  timezone?: string;
  status: EventStatus;
  revision: number;
  sequence: number;
  created_at: string;
  updated_at: string;
  counts: Counts;
}

export interface EventList {
  items: EventListItem[];
  next_cursor: string | null;
}

export interface EventView {
  id: string;
  host_id: string;
  status: EventStatus;
  revision: number;
  sequence: number;
  definition: EventBody;
  created_at: string;
  updated_at: string;
  rsvp_deadline?: string;
  counts: Counts;
  guests: GuestRow[];
  waitlist: string[];
  summaries: Summary[];
  feed_id: string;
}

export interface Accepted {
  id: string;
  revision: number;
  sequence: number;
  status: EventStatus;
  duplicate?: boolean;
  bumped?: boolean;
}

export interface StreamStat {
  stream: string;
  length: number;
  groups: { name: string; consumers: number; lag: number | null; pending: number; oldest_pending_ms?: number | null }[];
  dead_letters: number;
  rate_per_s?: number;
}

export type Hop = 'invitation' | 'delivery' | 'reply' | 'summary' | 'activity' | 'dead_letter';

export interface FlowEntry {
  stream: string;
  hop: Hop;
  from: string;
  to: string;
  event_id?: string;
  guest_id?: string;
  type?: string;
  at: string;
}

export interface RosterGuest {
  guest_id: string;
  name: string;
  persona: string;
  group: string;
  tags: string[];
  agent: string;
  live: boolean;
  last_seen?: string;
}

export interface RosterGroup {
  group: string;
  live: number;
  total: number;
  scale_hint: string;
}

export interface Roster {
  guests: RosterGuest[];
  groups: RosterGroup[];
}

export const emptyCounts: Counts = {
  invited: 0,
  accepted: 0,
  declined: 0,
  tentative: 0,
  needs_action: 0,
  confirmed: 0,
  headcount: 0,
  waitlisted: 0,
  stale: 0,
  late: 0,
  rejected: 0,
  reminders_sent: 0,
};
