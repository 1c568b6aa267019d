import { identifierPattern } from '../streams/keys.ts';

// Stream entries come from anywhere (other programs, redis-cli, hostile input). Parsing never
// throws: it returns a value or a reason. A reason starts with a short code (missing_field,
// invalid_field, field_too_large, too_many_fields, unsupported_schema_version ...) that becomes
// the dead letter's reason code and a metric label.

/** What this build writes; it reads every version in READABLE_SCHEMA_VERSIONS (v1 is the first model, without versions). */
export const SCHEMA_VERSION = '2';
export const READABLE_SCHEMA_VERSIONS: readonly string[] = ['1', '2'];
export const MAX_FIELD_LENGTH = 8_192;
/** Fields that hold lists (explicit guest ids, questions) may be this long: about 2,000 guest ids. */
export const MAX_LIST_FIELD_LENGTH = 65_536;
const listFields = new Set(['target_guests', 'exclude_guests', 'questions', 'attendees', 'responses', 'no_response', 'never_asked', 'waitlist', 'unknown_guests', 'events']);
export const MAX_FIELDS = 64;

/** A failure names the field at fault when there is one (the HTTP API answers 400 naming it). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string; field?: string };

export const invalid = (reason: string, field?: string): { ok: false; reason: string; field?: string } => (field === undefined ? { ok: false, reason } : { ok: false, reason, field });

/** Letters, digits, punctuation or symbols: a name made only of spaces (or invisible characters) is blank. */
const visible = /[\p{L}\p{N}\p{P}\p{S}]/u;
/** C0/C1 control characters; multi-line text may hold tab, line feed and carriage return. */
const controlCharacter = /\p{Cc}/u;
const controlCharacterExceptWhitespace = /[^\P{Cc}\t\n\r]/u;

export interface TextRule {
  /** Characters (UTF-16 code units, as JavaScript and JSON Schema's maxLength count them). */
  maxLength: number;
  /** Must hold a visible character. */
  required?: boolean;
  /** Tab and line breaks allowed (a description); otherwise one line without control characters. */
  multiline?: boolean;
}

export class FieldReader {
  private readonly fields: Record<string, string>;
  problem: string | undefined;
  /** The field the first problem is about (unset for problems of the entry as a whole). */
  problemField: string | undefined;

  constructor(fields: Record<string, string>) {
    this.fields = fields;
    const names = Object.keys(fields);
    if (names.length > MAX_FIELDS) this.problem = `too_many_fields: ${names.length} fields (at most ${MAX_FIELDS})`;
    for (const name of names) {
      if (this.problem) break;
      const limit = listFields.has(name) ? MAX_LIST_FIELD_LENGTH : MAX_FIELD_LENGTH;
      if (fields[name]!.length > limit) this.fail(`field_too_large: ${JSON.stringify(name.slice(0, 64))} has ${fields[name]!.length} characters (at most ${limit})`, name.slice(0, 64));
    }
    const version = fields.v;
    if (!this.problem && version !== undefined && !READABLE_SCHEMA_VERSIONS.includes(version)) {
      this.fail(`unsupported_schema_version: v=${JSON.stringify(version.slice(0, 16))} (this build reads v=${READABLE_SCHEMA_VERSIONS.join(', ')})`, 'v');
    }
  }

  private fail(reason: string, field?: string): string {
    if (this.problem === undefined) {
      this.problem = reason;
      this.problemField = field;
    }
    return '';
  }

  /** The first problem as a parse result, or undefined when there is none. */
  failure(): { ok: false; reason: string; field?: string } | undefined {
    return this.problem === undefined ? undefined : invalid(this.problem, this.problemField);
  }

  required(name: string): string {
    const value = this.fields[name];
    if (value === undefined || value.trim() === '') return this.fail(`missing_field: ${name}`, name);
    return value;
  }

