import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type AjvError, type ErrorBody, ApiError, strictValidation, validationBody } from '../../shared/http/errors.ts';
import type { EventBody } from '../../shared/schema/event-body.ts';
import type { ChangeResult, CreateResult } from '../publishing/revisions.ts';
import type { PartsGetter } from '../parts.ts';
import { mayManage, principalOf } from '../auth/guard.ts';
import type { Principal } from '../auth/tokens.ts';
import { changeAccepted, createAccepted, createBody, errorBody, errors, eventBody, idParams } from './schemas.ts';

export const MAX_BATCH = 10_000;

type CreateBody = EventBody & { id?: string };

// The batch judges each item on its own with the same schema as POST /api/events.
const ajv = new Ajv({ ...(strictValidation as { customOptions: object }).customOptions, strict: false });
const validateItem = ajv.compile(createBody);

/** The batch body as documented (/openapi.json): each item is the create body, the one definition. */
const batchBody = {
  type: 'object',
  additionalProperties: false,
  required: ['events'],
  properties: { events: { type: 'array', maxItems: MAX_BATCH, items: createBody, description: 'Event bodies as POST /api/events takes them, each judged on its own.' } },
} as const;
// What refuses the whole request: its envelope. An item that breaks the create body is that item's
// 400 in the results (validateItem), never the batch's.
const validateBatchEnvelope = ajv.compile({ ...batchBody, properties: { events: { ...batchBody.properties.events, items: { type: 'object' } } } });

/** A validator reason ("<code>: <details>") as a 400 naming the field. */
export function invalidBody(reason: string, field: string | undefined): ApiError {
  const colon = reason.indexOf(': ');
  if (colon < 0) return new ApiError(400, reason, reason, field);
  const detail = reason.slice(colon + 2);
  return new ApiError(400, reason.slice(0, colon), detail === field ? `${field} is required` : detail, field);
}

