// The create/update form's state and its translation to the API body (the shared EventBody) and
// back. Pure: the tests run it in Node, the page in the browser.
import type { EventBody, EventBodyField } from '../../../../shared/schema/event-body.ts';
import { type Question, type QuestionType, dietaryQuestion } from '../../../../shared/schema/questions.ts';
import { isoToZoned, zonedToIso } from './zoned-time.ts';

export interface QuestionDraft {
  id: string;
  text: string;
  type: QuestionType;
  /** One option per line (or comma-separated). */
  options: string;
  required: boolean;
}

/** Who is invited: `both` is the API's combination (guests with any of the tags, and the listed ones). */
export type Targeting = 'all' | 'tags' | 'guests' | 'both';

/** Whether a targeting uses the tag list / the guest list. */
export const usesTags = (t: Targeting): boolean => t === 'tags' || t === 'both';
export const usesGuests = (t: Targeting): boolean => t === 'guests' || t === 'both';

/** Every input of the form as the inputs hold it (text), so that what a person typed is never lost. */
export interface EventForm {
  id: string;
  event_name: string;
  event_date: string;
  event_time: string;
  timezone: string;
  duration_minutes: string;
  location: string;
  description: string;
  host_name: string;
  status: 'confirmed' | 'tentative';
  /** datetime-local values, read in the event's time zone. */
  rsvp_deadline: string;
  publish_at: string;
  expires_at: string;
  reminders: string;
  start_reminders: string;
  remind_tentative: boolean;
  capacity: string;
  plus_ones_max: string;
  questions: QuestionDraft[];
  targeting: Targeting;
  target_tags: string;
  target_guests: string;
  exclude_guests: string;
  priority: 'normal' | 'high';
}

/** A form field's name: a body property, or `form` for what belongs to no field. */
export type FieldErrors = Partial<Record<keyof EventForm | 'form', string>>;

const pad = (n: number) => String(n).padStart(2, '0');

/** A fresh form: two weeks from `now`, at 18:00 in `zone`. */
export function emptyForm(zone: string, now = new Date()): EventForm {
  const day = new Date(now.getTime() + 14 * 86_400_000);
  return {
    id: '',
    event_name: '',
    event_date: `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`,
    event_time: '18:00',
    timezone: zone,
    duration_minutes: '120',
    location: '',
    description: '',
    host_name: '',
    status: 'confirmed',
    rsvp_deadline: '',
    publish_at: '',
    expires_at: '',
    reminders: '',
    start_reminders: '',
    remind_tentative: false,
    capacity: '',
    plus_ones_max: '0',
    questions: [],
    targeting: 'all',
    target_tags: '',
    target_guests: '',
    exclude_guests: '',
    priority: 'normal',
  };
}

export function dietaryDraft(): QuestionDraft {
  return { ...questionDraft(dietaryQuestion) };
}

function questionDraft(q: Question | Partial<Question>): QuestionDraft {
  return { id: q.id ?? '', text: q.text ?? '', type: q.type ?? 'text', options: (q.options ?? []).join('\n'), required: q.required ?? false };
}

/** "a, b\nc" → ["a", "b", "c"]. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function integer(text: string, field: keyof EventForm, errors: FieldErrors): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (!/^-?\d+$/.test(t)) {
    errors[field] = 'must be a whole number';
    return undefined;
  }
  return Number(t);
}

function minutesList(text: string, field: keyof EventForm, errors: FieldErrors): number[] {
  const items = splitList(text);
  if (items.some((s) => !/^\d+$/.test(s))) {
    errors[field] = 'minutes as whole numbers, separated by commas (e.g. 60, 10)';
    return [];
  }
  return items.map(Number);
}

function instant(local: string, zone: string, field: keyof EventForm, errors: FieldErrors): string | undefined {
  if (local.trim() === '') return undefined;
  const iso = zonedToIso(local, zone);
  if (!iso) errors[field] = 'a date and time (YYYY-MM-DDTHH:MM)';
  return iso;
}

/**
 * The whole body the form describes (empty inputs left out, so the host's defaults apply), or the
 * problems that keep it from being sent (the API's own checks come back as a 400 naming the field).
 */
