import { TEST_JWT_SECRET, tokenFor } from '../helpers/auth.ts';
import type { RoleProcess } from '../helpers/processes.ts';

export { TEST_JWT_SECRET };

/** The admin token every call carries unless the test sends its own Authorization (or `authorization: ''` for none). */
const adminToken = await tokenFor('admin', 'test-admin', 6 * 3_600);
export const adminAuth = { authorization: `Bearer ${adminToken}` };

function withToken(headers: Record<string, string>): Record<string, string> {
  const merged = { ...adminAuth, ...headers };
  if (merged.authorization === '') delete (merged as Record<string, string | undefined>).authorization;
  return merged;
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** One JSON request to a host; the body parsed when it is JSON, else the text. */
export async function call<T = Record<string, unknown>>(host: RoleProcess, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const res = await fetch(host.url(path), {
    method,
    headers: withToken({ ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }),
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** A date some days ahead (YYYY-MM-DD). */
export const daysAhead = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
/** An instant some ms ahead (ISO 8601, UTC). */
export const msAhead = (ms: number): string => new Date(Date.now() + ms).toISOString();

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/**
 * Reads a Server-Sent Events answer until `until` says enough (or the timeout), as a browser's
 * EventSource would parse it; returns the events and closes the connection.
 */
export async function readSse(url: string, until: (events: SseEvent[]) => boolean, opts: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ status: number; events: SseEvent[]; headers: Headers }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs ?? 10_000);
  const res = await fetch(url, { headers: withToken(opts.headers ?? {}), signal: controller.signal });
  const events: SseEvent[] = [];
  if (!res.ok || !res.body) {
    clearTimeout(timer);
    return { status: res.status, events, headers: res.headers };
  }
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: SseEvent = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const name = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (name === 'event') e.event = value;
          else if (name === 'id') e.id = value;
          else if (name === 'data') data.push(value);
        }
        if (data.length === 0 && e.id === undefined && e.event === 'message') continue;
        e.data = data.join('\n');
        events.push(e);
      }
      if (until(events)) break;
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { status: res.status, events, headers: res.headers };
}

export interface SummaryAttendee {
  guest_id: string;
  guest_name: string;
  state: string;
  answers?: Record<string, unknown>;
  plus_ones?: number;
}

/** The fields of version 0's summary of `eventId` (all replied) as the coordinator publishes it. */
export function summaryFields(eventId: string, hostId: string, attendees: SummaryAttendee[]): Record<string, string> {
  const yes = attendees.filter((a) => a.state === 'accepted').length;
  return {
    id: `summary:${eventId}:0`,
    invitation_id: eventId,
    host_id: hostId,
    event_name: 'Replicated',
    total_invited: String(attendees.length),
    total_responses: String(attendees.length),
    yes_count: String(yes),
    no_count: String(attendees.length - yes),
    maybe_count: '0',
    responses: '[]',
    no_response: '[]',
    attendees: JSON.stringify(attendees.map((a) => ({ plus_ones: 0, ...a }))),
    accepted_count: String(yes),
    declined_count: String(attendees.length - yes),
    confirmed_count: String(yes),
    headcount: String(yes),
    reason: 'all_replied',
    sequence: '0',
    revision: '1',
    timestamp: new Date().toISOString(),
    v: '2',
  };
}
