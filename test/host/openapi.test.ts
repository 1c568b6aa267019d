import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv, type ValidateFunction } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RoleProcess } from '../helpers/processes.ts';
import { withAuth } from '../helpers/auth.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { call, daysAhead } from './support.ts';

const ctx = useRedisStack();

type Schema = { type?: string | string[]; enum?: unknown[]; properties?: Record<string, Schema>; items?: Schema; maxItems?: number; pattern?: string };
interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }>; requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> } }>>;
}

/**
 * Values for a JSON schema: mostly of the right type (and within enums), sometimes of a wrong one,
 * so both the API's acceptance and its refusals are exercised.
 */
function fromSchema(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  const wrong = fc.constantFrom<unknown>(null, 42, 'text', true, [], {});
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  let right: fc.Arbitrary<unknown>;
  if (schema.enum) right = fc.constantFrom(...schema.enum);
  else if (type === 'string') right = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom(daysAhead(30), '18:30', 'Europe/Paris', new Date(Date.now() + 86_400_000).toISOString(), 'vip', ''));
  else if (type === 'integer') right = fc.oneof(fc.integer({ min: -5, max: 200 }), fc.constantFrom(0, 1, 120, 10_080, 2_000_000));
  else if (type === 'boolean') right = fc.boolean();
  else if (type === 'array') right = depth > 2 ? fc.constant([]) : fc.array(fromSchema(schema.items ?? {}, depth + 1), { maxLength: Math.min(schema.maxItems ?? 4, 4) });
  else if (type === 'object' && schema.properties && depth <= 2) {
    const entries = Object.entries(schema.properties).map(([k, v]) => [k, fromSchema(v, depth + 1)] as const);
    right = fc.record(Object.fromEntries(entries), { requiredKeys: [] });
  } else right = fc.constant({});
  return fc.oneof({ arbitrary: right, weight: 8 }, { arbitrary: wrong, weight: 1 });
}

class ResponseChecker {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly cache = new Map<string, ValidateFunction>();
  private readonly doc: OpenApi;

  constructor(doc: OpenApi) {
    this.doc = doc;
  }

  /** Problems of a response against the document's schema for its route and status ([] when it fits). */
  check(path: string, method: string, status: number, body: unknown): string[] {
    const response = this.doc.paths[path]?.[method]?.responses[String(status)];
    if (!response) return [`${method.toUpperCase()} ${path} does not document status ${status}`];
    const schema = response.content?.['application/json']?.schema;
    if (!schema) return [];
    const key = `${method} ${path} ${status}`;
    let validate = this.cache.get(key);
    if (!validate) this.cache.set(key, (validate = this.ajv.compile(schema)));
    return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
  }
}

