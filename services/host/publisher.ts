import type { Logger } from '../shared/logging/logger.ts';
import { type Invitation, invitationFields } from '../shared/schema/invitation.ts';
import { streams } from '../shared/streams/keys.ts';
import type { StreamProducer } from '../shared/streams/producer.ts';
import type { HostMetrics } from './metrics.ts';

/**
 * Publishes invitations to `event_invitations`, once per invitation id: a client that retries
 * (after a timeout, or a 503 while Redis was down) cannot create a second entry.
 */
export class InvitationPublisher {
  private readonly producer: StreamProducer;
  private readonly metrics: HostMetrics;
  private readonly log: Logger;

  constructor(producer: StreamProducer, metrics: HostMetrics, log: Logger) {
    this.producer = producer;
    this.metrics = metrics;
    this.log = log;
  }

  /** The new entry's id, or null when this invitation id was published before. */
  async publish(invitation: Invitation): Promise<string | null> {
    const entryId = await this.producer.add({ stream: streams.invitations, fields: invitationFields(invitation), onceKey: invitation.id });
    this.metrics.published.inc({ outcome: entryId === null ? 'duplicate' : 'published' });
    if (entryId !== null) {
      this.log.info(
        { eventId: invitation.id, entryId },
        `📤 published invitation "${invitation.eventName}" (${[invitation.eventDate, invitation.eventTime].filter(Boolean).join(' ')}${invitation.location ? `, ${invitation.location}` : ''})`,
      );
    }
    return entryId;
  }
}