  /**
   * Descriptive text (a name, a place): at most `maxLength` characters, well-formed Unicode, no
   * control characters (they would reach terminals and logs), and when required not blank.
   */
  text(name: string, rule: TextRule): string {
    const value = this.fields[name] ?? '';
    if (value === '' || !visible.test(value)) {
      if (rule.required) return this.fail(value === '' ? `missing_field: ${name}` : `missing_field: ${name} is blank`, name);
      if (value === '') return '';
    }
    if (value.length > rule.maxLength) return this.fail(`field_too_large: ${name} has ${value.length} characters (at most ${rule.maxLength})`, name);
    if (!value.isWellFormed()) return this.fail(`invalid_field: ${name} is not well-formed Unicode (a lone surrogate)`, name);
    if ((rule.multiline ? controlCharacterExceptWhitespace : controlCharacter).test(value)) {
      return this.fail(`invalid_field: ${name} contains control characters${rule.multiline ? ' (only tab and line breaks are allowed)' : ''}`, name);
    }
    return value;
  }

  optional(name: string, fallback = ''): string {
    return this.fields[name] ?? fallback;
  }

  identifier(name: string, required = true): string {
    const value = required ? this.required(name) : this.optional(name);
    if (value !== '' && !identifierPattern.test(value)) {
      return this.fail(`invalid_field: ${name} must be 1-128 letters, digits or . _ : @ - (starting with a letter or digit)`, name);
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T {
    const value = this.required(name);
    if (value === '') return allowed[0]!;
    const lower = value.trim().toLowerCase();
    if (!(allowed as readonly string[]).includes(lower)) {
      this.fail(`invalid_field: ${name}=${JSON.stringify(value.slice(0, 32))} is not one of ${allowed.join(', ')}`, name);
      return allowed[0]!;
    }
    return lower as T;
  }

  integer(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.fields[name];
    if (value === undefined || value === '') return fallback;
    if (!/^\d{1,15}$/.test(value) || Number(value) < min || Number(value) > max) {
      this.fail(`invalid_field: ${name} must be an integer from ${min} to ${max}`, name);
      return fallback;
    }
    return Number(value);
  }

  /** ISO 8601 date-time, with or without a zone (the original sends Python's local isoformat()). */
  timestamp(name: string): string {
    const value = this.fields[name];
    if (value === undefined || value === '') return '';
    if (parseTimestamp(value) === undefined) return this.fail(`invalid_field: ${name} is not an ISO 8601 date-time`, name);
    return value;
  }

  /** A real calendar date YYYY-MM-DD, year 0001-9999 (what the original's Python datetime.date accepts). */
  date(name: string): string {
    const value = this.fields[name];
    if (value === undefined || value === '') return '';
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    if (!match || !isCalendarDate(Number(match[1]), Number(match[2]), Number(match[3]))) {
      return this.fail(`invalid_field: ${name} must be a real calendar date YYYY-MM-DD (got ${JSON.stringify(value.slice(0, 32))})`, name);
    }
    return value;
  }

  time(name: string): string {
    const value = this.fields[name];
    if (value === undefined || value === '') return '';
    if (!/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/.test(value)) return this.fail(`invalid_field: ${name} must be a time HH:MM or HH:MM:SS`, name);
    return value;
  }

  /** True when the entry carries the field with a non-empty value. */
  has(name: string): boolean {
    const value = this.fields[name];
    return value !== undefined && value !== '';
  }

  /** `true` or `false` (absent: the fallback). */
  boolean(name: string, fallback = false): boolean {
    const value = this.fields[name];
    if (value === undefined || value === '') return fallback;
    if (value === 'true') return true;
    if (value === 'false') return false;
    this.fail(`invalid_field: ${name} must be true or false`, name);
    return fallback;
  }

  /** One of `allowed`, exactly as written (absent: the fallback). */
  choice<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.fields[name];
    if (value === undefined || value === '') return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      this.fail(`invalid_field: ${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value.slice(0, 32))})`, name);
      return fallback;
    }
    return value as T;
  }

  /** An instant: an ISO 8601 date-time with a zone, as ms since the epoch (absent: undefined). */
  instant(name: string): number | undefined {
    const value = this.fields[name];
    if (value === undefined || value === '') return undefined;
    const ms = parseTimestamp(value, { requireZone: true });
    if (ms === undefined) {
      this.fail(`invalid_field: ${name} must be an ISO 8601 date-time with a zone, e.g. 2026-05-01T18:00:00Z or 2026-05-01T20:00:00+02:00`, name);
    }
    return ms;
  }

