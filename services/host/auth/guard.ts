// Who may call which API route (docs/SECURITY-API.md, "Roles"). Every route under /api/ declares
// its access in its route config; one onRequest hook authenticates the caller and checks the role
// before anything is parsed or read from Redis. A route that forgets to declare its access is
// admin-only: the guard fails closed.
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../shared/http/errors.ts';
import { type Principal, type Role, type SigningKey, verifyToken } from './tokens.ts';

/**
 * - public: no token (only the page, health, metrics, docs and the sign-out live outside /api or here);
 * - read: any role (an event route also applies `maySee` to the event's owner);
 * - write: admin and host (`mayManage` decides per event);
 * - operations: admin and viewer (the roster, the streams and the system-wide flow show every event);
 * - admin: admin only.
 */
export type Access = 'public' | 'read' | 'write' | 'operations' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    /** The authenticated caller (set by the guard on every non-public route). */
    principal?: Principal;
  }
}

const allowed: Record<Exclude<Access, 'public'>, readonly Role[]> = {
  read: ['admin', 'host', 'viewer'],
  write: ['admin', 'host'],
  operations: ['admin', 'viewer'],
  admin: ['admin'],
};

/** The cookie the page's EventSource carries (it cannot send an Authorization header). */
export const SESSION_COOKIE = 'ep_token';

/** The caller when API_AUTH=off: the one local operator, allowed everything. */
export const anonymousAdmin: Principal = { sub: 'anonymous', role: 'admin' };

/** A route's access: as declared, else admin-only under /api/ and public elsewhere. */
export function accessOfRoute(url: string, declared: Access | undefined): Access {
  if (declared) return declared;
  return url.startsWith('/api/') ? 'admin' : 'public';
}

const accessOf = (request: FastifyRequest): Access => accessOfRoute(request.url, request.routeOptions.config?.access);

const unauthenticated = (reason: string, error: 'invalid_request' | 'invalid_token') =>
  new ApiError(401, error === 'invalid_token' ? 'invalid_token' : 'unauthenticated', reason, undefined, {
    'www-authenticate': `Bearer realm="event-planner", error="${error}"`,
  });

/** The bearer token of a request: the Authorization header, or for a read the page's session cookie. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header !== '') {
    const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
    if (!match) throw unauthenticated('Authorization must be "Bearer <token>"', 'invalid_request');
    return match[1];
  }
  // Only reads take the cookie: a write always needs the header, which a page of another site
  // cannot make a browser send, so no cross-site request can change anything (no CSRF).
  if (request.method === 'GET' || request.method === 'HEAD') {
    const cookie = request.cookies?.[SESSION_COOKIE];
    if (cookie) return cookie;
  }
  return undefined;
}

/** Authenticates and authorizes every request before its body is parsed. */
export function installGuard(app: FastifyInstance, key: SigningKey | undefined): void {
  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    const access = accessOf(request);
    if (access === 'public') return;
    if (!key) {
      request.principal = anonymousAdmin;
      return;
    }
    const token = bearerToken(request);
    if (token === undefined) throw unauthenticated('this route needs a token: Authorization: Bearer <token> (npm run token; docs/SECURITY-API.md)', 'invalid_request');
    const verified = await verifyToken(key, token);
    if (!verified.ok) throw unauthenticated(verified.reason, 'invalid_token');
    request.principal = verified.principal;
    if (!allowed[access].includes(verified.principal.role)) {
      throw new ApiError(403, 'forbidden', `role ${verified.principal.role} may not ${access === 'write' ? 'change events' : access === 'operations' ? 'see the whole system' : 'do this'}`);
    }
  });
}

/** The caller of a guarded route (the guard set it; a route without one is a programming error). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error(`route ${request.routeOptions.url ?? request.url} has no principal: is its access public?`);
  return request.principal;
}

/** Whether the caller may look at an event of `owner` (a host sees only its own). */
export const maySee = (p: Principal, owner: string): boolean => p.role !== 'host' || owner === p.sub;

/** Whether the caller may change an event of `owner`. */
export const mayManage = (p: Principal, owner: string): boolean => p.role === 'admin' || (p.role === 'host' && owner === p.sub);
