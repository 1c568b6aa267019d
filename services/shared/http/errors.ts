import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyServerOptions } from 'fastify';
import { redisRefusal } from '../streams/redis-errors.ts';

/**
 * Every error response of every role has one shape:
 *   { "error": "<what went wrong, for a person>", "code": "<machine-readable>", "field"?: "<the body field at fault>", "request_id"?: "…" }
 * 4xx say exactly what to fix; 503 (with Retry-After) say Redis refuses the work for now; anything
 * else is a generic 500 carrying the request id, with the details in the log only (never a script
 * sha, a line number, a key or a stack in a response).
 */
export interface ErrorBody {
  error: string;
  code: string;
  field?: string;
  request_id?: string;
}

/** An error a route throws on purpose, answered as is. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  /** Headers the answer carries (Retry-After on a 503). */
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, field?: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.headers = headers;
  }
}

/**
 * Ajv as every route of every role validates with: nothing is coerced (123, true or ["a"] are not
 * strings) and nothing is dropped (an unknown property such as a misspelt field is an error, not
 * silently removed). Fastify's defaults do both.
 */
export const strictValidation: FastifyServerOptions['ajv'] = {
  customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
};

/** Request ids (the log's `reqId`) that do not repeat across restarts or replicas, so a log search finds one request. */
export const newRequestId = (): string => randomUUID();

export interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** A schema validation failure as an error body naming the field (also used for the items of a batch). */
export function validationBody(errors: AjvError[], context: string | undefined): ErrorBody {
  const e = errors[0];
  if (!e) return { error: `the request ${context ?? 'body'} is not valid`, code: 'invalid_request' };
  const path = e.instancePath.replace(/^\//, '').replaceAll('/', '.');
  // Inside an object of the body (a question), the field is named by its path: `questions.0.type`.
  const within = (name: string) => (path ? `${path}.${name}` : name);
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(e.params.additionalProperty);
      return { error: `unknown field ${JSON.stringify(name)}${path ? ` in ${path}` : ''}: the request ${context ?? 'body'} has no such field`, code: 'unknown_field', field: within(name) };
    }
    case 'required': {
      const field = within(String(e.params.missingProperty));
      return { error: `${field} is required`, code: 'missing_field', field };
    }
    case 'type':
      if (!path) return { error: `the request ${context ?? 'body'} must be a JSON ${String(e.params.type)}`, code: 'invalid_type' };
      return { error: `${path} must be a ${String(e.params.type)}`, code: 'invalid_type', field: path };
    default:
      return { error: `${path || `the request ${context ?? 'body'}`} ${e.message ?? 'is not valid'}`, code: 'invalid_field', ...(path ? { field: path } : {}) };
  }
}

/** Registers the error and not-found handlers on the root instance, before any route. */
export function answerErrors(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?', 1)[0]}`, code: 'not_found' } satisfies ErrorBody),
  );
  app.setErrorHandler((error: FastifyError & { validationContext?: string }, request, reply) => {
    if (error instanceof ApiError) {
      return reply
        .code(error.status)
        .headers(error.headers).send({ error: error.message, code: error.code, ...(error.field ? { field: error.field } : {}) } satisfies ErrorBody);
    }
    if (error.validation) {
      return reply.code(400).send(validationBody(error.validation as AjvError[], error.validationContext));
    }
    const refusal = redisRefusal(error);
    if (refusal) {
      request.log.warn({ err: error.message, code: refusal.code }, `${request.method} ${request.routeOptions.url ?? 'unmatched'}: ${refusal.message}`);
      return reply
        .code(503)
        .header('retry-after', String(refusal.retryAfterSeconds))
        .send({ error: `${refusal.message}; try again in ${refusal.retryAfterSeconds} s`, code: refusal.code } satisfies ErrorBody);
    }
    if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return reply.code(400).send({ error: 'the request body is not valid JSON', code: 'invalid_json' } satisfies ErrorBody);
    }
    // Fastify's other client errors (wrong content type 415, body too large 413, …): their
    // messages describe the request, not this service.
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ error: error.message, code: (error.code ?? 'bad_request').toLowerCase() } satisfies ErrorBody);
    }
    request.log.error({ err: error }, `${request.method} ${request.routeOptions.url ?? 'unmatched'} failed`);
    return reply.code(500).send({ error: 'internal error; the service log has the details under this request id', code: 'internal_error', request_id: String(request.id) } satisfies ErrorBody);
  });
}