  /** An IANA time zone name such as Europe/Paris (absent: ''). */
  timezone(name: string): string {
    const value = this.fields[name];
    if (value === undefined || value === '') return '';
    if (value.length > 64 || !isTimeZone(value)) return this.fail(`invalid_field: ${name} must be an IANA time zone name such as Europe/Paris or UTC`, name);
    return value;
  }

  /** A JSON value (absent: the fallback); `check` returns a problem for a value of the wrong shape. */
  json<T>(name: string, fallback: T, check: (value: unknown) => string | undefined): T {
    const text = this.fields[name];
    if (text === undefined || text === '') return fallback;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.fail(`invalid_json: ${name} is not JSON`, name);
      return fallback;
    }
    const problem = check(value);
    if (problem !== undefined) {
      this.fail(`invalid_field: ${name} ${problem}`, name);
      return fallback;
    }
    return value as T;
  }

  /** A JSON array of distinct identifiers (guest ids), at most `max`. */
  identifierList(name: string, max: number): string[] {
    return this.json<string[]>(name, [], (value) => {
      if (!Array.isArray(value) || !value.every((id) => typeof id === 'string' && identifierPattern.test(id))) {
        return 'must be a JSON array of ids (1-128 letters, digits or . _ : @ -)';
      }
      if (value.length > max) return `may list at most ${max} ids`;
      if (new Set(value).size !== value.length) return 'lists an id twice';
      return undefined;
    });
  }

  /** A JSON array of distinct integers from `min` to `max`, at most `maxItems`, sorted descending. */
  integerList(name: string, min: number, max: number, maxItems: number): number[] {
    const list = this.json<number[]>(name, [], (value) => {
      if (!Array.isArray(value) || !value.every((n) => Number.isInteger(n) && n >= min && n <= max)) return `must be a JSON array of integers from ${min} to ${max}`;
      if (value.length > maxItems) return `may hold at most ${maxItems} values`;
      if (new Set(value).size !== value.length) return 'holds a value twice';
      return undefined;
    });
    return [...list].sort((a, b) => b - a);
  }
}

/** Answers of isTimeZone: building an Intl.DateTimeFormat costs about a third of a millisecond, a 10,000-event batch 10,000 of them. */
const zoneAnswers = new Map<string, boolean>();
const ZONE_ANSWERS_MAX = 2_000;

/** Whether `name` is a time zone this runtime knows (IANA names and their aliases, UTC). */
export function isTimeZone(name: string): boolean {
  // Offsets such as +01:00 are time zones to ECMA-402 but not to iCalendar, which needs a TZID.
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) return false;
  const known = zoneAnswers.get(name);
  if (known !== undefined) return known;
  let answer: boolean;
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    answer = true;
  } catch {
    answer = false;
  }
  // Bounded: names come from anyone's entries; a full cache is simply started anew.
  if (zoneAnswers.size >= ZONE_ANSWERS_MAX) zoneAnswers.clear();
  zoneAnswers.set(name, answer);
  return answer;
}

function isCalendarDate(year: number, month: number, day: number): boolean {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return day <= days;
}

const isoPattern = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):?(\d{2}))?$/;

/**
 * Milliseconds since the epoch for an ISO 8601 date-time, or undefined. Every part is checked
 * (a real calendar date, hours 00-23, minutes and seconds 00-59, a zone offset within ±23:59):
 * JavaScript's Date.parse would move 2026-02-30 to March 2 and 24:00 to the next day. Without a
 * zone the time is local, unless `requireZone` (then it is refused: its instant would depend on
 * the reader's time zone).
 */
export function parseTimestamp(value: string, opts: { requireZone?: boolean } = {}): number | undefined {
  const m = isoPattern.exec(value);
  if (!m) return undefined;
  const [, year, month, day, hour, minute, second, , zone, zoneHours, zoneMinutes] = m;
  if (!isCalendarDate(Number(year), Number(month), Number(day))) return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second ?? 0) > 59) return undefined;
  if (zone === undefined ? opts.requireZone : zone !== 'Z' && (Number(zoneHours) > 23 || Number(zoneMinutes) > 59)) return undefined;
  // JavaScript's Date reads at most milliseconds; Python writes microseconds.
  const normalised = value.replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1');
  const ms = Date.parse(normalised);
  return Number.isNaN(ms) ? undefined : ms;
}
