import { randomUUID } from 'node:crypto';
import type { EventBody } from '../shared/schema/event-body.ts';

/** Days between publishing the sample and its date: the original's 2025-02-15 is past, and a past event is refused. */
const SAMPLE_LEAD_DAYS = 14;

/** The original demo's sample invitation, two weeks ahead (its own date has passed), as an API body. */
export function sampleBody(rsvpWindowMs: number, now = Date.now()): EventBody & { id: string } {
  return {
    id: randomUUID(),
    event_name: 'Team Building Workshop',
    event_date: new Date(now + SAMPLE_LEAD_DAYS * 86_400_000).toISOString().slice(0, 10),
    event_time: '14:00',
    location: 'Conference Room A',
    description: 'Join us for a fun team building session with activities and lunch!',
    ...(rsvpWindowMs > 0 ? { rsvp_deadline: new Date(now + rsvpWindowMs).toISOString() } : {}),
  };
}
