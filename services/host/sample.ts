import { randomUUID } from 'node:crypto';
import type { Invitation } from '../shared/schema/invitation.ts';

/** The original demo's sample invitation. */
export function sampleInvitation(hostId: string, hostName: string): Invitation {
  return {
    id: randomUUID(),
    eventName: 'Team Building Workshop',
    eventDate: '2025-02-15',
    eventTime: '14:00',
    location: 'Conference Room A',
    description: 'Join us for a fun team building session with activities and lunch!',
    hostName,
    hostId,
    timestamp: new Date().toISOString(),
    sequence: 0,
  };
}
