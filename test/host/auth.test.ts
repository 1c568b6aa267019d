import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { TEST_JWT_SECRET, bearer, testKey, tokenFor, withAuth } from '../helpers/auth.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { call, daysAhead, readSse } from './support.ts';

const ctx = useRedisStack();

const none = { authorization: '' };
const event = (name: string, id?: string) => ({ ...(id ? { id } : {}), event_name: name, event_date: daysAhead(20), event_time: '18:00' });

/** Every operation of the OpenAPI document with a concrete path (ids filled in). */
async function operations(host: Parameters<typeof call>[0], id: string): Promise<{ method: string; path: string; security: unknown }[]> {
  const doc = (await call<{ paths: Record<string, Record<string, { security?: unknown }>> }>(host, 'GET', '/openapi.json')).body;
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path: path.replace('{id}', id).replace('{guestId}', 'g1'), security: op.security })),
  );
}

describe('API authentication', () => {
  it('every /api route needs a token (declared in /openapi.json); probes, metrics, docs and the page do not', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'locked' });
    const ops = await operations(host, 'x1');
    expect(ops.length).toBeGreaterThanOrEqual(14);
    for (const op of ops) {
      if (op.path === '/api/session' && op.method !== 'POST') continue; // who am I, and signing out, need nothing
      expect(op.security, `${op.method} ${op.path}`).toEqual(expect.arrayContaining([{ bearerAuth: [] }]));
      const answer = await call(host, op.method, op.path, op.method === 'GET' ? undefined : {}, none);
      expect(answer.status, `${op.method} ${op.path}`).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="event-planner"/);
    }
    for (const path of ['/healthz', '/readyz', '/metrics', '/info', '/openapi.json', '/docs/']) {
      expect((await call(host, 'GET', path, undefined, none)).status, path).toBe(200);
    }
    // The signing key is never shown, nor logged.
    const info = JSON.stringify((await call(host, 'GET', '/info', undefined, none)).body);
    expect(info).not.toContain(TEST_JWT_SECRET);
    expect(JSON.stringify(host.logs) + host.stderr.join('')).not.toContain(TEST_JWT_SECRET);
    // Nothing was written by any refused request.
    expect(await ctx.redis.client.keys('host:event:*')).toEqual([]);
  });

  it('refuses expired, forged, alg:none, foreign-audience and role-less tokens with 401, writing nothing', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'forged' });
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, key = testKey.bytes, build?: (j: SignJWT) => SignJWT) => {
      const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer('event-planner').setAudience('event-planner-api').setSubject('mallory').setIssuedAt(now - 100);
      return (build ? build(jwt) : jwt.setExpirationTime(now + 600)).sign(key);
    };
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const valid = await tokenFor('admin', 'mallory');
    const [, payload] = valid.split('.');
    const bad: Record<string, string> = {
      expired: await sign({ role: 'admin' }, testKey.bytes, (j) => j.setExpirationTime(now - 3_600)),
      'wrong key': await sign({ role: 'admin' }, new TextEncoder().encode('another-key-of-enough-length-0123456789')),
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`,
      'tampered role': `${valid.split('.')[0]}.${b64({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), role: 'admin', sub: 'root' })}.${valid.split('.')[2]}`,
      'no role': await sign({}),
      'unknown role': await sign({ role: 'superuser' }),
      'other audience': await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('event-planner').setAudience('another-api').setSubject('m').setExpirationTime(now + 600).sign(testKey.bytes),
      'no expiry': await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('event-planner').setAudience('event-planner-api').setSubject('m').sign(testKey.bytes),
      garbage: 'not.a.token',
    };
    for (const [what, token] of Object.entries(bad)) {
      const answer = await call(host, 'POST', '/api/events', event(what), { authorization: `Bearer ${token}` });
      expect(answer.status, what).toBe(401);
      expect(answer.body, what).toMatchObject({ code: 'invalid_token' });
    }
    for (const header of ['Basic YWxpY2U6c2VjcmV0', 'Bearer', `Token ${valid}`]) {
      expect((await call(host, 'POST', '/api/events', event('x'), { authorization: header })).status, header).toBe(401);
    }
    expect(await ctx.redis.client.keys('host:event:*')).toEqual([]);
    expect((await call(host, 'POST', '/api/events', event('Real'), { authorization: `Bearer ${valid}` })).status).toBe(202);
  });

  it('roles: a viewer reads only, a host manages and sees only its own events, an admin everything', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'roles' });
    const alice = await bearer('host', 'alice');
    const bob = await bearer('host', 'bob');
    const viewer = await bearer('viewer', 'vera');
    const admin = await bearer('admin', 'root');

    expect((await call(host, 'POST', '/api/events', event('Viewer party'), viewer)).status).toBe(403);
    const created = await call(host, 'POST', '/api/events', event('Alice party', 'alice-1'), alice);
    expect(created.status).toBe(202);
    expect((await call(host, 'POST', '/api/events', event('Bob party', 'bob-1'), bob)).status).toBe(202);
    const names = async (who: Record<string, string>) => ((await call<{ items: { id: string }[] }>(host, 'GET', '/api/events', undefined, who)).body.items.map((i) => i.id).sort());
    expect(await names(alice)).toEqual(['alice-1']);
    expect(await names(bob)).toEqual(['bob-1']);
    expect(await names(viewer)).toEqual(['alice-1', 'bob-1']);
    expect(await names(admin)).toEqual(['alice-1', 'bob-1']);

    // Bob cannot see, follow, download, change or cancel Alice's event: it does not exist for him.
    for (const [method, path, body] of [
      ['GET', '/api/events/alice-1', undefined],
      ['GET', '/api/events/alice-1.ics', undefined],
      ['PATCH', '/api/events/alice-1', { event_time: '19:00' }],
      ['POST', '/api/events/alice-1/cancel', {}],
    ] as const) {
      const answer = await call(host, method, path, body, bob);
      expect(answer.status, `${method} ${path}`).toBe(404);
    }
    expect((await readSse(host.url('/api/events/alice-1/stream'), () => true, { headers: bob })).status).toBe(404);
    // Nor take its id, even with the very same body (which would be Alice's retry).
    expect((await call(host, 'POST', '/api/events', event('Alice party', 'alice-1'), bob)).body).toMatchObject({ code: 'id_in_use', field: 'id' });
    const batch = await call<{ results: { status: number }[] }>(host, 'POST', '/api/events/batch', { events: [event('Alice party', 'alice-1'), event('Bob two', 'bob-2')] }, bob);
    expect(batch.body.results.map((r) => r.status)).toEqual([409, 202]);
    // Alice's own retry is a duplicate, as before tokens.
    expect((await call(host, 'POST', '/api/events', event('Alice party', 'alice-1'), alice)).body).toMatchObject({ duplicate: true });
    expect((await call(host, 'GET', '/api/events/alice-1', undefined, alice)).body).toMatchObject({ revision: 1 });

    // The viewer reads everything, changes nothing; a host does not see the whole system.
    expect((await call(host, 'GET', '/api/events/alice-1', undefined, viewer)).status).toBe(200);
    expect((await call(host, 'PATCH', '/api/events/alice-1', { event_time: '19:00' }, viewer)).status).toBe(403);
    for (const path of ['/api/streams', '/api/guests']) {
      expect((await call(host, 'GET', path, undefined, viewer)).status, path).toBe(200);
      expect((await call(host, 'GET', path, undefined, alice)).status, path).toBe(403);
    }
    expect((await readSse(host.url('/api/flow'), () => true, { headers: alice })).status).toBe(403);

    // Alice and the admin change her event; nothing Bob tried reached it.
    expect((await call(host, 'GET', '/api/events/alice-1', undefined, admin)).body).toMatchObject({ revision: 1, status: 'open' });
    expect((await call(host, 'PATCH', '/api/events/alice-1', { event_time: '19:00' }, alice)).status).toBe(202);
    expect((await call(host, 'POST', '/api/events/alice-1/cancel', {}, admin)).body).toMatchObject({ revision: 3, status: 'cancelled' });
    expect(await ctx.redis.client.hget('host:event:{alice-1}', 'owner')).toBe('alice');
  });

  it('the page session: POST /api/session sets an HttpOnly SameSite=Strict cookie good for reads only', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'session' });
    const alice = await bearer('host', 'alice');
    const signedIn = await call(host, 'POST', '/api/session', undefined, alice);
    expect(signedIn.body).toMatchObject({ sub: 'alice', role: 'host', auth: true });
    const cookie = signedIn.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^ep_token=[\w.-]+;/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\/api/);
    const jar = { ...none, cookie: cookie.split(';')[0]! };
    expect((await call(host, 'GET', '/api/session', undefined, none)).body).toEqual({ signed_in: false, auth: true });
    expect((await call(host, 'GET', '/api/session', undefined, { authorization: 'Bearer x.y.z' })).body).toEqual({ signed_in: false, auth: true, reason: 'the token is not valid' });
    expect((await call(host, 'GET', '/api/session', undefined, jar)).body).toMatchObject({ signed_in: true, sub: 'alice', role: 'host' });
    expect((await call(host, 'GET', '/api/events', undefined, jar)).status).toBe(200);
    // A write with the cookie alone (what a cross-site form could make a browser send) is refused.
    expect((await call(host, 'POST', '/api/events', event('Via cookie'), jar)).status).toBe(401);
    const out = await call(host, 'DELETE', '/api/session', undefined, none);
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/ep_token=;/);
  });
});

describe('API hardening', () => {
  it('sends security headers with a CSP, keeps CORS closed unless origins are listed, and rate-limits per address but never probes', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'hardened', API_RATE_LIMIT_PER_MINUTE: '8' });
    const page = await call(host, 'GET', '/', undefined, none);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(csp).not.toContain('unsafe-inline');
    // /docs alone allows inline styles (Swagger UI sets them from script), never inline scripts.
    const docs = (await call(host, 'GET', '/docs/', undefined, none)).headers.get('content-security-policy') ?? '';
    expect(docs).toContain("style-src 'self' 'unsafe-inline'");
    expect(docs).toContain("script-src 'self';");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    // Another site's page: no CORS header, so its script cannot read the answer; the preflight of a write gets none either.
    const cross = await call(host, 'GET', '/api/events', undefined, { origin: 'https://evil.example' });
    expect(cross.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(host.url('/api/events'), { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();

    let limited: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 12 && !limited; i += 1) {
      const answer = await call(host, 'GET', '/api/events');
      if (answer.status === 429) limited = answer;
    }
    expect(limited?.body).toMatchObject({ code: 'rate_limited' });
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await call(host, 'GET', path, undefined, none)).status, path).toBe(200);

    const open = await ctx.procs.host({ ...withAuth, HOST_ID: 'partner', API_CORS_ORIGINS: 'https://planner.example.com' });
    const allowed = await fetch(open.url('/api/events'), { method: 'OPTIONS', headers: { origin: 'https://planner.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://planner.example.com');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/);
  });

  it('API_AUTH=off opens the API explicitly and says so loudly', async () => {
    const host = await ctx.procs.host({ HOST_ID: 'open', API_AUTH: 'off' });
    expect((await call(host, 'GET', '/api/session', undefined, none)).body).toEqual({ signed_in: true, sub: 'anonymous', role: 'admin', auth: false });
    expect((await call(host, 'POST', '/api/events', event('Open'), none)).status).toBe(202);
    expect(host.logs.some((l) => l.level === 40 && String(l.msg).includes('API_AUTH=off'))).toBe(true);
  });
});
