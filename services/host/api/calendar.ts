import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../shared/http/errors.ts';
import { eventCalendar } from '../calendar/ics.ts';
import type { PartsGetter } from '../parts.ts';
import { maySee } from '../auth/guard.ts';
import type { Principal } from '../auth/tokens.ts';
import { type EventView, eventView } from '../read-model/event-view.ts';
import { errors, idPattern } from './schemas.ts';

const icsResponse = { 200: { description: 'An iCalendar file (RFC 5545)', content: { 'text/calendar': { schema: { type: 'string' } } } } };

async function viewOf(parts: PartsGetter, id: string, caller: Principal | undefined): Promise<EventView> {
  const p = parts();
  const saved = await p.revisions.get(id);
  if (!saved || saved.hostId !== p.config.hostId || !caller || !maySee(caller, saved.owner)) throw new ApiError(404, 'not_found', `no event ${id}`);
  const [read] = await p.readModel.readMany([id]);
  return eventView(saved, read!);
}

/** The event's calendar file and each guest's (docs/EVENTS.md, "iTIP and iCalendar mapping"). */
export function calendarRoutes(app: FastifyInstance, parts: PartsGetter): void {
  app.get<{ Params: { id: string } }>(
    '/api/events/:id.ics',
    {
      config: { access: 'read' },
      schema: {
        tags: ['calendar'],
        summary: 'The event’s calendar file: METHOD:REQUEST with every invited guest, METHOD:CANCEL once cancelled',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: idPattern } } },
        response: { ...icsResponse, ...errors(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const view = await viewOf(parts, request.params.id, request.principal);
      const { text } = eventCalendar(view, parts().config.defaultTimezone);
      return reply.type('text/calendar; charset=utf-8').header('content-disposition', `attachment; filename="${view.id}.ics"`).send(text);
    },
  );

  app.get<{ Params: { id: string; guestId: string } }>(
    '/api/events/:id/guests/:guestId.ics',
    {
      config: { access: 'read' },
      schema: {
        tags: ['calendar'],
        summary: 'One guest’s calendar file: its METHOD:REPLY once it answered, its invitation otherwise',
        params: { type: 'object', required: ['id', 'guestId'], properties: { id: { type: 'string', pattern: idPattern }, guestId: { type: 'string', pattern: idPattern } } },
        response: { ...icsResponse, ...errors(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const view = await viewOf(parts, request.params.id, request.principal);
      const guest = view.guests.find((g) => g.guest_id === request.params.guestId);
      if (!guest) throw new ApiError(404, 'not_found', `event ${view.id} has no guest ${request.params.guestId}`);
      const { text } = eventCalendar(view, parts().config.defaultTimezone, guest);
      return reply.type('text/calendar; charset=utf-8').header('content-disposition', `attachment; filename="${view.id}-${guest.guest_id}.ics"`).send(text);
    },
  );
}
