import type { Answers } from './questions.ts';
import { type Parsed, FieldReader, invalid } from './validation.ts';

/** Why a version's summary was published (docs/EVENTS.md, "Lifecycle"). */
export const summaryReasons = ['all_replied', 'deadline', 'no_guests', 'updated', 'cancelled', 'expired'] as const;
export type SummaryReason = (typeof summaryReasons)[number];

/** A guest's participation state in a version (iCalendar PARTSTAT, lower case, plus `never_asked`). */
export const attendeeStates = ['needs_action', 'accepted', 'declined', 'tentative', 'never_asked'] as const;
export type AttendeeState = (typeof attendeeStates)[number];

export interface SummaryResponse {
  id: string;
  invitation_id: string;
  guest_name: string;
  guest_id: string;
  response: string;
  message: string;
  timestamp: string;
}

export interface GuestRef {
  guest_id: string;
  guest_name: string;
}

/** One invited guest as the summary lists it (`attendees`). */
export interface SummaryAttendee extends GuestRef {
  state: AttendeeState;
  plus_ones: number;
  /** Place on the waitlist (1 = next), absent when the guest has a seat or did not accept. */
  waitlist?: number;
  answers?: Answers;
}

/** A version's summary as hosts read it from `event_summaries` (the original's fields first). */
export interface Summary {
  id: string;
  invitationId: string;
  hostId: string;
  eventName: string;
  totalInvited: number;
  totalResponses: number;
  yes: number;
  no: number;
  maybe: number;
  noResponse: number;
  responses: SummaryResponse[];
  /** Guests who did not answer by the time the version closed. */
  noResponseGuests: GuestRef[];
  /** True when the lists were cut at the coordinator's SUMMARY_MAX_RESPONSES. */
  truncated: boolean;
  reason: SummaryReason;
  timestamp: string;
  /** When the coordinator opened the version (ms): start of the end-to-end latency. */
  invitedAt: number;
  /** When the invitation entry was added (its stream id time), ms. */
  publishedAt: number;
  sequence: number;
  revision: number;
  // The event model's additions (0 / empty in summaries of the original's format).
  accepted: number;
  declined: number;
  tentative: number;
  needsAction: number;
  confirmed: number;
  headcount: number;
  capacity: number;
  waitlisted: number;
  /** Waitlisted guest ids, first in line first. */
  waitlist: string[];
  stale: number;
  late: number;
  rejected: number;
  remindersSent: number;
  neverAsked: GuestRef[];
  unknownGuests: string[];
  /** Per question, per answer: how many confirmed or tentative guests gave it. */
  answers: Record<string, Record<string, number>>;
  attendees: SummaryAttendee[];
  responseRate: number;
  attendanceRate: number;
}

const responseNames = ['id', 'invitation_id', 'guest_name', 'guest_id', 'response', 'message', 'timestamp'];

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const stringsOnly = (x: unknown, names: string[]) => isRecord(x) && names.every((n) => x[n] === undefined || typeof x[n] === 'string');
const text = (x: Record<string, unknown>, name: string) => (x[name] as string | undefined) ?? '';

