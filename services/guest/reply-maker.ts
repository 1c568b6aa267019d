import type { Delivery } from '../shared/schema/delivery.ts';
import type { Reply } from '../shared/schema/response.ts';
import { seededRandom } from '../shared/util/random.ts';
import type { SimulatedGuest } from './guests.ts';
import { decide } from './personas.ts';

export interface PlannedReply {
  guest: SimulatedGuest;
  /** null: this guest never answers. */
  reply: Reply | null;
  delayMs: number;
}

/**
 * What a guest answers and after how long, drawn from a generator seeded by (seed, event, guest,
 * sequence): the same invitation always gets the same answer from the same guest, also when it is
 * redelivered after a crash, and a seeded run is reproducible.
 */
export function planReply(guest: SimulatedGuest, delivery: Delivery, seed: string, delayScale: number): PlannedReply {
  const random = seededRandom('reply', seed, delivery.invitationId, guest.id, delivery.sequence);
  const decision = decide(guest.behaviour, random);
  const delayMs = Math.round(decision.delayMs * delayScale);
  if (decision.reply === null) return { guest, reply: null, delayMs };
  return {
    guest,
    delayMs,
    reply: {
      id: `reply:${delivery.invitationId}:${delivery.sequence}:${guest.id}`,
      invitationId: delivery.invitationId,
      guestName: guest.name,
      guestId: guest.id,
      response: decision.reply,
      message: decision.message,
      timestamp: '',
      sequence: delivery.sequence,
      replyRev: 0,
      plusOnes: 0,
      answers: {},
    },
  };
}
