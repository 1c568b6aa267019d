// The page's session (docs/SECURITY-API.md, "The web page"): the page keeps the token a person
// pasted in sessionStorage and sends it as a bearer header; POST /api/session also puts it in an
// HttpOnly, SameSite=Strict cookie limited to /api, because the browser's EventSource (the live
// board and the message flow) cannot send headers. The cookie is accepted for reads only.
import type { FastifyInstance } from 'fastify';
import { SESSION_COOKIE, anonymousAdmin, bearerToken, principalOf } from './guard.ts';
import { type SigningKey, verifyToken } from './tokens.ts';

const sessionBody = {
  type: 'object',
  required: ['signed_in', 'auth'],
  properties: {
    signed_in: { type: 'boolean', description: 'The request carries a valid token (header or cookie); always true when auth is off.' },
    reason: { type: 'string', description: 'Why a token that was sent is not accepted.' },
    sub: { type: 'string', description: 'The token’s subject (the owner of the events it creates).' },
    role: { type: 'string', enum: ['admin', 'host', 'viewer'] },
    auth: { type: 'boolean', description: 'false when the host runs with API_AUTH=off (everyone is an anonymous admin).' },
    expires_at: { type: 'integer', description: 'When the token expires (ms since the epoch).' },
  },
} as const;

export function sessionRoutes(app: FastifyInstance, key: SigningKey | undefined): void {
  const expiresAt = async (token: string | undefined) => {
    if (!key || !token) return undefined;
    const v = await verifyToken(key, token);
    return v.ok ? v.expiresAt : undefined;
  };

  // Public, so that the page learns whether it must sign in without provoking a 401 on every load.
  app.get(
    '/api/session',
    {
      config: { access: 'public' },
      schema: { tags: ['session'], summary: 'Whether the request is signed in, and as whom (subject, role, expiry); needs no token', response: { 200: sessionBody } },
    },
    async (request) => {
      if (!key) return { signed_in: true, ...anonymousAdmin, auth: false };
      let token: string | undefined;
      try {
        token = bearerToken(request);
      } catch (error) {
        return { signed_in: false, auth: true, reason: (error as Error).message };
      }
      if (token === undefined) return { signed_in: false, auth: true };
      const v = await verifyToken(key, token);
      if (!v.ok) return { signed_in: false, auth: true, reason: v.reason };
      return { signed_in: true, sub: v.principal.sub, role: v.principal.role, auth: true, expires_at: v.expiresAt };
    },
  );

  app.post(
    '/api/session',
    {
      config: { access: 'read' },
      schema: {
        tags: ['session'],
        summary: 'Sign the page in: sets the token as an HttpOnly cookie the live streams (EventSource) carry; reads only',
        response: { 200: sessionBody },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const token = bearerToken(request);
      const exp = await expiresAt(token);
      if (token !== undefined && exp !== undefined) {
        reply.setCookie(SESSION_COOKIE, token, {
          path: '/api',
          httpOnly: true,
          sameSite: 'strict',
          secure: request.protocol === 'https',
          maxAge: Math.max(1, Math.floor((exp - Date.now()) / 1000)),
        });
      }
      return { signed_in: true, sub: p.sub, role: p.role, auth: key !== undefined, ...(exp !== undefined ? { expires_at: exp } : {}) };
    },
  );

  app.delete(
    '/api/session',
    { config: { access: 'public' }, schema: { tags: ['session'], summary: 'Sign the page out: clears the session cookie', response: { 204: { type: 'null', description: 'Signed out' } } } },
    async (_request, reply) => reply.clearCookie(SESSION_COOKIE, { path: '/api' }).code(204).send(),
  );
}
