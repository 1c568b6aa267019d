import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../shared/http/errors.ts';
import { eventBodyProperties } from '../shared/schema/event-body.ts';
import { SCHEMA_VERSION } from '../shared/schema/validation.ts';
import type { HostConfig } from './config.ts';
import type { InvitationPublisher } from './publisher.ts';

/** The event options the pipeline acts on today (docs/EVENTS.md lists the rest, which land with their features). */
const invitationBodyFields = ['id', 'event_name', 'event_date', 'event_time', 'location', 'description', 'host_name', 'rsvp_deadline'] as const;
type InvitationBodyField = (typeof invitationBodyFields)[number];
type CreateEventBody = Partial<Record<InvitationBodyField, string>>;

// The JSON schema only fixes the shape: the field names (an unknown one is a 400) and each one's
// JSON type (nothing is coerced; see strictValidation). What a value must be is decided by the
// shared invitation validator the coordinator runs, on the fields about to be published.
const createEventSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      id: { type: 'string', description: 'Idempotency key and the event’s global id (iCalendar UID); generated when absent.' },
      ...Object.fromEntries(invitationBodyFields.filter((n) => n !== 'id').map((name) => [name, eventBodyProperties[name]])),
    },
  },
};

/** What the client asked for, so that a retry is recognised whatever the host fills in itself. */
function bodyFingerprint(body: CreateEventBody): string {
  const canonical = invitationBodyFields.map((name) => body[name] ?? null);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/** POST /api/events: publish an invitation (202; the summary arrives later on event_summaries). */
export function hostRoutes(app: FastifyInstance, config: HostConfig, publisher: () => InvitationPublisher | undefined): void {
  app.post<{ Body: CreateEventBody }>('/api/events', { schema: createEventSchema }, async (request, reply) => {
    const body = request.body;
    // The body's names are the entry's field names: the entry is the body plus what the host fills in.
    const now = Date.now();
    const entry: Record<string, string> = {
      host_name: config.hostName,
      ...(config.rsvpWindowMs > 0 ? { rsvp_deadline: new Date(now + config.rsvpWindowMs).toISOString() } : {}),
      ...body,
      id: body.id ?? randomUUID(),
      host_id: config.hostId,
      timestamp: new Date(now).toISOString(),
      sequence: '0',
      v: SCHEMA_VERSION,
    };
    const p = publisher();
    if (!p) throw new ApiError(503, 'starting', 'starting: not connected to Redis yet');
    const result = await p.publish(entry, bodyFingerprint(body));
    switch (result.kind) {
      case 'published':
        return reply.code(202).send({ id: entry.id, entry_id: result.entryId, duplicate: false });
      case 'duplicate':
        return reply.code(202).send({ id: entry.id, entry_id: null, duplicate: true });
      case 'in_use':
        throw new ApiError(409, 'id_in_use', `id ${entry.id} is already used by host application ${result.owner}`, 'id');
      case 'conflict':
        throw new ApiError(409, 'id_conflict', `id ${entry.id} was already used for an invitation with different content; resend the same content to retry, or use a new id`, 'id');
      case 'invalid':
        throw invalidBody(result.reason, result.field);
    }
  });
}

/** A validator reason ("<code>: <details>") as a 400 naming the field. */
function invalidBody(reason: string, field: string | undefined): ApiError {
  const colon = reason.indexOf(': ');
  if (colon < 0) return new ApiError(400, reason, reason, field);
  const detail = reason.slice(colon + 2);
  return new ApiError(400, reason.slice(0, colon), detail === field ? `${field} is required` : detail, field);
}
