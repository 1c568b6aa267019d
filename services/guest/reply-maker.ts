import type { Delivery } from '../shared/schema/delivery.ts';
import { limits } from '../shared/schema/event-definition.ts';
import { type Reply, type ReplyValue, replyValues } from '../shared/schema/response.ts';
import { seededRandom } from '../shared/util/random.ts';
import { answerQuestions } from './answers.ts';
import type { SimulatedGuest } from './guests.ts';
import { decide, drawDelay, drawReply, pick } from './personas.ts';

// What a guest says, and when, is a pure function of (GUEST_SEED, event, guest, sequence) and the
// delivery in hand: nothing is stored. A delivery handled again after a crash gives the same
// replies with the same revs, and what a guest said to an earlier version or before an earlier
// reminder is recomputed rather than remembered. Each kind of decision draws from a generator of its
// own ('reply', 'change', 'version', 'plus-ones', 'reminded', 'firm-up', 'answer'), so a new kind of
// decision never shifts the draws of the others: the original's five guests give the answers they
// always gave for the same seed.

/** Why a reply is sent: the first answer, an own change of mind, an answer to a reminder, a tentative guest firming up when reminded. */
export type ReplyKind = 'first' | 'changed' | 'reminded' | 'firmed';

export interface PlannedReply {
  guest: SimulatedGuest;
  reply: Reply;
  kind: ReplyKind;
  /** When to send it: ms after the delivery is read (already multiplied by REPLY_DELAY_SCALE). */
  delayMs: number;
  /** The answer this reply replaces (changed, firmed). */
  previous?: ReplyValue;
}

/**
 * reply_rev of each kind of reply to one sequence. Later replies always carry higher revs: the
 * first answer 0; the guest's own change of mind, which follows it, 1; the reply prompted by the
 * reminder `m` minutes before the RSVP deadline 2 + (525600 − m), so a later reminder (fewer
 * minutes left) gives a higher rev, and every reminder's above the request's. The same delivery
 * always yields the same revs.
 */
export const replyRevs = {
  first: 0,
  changed: 1,
  reminder: (minutes: number): number => 2 + limits.reminderMinutes - Math.min(Math.max(minutes, 0), limits.reminderMinutes),
} as const;

/** How far back "the answer to the previous version" is looked up (a persona that always keeps it would otherwise walk every version). */
const VERSION_LOOKBACK = 16;

interface Said {
  value: ReplyValue;
  message: string;
}

/** A guest's first answer to a sequence (null: it does not answer it) and its think time, unscaled. */
function firstAnswer(guest: SimulatedGuest, seed: string, eventId: string, sequence: number, depth = 0): { said: Said | null; delayMs: number } {
  const d = decide(guest.behaviour, seededRandom('reply', seed, eventId, guest.id, sequence));
  if (d.reply === null) return { said: null, delayMs: d.delayMs };
  const fresh = { said: { value: d.reply, message: d.message }, delayMs: d.delayMs };
  if (sequence === 0 || depth >= VERSION_LOOKBACK) return fresh;
  // Asked again about a new version: keep the previous version's answer, or decide afresh.
  const random = seededRandom('version', seed, eventId, guest.id, sequence);
  if (!(random() < guest.behaviour.versionChange.keepRate)) return fresh;
  const before = finalAnswer(guest, seed, eventId, sequence - 1, depth + 1);
  if (before === null || before === d.reply) return fresh;
  return { said: { value: before, message: pick(guest.behaviour.messages[before], random) ?? '' }, delayMs: d.delayMs };
}

/** The guest's own change of mind after answering `from`, if it has one at this sequence. */
function changeOfMind(guest: SimulatedGuest, seed: string, eventId: string, sequence: number, from: ReplyValue): (Said & { delayMs: number }) | null {
  const p = guest.behaviour;
  const random = seededRandom('change', seed, eventId, guest.id, sequence);
  if (!(random() < p.changeOfMind.rate)) return null;
  const value = drawReply(p.probabilities, random, replyValues.filter((r) => r !== from));
  const delayMs = drawDelay(p.changeOfMind.delayMs, random);
  return { value, message: pick(p.messages[value], random) ?? '', delayMs };
}

/** What the guest ends up answering a sequence's request (after its own change of mind), null if nothing. */
function finalAnswer(guest: SimulatedGuest, seed: string, eventId: string, sequence: number, depth = 0): ReplyValue | null {
  const { said } = firstAnswer(guest, seed, eventId, sequence, depth);
  if (said === null) return null;
  return changeOfMind(guest, seed, eventId, sequence, said.value)?.value ?? said.value;
}

/** Companions the guest brings when it accepts this sequence: its persona's habit, never above the event's plus_ones_max. */
function plusOnes(guest: SimulatedGuest, delivery: Delivery, seed: string): number {
  const { rate, max } = guest.behaviour.plusOnes;
  const cap = Math.min(max, delivery.plusOnesMax);
  if (cap <= 0) return 0;
  const random = seededRandom('plus-ones', seed, delivery.invitationId, guest.id, delivery.sequence);
  return random() < rate ? 1 + Math.floor(random() * cap) : 0;
}

