// What every answer of the host gets before any route runs (docs/SECURITY-API.md, "Hardening"):
// security headers with a Content Security Policy the page and /docs work under (both load only
// their own files: no CDN, no inline script), CORS closed unless origins are listed, and a rate
// limit per client address. Health, readiness, /metrics and /info are registered before this (by
// the shared service runner), so probes and Prometheus are never limited.
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../shared/http/errors.ts';
import type { HostConfig } from '../config.ts';

export const contentSecurityPolicy = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
} as const;

/** The policy as a header value, with changes for one page. */
export function cspHeader(changes: Partial<Record<keyof typeof contentSecurityPolicy, readonly string[]>> = {}): string {
  return Object.entries({ ...contentSecurityPolicy, ...changes })
    .map(([name, values]) => `${name} ${values.join(' ')}`)
    .join('; ');
}

/**
 * /docs: Swagger UI sets inline styles from its script, so its pages alone allow inline styles
 * (never inline scripts); a style cannot run code, and /docs shows nothing but the public document.
 */
export const docsCsp = cspHeader({ 'style-src': ["'self'", "'unsafe-inline'"] });

export async function registerHardening(app: FastifyInstance, config: HostConfig): Promise<void> {
  await app.register(helmet, {
    global: true,
    // The whole policy is ours: helmet's default adds upgrade-insecure-requests, which breaks a
    // page reached over plain http through `kubectl port-forward` on another address than localhost.
    contentSecurityPolicy: { useDefaults: false, directives: { ...contentSecurityPolicy } },
  });
  // Without origins the plugin answers no CORS headers at all: a page of another site cannot read
  // any answer (and cannot send the Authorization header in the first place).
  await app.register(cors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'if-match', 'last-event-id'],
    exposedHeaders: ['etag', 'location', 'retry-after'],
    credentials: false,
    maxAge: 600,
  });
  await app.register(cookie);
  if (config.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      // Counted in this process: each replica limits on its own (docs/SECURITY-API.md says what that means).
      errorResponseBuilder: (_request, context) =>
        new ApiError(429, 'rate_limited', `more than ${context.max} requests a minute from this address; try again in ${Math.ceil(context.ttl / 1000)} s`, undefined, {
          'retry-after': String(Math.ceil(context.ttl / 1000)),
        }),
    });
  }
}
