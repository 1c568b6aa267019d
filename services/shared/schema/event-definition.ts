// What an event is, as its organizer (the host) defines it: the original invitation's descriptive
// fields plus every option of the event model (docs/EVENTS.md). One definition: the host API turns
// a request body into these wire fields and checks them with readEventDefinition, the coordinator
// reads every invitation entry with the same function, deliveries carry the same fields on.

import { DateTime } from 'luxon';
import { toFieldList } from '../streams/entry.ts';
import { type Question, normaliseQuestions, questionsProblem } from './questions.ts';
import { type FieldReader, type Parsed, type TextRule, invalid } from './validation.ts';

/** The original invitation's descriptive fields (kept by every hop under the original's names). */
export interface EventDetails {
  eventName: string;
  eventDate: string;
  eventTime: string;
  location: string;
  description: string;
  hostName: string;
  hostId: string;
}

export const eventStatuses = ['confirmed', 'tentative'] as const;
export type EventStatus = (typeof eventStatuses)[number];
export const priorities = ['normal', 'high'] as const;
export type Priority = (typeof priorities)[number];

/** Who is invited: every live guest, or those with any of `tags` and/or the listed `guests`, minus `exclude`. */
export interface Targeting {
  tags: string[];
  guests: string[];
  exclude: string[];
}

export interface EventDefinition extends EventDetails {
  /** iCalendar STATUS of a live event (a cancellation is method CANCEL, not a status). */
  status: EventStatus;
  /** IANA zone of eventDate/eventTime; '' when the entry named none (the reader's default zone applies). */
  timezone: string;
  durationMinutes: number;
  /** Instants in ms since the epoch. */
  rsvpDeadline?: number;
  publishAt?: number;
  expiresAt?: number;
  /** Minutes before the RSVP deadline, descending. */
  reminders: number[];
  remindTentative: boolean;
  /** Minutes before the start, descending; for confirmed guests. */
  startReminders: number[];
  /** Headcount limit; 0 = unlimited. */
  capacity: number;
  plusOnesMax: number;
  questions: Question[];
  targeting: Targeting;
  priority: Priority;
}

export const limits = {
  durationMinutes: 10_080,
  reminderMinutes: 525_600,
  reminders: 5,
  capacity: 1_000_000,
  plusOnes: 20,
  targetGuests: 2_000,
  targetTags: 50,
  /** An RSVP deadline, publish_at or expires_at may be at most this far after the invitation is published. */
  windowMs: 366 * 86_400_000,
} as const;

export const DEFAULT_DURATION_MINUTES = 120;

/** Every option of the event model at its default: a plain invitation, as the original's. */
export const defaultEventOptions: Omit<EventDefinition, keyof EventDetails> = Object.freeze({
  status: 'confirmed',
  timezone: '',
  durationMinutes: DEFAULT_DURATION_MINUTES,
  rsvpDeadline: undefined,
  publishAt: undefined,
  expiresAt: undefined,
  reminders: [],
  remindTentative: false,
  startReminders: [],
  capacity: 0,
  plusOnesMax: 0,
  questions: [],
  targeting: { tags: [], guests: [], exclude: [] },
  priority: 'normal',
});

/** The descriptive text fields and their limits (characters). */
export const textRules = {
  event_name: { maxLength: 200, required: true },
  location: { maxLength: 500 },
  description: { maxLength: 4_000, multiline: true },
  host_name: { maxLength: 200 },
} as const satisfies Record<string, TextRule>;

/** Changes to these fields make earlier answers meaningless: a new version (SEQUENCE + 1), everyone asked again. */
export const sequenceFields = ['event_date', 'event_time', 'timezone', 'duration_minutes', 'location', 'status', 'questions'] as const;

/**
 * Reads the definition from an invitation entry. With `strict` (an entry from a host) every field is
 * validated; further hops (deliveries) carry what the coordinator accepted and read leniently.
 */