function makeReply(guest: SimulatedGuest, delivery: Delivery, seed: string, said: Said, replyRev: number): Reply {
  const { invitationId, sequence } = delivery;
  return {
    // The first reply keeps the id it always had (readers that predate reply_rev deduplicate by id).
    id: replyRev === 0 ? `reply:${invitationId}:${sequence}:${guest.id}` : `reply:${invitationId}:${sequence}:${guest.id}:${replyRev}`,
    invitationId,
    guestName: guest.name,
    guestId: guest.id,
    response: said.value,
    message: said.message,
    timestamp: '',
    sequence,
    replyRev,
    plusOnes: said.value === 'yes' ? plusOnes(guest, delivery, seed) : 0,
    answers: answerQuestions(guest, delivery.questions, said.value, seed, invitationId),
  };
}

const scaled = (ms: number, scale: number) => Math.round(ms * scale);

/**
 * The replies a guest sends for a request: its first answer, then perhaps its own change of mind
 * (the caller drops a change that would come after the RSVP deadline). Empty: it does not answer.
 */
export function planRequest(guest: SimulatedGuest, delivery: Delivery, seed: string, delayScale: number): PlannedReply[] {
  const { said, delayMs } = firstAnswer(guest, seed, delivery.invitationId, delivery.sequence);
  if (said === null) return [];
  const first: PlannedReply = { guest, kind: 'first', delayMs: scaled(delayMs, delayScale), reply: makeReply(guest, delivery, seed, said, replyRevs.first) };
  const change = changeOfMind(guest, seed, delivery.invitationId, delivery.sequence, said.value);
  if (change === null) return [first];
  return [
    first,
    {
      guest,
      kind: 'changed',
      previous: said.value,
      delayMs: first.delayMs + scaled(change.delayMs, delayScale),
      reply: makeReply(guest, delivery, seed, change, replyRevs.changed),
    },
  ];
}

/** The first answer to a request (null reply: the guest does not answer), as the original model had it. */
export function planReply(guest: SimulatedGuest, delivery: Delivery, seed: string, delayScale: number): { guest: SimulatedGuest; reply: Reply | null; delayMs: number } {
  const [first] = planRequest(guest, delivery, seed, delayScale);
  if (first) return { guest, reply: first.reply, delayMs: first.delayMs };
  return { guest, reply: null, delayMs: scaled(firstAnswer(guest, seed, delivery.invitationId, delivery.sequence).delayMs, delayScale) };
}

type Step = Said & { kind: 'reminded' | 'firmed'; delayMs: number; previous?: ReplyValue };

/**
 * What a reminder `minutes` before the deadline makes a guest do, given what it has said so far
 * (`state`): one that has not answered answers now with its persona's reminded-reply rate; a
 * tentative one (when the event reminds tentative guests) firms up to yes or no with its firm-up
 * rate. Null: nothing new to say.
 */
function reminderStep(guest: SimulatedGuest, delivery: Delivery, seed: string, state: ReplyValue | null, minutes: number): Step | null {
  const p = guest.behaviour;
  const about = [seed, delivery.invitationId, guest.id, delivery.sequence, minutes];
  if (state === null) {
    const random = seededRandom('reminded', ...about);
    if (!(random() < p.reminded.replyRate)) return null;
    const d = decide({ ...p, noReplyRate: 0 }, random);
    return d.reply === null ? null : { kind: 'reminded', value: d.reply, message: d.message, delayMs: d.delayMs };
  }
  if (state === 'maybe' && delivery.remindTentative) {
    const random = seededRandom('firm-up', ...about);
    if (!(random() < p.reminded.firmUpRate)) return null;
    const value = drawReply(p.probabilities, random, ['yes', 'no']);
    return { kind: 'firmed', previous: 'maybe', value, message: pick(p.messages[value], random) ?? '', delayMs: drawDelay(p.delayMs, random) };
  }
  return null;
}

/**
 * The reply a reminder prompts, if any. The guest's state before it is recomputed: its answer to
 * the request, then the event's earlier reminders (more minutes before the deadline) in order, as
 * the guest would have received them. A guest whose request plan answers is still thinking or has
 * answered: the reminder makes it hurry (the agent's business), not say something new.
 */
export function planReminder(guest: SimulatedGuest, delivery: Delivery, seed: string, delayScale: number): PlannedReply | null {
  const minutes = delivery.reminder ?? 0;
  let state = finalAnswer(guest, seed, delivery.invitationId, delivery.sequence);
  for (const earlier of delivery.reminders.filter((m) => m > minutes).sort((a, b) => b - a)) {
    state = reminderStep(guest, delivery, seed, state, earlier)?.value ?? state;
  }
  const step = reminderStep(guest, delivery, seed, state, minutes);
  if (step === null) return null;
  return {
    guest,
    kind: step.kind,
    previous: step.previous,
    delayMs: scaled(step.delayMs, delayScale),
    reply: makeReply(guest, delivery, seed, step, replyRevs.reminder(minutes)),
  };
}
