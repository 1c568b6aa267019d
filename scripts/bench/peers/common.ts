// What the peer implementations share: guest ids, a deterministic answer per (event, guest), and
// the summary each system reports to the driver. The peers run the bench's scenarios with the
// same process layout as ours (one coordinator-like process, the same number of guest-like
// processes, one driver) on a private redis-server, so their figures sit next to ours in one run.
import { createHash } from 'node:crypto';

export type Answer = 'yes' | 'no' | 'maybe';

export interface PeerSummary {
  eventId: string;
  invited: number;
  yes: number;
  no: number;
  maybe: number;
}

/** The event as the driver publishes it: its guests per agent. */
export interface PeerEvent {
  eventId: string;
  guests: Record<string, string[]>;
}

export const guestIds = (agent: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${agent}.g${i}`);

/** The guest's answer, the same in every run and every system. */
export function answerOf(eventId: string, guestId: string): Answer {
  const b = createHash('sha1').update(`${eventId}|${guestId}`).digest()[0]!;
  return b % 3 === 0 ? 'yes' : b % 3 === 1 ? 'no' : 'maybe';
}

export function redisOptions(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}