/** `"3"`, `W/"3"`, `3` or `*` (any). Anything else cannot match a revision. */
export function parseIfMatch(header: string | undefined): number | undefined | 'invalid' {
  if (header === undefined || header.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  return match ? Number(match[1]) : 'invalid';
}

const etag = (revision: number) => `"${revision}"`;

function createError(result: Exclude<CreateResult, { kind: 'saved' | 'duplicate' }>): ApiError {
  switch (result.kind) {
    case 'in_use':
      return new ApiError(409, 'id_in_use', result.owner === '' ? `id ${result.id} is already used by another owner` : `id ${result.id} is already used by host application ${result.owner}`, 'id');
    case 'conflict':
      return new ApiError(409, 'id_conflict', `id ${result.id} was already used for an invitation with different content; resend the same content to retry, or use a new id`, 'id');
    case 'invalid':
      return invalidBody(result.reason, result.field);
  }
}

function changeError(id: string, result: Exclude<ChangeResult, { kind: 'saved' | 'duplicate' }>, reply: FastifyReply): ApiError {
  switch (result.kind) {
    case 'not_found':
      return new ApiError(404, 'not_found', `no event ${id}`);
    case 'in_use':
      return new ApiError(409, 'id_in_use', `event ${id} belongs to host application ${result.owner}`, 'id');
    case 'cancelled':
      reply.header('etag', etag(result.revision));
      return new ApiError(409, 'cancelled', `event ${id} is cancelled; a cancelled event cannot be changed`);
    case 'precondition_failed':
      reply.header('etag', etag(result.revision));
      return new ApiError(412, 'precondition_failed', `If-Match does not name the current revision ${result.revision} of event ${id}; fetch it again`);
    case 'invalid':
      return invalidBody(result.reason, result.field);
  }
}

const ifMatchHeader = {
  type: 'object',
  properties: { 'if-match': { type: 'string', description: 'The revision the change builds on, as the ETag gave it ("3"); 412 when it is not the current one.' } },
} as const;

/** Creating, changing, cancelling and batch-publishing events (docs/API.md, "Events"). */
export function eventChangeRoutes(app: FastifyInstance, parts: PartsGetter, batchBodyLimit: number): void {
  app.post<{ Body: CreateBody }>(
    '/api/events',
    { config: { access: 'write' }, schema: { tags: ['events'], summary: 'Create an event (publish revision 1); the token’s subject owns it', body: createBody, response: { 202: createAccepted, ...errors(400, 409, 413, 503) } } },
    async (request, reply) => {
      const p = parts();
      const caller = principalOf(request);
      const result = (await ownDuplicates(p, caller, [await p.revisions.create(request.body, caller.sub)]))[0]!;
      if (result.kind !== 'saved') p.metrics.published.inc({ outcome: result.kind });
      if (result.kind !== 'saved' && result.kind !== 'duplicate') throw createError(result);
      if (result.kind === 'saved') await p.afterSave();
      const entryId = result.kind === 'saved' ? ((await p.outbox.publish([result]))[0] ?? null) : null;
      if (result.kind === 'saved') p.log.info({ eventId: result.id, entryId }, `📤 published invitation "${String(request.body.event_name)}"`);
      return reply
        .code(202)
        .header('etag', etag(result.revision))
        .header('location', `/api/events/${encodeURIComponent(result.id)}`)
        .send({ id: result.id, revision: result.revision, sequence: result.sequence, status: result.status, duplicate: result.kind === 'duplicate', entry_id: entryId });
    },
  );

  app.patch<{ Params: { id: string }; Body: EventBody; Headers: { 'if-match'?: string } }>(
    '/api/events/:id',
    {
      config: { access: 'write' },
      schema: {
        tags: ['events'],
        summary: 'Change an event (any subset of the body; a change of date, time, zone, duration, location, status or questions is a new version)',
        params: idParams,
        headers: ifMatchHeader,
        body: eventBody,
        response: { 202: changeAccepted, ...errors(400, 404, 409, 412, 413, 503) },
      },
    },
    async (request, reply) => {
      const ifMatch = parseIfMatch(request.headers['if-match']);
      const { id } = request.params;
      if (ifMatch === 'invalid') throw new ApiError(412, 'precondition_failed', 'If-Match must name a revision as the ETag gives it, e.g. "3"');
      const p = parts();
      await assertManages(p, principalOf(request), id);
      const result = await p.revisions.update(id, request.body, ifMatch);
      return answerChange(p, id, result, reply);
    },
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined; Headers: { 'if-match'?: string } }>(
    '/api/events/:id/cancel',
    {
      config: { access: 'write' },
      schema: {
        tags: ['events'],
        summary: 'Cancel an event (METHOD:CANCEL, SEQUENCE + 1); cancelling it again changes nothing',
        params: idParams,
        headers: ifMatchHeader,
        body: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } },
        response: { 202: changeAccepted, ...errors(400, 404, 409, 412, 503) },
      },
      // The reason is optional, so is the body: `curl -X POST …/cancel` cancels.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
    },
    async (request, reply) => {
      const ifMatch = parseIfMatch(request.headers['if-match']);
      const { id } = request.params;
      if (ifMatch === 'invalid') throw new ApiError(412, 'precondition_failed', 'If-Match must name a revision as the ETag gives it, e.g. "3"');
      const p = parts();
      await assertManages(p, principalOf(request), id);
      return answerChange(p, id, await p.revisions.cancel(id, ifMatch), reply);
    },
  );

  app.post<{ Body: { events: unknown[] } }>(
    '/api/events/batch',
    {
      config: { access: 'write' },
      bodyLimit: batchBodyLimit,
      validatorCompiler: () => validateBatchEnvelope,
      schema: {
        tags: ['events'],
        summary: `Create up to ${MAX_BATCH} events; each judged on its own, the valid ones published in pipelined round trips`,
        body: batchBody,
        response: {
          200: {
            type: 'object',
            required: ['results'],
            properties: {
              results: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['index', 'status'],
                  properties: {
                    index: { type: 'integer' },
                    id: { type: 'string' },
                    status: { type: 'integer', enum: [202, 400, 409] },
                    revision: { type: 'integer' },
                    duplicate: { type: 'boolean' },
                    error: errorBody,
                  },
                },
              },
            },
          },
          ...errors(400, 413, 503),
        },
      },
      // Too many items is a problem of the whole request, like a body over the size limit.
      preValidation: async (request) => {
        const events = (request.body as { events?: unknown } | undefined)?.events;
        if (Array.isArray(events) && events.length > MAX_BATCH) throw new ApiError(413, 'too_many_events', `a batch holds at most ${MAX_BATCH} events (this one ${events.length})`, 'events');
      },
    },
    async (request) => {
      const p = parts();
      const items = request.body.events;
      const results: Record<string, unknown>[] = new Array(items.length);
      const valid: { index: number; body: CreateBody }[] = [];
      items.forEach((item, index) => {
        if (validateItem(item)) {
          valid.push({ index, body: item as CreateBody });
        } else {
          p.metrics.published.inc({ outcome: 'invalid' });
          results[index] = { index, status: 400, error: validationBody((validateItem.errors ?? []) as AjvError[], 'event') };
        }
      });
      const caller = principalOf(request);
      const created = await ownDuplicates(p, caller, await p.revisions.createMany(valid.map((v) => v.body), caller.sub));
      const saved = created.filter((c) => c.kind === 'saved').map((c) => (c as { id: string }).id);
      if (saved.length > 0) await p.afterSave();
      await p.outbox.drain(saved);
      created.forEach((result, i) => {
        const { index } = valid[i]!;
        if (result.kind !== 'saved') p.metrics.published.inc({ outcome: result.kind });
        if (result.kind === 'saved' || result.kind === 'duplicate') {
          results[index] = { index, id: result.id, status: 202, revision: result.revision, duplicate: result.kind === 'duplicate' };
        } else {
          const error = createError(result);
          const body: ErrorBody = { error: error.message, code: error.code, ...(error.field ? { field: error.field } : {}) };
          results[index] = { index, ...('id' in result ? { id: result.id } : {}), status: error.status, error: body };
        }
      });
      p.log.info({ items: items.length, published: saved.length }, `📤 batch: ${saved.length} of ${items.length} events published`);
      return { results };
    },
  );
}

