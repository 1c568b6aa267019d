import { identifierPattern } from '../streams/keys.ts';

// Stream entries come from anywhere (other programs, redis-cli, hostile input). Parsing never
// throws: it returns a value or a reason. A reason starts with a short code (missing_field,
// invalid_field, field_too_large, too_many_fields, unsupported_schema_version ...) that becomes
// the dead letter's reason code and a metric label.

export const SCHEMA_VERSION = '1';
export const MAX_FIELD_LENGTH = 8_192;
export const MAX_FIELDS = 64;

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export const invalid = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

export class FieldReader {
  private readonly fields: Record<string, string>;
  problem: string | undefined;

  constructor(fields: Record<string, string>) {
    this.fields = fields;
    const names = Object.keys(fields);
    if (names.length > MAX_FIELDS) this.problem = `too_many_fields: ${names.length} fields (at most ${MAX_FIELDS})`;
    for (const name of names) {
      if (this.problem) break;
      if (fields[name]!.length > MAX_FIELD_LENGTH) this.problem = `field_too_large: ${name.slice(0, 64)} has ${fields[name]!.length} characters (at most ${MAX_FIELD_LENGTH})`;
    }
    const version = fields.v;
    if (!this.problem && version !== undefined && version !== SCHEMA_VERSION) {
      this.problem = `unsupported_schema_version: v=${version.slice(0, 16)} (this build reads v=${SCHEMA_VERSION})`;
    }
  }

  private fail(reason: string): string {
    this.problem ??= reason;
    return '';
  }

  required(name: string): string {
    const value = this.fields[name];
    if (value === undefined || value.trim() === '') return this.fail(`missing_field: ${name}`);
    return value;
  }

  optional(name: string, fallback = ''): string {
    return this.fields[name] ?? fallback;
  }

  identifier(name: string, required = true): string {
    const value = required ? this.required(name) : this.optional(name);
    if (value !== '' && !identifierPattern.test(value)) {
      return this.fail(`invalid_field: ${name} must be 1-128 letters, digits or . _ : @ - (starting with a letter or digit)`);
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T {
    const value = this.required(name);
    if (value === '') return allowed[0]!;
    const lower = value.trim().toLowerCase();
    if (!(allowed as readonly string[]).includes(lower)) {
      this.fail(`invalid_field: ${name}=${JSON.stringify(value.slice(0, 32))} is not one of ${allowed.join(', ')}`);
      return allowed[0]!;
    }
    return lower as T;
  }

  integer(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.fields[name];
    if (value === undefined || value === '') return fallback;
    if (!/^\d{1,15}$/.test(value) || Number(value) < min || Number(value) > max) {
      this.fail(`invalid_field: ${name} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return Number(value);
  }

  /** ISO 8601 date-time, with or without a zone (the original sends Python's local isoformat()). */
  timestamp(name: string): string {
    const value = this.fields[name];
    if (value === undefined || value === '') return '';
    if (parseTimestamp(value) === undefined) return this.fail(`invalid_field: ${name} is not an ISO 8601 date-time`);
    return value;
  }

  date(name: string): string {
    const value = this.fields[name];
    if (value === undefined || value === '') return '';
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    const date = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : undefined;
    if (!date || date.getUTCDate() !== Number(match![3]) || date.getUTCMonth() !== Number(match![2]) - 1) {
      return this.fail(`invalid_field: ${name} must be a date YYYY-MM-DD`);
    }
    return value;
  }

  time(name: string): string {
    const value = this.fields[name];
    if (value === undefined || value === '') return '';
    if (!/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/.test(value)) return this.fail(`invalid_field: ${name} must be a time HH:MM or HH:MM:SS`);
    return value;
  }
}

const isoPattern = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Milliseconds since the epoch for an ISO 8601 date-time (no zone = local time), or undefined. */
export function parseTimestamp(value: string): number | undefined {
  if (!isoPattern.test(value)) return undefined;
  // JavaScript's Date reads at most milliseconds; Python writes microseconds.
  const normalised = value.replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1');
  const ms = Date.parse(normalised);
  return Number.isNaN(ms) ? undefined : ms;
}
