import { replyFields } from '../../services/shared/schema/response.ts';

/** A reply entry as a guest agent writes it, for the raw-Redis baselines (same size, same fields). */
export function sampleReplyFields(): string[] {
  return replyFields({
    id: 'reply:bench-event-0001:0:aisha-costa.17@bench-agent-1',
    invitationId: 'bench-event-0001',
    guestName: 'Aisha Costa',
    guestId: 'aisha-costa.17@bench-agent-1',
    response: 'yes',
    message: 'Count me in!',
    timestamp: new Date().toISOString(),
    sequence: 0,
    replyRev: 0,
    plusOnes: 0,
    answers: {},
  });
}