/**
 * A host changes only its own events: another owner's event is answered as if it did not exist
 * (404), so a host cannot even learn which ids others use. Owners never change, so this check
 * before the compare-and-set script cannot be raced.
 */
async function assertManages(p: ReturnType<PartsGetter>, caller: Principal, id: string): Promise<void> {
  if (caller.role === 'admin') return;
  const event = await p.revisions.get(id);
  if (event && !mayManage(caller, event.owner)) throw new ApiError(404, 'not_found', `no event ${id}`);
}

/**
 * A retried create of an id another subject owns is no duplicate for this caller: the id is taken.
 * The owners of every duplicate are read in one round trip (a retried batch has thousands).
 */
async function ownDuplicates(p: ReturnType<PartsGetter>, caller: Principal, results: CreateResult[]): Promise<CreateResult[]> {
  if (caller.role === 'admin') return results;
  const duplicates = results.filter((r) => r.kind === 'duplicate');
  if (duplicates.length === 0) return results;
  const events = await p.revisions.getMany(duplicates.map((d) => d.id));
  const taken = new Set(events.filter((e) => e !== undefined && e.owner !== caller.sub).map((e) => e!.id));
  return results.map((r) => (r.kind === 'duplicate' && taken.has(r.id) ? { kind: 'in_use', id: r.id, owner: '' } : r));
}

async function answerChange(p: ReturnType<PartsGetter>, id: string, result: ChangeResult, reply: FastifyReply) {
  if (result.kind !== 'saved' && result.kind !== 'duplicate') throw changeError(id, result, reply);
  if (result.kind === 'saved') await p.afterSave();
  const entryId = result.kind === 'saved' ? ((await p.outbox.publish([result]))[0] ?? null) : null;
  if (result.kind === 'saved') p.log.info({ eventId: id, revision: result.revision, sequence: result.sequence, bumped: result.bumped }, `📤 published revision ${result.revision} of ${id}`);
  return reply
    .code(202)
    .header('etag', etag(result.revision))
    .send({ id, revision: result.revision, sequence: result.sequence, status: result.status, bumped: result.bumped, duplicate: result.kind === 'duplicate', entry_id: entryId });
}