export function readEventDefinition(r: FieldReader, strict: boolean): EventDefinition {
  return {
    ...readEventDetails(r, strict),
    status: r.choice('status', eventStatuses, 'confirmed'),
    timezone: strict ? r.timezone('timezone') : r.optional('timezone'),
    durationMinutes: r.integer('duration_minutes', DEFAULT_DURATION_MINUTES, 1, limits.durationMinutes),
    rsvpDeadline: r.instant('rsvp_deadline'),
    publishAt: r.instant('publish_at'),
    expiresAt: r.instant('expires_at'),
    reminders: r.integerList('reminders', 1, limits.reminderMinutes, limits.reminders),
    remindTentative: r.boolean('remind_tentative'),
    startReminders: r.integerList('start_reminders', 1, limits.reminderMinutes, limits.reminders),
    capacity: r.integer('capacity', 0, 0, limits.capacity),
    plusOnesMax: r.integer('plus_ones_max', 0, 0, limits.plusOnes),
    questions: normaliseQuestions(r.json<unknown[]>('questions', [], questionsProblem)),
    targeting: {
      // Guests' tags are lower case (toTag, guest-registry.ts); the rule's are read the same way,
      // so `VIP` targets the guests tagged `vip`, whoever compares them.
      tags: [...new Set(r.identifierList('target_tags', limits.targetTags).map((t) => t.toLowerCase()))],
      guests: r.identifierList('target_guests', limits.targetGuests),
      exclude: r.identifierList('exclude_guests', limits.targetGuests),
    },
    priority: r.choice('priority', priorities, 'normal'),
  };
}

