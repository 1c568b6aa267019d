import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { version } from '../shared/util/version.ts';
import { calendarRoutes } from './api/calendar.ts';
import { eventChangeRoutes } from './api/events.ts';
import { eventViewRoutes } from './api/event-views.ts';
import { guestRoutes } from './api/guests.ts';
import { docsCsp, registerHardening } from './api/hardening.ts';
import { errors } from './api/schemas.ts';
import { accessOfRoute, installGuard } from './auth/guard.ts';
import { sessionRoutes } from './auth/session.ts';
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
  const key = config.auth.enabled ? config.auth.key : undefined;
  if (!key) app.log.warn('⚠️  API_AUTH=off: the API is open to anyone who can reach this port, every caller is an admin. Never run it so where others can connect.');
  await registerHardening(app, config);
  installGuard(app, key);
  // Before swagger reads the routes: each guarded route declares bearer auth in /openapi.json and its 401/403/429.
  app.addHook('onRoute', (route: RouteOptions) => {
    const access = accessOfRoute(route.url, route.config?.access);
    if (access === 'public' || !route.schema) return;
    const reads = route.method === 'GET' || (Array.isArray(route.method) && route.method.includes('GET'));
    route.schema.security = reads ? [{ bearerAuth: [] }, { sessionCookie: [] }] : [{ bearerAuth: [] }];
    route.schema.response = { ...errors(401, 403, 429), ...(route.schema.response as object | undefined) };
  });
  await app.register(swagger, {
    // The plugin marks every request body required; the cancel route's is optional (so is its reason).
    transformObject: (doc) => {
      const paths = ('openapiObject' in doc ? doc.openapiObject.paths : undefined) as Record<string, Record<string, { requestBody?: { required?: boolean } }>> | undefined;
      const cancel = paths?.['/api/events/{id}/cancel']?.post?.requestBody;
      if (cancel) cancel.required = false;
      return 'openapiObject' in doc ? doc.openapiObject : doc.swaggerObject;
    },
    openapi: {
      openapi: '3.1.0',
      info: { title: 'event-planner host API', version, description: 'Create, change and cancel events; watch their guests answer live. README "HTTP API" and docs/API.md describe it.' },
      tags: [
        { name: 'events', description: 'Create, change, cancel, list and look at events' },
        { name: 'calendar', description: 'iCalendar files' },
        { name: 'live', description: 'Server-Sent Events' },
        { name: 'operations', description: 'Guests and streams' },
        { name: 'session', description: 'Who the token is; the page’s session cookie' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A token from `npm run token` (docs/SECURITY-API.md): role admin, host or viewer.' },
          sessionCookie: { type: 'apiKey', in: 'cookie', name: 'ep_token', description: 'Set by POST /api/session for the page’s live streams; accepted for GET only.' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: docsCsp });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  sessionRoutes(app, key);
  eventChangeRoutes(app, parts, config.bodyLimitBytes);
  eventViewRoutes(app, parts);
  calendarRoutes(app, parts);
  liveRoutes(app, parts);
  guestRoutes(app, parts);
  streamRoutes(app, parts);
  await app.register(webPage);
}
