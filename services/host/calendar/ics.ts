// Calendar files of an event (docs/EVENTS.md, "iTIP and iCalendar mapping"), written by
// ical-generator (MIT, no dependencies, maintained): the event's file is METHOD:REQUEST with one
// ATTENDEE per invited guest (METHOD:CANCEL once cancelled, naming the guests it cancels); a
// guest's file is its METHOD:REPLY once it answered, its own METHOD:CANCEL once a targeting change
// removed it, its invitation otherwise.

import ical, { ICalAttendeeRole, ICalAttendeeStatus, ICalCalendarMethod, ICalEventStatus, type ICalAttendeeData } from 'ical-generator';
import { DateTime } from 'luxon';
import { tzlib_get_ical_block } from 'timezones-ical-library';
import { eventTimes } from '../../shared/schema/event-definition.ts';
import type { EventView } from '../read-model/event-view.ts';
import type { GuestRow } from '../read-model/read-model.ts';

/** Guests and hosts have no mailboxes: addresses under the reserved .invalid domain (RFC 2606) identify them. */
// Ids may hold `@` (guest ids do: `<persona>.<n>@<agent>`): percent-encoded in the local part.
const guestAddress = (guestId: string) => `${encodeURIComponent(guestId)}@guests.event-planner.invalid`;
const hostAddress = (hostId: string) => `${encodeURIComponent(hostId)}@hosts.event-planner.invalid`;

const partstat: Record<string, ICalAttendeeStatus | undefined> = {
  accepted: ICalAttendeeStatus.ACCEPTED,
  waitlisted: ICalAttendeeStatus.ACCEPTED,
  declined: ICalAttendeeStatus.DECLINED,
  tentative: ICalAttendeeStatus.TENTATIVE,
  needs_action: ICalAttendeeStatus.NEEDSACTION,
  never_asked: ICalAttendeeStatus.NEEDSACTION,
};

/**
 * The guests a cancellation of the whole event is sent to, which RFC 5546 §3.2.5 says its CANCEL
 * lists: those of the last version anyone was asked to (the coordinator delivers the cancellation
 * to that version's invited guests). The cancellation's own SEQUENCE asked nobody, so it is not
 * `view.sequence`; guests removed earlier got a cancellation of their own and are not named again.
 */
export function cancelledGuests(view: EventView): GuestRow[] {
  const live = view.guests.filter((g) => g.state !== 'removed');
  const last = Math.max(-1, ...live.map((g) => g.sequence));
  return live.filter((g) => g.sequence === last);
}

function attendee(g: GuestRow, rsvp: boolean): ICalAttendeeData {
  const x: Record<string, string> = {};
  // The waitlist is an extension, never a PARTSTAT value; plus-ones as Google Calendar writes them.
  if (g.state === 'waitlisted') x['X-EVENT-PLANNER-WAITLIST'] = String(g.waitlist_position ?? 0);
  if (g.plus_ones) x['X-NUM-GUESTS'] = String(g.plus_ones);
  return {
    email: guestAddress(g.guest_id),
    name: g.guest_name ?? g.guest_id,
    role: ICalAttendeeRole.REQ,
    rsvp,
    // A removed guest's answer no longer counts: its CANCEL names it without one.
    status: g.state === 'removed' ? null : (partstat[g.state] ?? ICalAttendeeStatus.NEEDSACTION),
    x,
  };
}

/** The VTIMEZONE block of an IANA zone (timezones-ical-library, Apache-2.0, no dependencies). */
function vtimezone(zone: string): string | null {
  const block = tzlib_get_ical_block(zone);
  return Array.isArray(block) && typeof block[0] === 'string' && block[0].startsWith('BEGIN:VTIMEZONE') ? block[0] : null;
}

export type CalendarKind = 'event' | 'reply' | 'invitation';

/**
 * The calendar of an event: `guest` undefined for the event's own file; with a guest, its
 * cancellation (the event's, or its own once removed), its reply (an answer counted in the current
 * version) or its invitation.
 */
export function eventCalendar(view: EventView, defaultZone: string, guest?: GuestRow): { text: string; method: ICalCalendarMethod } {
  const d = view.definition;
  const cancelled = view.status === 'cancelled';
  // RFC 5546 §3.2.5: uninviting attendees is a CANCEL that names them, without STATUS:CANCELLED.
  const removed = !cancelled && guest?.state === 'removed';
  const answered = guest !== undefined && guest.sequence === view.sequence && ['accepted', 'waitlisted', 'declined', 'tentative'].includes(guest.state);
  const method = cancelled || removed ? ICalCalendarMethod.CANCEL : answered ? ICalCalendarMethod.REPLY : ICalCalendarMethod.REQUEST;
  const times = eventTimes(
    { eventDate: String(d.event_date ?? ''), eventTime: String(d.event_time ?? ''), timezone: String(d.timezone ?? ''), durationMinutes: Number(d.duration_minutes ?? 120) },
    defaultZone,
  );
  // An event without a date still needs a DTSTART: its creation, as a placeholder the file says nothing more about.
  // Luxon times in the event's zone: ical-generator writes a plain Date in the process' own zone.
  const zone = times?.zone ?? 'UTC';
  const start = DateTime.fromMillis(times?.start ?? view.created_at, { zone });
  const end = DateTime.fromMillis(times?.end ?? view.created_at + Number(d.duration_minutes ?? 120) * 60_000, { zone });
  const calendar = ical({
    prodId: { company: 'event-planner', product: 'host', language: 'EN' },
    method,
    name: String(d.event_name ?? view.id),
    // A TZID must name a VTIMEZONE of the file (RFC 5545 3.2.19): generated from a maintained library's zone data.
    timezone: { name: null, generator: vtimezone },
  });
  const guests = guest ? [guest] : cancelled ? cancelledGuests(view) : view.guests.filter((g) => g.sequence === view.sequence && g.state !== 'removed');
  calendar.createEvent({
    id: view.id,
    sequence: view.sequence,
    stamp: new Date(view.updated_at),
    start,
    end,
    allDay: times?.allDay ?? false,
    timezone: times && !times.allDay ? zone : null,
    summary: String(d.event_name ?? ''),
    ...(d.description ? { description: String(d.description) } : {}),
    ...(d.location ? { location: String(d.location) } : {}),
    organizer: { name: String(d.host_name ?? view.host_id), email: hostAddress(view.host_id) },
    status: cancelled ? ICalEventStatus.CANCELLED : removed ? null : d.status === 'tentative' ? ICalEventStatus.TENTATIVE : ICalEventStatus.CONFIRMED,
    // A REQUEST of a version the guest's row does not answer yet asks it again: NEEDS-ACTION, not its old answer.
    attendees: guests.map((g) => attendee(method === ICalCalendarMethod.REQUEST && g.sequence !== view.sequence ? { ...g, state: 'needs_action', plus_ones: 0 } : g, method === ICalCalendarMethod.REQUEST)),
  });
  return { text: calendar.toString(), method };
}
