import { type EventActivity, type GuestChange, activityFields } from '../shared/schema/activity.ts';
import { MAX_LIST_FIELD_LENGTH } from '../shared/schema/validation.ts';
import { streams } from '../shared/streams/keys.ts';
import type { Message } from '../shared/streams/producer.ts';

/** Room left in an entry's `events` field for the guests' list (the rest: ids, numbers, names of fields). */
const GUESTS_ROOM = MAX_LIST_FIELD_LENGTH - 2_048;

/** One request chunk of a large version's fan-out, as the drainer delivers it. */
export interface InvitedChunk {
  eventId: string;
  hostId: string;
  sequence: number;
  revision: number;
  /** The chunk's delivery once-key: each entry's once-key derives from it. */
  key: string;
  guests: readonly string[];
}

/**
 * The `delivered` activity entries naming a fan-out request chunk's guests as invited (at most
 * 500 of them, split where the list would not fit an `events` field). A large version's `version`
 * entry names no guests (includes/event.lua, open_version): these do, for its first chunks
 * (outbox.ts, INVITED_NAMED_MAX), under once-keys derived from the chunk's, so a step drained
 * again adds none twice.
 */
export function invitedEntries(chunk: InvitedChunk, at: number): (Message & { onceKey: string })[] {
  const parts: GuestChange[][] = [];
  let part: GuestChange[] = [];
  let length = 0;
  for (const guestId of chunk.guests) {
    const change: GuestChange = { guest_id: guestId, outcome: 'invited', state: 'needs_action' };
    const size = JSON.stringify(change).length + 1;
    if (part.length > 0 && length + size > GUESTS_ROOM) {
      parts.push(part);
      part = [];
      length = 0;
    }
    part.push(change);
    length += size;
  }
  if (part.length > 0) parts.push(part);
  return parts.map((guests, i) => {
    const event: EventActivity = { invitation_id: chunk.eventId, host_id: chunk.hostId, sequence: chunk.sequence, revision: chunk.revision, delivery: 'request', guests };
    return { stream: streams.activity, fields: activityFields({ type: 'delivered', at, events: [event] }), onceKey: `delivered:${chunk.key}:g${i}` };
  });
}
