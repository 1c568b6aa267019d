import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../shared/http/errors.ts';
import type { PartsGetter } from '../parts.ts';
import { maySee, principalOf } from '../auth/guard.ts';
import { errors, idParams } from './schemas.ts';

const streamIdPattern = /^\d{1,15}-\d{1,15}$/;

/** Where a client resumes: Last-Event-ID (sent by EventSource on reconnect) wins over ?since. */
function resumeFrom(request: FastifyRequest<{ Querystring: { since?: string } }>): string | undefined {
  const header = request.headers['last-event-id'];
  const since = (typeof header === 'string' && header !== '' ? header : undefined) ?? request.query.since;
  if (since === undefined) return undefined;
  if (!streamIdPattern.test(since)) throw new ApiError(400, 'invalid_field', 'since (or Last-Event-ID) must be a feed id such as 1733212345678-0', 'since');
  return since;
}

/** Open SSE answers: ended at shutdown, or the HTTP server would wait for their clients to leave. */
const open = new Set<ServerResponse>();

/** Ends every open SSE answer (the clients reconnect to another replica and resume with Last-Event-ID). */
export function closeLiveStreams(): void {
  for (const raw of open) raw.end();
  open.clear();
}

/** Starts an SSE answer; returns a writer and registers the clean-up for when the client leaves. */
function openStream(reply: FastifyReply, heartbeatMs: number, onClose: () => void): (event: string, id: string | undefined, data: string) => void {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  raw.write(': connected\n\n');
  open.add(raw);
  const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), heartbeatMs);
  // The response closes when the client goes away (or at shutdown).
  raw.on('close', () => {
    open.delete(raw);
    clearInterval(heartbeat);
    onClose();
  });
  return (event, id, data) => {
    // One data line per line of the payload (JSON has none, but a stray line break must not end the event).
    raw.write(`event: ${event}\n${id ? `id: ${id}\n` : ''}${data.split('\n').map((l) => `data: ${l}`).join('\n')}\n\n`);
  };
}

const sseResponse = { 200: { description: 'Server-Sent Events', content: { 'text/event-stream': { schema: { type: 'string' } } } } };
const sinceQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { since: { type: 'string', pattern: '^\\d{1,15}-\\d{1,15}$', description: 'Resume after this id (Last-Event-ID wins when both are sent).' } },
} as const;

/** The live streams (docs/API.md, "Live streams"). */
export function liveRoutes(app: FastifyInstance, parts: PartsGetter): void {
  app.get<{ Params: { id: string }; Querystring: { since?: string } }>(
    '/api/events/:id/stream',
    {
      config: { access: 'read' },
      schema: {
        tags: ['live'],
        summary: 'Live changes of one event (SSE): guest, counts, status, summary, reset',
        params: idParams,
        querystring: sinceQuery,
        response: { ...sseResponse, ...errors(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const p = parts();
      const since = resumeFrom(request);
      const { id } = request.params;
      const saved = await p.revisions.get(id);
      if (!saved || saved.hostId !== p.config.hostId || !maySee(principalOf(request), saved.owner)) throw new ApiError(404, 'not_found', `no event ${id}`);
      const client: { stop?: () => void; closed: boolean } = { closed: false };
      const send = openStream(reply, p.config.sseHeartbeatMs, () => {
        client.closed = true;
        client.stop?.();
      });
      client.stop = await p.feeds.subscribe(id, since, (m) => send(m.kind, m.id, m.data));
      if (client.closed) client.stop();
    },
  );

  app.get<{ Querystring: { since?: string } }>(
    '/api/flow',
    {
      config: { access: 'operations' },
      schema: {
        tags: ['live'],
        summary: 'The system-wide message flow (SSE): `flow` per entry on every stream, `rates` every 2 s',
        querystring: sinceQuery,
        response: { ...sseResponse, ...errors(400, 503) },
      },
    },
    async (request, reply) => {
      const p = parts();
      const since = resumeFrom(request);
      const client: { stop?: () => void; closed: boolean } = { closed: false };
      const rates = setInterval(() => {
        p.stats
          .collect()
          .then((stats) => send('rates', undefined, JSON.stringify({ streams: stats })))
          .catch(() => undefined);
      }, 2_000);
      const send = openStream(reply, p.config.sseHeartbeatMs, () => {
        client.closed = true;
        clearInterval(rates);
        client.stop?.();
      });
      client.stop = await p.flow.subscribe(since, (id, m) => send('flow', id, JSON.stringify(m)));
      if (client.closed) client.stop();
    },
  );
}
