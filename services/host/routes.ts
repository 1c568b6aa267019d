import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Invitation } from '../shared/schema/invitation.ts';
import { parseTimestamp } from '../shared/schema/validation.ts';
import { RedisUnavailableError } from '../shared/streams/connection.ts';
import type { HostConfig } from './config.ts';
import type { InvitationPublisher } from './publisher.ts';

interface CreateEventBody {
  id?: string;
  event_name: string;
  event_date?: string;
  event_time?: string;
  location?: string;
  description?: string;
  host_name?: string;
  rsvp_deadline?: string;
}

const createEventSchema = {
  body: {
    type: 'object',
    required: ['event_name'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$', description: 'Idempotency key; generated when absent.' },
      event_name: { type: 'string', minLength: 1, maxLength: 200 },
      event_date: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
      event_time: { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d(:[0-5]\\d)?$' },
      location: { type: 'string', maxLength: 500 },
      description: { type: 'string', maxLength: 4000 },
      host_name: { type: 'string', maxLength: 200 },
      rsvp_deadline: { type: 'string', description: 'ISO 8601 date-time' },
    },
  },
} as const;

/** POST /api/events: publish an invitation (202; the summary arrives later on event_summaries). */
export function hostRoutes(app: FastifyInstance, config: HostConfig, publisher: () => InvitationPublisher | undefined): void {
  app.post<{ Body: CreateEventBody }>('/api/events', { schema: createEventSchema }, async (request, reply) => {
    const body = request.body;
    let rsvpDeadline: number | undefined;
    if (body.rsvp_deadline !== undefined) {
      rsvpDeadline = parseTimestamp(body.rsvp_deadline);
      if (rsvpDeadline === undefined) return reply.code(400).send({ error: 'rsvp_deadline must be an ISO 8601 date-time' });
    } else if (config.rsvpWindowMs > 0) {
      rsvpDeadline = Date.now() + config.rsvpWindowMs;
    }
    const invitation: Invitation = {
      id: body.id ?? randomUUID(),
      eventName: body.event_name,
      eventDate: body.event_date ?? '',
      eventTime: body.event_time ?? '',
      location: body.location ?? '',
      description: body.description ?? '',
      hostName: body.host_name ?? config.hostName,
      hostId: config.hostId,
      timestamp: new Date().toISOString(),
      sequence: 0,
      rsvpDeadline,
    };
    const p = publisher();
    if (!p) return reply.code(503).send({ error: 'starting: not connected to Redis yet' });
    try {
      const entryId = await p.publish(invitation);
      return reply.code(202).send({ id: invitation.id, entry_id: entryId, duplicate: entryId === null });
    } catch (error) {
      if (error instanceof RedisUnavailableError) return reply.code(503).send({ error: error.message });
      throw error;
    }
  });
}