/** The original's descriptive fields; strict from a host, lenient on further hops. */
export function readEventDetails(r: FieldReader, strict: boolean): EventDetails {
  if (!strict) {
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

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
const list = <T>(values: T[]): string | undefined => (values.length === 0 ? undefined : JSON.stringify(values));

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

/** The definition as entry fields; options at their default are left out (the entry stays small). */
export function definitionFields(d: EventDefinition): Record<string, string | undefined> {
  return {
    ...eventDetailFields(d),
    status: d.status === 'confirmed' ? undefined : d.status,
    timezone: d.timezone || undefined,
    duration_minutes: d.durationMinutes === DEFAULT_DURATION_MINUTES ? undefined : String(d.durationMinutes),
    rsvp_deadline: iso(d.rsvpDeadline),
    publish_at: iso(d.publishAt),
    expires_at: iso(d.expiresAt),
    reminders: list(d.reminders),
    remind_tentative: d.remindTentative ? 'true' : undefined,
    start_reminders: list(d.startReminders),
    capacity: d.capacity === 0 ? undefined : String(d.capacity),
    plus_ones_max: d.plusOnesMax === 0 ? undefined : String(d.plusOnesMax),
    questions: list(d.questions),
    target_tags: list(d.targeting.tags),
    target_guests: list(d.targeting.guests),
    exclude_guests: list(d.targeting.exclude),
    priority: d.priority === 'normal' ? undefined : d.priority,
  };
}

/** The definition as a flat field list (for XADD). */
export function definitionFieldList(d: EventDefinition): string[] {
  return toFieldList(definitionFields(d));
}

/** Names of the sequence fields whose values differ: non-empty means the change is a new version. */
export function sequenceChanges(before: EventDefinition, after: EventDefinition): string[] {
  const a = definitionFields(before);
  const b = definitionFields(after);
  return sequenceFields.filter((name) => (a[name] ?? '') !== (b[name] ?? ''));
}

/** Whether the invited set must be resolved again (the targeting rule changed). */
export function targetingChanged(before: EventDefinition, after: EventDefinition): boolean {
  return JSON.stringify(before.targeting) !== JSON.stringify(after.targeting);
}

/** Whether a definition targets every live guest (no tags, no explicit list). */
export function targetsEveryone(t: Targeting): boolean {
  return t.tags.length === 0 && t.guests.length === 0;
}

export interface EventTimes {
  /** First instant of the event. */
  start: number;
  /** Instant it ends (DTEND). */
  end: number;
  /** No event_time: the event lasts the whole date. */
  allDay: boolean;
  /** The zone the date and time were read in. */
  zone: string;
}

/**
 * When the event takes place: its date and time read in its zone (or `defaultZone`), lasting
 * `durationMinutes` (an all-day event: the whole date). Undefined without a date.
 */
export function eventTimes(d: Pick<EventDefinition, 'eventDate' | 'eventTime' | 'timezone' | 'durationMinutes'>, defaultZone: string): EventTimes | undefined {
  if (!d.eventDate) return undefined;
  const zone = d.timezone || defaultZone;
  const [hh, mm, ss] = d.eventTime ? d.eventTime.split(':').map(Number) : [0, 0, 0];
  const [y, mo, day] = d.eventDate.split('-').map(Number);
  const start = DateTime.fromObject({ year: y, month: mo, day, hour: hh ?? 0, minute: mm ?? 0, second: ss ?? 0 }, { zone });
  if (!start.isValid) return undefined;
  const allDay = !d.eventTime;
  const end = allDay ? start.plus({ days: 1 }) : start.plus({ minutes: d.durationMinutes });
  return { start: start.toMillis(), end: end.toMillis(), allDay, zone };
}

export interface OpeningCheck {
  /** When the version is published: the entry id's time on the coordinator, now in the API. */
  publishedAt: number;
  /** Tolerance for the moment between the API's check and Redis stamping the entry, and clock skew. */
  clockAllowanceMs: number;
  /** Zone for an event that names none (DEFAULT_TIMEZONE); UTC when not given. */
  defaultZone?: string;
}

/**
 * The rules for a definition that opens a version (a new event, or an update that bumps SEQUENCE):
 * its RSVP deadline, start and expiry lie ahead of the moment it is published (or of publish_at),
 * and nothing lies further ahead than `limits.windowMs`. Judged against `publishedAt`, never the
 * reader's clock, so a redelivery is judged as the first delivery was. Invitations in the
 * original's format (`legacy`) keep the original's meaning: their date is descriptive text.
 */
export function openingProblem(d: EventDefinition, legacy: boolean, check: OpeningCheck): Parsed<true> {
  const { publishedAt, clockAllowanceMs } = check;
  const at = (ms: number) => new Date(ms).toISOString();
  const horizon = publishedAt + limits.windowMs + clockAllowanceMs;
  const earliest = publishedAt - clockAllowanceMs;
  if (d.publishAt !== undefined && d.publishAt > horizon) {
    return invalid(`invalid_field: publish_at must be at most ${limits.windowMs / 86_400_000} days after the invitation is published (${at(publishedAt)})`, 'publish_at');
  }
  const opensAt = Math.max(publishedAt, d.publishAt ?? 0);
  if (d.expiresAt !== undefined) {
    if (d.expiresAt <= earliest) return invalid(`expired: expires_at ${at(d.expiresAt)} is not after ${at(publishedAt)}, when the invitation was published`, 'expires_at');
    if (d.expiresAt > horizon + (opensAt - publishedAt)) return invalid(`invalid_field: expires_at must be at most ${limits.windowMs / 86_400_000} days after the invitation is published`, 'expires_at');
  }
  if (d.rsvpDeadline !== undefined) {
    if (d.rsvpDeadline <= opensAt - clockAllowanceMs) {
      const when = d.publishAt !== undefined && d.publishAt > publishedAt ? `publish_at (${at(d.publishAt)})` : `${at(publishedAt)}, when the invitation was published`;
      return invalid(`deadline_passed: rsvp_deadline ${at(d.rsvpDeadline)} is not after ${when}`, 'rsvp_deadline');
    }
    if (d.rsvpDeadline > horizon + (opensAt - publishedAt)) {
      return invalid(`invalid_field: rsvp_deadline must be at most ${limits.windowMs / 86_400_000} days after the invitation is published (${at(publishedAt)})`, 'rsvp_deadline');
    }
  }
  if (!legacy) {
    const times = eventTimes(d, check.defaultZone ?? 'UTC');
    // A timed event must not have started; an all-day event may be published during its day.
    const latest = times && (times.allDay ? times.end : times.start);
    if (latest !== undefined && latest <= opensAt - clockAllowanceMs) {
      return invalid(`start_passed: event_date ${d.eventDate}${d.eventTime ? ` event_time ${d.eventTime}` : ''} (${times!.zone}) is before the invitation is published (${at(opensAt)})`, 'event_date');
    }
    if (latest !== undefined && d.rsvpDeadline !== undefined && d.rsvpDeadline > latest) {
      return invalid(`invalid_field: rsvp_deadline ${at(d.rsvpDeadline)} is after the event starts`, 'rsvp_deadline');
    }
  }
  return { ok: true, value: true };
}
