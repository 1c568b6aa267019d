import { randomUUID } from 'node:crypto';
import { defaultEventOptions } from '../shared/schema/event-definition.ts';
import type { Invitation } from '../shared/schema/invitation.ts';

/** Days between publishing the sample and its date: the original's 2025-02-15 is past, and a past event is refused. */
const SAMPLE_LEAD_DAYS = 14;

/** The original demo's sample invitation, two weeks ahead (its own date has passed). */
export function sampleInvitation(hostId: string, hostName: string, now = Date.now()): Invitation {
  return {
    ...defaultEventOptions,
    id: randomUUID(),
    eventName: 'Team Building Workshop',
    eventDate: new Date(now + SAMPLE_LEAD_DAYS * 86_400_000).toISOString().slice(0, 10),
    eventTime: '14:00',
    location: 'Conference Room A',
    description: 'Join us for a fun team building session with activities and lunch!',
    hostName,
    hostId,
    timestamp: new Date(now).toISOString(),
    method: 'REQUEST',
    revision: 1,
    sequence: 0,
    legacy: false,
  };
}
