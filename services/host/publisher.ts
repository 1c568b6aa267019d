import type { Redis } from 'ioredis';
import type { Logger } from '../shared/logging/logger.ts';
import { invitationFields, invitationFingerprint, parseInvitation } from '../shared/schema/invitation.ts';
import { eventKeys, streams } from '../shared/streams/keys.ts';
import type { StreamProducer } from '../shared/streams/producer.ts';
import type { HostMetrics } from './metrics.ts';

export type PublishResult =
  | { kind: 'published'; entryId: string }
  /** The same host sent the same content under this id before: a retry, nothing new was added. */
  | { kind: 'duplicate' }
  /** Invitation ids are global (the event's iCalendar UID): another host application owns this one. */
  | { kind: 'in_use'; owner: string }
  /** This host used the id before for different content. */
  | { kind: 'conflict' }
  /** The coordinator would refuse it: `reason` as its dead letter would say, `field` at fault. */
  | { kind: 'invalid'; reason: string; field: string | undefined };

/**
 * Publishes invitations to `event_invitations`, once per invitation id: a client that retries
 * (after a timeout, or a 503 while Redis was down) cannot create a second entry, and an id already
 * used by another host application or for other content is refused rather than taken for a retry.
 */
export class InvitationPublisher {
  private readonly producer: StreamProducer;
  private readonly redis: Redis;
  private readonly hostId: string;
  private readonly metrics: HostMetrics;
  private readonly log: Logger;

  constructor(deps: { producer: StreamProducer; redis: Redis; hostId: string; metrics: HostMetrics; log: Logger }) {
    this.producer = deps.producer;
    this.redis = deps.redis;
    this.hostId = deps.hostId;
    this.metrics = deps.metrics;
    this.log = deps.log;
  }

  /**
   * Publishes the invitation an entry's fields describe, after the coordinator's own check of them.
   * `requestFingerprint` identifies what the client asked for (the API passes one of the request
   * body, so a retry matches even when the host fills in a deadline from its clock); by default the
   * invitation's content.
   */
  async publish(entry: Record<string, string>, requestFingerprint?: string): Promise<PublishResult> {
    // The coordinator judges the deadline by the entry id's time, a moment later; see CLOCK_ALLOWANCE_MS.
    const parsed = parseInvitation(entry, { publishedAt: Date.now(), clockAllowanceMs: 0 });
    if (!parsed.ok) {
      this.metrics.published.inc({ outcome: 'invalid' });
      return { kind: 'invalid', reason: parsed.reason, field: parsed.field };
    }
    const invitation = parsed.value;
    const fields = invitationFields(invitation);
    requestFingerprint ??= invitationFingerprint(invitation);
    // Once the once-marker has expired (STREAM_RETENTION_MS) the event may still exist (EVENT_RETENTION_MS):
    // its owner decides then. The marker below decides atomically while it lives.
    const owner = await this.redis.hget(eventKeys(invitation.id).event, 'host_id');
    if (owner !== null && owner !== this.hostId) return this.refused({ kind: 'in_use', owner });

    const result = await this.producer.addOnce({
      stream: streams.invitations,
      fields,
      onceKey: invitation.id,
      onceValue: `${this.hostId} ${requestFingerprint}`,
    });
    if (!result.added) {
      const [markerOwner, markerFingerprint] = result.marker.split(' ');
      // A marker without an owner was written before ids were checked: a retry, as it was then.
      if (markerFingerprint === undefined) return this.refused({ kind: 'duplicate' });
      if (markerOwner !== this.hostId) return this.refused({ kind: 'in_use', owner: markerOwner! });
      return this.refused(markerFingerprint === requestFingerprint ? { kind: 'duplicate' } : { kind: 'conflict' });
    }
    this.metrics.published.inc({ outcome: 'published' });
    this.log.info(
      { eventId: invitation.id, entryId: result.id },
      `📤 published invitation "${invitation.eventName}" (${[invitation.eventDate, invitation.eventTime].filter(Boolean).join(' ')}${invitation.location ? `, ${invitation.location}` : ''})`,
    );
    return { kind: 'published', entryId: result.id };
  }

  private refused<R extends PublishResult>(result: R): R {
    this.metrics.published.inc({ outcome: result.kind });
    return result;
  }
}
