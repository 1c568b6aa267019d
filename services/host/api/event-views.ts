import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../shared/http/errors.ts';
import { eventTimes } from '../../shared/schema/event-definition.ts';
import { hostKeys } from '../../shared/streams/keys.ts';
import type { PartsGetter } from '../parts.ts';
import { maySee, principalOf } from '../auth/guard.ts';
import { eventView, viewCounts, viewStatus } from '../read-model/event-view.ts';
import type { SavedEvent } from '../publishing/revisions.ts';
import { errors, eventListItem, eventView as eventViewSchema, idParams } from './schemas.ts';

const SCAN_CHUNK = 200;
/** At most this many index members are looked at per page, however selective the filters. */
const SCAN_LIMIT = 10_000;

interface ListQuery {
  status?: 'scheduled' | 'open' | 'closed' | 'cancelled';
  from?: string;
  to?: string;
  limit?: string;
  cursor?: string;
}

/** Where a page ended: the creation time of the last event looked at and how many with that time were. */
interface Cursor {
  s: number;
  n: number;
}

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');
function decodeCursor(text: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString()) as Cursor;
    if (Number.isFinite(c.s) && Number.isInteger(c.n) && c.n >= 0) return c;
  } catch {
    // answered below
  }
  throw new ApiError(400, 'invalid_field', 'cursor is not one this API handed out', 'cursor');
}

function instant(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms)) throw new ApiError(400, 'invalid_field', `${field} must be an ISO 8601 date or date-time`, field);
  return ms;
}

/** When an event starts (ms), for the time filters; undefined without a date. */
function startOf(e: SavedEvent, defaultZone: string): number | undefined {
  const d = e.definition;
  return eventTimes(
    { eventDate: String(d.event_date ?? ''), eventTime: String(d.event_time ?? ''), timezone: String(d.timezone ?? ''), durationMinutes: Number(d.duration_minutes ?? 120) },
    defaultZone,
  )?.start;
}

/** Listing events and looking at one (docs/API.md, "Events"). */
export function eventViewRoutes(app: FastifyInstance, parts: PartsGetter): void {
  app.get<{ Querystring: ListQuery }>(
    '/api/events',
    {
      config: { access: 'read' },
      schema: {
        tags: ['events'],
        summary: 'List this host application’s events, newest first (a host token: only its own)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: ['scheduled', 'open', 'closed', 'cancelled'] },
            from: { type: 'string', description: 'Events starting at or after this ISO 8601 instant.' },
            to: { type: 'string', description: 'Events starting before this ISO 8601 instant.' },
            // Query strings are text and this service coerces nothing: a number written as digits.
            limit: { type: 'string', pattern: '^[0-9]{1,3}$', description: 'Items per page, 1-500 (default 50).' },
            cursor: { type: 'string', description: 'next_cursor of the previous page.' },
          },
        },
        response: {
          200: { type: 'object', required: ['items', 'next_cursor'], properties: { items: { type: 'array', items: eventListItem }, next_cursor: { type: ['string', 'null'] } } },
          ...errors(400, 503),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const from = instant(q.from, 'from');
      const to = instant(q.to, 'to');
      const limit = q.limit === undefined ? 50 : Number(q.limit);
      if (limit < 1 || limit > 500) throw new ApiError(400, 'invalid_field', 'limit must be from 1 to 500', 'limit');
      const p = parts();
      const caller = principalOf(request);
      const index = hostKeys.events(p.config.hostId);
      let cursor: Cursor = q.cursor ? decodeCursor(q.cursor) : { s: Number.POSITIVE_INFINITY, n: 0 };
      const items: Record<string, unknown>[] = [];
      let scanned = 0;
      let exhausted = false;
      while (items.length < limit && scanned < SCAN_LIMIT) {
        const max = Number.isFinite(cursor.s) ? String(cursor.s) : '+inf';
        const raw = await p.redis.zrange(index, max, '-inf', 'BYSCORE', 'REV', 'LIMIT', cursor.n, SCAN_CHUNK, 'WITHSCORES');
        if (raw.length === 0) {
          exhausted = true;
          break;
        }
        const members: { id: string; score: number }[] = [];
        for (let i = 0; i < raw.length; i += 2) members.push({ id: raw[i]!, score: Number(raw[i + 1]) });
        const saved = await p.revisions.getMany(members.map((m) => m.id));
        const wanted = saved.map((e) => {
          // Another application's event (its create was refused after the index was written) is not listed.
          if (!e || e.hostId !== p.config.hostId || !maySee(caller, e.owner)) return false;
          const start = from !== undefined || to !== undefined ? startOf(e, p.config.defaultTimezone) : undefined;
          if (from !== undefined && (start === undefined || start < from)) return false;
          if (to !== undefined && (start === undefined || start >= to)) return false;
          return true;
        });
        const candidates = saved.filter((e, i): e is SavedEvent => wanted[i] === true);
        const reads = await p.readModel.readMany(candidates.map((e) => e.id));
        const byId = new Map(candidates.map((e, i) => [e.id, { e, r: reads[i]! }]));
        for (const m of members) {
          scanned += 1;
          cursor = m.score === cursor.s ? { s: m.score, n: cursor.n + 1 } : { s: m.score, n: 1 };
          const hit = byId.get(m.id);
          if (hit) {
            const status = viewStatus(hit.e, hit.r.versions);
            if (q.status === undefined || q.status === status) {
              const d = hit.e.definition;
              items.push({
                id: hit.e.id,
                event_name: d.event_name,
                ...(d.event_date ? { event_date: d.event_date } : {}),
                ...(d.event_time ? { event_time: d.event_time } : {}),
                ...(d.timezone ? { timezone: d.timezone } : {}),
                status,
                revision: hit.e.revision,
                sequence: hit.e.sequence,
                created_at: hit.e.createdAt,
                updated_at: hit.e.updatedAt,
                counts: viewCounts(hit.e, hit.r.guests, hit.r.versions),
              });
            }
          }
          if (items.length >= limit) break;
        }
        if (raw.length < 2 * SCAN_CHUNK && items.length < limit) {
          exhausted = true;
          break;
        }
      }
      return { items, next_cursor: exhausted ? null : encodeCursor(cursor) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/events/:id',
    {
      config: { access: 'read' },
      schema: {
        tags: ['events'],
        summary: 'One event: definition, status, per-guest state, counts, waitlist, summaries per version',
        params: idParams,
        response: { 200: eventViewSchema, ...errors(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const p = parts();
      const { id } = request.params;
      const saved = await p.revisions.get(id);
      // Another host's event is answered as an unknown one: a host cannot learn which ids others use.
      if (!saved || saved.hostId !== p.config.hostId || !maySee(principalOf(request), saved.owner)) throw new ApiError(404, 'not_found', `no event ${id}`);
      const [read] = await p.readModel.readMany([id]);
      return reply.header('etag', `"${saved.revision}"`).send(eventView(saved, read!));
    },
  );
}
