import type { SavedEvent } from '../publishing/revisions.ts';
import { type Counts, type GuestRow, type VersionState, zeroCounts } from './read-model.ts';

export type ViewStatus = 'scheduled' | 'open' | 'closed' | 'cancelled';

export interface EventView {
  id: string;
  host_id: string;
  status: ViewStatus;
  revision: number;
  sequence: number;
  definition: SavedEvent['definition'];
  created_at: number;
  updated_at: number;
  rsvp_deadline?: string;
  counts: Counts;
  guests: GuestRow[];
  waitlist: string[];
  summaries: Record<string, unknown>[];
  feed_id: string;
}

/**
 * The status people see: the organizer's (cancelled, scheduled) unless the read model knows more
 * about the current version (closed once its summary arrived). What the read model says about an
 * earlier version does not count: a bumped event is open again.
 */
export function viewStatus(saved: SavedEvent, versions: VersionState): ViewStatus {
  if (saved.status === 'cancelled') return 'cancelled';
  const reported = versions.status.get(saved.sequence);
  if (reported === 'closed' || reported === 'cancelled' || reported === 'open' || reported === 'scheduled') return reported;
  return saved.status;
}

/** Counts of the current version: as the coordinator reported them, else tallied from the guest rows. */
export function viewCounts(saved: SavedEvent, guests: GuestRow[], versions: VersionState): Counts {
  const reported = versions.counts.get(saved.sequence);
  if (reported) return reported;
  const counts = zeroCounts();
  for (const g of guests) {
    if (g.sequence !== saved.sequence || g.state === 'removed') continue;
    counts.invited += 1;
    if (g.state === 'accepted' || g.state === 'waitlisted') {
      counts.accepted += 1;
      if (g.state === 'waitlisted') counts.waitlisted += 1;
      else {
        counts.confirmed += 1;
        counts.headcount += 1 + (g.plus_ones ?? 0);
      }
    } else if (g.state === 'declined') counts.declined += 1;
    else if (g.state === 'tentative') counts.tentative += 1;
    else if (g.state === 'needs_action') counts.needs_action += 1;
  }
  return counts;
}

export function eventView(saved: SavedEvent, read: { guests: GuestRow[]; versions: VersionState; feedId: string }): EventView {
  const guests = [...read.guests].sort((a, b) => (a.guest_name ?? a.guest_id).localeCompare(b.guest_name ?? b.guest_id) || a.guest_id.localeCompare(b.guest_id));
  const waitlist = guests
    .filter((g) => g.state === 'waitlisted' && g.sequence === saved.sequence)
    .sort((a, b) => (a.waitlist_position ?? 0) - (b.waitlist_position ?? 0))
    .map((g) => g.guest_id);
  const deadline = typeof saved.definition.rsvp_deadline === 'string' ? saved.definition.rsvp_deadline : read.versions.deadline.has(saved.sequence) ? new Date(read.versions.deadline.get(saved.sequence)!).toISOString() : undefined;
  return {
    id: saved.id,
    host_id: saved.hostId,
    status: viewStatus(saved, read.versions),
    revision: saved.revision,
    sequence: saved.sequence,
    definition: saved.definition,
    created_at: saved.createdAt,
    updated_at: saved.updatedAt,
    ...(deadline ? { rsvp_deadline: deadline } : {}),
    counts: viewCounts(saved, read.guests, read.versions),
    guests,
    waitlist,
    summaries: [...read.versions.summaries.entries()].sort(([a], [b]) => a - b).map(([, s]) => s),
    feed_id: read.feedId,
  };
}