async function openApi(host: RoleProcess): Promise<OpenApi> {
  const res = await call<OpenApi>(host, 'GET', '/openapi.json');
  expect(res.status).toBe(200);
  return res.body;
}

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document describing every route, and the docs page serves its assets locally', async () => {
    const host = await ctx.procs.host(withAuth);
    const doc = await openApi(host);
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/api/events',
        '/api/events/batch',
        '/api/events/{id}',
        '/api/events/{id}/cancel',
        '/api/events/{id}.ics',
        '/api/events/{id}/guests/{guestId}.ics',
        '/api/events/{id}/stream',
        '/api/flow',
        '/api/guests',
        '/api/streams',
        '/api/session',
      ].sort(),
    );
    // Bearer auth is declared, and every operation but signing out requires it.
    expect((doc as unknown as { components: { securitySchemes: Record<string, unknown> } }).components.securitySchemes).toMatchObject({ bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } });
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops as Record<string, { security?: unknown }>)) {
        if (path === '/api/session' && method !== 'post') continue;
        expect(op.security, `${method} ${path}`).toContainEqual({ bearerAuth: [] });
      }
    }
    // Every option of the event model is in the create body.
    const create = doc.paths['/api/events']!.post!.requestBody!.content['application/json']!.schema;
    expect(Object.keys(create.properties!)).toEqual(expect.arrayContaining(['id', 'event_name', 'timezone', 'rsvp_deadline', 'publish_at', 'expires_at', 'reminders', 'capacity', 'plus_ones_max', 'questions', 'target_tags', 'priority']));
    // One definition of the event body: a batch item is the create body, a change the same body without the id.
    const batch = doc.paths['/api/events/batch']!.post!.requestBody!.content['application/json']!.schema;
    expect(batch.properties!.events!.items).toEqual(create);
    const patch = doc.paths['/api/events/{id}']!.patch!.requestBody!.content['application/json']!.schema;
    const { id: _id, ...withoutId } = create.properties!;
    expect(patch.properties).toEqual(withoutId);
    // A cancellation needs no body (its reason is optional); every other body is required.
    expect(doc.paths['/api/events/{id}/cancel']!.post!.requestBody).toMatchObject({ required: false });
    expect(doc.paths['/api/events']!.post!.requestBody).toMatchObject({ required: true });
    const page = await call<string>(host, 'GET', '/docs/');
    expect(page.status).toBe(200);
    expect(page.body).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|localhost)[^"']*\.(js|css)/);
    const assets = [...page.body.matchAll(/(?:src|href)="\.?\/?([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) expect((await call(host, 'GET', `/docs/${asset.replace(/^docs\//, '')}`)).status, asset).toBe(200);
  });

  it('holds for generated requests: no 5xx, every response matches its documented schema', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'prop-host' });
    const doc = await openApi(host);
    const checker = new ResponseChecker(doc);
    const createSchema = doc.paths['/api/events']!.post!.requestBody!.content['application/json']!.schema;
    const patchSchema = doc.paths['/api/events/{id}']!.patch!.requestBody!.content['application/json']!.schema;
    const ids = fc.constantFrom('known', 'other', 'unknown-id', 'bad id', 'x'.repeat(130));
    // A known event, so that changes and reads reach the handlers, not only the 404.
    expect((await call(host, 'POST', '/api/events', { id: 'known', event_name: 'Known', event_date: daysAhead(30) })).status).toBe(202);
    await call(host, 'POST', '/api/events', { id: 'other', event_name: 'Other', event_date: daysAhead(30) });

    const request = fc.oneof(
      fc.record({ method: fc.constant('post'), route: fc.constant('/api/events'), url: fc.constant('/api/events'), body: fromSchema(createSchema) }),
      fc.record({ method: fc.constant('patch'), route: fc.constant('/api/events/{id}'), url: ids.map((id) => `/api/events/${encodeURIComponent(id)}`), body: fromSchema(patchSchema) }),
      fc.record({ method: fc.constant('post'), route: fc.constant('/api/events/{id}/cancel'), url: ids.map((id) => `/api/events/${encodeURIComponent(id)}/cancel`), body: fc.constantFrom<unknown>(undefined, {}, { reason: 'x' }, { reason: 1 }) }),
      fc.record({ method: fc.constant('post'), route: fc.constant('/api/events/batch'), url: fc.constant('/api/events/batch'), body: fc.array(fromSchema(createSchema), { maxLength: 5 }).map((events) => ({ events })) }),
      fc.record({
        method: fc.constant('get'),
        route: fc.constant('/api/events'),
        url: fc.record({ status: fc.constantFrom('open', 'closed', 'soon'), limit: fc.constantFrom('1', '50', '0', 'x'), from: fc.constantFrom(daysAhead(1), 'never') }, { requiredKeys: [] }).map((q) => `/api/events?${new URLSearchParams(q as Record<string, string>)}`),
        body: fc.constant(undefined),
      }),
      fc.record({ method: fc.constant('get'), route: fc.constant('/api/events/{id}'), url: ids.map((id) => `/api/events/${encodeURIComponent(id)}`), body: fc.constant(undefined) }),
      fc.record({ method: fc.constant('get'), route: fc.constant('/api/events/{id}.ics'), url: ids.map((id) => `/api/events/${encodeURIComponent(id)}.ics`), body: fc.constant(undefined) }),
      fc.record({ method: fc.constant('get'), route: fc.constantFrom('/api/guests', '/api/streams'), url: fc.constant(''), body: fc.constant(undefined) }).map((r) => ({ ...r, url: r.route })),
    );

    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(request, async ({ method, route, url, body }) => {
        const answer = await call(host, method.toUpperCase(), url, body);
        const context = JSON.stringify({ method, url, body, status: answer.status, answer: answer.body }).slice(0, 2_000);
        expect(answer.status, context).toBeLessThan(500);
        expect(checker.check(route, method, answer.status, answer.body), context).toEqual([]);
        if (answer.status < 300) accepted += 1;
        else refused += 1;
      }),
      { numRuns: 300 },
    );
    expect(accepted).toBeGreaterThan(30);
    expect(refused).toBeGreaterThan(30);
  }, 120_000);
});
