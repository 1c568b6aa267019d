// Hostile requests to every route of /openapi.json (fast-check): random and malicious bodies,
// headers and tokens (none, garbage, expired, forged, alg:none, the wrong role, another host's
// event). The host must never answer 5xx nor crash, and a refused request must write nothing:
// the events the host keeps and the invitation streams are the same before and after it.
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { streams } from '../../services/shared/streams/keys.ts';
import { testKey, tokenFor, withAuth } from '../helpers/auth.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { call, daysAhead } from './support.ts';

const ctx = useRedisStack();

type Op = { method: string; path: string };

async function operations(host: RoleProcess): Promise<Op[]> {
  const doc = (await call<{ paths: Record<string, Record<string, unknown>> }>(host, 'GET', '/openapi.json')).body;
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })));
}

/** What a refused request must not change: every event the host keeps (by revision) and the invitation streams. */
async function written(): Promise<string> {
  const c = ctx.redis.client;
  const keys = (await c.keys('host:event:*')).sort();
  const revisions = await Promise.all(keys.filter((k) => !k.endsWith(':outbox')).map(async (k) => `${k}=${await c.hget(k, 'revision')}`));
  const lengths = await Promise.all([streams.invitations, streams.invitationsHigh].map((s) => c.xlen(s)));
  return JSON.stringify({ keys, revisions, lengths });
}

async function tokens(): Promise<Record<string, string | undefined>> {
  const now = Math.floor(Date.now() / 1000);
  const valid = await tokenFor('admin', 'fuzz-admin');
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return {
    none: undefined,
    garbage: 'Bearer ;drop table--',
    'not bearer': `Basic ${Buffer.from('admin:admin').toString('base64')}`,
    expired: `Bearer ${await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('event-planner').setAudience('event-planner-api').setSubject('x').setExpirationTime(now - 60).sign(testKey.bytes)}`,
    forged: `Bearer ${await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('event-planner').setAudience('event-planner-api').setSubject('x').setExpirationTime(now + 600).sign(new TextEncoder().encode('x'.repeat(48)))}`,
    'alg none': `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${valid.split('.')[1]}.`,
    huge: `Bearer ${'a'.repeat(9_000)}`,
    viewer: `Bearer ${await tokenFor('viewer', 'fuzz-viewer')}`,
    'other host': `Bearer ${await tokenFor('host', 'mallory')}`,
    owner: `Bearer ${await tokenFor('host', 'alice')}`,
    admin: `Bearer ${valid}`,
  };
}

const weirdText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('../../etc/passwd', '%00', '{alice-evt}', '*', 'alice-evt', 'a'.repeat(300), '__proto__'));
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({ event_name: fc.string({ maxLength: 30 }), event_date: fc.constantFrom(daysAhead(10), '2020-01-01', 'x'), id: weirdText }, { requiredKeys: [] }),
  fc.dictionary(weirdText, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
  fc.constantFrom({ events: [] }, { events: [{ event_name: 'x' }, 42, null] }, { reason: 'x'.repeat(600) }, { __proto__: { admin: true } }, { constructor: { prototype: { role: 'admin' } } }),
);
const raw = fc.oneof(body.map((b) => JSON.stringify(b)), fc.string({ maxLength: 200 }), fc.constantFrom('', '{', '{"a":', 'null', '[]', '\u0000'));
// What an HTTP client can send at all (fetch refuses control characters and non-Latin-1 in headers).
const headerText = weirdText.map((t) => t.replace(/[^\x21-\x7e]/g, ''));
const headers = fc.record(
  {
    'content-type': fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-7', 'multipart/form-data; boundary=x', 'garbage'),
    'if-match': fc.oneof(fc.constantFrom('"1"', 'W/"1"', '*', '"999999999"', '"-1"'), headerText),
    'last-event-id': fc.oneof(fc.constantFrom('0-0', '99999999999999-0', '1-1'), headerText),
    origin: fc.constantFrom('https://evil.example', 'null'),
    cookie: fc.oneof(fc.constant('ep_token=garbage'), weirdText.map((t) => `ep_token=${encodeURIComponent(t)}`)),
    'x-forwarded-for': fc.constantFrom('1.2.3.4', '::1', 'garbage'),
  },
  { requiredKeys: [] },
);
const query = fc.oneof(fc.constant(''), fc.dictionary(fc.constantFrom('since', 'status', 'from', 'to', 'limit', 'cursor', 'x'), weirdText, { maxKeys: 3 }).map((q) => `?${new URLSearchParams(q).toString()}`));

describe('hostile requests to every API route', () => {
  it('never answer 5xx nor crash the host, and a refused request writes nothing', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'fuzz-api', API_RATE_LIMIT_PER_MINUTE: '0' });
    const auth = await tokens();
    const alice = { authorization: auth.owner! };
    expect((await call(host, 'POST', '/api/events', { id: 'alice-evt', event_name: 'Alice', event_date: daysAhead(20), event_time: '18:00' }, alice)).status).toBe(202);
    const ops = await operations(host);
    expect(ops.length).toBeGreaterThanOrEqual(14);
    const seen = new Map<string, number>();

    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ops), fc.constantFrom(...Object.keys(auth)), fc.oneof(fc.constant('alice-evt'), weirdText), raw, headers, query, async (op, who, id, payload, extra, q) => {
        const path = op.path.replace('{id}', encodeURIComponent(id)).replace('{guestId}', encodeURIComponent(id)) + q;
        const before = await written();
        const controller = new AbortController();
        // SSE answers stay open: the status line is all this needs.
        const timer = setTimeout(() => controller.abort(), 3_000);
        let status: number;
        try {
          const res = await fetch(host.url(path), {
            method: op.method,
            headers: { ...extra, ...(auth[who] === undefined ? {} : { authorization: auth[who] }) },
            ...(op.method === 'GET' || op.method === 'DELETE' ? {} : { body: payload }),
            signal: controller.signal,
          });
          status = res.status;
          if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) controller.abort();
          else await res.text();
        } finally {
          clearTimeout(timer);
        }
        seen.set(`${status}`, (seen.get(`${status}`) ?? 0) + 1);
        const context = `${op.method} ${path} as ${who}`;
        expect(status, context).toBeLessThan(500);
        if (status >= 400) expect(await written(), `${context} answered ${status} but wrote`).toBe(before);
        // Only the owner and an admin ever change Alice's event.
        if (id === 'alice-evt' && op.method !== 'GET' && status < 300 && !/\/batch$|^\/api\/events$|\/session$/.test(op.path)) expect(['owner', 'admin'], context).toContain(who);
      }),
      { numRuns: 400, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    expect(host.running).toBe(true);
    expect((await host.get('/readyz')).status).toBe(200);
    // The run reached the refusals it is about, and some acceptances.
    for (const s of ['401', '403', '404']) expect(seen.get(s) ?? 0, `${s} in ${JSON.stringify([...seen])}`).toBeGreaterThan(0);
    expect([...seen.keys()].some((s) => s.startsWith('2'))).toBe(true);
  }, 240_000);
});
