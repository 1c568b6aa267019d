import type { RedisClient } from '../../shared/streams/redis-client.ts';
import { hostKeys } from '../../shared/streams/keys.ts';
import { toFields } from '../../shared/streams/entry.ts';
import { type StreamTail, compareIds } from './stream-tail.ts';

/** One change of an event's read model as the SSE route sends it. */
export interface FeedMessage {
  id: string;
  kind: string;
  data: string;
}

/**
 * The messages of one feed stream entry. apply-changes.lua writes one entry per call (the rows'
 * messages built by the host, merge-rows.ts), kind `changes` with `data` = [[kind, data JSON], ...]
 * (a reply's guest row and the counts: one XADD, not one per change) and, when the call stored the version's summary, `summary` = its JSON (the last message).
 * Each becomes one SSE event, all with the entry's id, so the clients see the events they always
 * saw. An entry of another kind (written before) is one message. The messages of an entry are sent
 * together; a client resuming from its id gets what came after the entry.
 */
export function feedMessages(id: string, fields: Record<string, string>): FeedMessage[] {
  const kind = fields.kind ?? 'change';
  const data = fields.data ?? '{}';
  if (kind !== 'changes') return [{ id, kind, data }];
  const messages = (JSON.parse(data) as [string, string][]).map(([k, d]) => ({ id, kind: k, data: d }));
  // A version's summary comes last, in a field of its own: escaped into `data` it was the costliest
  // part of applying a large summary (it lists every reply).
  if (fields.summary !== undefined) messages.push({ id, kind: 'summary', data: fields.summary });
  return messages;
}

/**
 * The live changes of one event for its SSE clients: what the feed stream holds after `since`
 * (XRANGE), then what arrives (the shared tail). A `since` older than the feed keeps (it is
 * trimmed) yields a `reset`: the client fetches the whole event again.
 */
export class FeedHub {
  private readonly redis: RedisClient;
  private readonly tail: StreamTail;

  constructor(redis: RedisClient, tail: StreamTail) {
    this.redis = redis;
    this.tail = tail;
  }

  async subscribe(eventId: string, since: string | undefined, send: (m: FeedMessage) => void): Promise<() => void> {
    const feed = hostKeys.event(eventId).feed;
    let last: string;
    if (since === undefined) {
      const [newest] = (await this.redis.xrevrange(feed, '+', '-', 'COUNT', 1)) as [string, string[]][];
      last = newest?.[0] ?? '0-0';
    } else {
      last = since;
      const [oldest] = (await this.redis.xrange(feed, '-', '+', 'COUNT', 1)) as [string, string[]][];
      // Entries after `since` were trimmed away: the client's picture cannot be patched up.
      if (oldest && since !== '0-0' && compareIds(oldest[0], since) > 0 && !(await this.redis.xrange(feed, since, since)).length) {
        send({ id: oldest[0], kind: 'reset', data: '{}' });
        last = oldest[0];
      }
      for (;;) {
        const batch = (await this.redis.xrange(feed, `(${last}`, '+', 'COUNT', 500)) as [string, string[]][];
        for (const [id, flat] of batch) {
          for (const m of feedMessages(id, toFields(flat))) send(m);
          last = id;
        }
        if (batch.length < 500) break;
      }
    }
    return this.tail.watch(feed, last, (entry) => {
      for (const m of feedMessages(entry.id, entry.fields)) send(m);
    });
  }
}