export function parseSummary(fields: Record<string, string>): Parsed<Summary> {
  const lists = ['responses', 'no_response', 'never_asked', 'unknown_guests', 'waitlist', 'attendees', 'answers'];
  const r = new FieldReader({ ...fields, ...Object.fromEntries(lists.map((n) => [n, ''])) });
  const rate = (name: string) => {
    const value = Number(fields[name] ?? '0');
    return Number.isFinite(value) ? value : 0;
  };
  const summary: Summary = {
    id: r.required('id'),
    invitationId: r.required('invitation_id'),
    hostId: r.optional('host_id'),
    eventName: r.optional('event_name'),
    totalInvited: r.integer('total_invited', 0),
    totalResponses: r.integer('total_responses', 0),
    yes: r.integer('yes_count', 0),
    no: r.integer('no_count', 0),
    maybe: r.integer('maybe_count', 0),
    noResponse: r.integer('no_response_count', 0),
    responses: [],
    noResponseGuests: [],
    truncated: fields.responses_truncated === '1',
    reason: (summaryReasons as readonly string[]).includes(fields.reason ?? '') ? (fields.reason as SummaryReason) : 'all_replied',
    timestamp: r.optional('timestamp'),
    invitedAt: r.integer('invited_at', 0),
    publishedAt: r.integer('published_at', 0),
    sequence: r.integer('sequence', 0),
    revision: r.integer('revision', 1),
    accepted: r.integer('accepted_count', 0),
    declined: r.integer('declined_count', 0),
    tentative: r.integer('tentative_count', 0),
    needsAction: r.integer('needs_action_count', 0),
    confirmed: r.integer('confirmed_count', 0),
    headcount: r.integer('headcount', 0),
    capacity: r.integer('capacity', 0),
    waitlisted: r.integer('waitlisted_count', 0),
    waitlist: [],
    stale: r.integer('stale_count', 0),
    late: r.integer('late_count', 0),
    rejected: r.integer('rejected_count', 0),
    remindersSent: r.integer('reminders_sent', 0),
    neverAsked: [],
    unknownGuests: [],
    answers: {},
    attendees: [],
    responseRate: rate('response_rate'),
    attendanceRate: rate('attendance_rate'),
  };
  const failure = r.failure();
  if (failure) return failure;
  const json: Record<string, unknown> = {};
  for (const name of lists) {
    try {
      json[name] = JSON.parse(fields[name] || (name === 'answers' ? '{}' : '[]'));
    } catch {
      return invalid(`invalid_json: ${name} must be JSON`, name);
    }
  }
  // Every element is read as hosts use it (sorted by name, printed): a list of anything else would
  // fail later, in the middle of handling the summary.
  const guestList = (name: string): GuestRef[] | undefined => {
    const value = json[name];
    if (!Array.isArray(value) || !value.every((x) => stringsOnly(x, ['guest_id', 'guest_name']))) return undefined;
    return (value as Record<string, unknown>[]).map((x) => ({ guest_id: text(x, 'guest_id'), guest_name: text(x, 'guest_name') }));
  };
  const responses = json.responses;
  if (!Array.isArray(responses) || !responses.every((x) => stringsOnly(x, responseNames))) {
    return invalid('invalid_field: responses must be a JSON array of replies with string fields', 'responses');
  }
  summary.responses = (responses as Record<string, unknown>[]).map((x) => Object.fromEntries(responseNames.map((n) => [n, text(x, n)])) as unknown as SummaryResponse);
  const missing = guestList('no_response');
  if (!missing) return invalid('invalid_field: no_response must be a JSON array of guests with string fields', 'no_response');
  summary.noResponseGuests = missing;
  const neverAsked = guestList('never_asked');
  if (!neverAsked) return invalid('invalid_field: never_asked must be a JSON array of guests with string fields', 'never_asked');
  summary.neverAsked = neverAsked;
  for (const name of ['unknown_guests', 'waitlist'] as const) {
    const value = json[name];
    if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) return invalid(`invalid_field: ${name} must be a JSON array of guest ids`, name);
    if (name === 'waitlist') summary.waitlist = value as string[];
    else summary.unknownGuests = value as string[];
  }
  const answers = json.answers;
  if (!isRecord(answers) || !Object.values(answers).every((counts) => isRecord(counts) && Object.values(counts).every((n) => typeof n === 'number'))) {
    return invalid('invalid_field: answers must be a JSON object of answer counts per question', 'answers');
  }
  summary.answers = answers as Summary['answers'];
  const attendees = json.attendees;
  if (!Array.isArray(attendees) || !attendees.every((x) => stringsOnly(x, ['guest_id', 'guest_name', 'state']) && (attendeeStates as readonly string[]).includes(String(x.state)))) {
    return invalid('invalid_field: attendees must be a JSON array of guests with a state', 'attendees');
  }
  summary.attendees = (attendees as Record<string, unknown>[]).map((x) => ({
    guest_id: text(x, 'guest_id'),
    guest_name: text(x, 'guest_name'),
    state: x.state as AttendeeState,
    plus_ones: typeof x.plus_ones === 'number' ? x.plus_ones : 0,
    ...(typeof x.waitlist === 'number' ? { waitlist: x.waitlist } : {}),
    ...(isRecord(x.answers) ? { answers: x.answers as Answers } : {}),
  }));
  return { ok: true, value: summary };
}
