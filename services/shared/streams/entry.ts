import type { Context } from '@opentelemetry/api';

/** One stream entry as handed to a handler. */
export interface StreamEntry {
  readonly id: string;
  /** Field -> value; when a field name repeats, the first occurrence wins. */
  readonly fields: Record<string, string>;
  /** How many times the group has delivered this entry (1 on first delivery). */
  readonly deliveries: number;
  /** Trace context the producer stored in the entry (set by the consumer when tracing is on). */
  traceContext?: Context;
}

/**
 * What a handler decided for one entry:
 * - ack:   done (also for duplicates: the effect already happened);
 * - retry: a transient failure; retried with backoff, dead-lettered after the maximum deliveries;
 * - dead:  can never succeed (malformed, unknown reference); dead-lettered at once.
 */
export type EntryOutcome = { type: 'ack' } | { type: 'retry'; error: unknown } | { type: 'dead'; reason: string };

export const ack: EntryOutcome = { type: 'ack' };
export const retry = (error: unknown): EntryOutcome => ({ type: 'retry', error });
export const dead = (reason: string): EntryOutcome => ({ type: 'dead', reason });

export type RawEntry = [id: string, fields: string[] | null];

/** Converts ioredis' [id, [f, v, ...]] into an entry; null fields mean the entry was deleted. */
export function toFields(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    if (!(name in fields)) fields[name] = flat[i + 1]!;
  }
  return fields;
}

/** Builds the flat field list XADD takes from an object, skipping undefined values. */
export function toFieldList(fields: Record<string, string | number | undefined>): string[] {
  const list: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) list.push(name, String(value));
  }
  return list;
}
