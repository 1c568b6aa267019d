import { toFieldList } from '../streams/entry.ts';
import { limits } from './event-definition.ts';
import { type Answers, answersShapeProblem } from './questions.ts';
import { type Parsed, FieldReader, SCHEMA_VERSION, invalid } from './validation.ts';

export const replyValues = ['yes', 'no', 'maybe'] as const;
export type ReplyValue = (typeof replyValues)[number];

/** iCalendar PARTSTAT of each reply value (a guest without a reply is NEEDS-ACTION). */
export const partstat: Record<ReplyValue, string> = { yes: 'ACCEPTED', no: 'DECLINED', maybe: 'TENTATIVE' };

/** What a guest agent sends instead of a reply when a delivery reached it too late. */
export const receiptValues = ['expired'] as const;
export type ReceiptValue = (typeof receiptValues)[number];

/** A guest's reply on `guest_responses` (or its priority lane). */
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
  /** The guest's own change counter for this sequence: a higher one replaces a lower one. */
  replyRev: number;
  /** Companions the guest brings (with yes). */
  plusOnes: number;
  answers: Answers;
}

/** A delivery receipt: the named guests were never asked (the delivery expired unread). */
export interface Receipt {
  id: string;
  invitationId: string;
  guestId: string;
  guestName: string;
  sequence: number;
  receipt: ReceiptValue;
  timestamp: string;
}

export type ResponseEntry = { kind: 'reply'; reply: Reply } | { kind: 'receipt'; receipt: Receipt };

/** Reads a `guest_responses` entry: a reply (the original's format included) or a receipt. */
export function parseResponse(fields: Record<string, string>): Parsed<ResponseEntry> {
  if (fields.kind === 'receipt') {
    const r = new FieldReader(fields);
    const receipt: Receipt = {
      id: r.required('id'),
      invitationId: r.identifier('invitation_id'),
      guestId: r.identifier('guest_id'),
      guestName: r.optional('guest_name'),
      sequence: r.integer('sequence', 0, 0, 1_000_000),
      receipt: r.oneOf('receipt', receiptValues),
      timestamp: r.timestamp('timestamp'),
    };
    return r.failure() ?? { ok: true, value: { kind: 'receipt', receipt } };
  }
  if (fields.kind !== undefined && fields.kind !== 'reply') return invalid('invalid_field: kind must be reply or receipt', 'kind');
  const parsed = parseReply(fields);
  return parsed.ok ? { ok: true, value: { kind: 'reply', reply: parsed.value } } : parsed;
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
    replyRev: r.integer('reply_rev', 0, 0, 1_000_000),
    plusOnes: r.integer('plus_ones', 0, 0, limits.plusOnes),
    answers: r.json<Answers>('answers', {}, answersShapeProblem),
  };
  const failure = r.failure();
  if (failure) return failure;
  if (reply.plusOnes > 0 && reply.response !== 'yes') return invalid('invalid_field: plus_ones only goes with a yes', 'plus_ones');
  return { ok: true, value: reply };
}

export function replyFields(reply: Reply): string[] {
  return toFieldList({
    ...replyRecord(reply),
    v: SCHEMA_VERSION,
    sequence: reply.sequence,
    reply_rev: reply.replyRev === 0 ? undefined : reply.replyRev,
    plus_ones: reply.plusOnes === 0 ? undefined : reply.plusOnes,
    answers: Object.keys(reply.answers).length === 0 ? undefined : JSON.stringify(reply.answers),
  });
}

export function receiptFields(receipt: Receipt): string[] {
  return toFieldList({
    kind: 'receipt',
    id: receipt.id,
    invitation_id: receipt.invitationId,
    guest_id: receipt.guestId,
    guest_name: receipt.guestName,
    sequence: receipt.sequence,
    receipt: receipt.receipt,
    timestamp: receipt.timestamp,
    v: SCHEMA_VERSION,
  });
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
