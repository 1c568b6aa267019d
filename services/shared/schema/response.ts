import { toFieldList } from '../streams/entry.ts';
import { type Parsed, FieldReader, SCHEMA_VERSION } from './validation.ts';

export const replyValues = ['yes', 'no', 'maybe'] as const;
export type ReplyValue = (typeof replyValues)[number];

/** A guest's reply on `guest_responses`. */
export interface Reply {
  id: string;
  invitationId: string;
  guestName: string;
  guestId: string;
  response: ReplyValue;
  message: string;
  timestamp: string;
  /** The invitation sequence this reply answers. */
  sequence: number;
}

export function parseReply(fields: Record<string, string>): Parsed<Reply> {
  const r = new FieldReader(fields);
  const reply: Reply = {
    id: r.required('id'),
    invitationId: r.identifier('invitation_id'),
    guestName: r.optional('guest_name'),
    guestId: r.identifier('guest_id'),
    response: r.oneOf('response', replyValues),
    message: r.optional('message'),
    timestamp: r.timestamp('timestamp'),
    sequence: r.integer('sequence', 0, 0, 1_000_000),
  };
  if (r.problem) return { ok: false, reason: r.problem };
  return { ok: true, value: reply };
}

export function replyFields(reply: Reply): string[] {
  return toFieldList({ ...replyRecord(reply), v: SCHEMA_VERSION, sequence: reply.sequence });
}

/** The reply as an object of the original's field names: what the summary's `responses` array holds. */
export function replyRecord(reply: Reply): Record<string, string> {
  return {
    id: reply.id,
    invitation_id: reply.invitationId,
    guest_name: reply.guestName,
    guest_id: reply.guestId,
    response: reply.response,
    message: reply.message,
    timestamp: reply.timestamp,
  };
}
