import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { version } from '../shared/util/version.ts';
import { calendarRoutes } from './api/calendar.ts';
import { eventChangeRoutes } from './api/events.ts';
import { eventViewRoutes } from './api/event-views.ts';
import { guestRoutes } from './api/guests.ts';
import { liveRoutes } from './api/live.ts';
import { streamRoutes } from './api/streams.ts';
import type { HostConfig } from './config.ts';
import type { PartsGetter } from './parts.ts';
import { webPage } from './web/serve.ts';

/**
 * The host's HTTP app, built in this one place: the OpenAPI document (from the route schemas) at
 * /openapi.json, its docs page at /docs (assets from the npm package, no CDN), then every API
 * route. `/` is left free for the web page (services/host/web/serve.ts registers itself here).
 */
export async function registerHostApp(app: FastifyInstance, parts: PartsGetter, config: HostConfig): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'event-planner host API', version, description: 'Create, change and cancel events; watch their guests answer live. README "API" and API-CONTRACT.md describe it.' },
      tags: [
        { name: 'events', description: 'Create, change, cancel, list and look at events' },
        { name: 'calendar', description: 'iCalendar files' },
        { name: 'live', description: 'Server-Sent Events' },
        { name: 'operations', description: 'Guests and streams' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  eventChangeRoutes(app, parts, config.bodyLimitBytes);
  eventViewRoutes(app, parts);
  calendarRoutes(app, parts);
  liveRoutes(app, parts);
  guestRoutes(app, parts);
  streamRoutes(app, parts);
  await app.register(webPage);
}