export function formToBody(form: EventForm, fallbackZone: string): { body: EventBody; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const zone = form.timezone.trim() || fallbackZone;
  const body: EventBody = {};
  const text = (name: EventBodyField & keyof EventForm) => {
    const v = (form[name] as string).trim();
    if (v !== '') body[name] = v;
  };
  (['event_name', 'event_date', 'event_time', 'timezone', 'location', 'host_name'] as const).forEach(text);
  if (form.description.trim() !== '') body.description = form.description;
  body.status = form.status;
  body.priority = form.priority;
  const duration = integer(form.duration_minutes, 'duration_minutes', errors);
  if (duration !== undefined) body.duration_minutes = duration;
  const capacity = integer(form.capacity, 'capacity', errors);
  if (capacity !== undefined) body.capacity = capacity;
  const plusOnes = integer(form.plus_ones_max, 'plus_ones_max', errors);
  if (plusOnes !== undefined) body.plus_ones_max = plusOnes;
  for (const name of ['rsvp_deadline', 'publish_at', 'expires_at'] as const) {
    const iso = instant(form[name], zone, name, errors);
    if (iso) body[name] = iso;
  }
  body.reminders = minutesList(form.reminders, 'reminders', errors);
  body.start_reminders = minutesList(form.start_reminders, 'start_reminders', errors);
  body.remind_tentative = form.remind_tentative;
  body.questions = form.questions.map((q) => ({
    id: q.id.trim(),
    text: q.text.trim(),
    type: q.type,
    ...(q.type === 'single' || q.type === 'multiple' ? { options: splitList(q.options) } : {}),
    required: q.required,
  }));
  body.target_tags = usesTags(form.targeting) ? splitList(form.target_tags) : [];
  body.target_guests = usesGuests(form.targeting) ? splitList(form.target_guests) : [];
  body.exclude_guests = splitList(form.exclude_guests);
  if (usesTags(form.targeting) && body.target_tags.length === 0) errors.target_tags = 'name at least one tag, or invite all live guests';
  if (usesGuests(form.targeting) && body.target_guests.length === 0) errors.target_guests = 'name at least one guest id, or invite all live guests';
  return { body, errors };
}

/** The changes an update sends (PATCH: omitted = unchanged); a cleared text field is sent empty. */
export function changedFields(before: EventBody, after: EventBody): EventBody {
  const patch: EventBody = {};
  const names = new Set([...Object.keys(before), ...Object.keys(after)] as EventBodyField[]);
  for (const name of names) {
    const a = normalise(before[name]);
    const b = normalise(after[name]);
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    patch[name] = after[name] ?? (typeof before[name] === 'string' ? '' : emptyOf(before[name]));
  }
  return patch;
}

// Absent and empty mean the same to the host (a default), so they are no change. Instants compare
// to the minute, as the form shows them: an untouched deadline is not sent back without its seconds.
function normalise(v: unknown): unknown {
  if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0) || v === false || v === 0) return null;
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) return Math.floor(new Date(v).getTime() / 60_000) || v;
  return v;
}

function emptyOf(v: unknown): EventBody[EventBodyField] {
  if (Array.isArray(v)) return [];
  if (typeof v === 'number') return 0;
  if (typeof v === 'boolean') return false;
  return '';
}

/** The form for changing an event, from its stored definition. */
export function formFromBody(body: EventBody, fallbackZone: string): EventForm {
  const zone = typeof body.timezone === 'string' && body.timezone !== '' ? body.timezone : fallbackZone;
  const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  const list = (v: unknown) => (Array.isArray(v) ? v.join(', ') : '');
  const at = (v: unknown) => (typeof v === 'string' && v !== '' ? isoToZoned(v, zone) : '');
  const tags = Array.isArray(body.target_tags) ? body.target_tags : [];
  const guests = Array.isArray(body.target_guests) ? body.target_guests : [];
  return {
    ...emptyForm(zone),
    event_name: str(body.event_name),
    event_date: str(body.event_date),
    event_time: str(body.event_time),
    timezone: str(body.timezone),
    duration_minutes: str(body.duration_minutes ?? 120),
    location: str(body.location),
    description: str(body.description),
    host_name: str(body.host_name),
    status: body.status === 'tentative' ? 'tentative' : 'confirmed',
    rsvp_deadline: at(body.rsvp_deadline),
    publish_at: at(body.publish_at),
    expires_at: at(body.expires_at),
    reminders: list(body.reminders),
    start_reminders: list(body.start_reminders),
    remind_tentative: body.remind_tentative === true,
    capacity: body.capacity ? str(body.capacity) : '',
    plus_ones_max: str(body.plus_ones_max ?? 0),
    questions: (Array.isArray(body.questions) ? (body.questions as Partial<Question>[]) : []).map(questionDraft),
    // Both lists kept when the event has both: an update must not drop half of its targeting.
    targeting: guests.length > 0 && tags.length > 0 ? 'both' : guests.length > 0 ? 'guests' : tags.length > 0 ? 'tags' : 'all',
    target_tags: tags.join(', '),
    target_guests: guests.join(', '),
    exclude_guests: list(body.exclude_guests),
    priority: body.priority === 'high' ? 'high' : 'normal',
  };
}

/**
 * The form field an API error names: `questions.0.options` or `questions[0]` belong to the
 * questions, an unknown name to the form as a whole.
 */
export function fieldOfError(field: string | undefined, form: EventForm): keyof EventForm | 'form' {
  if (!field) return 'form';
  const head = field.split(/[.[/]/, 1)[0] ?? '';
  return head in form ? (head as keyof EventForm) : 'form';
}
