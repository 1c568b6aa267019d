// The host API's bodies as the page reads them: the host's own types (one definition; type-only
// imports, nothing of the server is bundled). Where the host declares a body only as a JSON schema
// (the list, the roster), the shape is written here after it (services/host/api/*.ts).
import type { EventBody } from '../../../../shared/schema/event-body.ts';
import type { EventView, ViewStatus } from '../../../read-model/event-view.ts';
import type { FlowMessage, Hop } from '../../../read-model/flow-hub.ts';
import type { Counts, GuestRow, GuestState } from '../../../read-model/read-model.ts';
import type { StreamStat } from '../../../read-model/stream-stats.ts';

export type { Counts, EventBody, EventView, GuestRow, GuestState, Hop, StreamStat };
export type EventStatus = ViewStatus;
export type FlowEntry = FlowMessage;
/** One event_summaries entry as JSON (lists parsed). */
export type Summary = Record<string, unknown>;

export const eventStatuses: readonly EventStatus[] = ['scheduled', 'open', 'closed', 'cancelled'];

/** services/host/api/schemas.ts eventListItem. */
export interface EventListItem {
  id: string;
  event_name: string;
  event_date?: string;
  event_time?: string;
  timezone?: string;
  status: EventStatus;
  revision: number;
  sequence: number;
  created_at: number;
  updated_at: number;
  counts: Counts;
}

export interface EventList {
  items: EventListItem[];
  next_cursor: string | null;
}

/** 202 of create, update and cancel. */
export interface Accepted {
  id: string;
  revision: number;
  sequence: number;
  status: EventStatus;
  duplicate?: boolean;
  bumped?: boolean;
}

/** services/host/api/guests.ts. */
export interface RosterGuest {
  guest_id: string;
  name: string;
  persona: string;
  group: string;
  tags: string[];
  agent: string;
  live: boolean;
  last_seen?: number;
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
