// The JSON body a client sends to create or change an event. Its property names are the invitation
// entry's field names; its JSON schema only fixes the shape (names and JSON types, no coercion), and
// what a value must be is decided by the same reader the coordinator runs on the entry
// (readEventDefinition), so the API refuses exactly what the pipeline would (400 naming the field).

import { eventStatuses, limits, priorities } from './event-definition.ts';
import { MAX_OPTIONS, MAX_QUESTIONS, questionTypes } from './questions.ts';

type JsonSchema = Record<string, unknown>;

const text = (description: string): JsonSchema => ({ type: 'string', description });
const instant = (description: string): JsonSchema => ({ type: 'string', description: `${description} ISO 8601 date-time with a zone, e.g. 2026-05-01T18:00:00Z.` });
const ids = (description: string, maxItems: number): JSONSchemaArray => ({ type: 'array', items: { type: 'string' }, maxItems, description });
const minutes = (description: string): JSONSchemaArray => ({ type: 'array', items: { type: 'integer' }, maxItems: limits.reminders, description });
type JSONSchemaArray = JsonSchema & { type: 'array' };

/** Every property of an event body, by wire name. */
export const eventBodyProperties = {
  event_name: text('Required; at most 200 characters, not blank.'),
  event_date: text('A calendar date YYYY-MM-DD, read in `timezone`.'),
  event_time: text('HH:MM or HH:MM:SS; absent: the event lasts all day.'),
  timezone: text('IANA time zone of event_date and event_time (e.g. Europe/Paris); the host’s DEFAULT_TIMEZONE when absent.'),
  duration_minutes: { type: 'integer', description: `1-${limits.durationMinutes}; default 120.` },
  location: text('At most 500 characters.'),
  description: text('At most 4000 characters; line breaks allowed.'),
  host_name: text('The organizer’s name; at most 200 characters; HOST_NAME when absent.'),
  status: { type: 'string', enum: [...eventStatuses], description: 'iCalendar STATUS; default confirmed. Cancel with the cancel route.' },
  rsvp_deadline: instant('When the version stops taking replies; in the future, at most 366 days ahead.'),
  publish_at: instant('Deliver nothing before this time (a scheduled invitation).'),
  expires_at: instant('Deliveries not made by then are not made; the guests concerned are reported as never asked.'),
  reminders: minutes(`Minutes before the RSVP deadline at which guests who have not answered are reminded (1-${limits.reminderMinutes}, at most ${limits.reminders}).`),
  remind_tentative: { type: 'boolean', description: 'Remind guests who answered maybe as well.' },
  start_reminders: minutes('Minutes before the start at which confirmed guests are reminded.'),
  capacity: { type: 'integer', description: `Headcount limit (guests plus their plus-ones), 0-${limits.capacity}; 0 or absent: unlimited. Acceptances beyond it are waitlisted.` },
  plus_ones_max: { type: 'integer', description: `Companions each guest may bring, 0-${limits.plusOnes}.` },
  questions: {
    type: 'array',
    maxItems: MAX_QUESTIONS,
    description: 'Questions guests answer with their reply (dietary needs among them).',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'text', 'type'],
      properties: {
        id: { type: 'string', description: 'Key of the answers, e.g. dietary.' },
        text: { type: 'string' },
        type: { type: 'string', enum: [...questionTypes] },
        options: { type: 'array', items: { type: 'string' }, maxItems: MAX_OPTIONS, description: 'Choices of a single or multiple question.' },
        required: { type: 'boolean' },
      },
    },
  },
  target_tags: ids('Invite the live guests with any of these tags (persona group, persona, …).', limits.targetTags),
  target_guests: ids('Invite these guest ids (reported in the summary when not registered).', limits.targetGuests),
  exclude_guests: ids('Never invite these guest ids.', limits.targetGuests),
  priority: { type: 'string', enum: [...priorities], description: 'high: travels on the priority lane at every hop.' },
} as const satisfies Record<string, JsonSchema>;

export type EventBodyField = keyof typeof eventBodyProperties;
export const eventBodyFields = Object.keys(eventBodyProperties) as EventBodyField[];
export type EventBodyValue = string | number | boolean | unknown[];
export type EventBody = Partial<Record<EventBodyField, EventBodyValue>>;

/** A body value as the entry field it becomes: strings as they are, the rest as JSON. */
export function bodyValueToField(value: EventBodyValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The entry fields a body describes (absent properties stay absent). */
export function bodyToFields(body: EventBody): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const name of eventBodyFields) {
    const value = body[name];
    if (value !== undefined) fields[name] = bodyValueToField(value);
  }
  return fields;
}

const numeric = new Set<string>(['duration_minutes', 'capacity', 'plus_ones_max']);
const structured = new Set<string>(['reminders', 'start_reminders', 'questions', 'target_tags', 'target_guests', 'exclude_guests']);

/** Entry fields back into a body (for answers of the API): the inverse of bodyToFields. */
export function fieldsToBody(fields: Record<string, string>): EventBody {
  const body: EventBody = {};
  for (const name of eventBodyFields) {
    const value = fields[name];
    if (value === undefined || value === '') continue;
    if (numeric.has(name)) body[name] = Number(value);
    else if (name === 'remind_tentative') body[name] = value === 'true';
    else if (structured.has(name)) body[name] = JSON.parse(value) as unknown[];
    else body[name] = value;
  }
  return body;
}
