import { type Parsed, FieldReader } from './validation.ts';

export type SummaryReason = 'all_replied' | 'deadline' | 'no_guests';

export interface SummaryResponse {
  id: string;
  invitation_id: string;
  guest_name: string;
  guest_id: string;
  response: string;
  message: string;
  timestamp: string;
}

/** A summary as hosts read it from `event_summaries`. */
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
  /** Guests who did not answer by the deadline. */
  noResponseGuests: { guest_id: string; guest_name: string }[];
  /** True when the lists were cut at the coordinator's SUMMARY_MAX_RESPONSES. */
  truncated: boolean;
  reason: SummaryReason;
  timestamp: string;
  /** When the coordinator received the invitation (ms): start of the end-to-end latency. */
  invitedAt: number;
  /** When the invitation entry was added (its stream id time), ms. */
  publishedAt: number;
  sequence: number;
}

export function parseSummary(fields: Record<string, string>): Parsed<Summary> {
  const r = new FieldReader({ ...fields, responses: '', no_response: '' });
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
    reason: fields.reason === 'deadline' || fields.reason === 'no_guests' ? fields.reason : 'all_replied',
    timestamp: r.optional('timestamp'),
    invitedAt: r.integer('invited_at', 0),
    publishedAt: r.integer('published_at', 0),
    sequence: r.integer('sequence', 0),
  };
  if (r.problem) return { ok: false, reason: r.problem };
  let responses: unknown;
  let missing: unknown;
  try {
    responses = JSON.parse(fields.responses ?? '[]');
    missing = JSON.parse(fields.no_response ?? '[]');
  } catch {
    return { ok: false, reason: 'invalid_json: responses and no_response must be JSON arrays' };
  }
  // Every element is read as the host uses it (sorted by name, printed): a list of anything else
  // would fail later, in the middle of handling the summary.
  const isRecord = (x: unknown, names: string[]) =>
    typeof x === 'object' && x !== null && !Array.isArray(x) && names.every((n) => (x as Record<string, unknown>)[n] === undefined || typeof (x as Record<string, unknown>)[n] === 'string');
  const responseNames = ['id', 'invitation_id', 'guest_name', 'guest_id', 'response', 'message', 'timestamp'];
  if (!Array.isArray(responses) || !responses.every((x) => isRecord(x, responseNames))) {
    return { ok: false, reason: 'invalid_field: responses must be a JSON array of replies with string fields', field: 'responses' };
  }
  if (!Array.isArray(missing) || !missing.every((x) => isRecord(x, ['guest_id', 'guest_name']))) {
    return { ok: false, reason: 'invalid_field: no_response must be a JSON array of guests with string fields', field: 'no_response' };
  }
  const text = (x: Record<string, unknown>, name: string) => (x[name] as string | undefined) ?? '';
  summary.responses = (responses as Record<string, unknown>[]).map((x) => Object.fromEntries(responseNames.map((n) => [n, text(x, n)])) as unknown as SummaryResponse);
  summary.noResponseGuests = (missing as Record<string, unknown>[]).map((x) => ({ guest_id: text(x, 'guest_id'), guest_name: text(x, 'guest_name') }));
  return { ok: true, value: summary };
}
