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
 * The messages of one feed stream entry that it carries itself. apply-changes.lua writes one entry
 * per call (the rows' messages built by the host, merge-rows.ts), kind `changes` with `data` =
 * [[kind, data JSON], ...] (a reply's guest row and the counts: one XADD, not one per change) and,
 * when the call fed the version's summary, `summary_seq` = its sequence: the summary's text is in
 * the event's versions hash, not copied into the feed (`summaryOf` adds it, as the last message).
 * Entries written before that carry the text in `summary`. Each message becomes one SSE event, all
 * with the entry's id, so the clients see the events they always saw. An entry of another kind
 * (written before) is one message. The messages of an entry are sent together; a client resuming
 * from its id gets what came after the entry.
 */
export function feedMessages(id: string, fields: Record<string, string>): FeedMessage[] {
  const kind = fields.kind ?? 'change';
  const data = fields.data ?? '{}';
  if (kind !== 'changes') return [{ id, kind, data }];
  const messages = (JSON.parse(data) as [string, string][]).map(([k, d]) => ({ id, kind: k, data: d }));
  if (fields.summary !== undefined) messages.push({ id, kind: 'summary', data: fields.summary });
  return messages;
}

/** The sequence of the version whose summary a feed entry refers to, if it does. */
export const summaryRefOf = (fields: Record<string, string>): string | undefined => fields.summary_seq;

/**
 * The message of a summary a feed entry refers to: its text from the event's versions hash (the feed
 * and that hash live and expire together), or a `reset` if it is gone, so the client reads the event
 * again rather than miss the summary.
 */
export async function summaryOf(redis: RedisClient, eventId: string, id: string, seq: string): Promise<FeedMessage> {
  const text = await redis.hget(hostKeys.event(eventId).versions, `summary:${seq}`);
  return text === null ? { id, kind: 'reset', data: '{}' } : { id, kind: 'summary', data: text };
}

/** Every message of a feed entry, a summary it refers to read from the versions hash. */
export async function readFeedEntry(redis: RedisClient, eventId: string, id: string, fields: Record<string, string>): Promise<FeedMessage[]> {
  const messages = feedMessages(id, fields);
  const seq = summaryRefOf(fields);
  if (seq !== undefined) messages.push(await summaryOf(redis, eventId, id, seq));
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
  /** Summaries being read, by event, sequence and feed entry: the clients of one event share one read. */
  private readonly reading = new Map<string, Promise<FeedMessage>>();

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
          const fields = toFields(flat);
          for (const m of feedMessages(id, fields)) send(m);
          const seq = summaryRefOf(fields);
          if (seq !== undefined) send(await this.summary(eventId, id, seq));
          last = id;
        }
        if (batch.length < 500) break;
      }
    }
    // An entry that refers to a summary is sent once its text is read; the entries after it wait
    // for it (a chain per client), so every client gets the messages in the feed's order.
    let open = true;
    let waiting = 0;
    let chain: Promise<void> = Promise.resolve();
    const stop = this.tail.watch(feed, last, ({ id, fields }) => {
      const seq = summaryRefOf(fields);
      if (seq === undefined && waiting === 0) {
        for (const m of feedMessages(id, fields)) send(m);
        return;
      }
      waiting += 1;
      const summary = seq === undefined ? undefined : this.summary(eventId, id, seq);
      chain = chain
        .then(async () => {
          const messages = feedMessages(id, fields);
          if (summary) messages.push(await summary);
          waiting -= 1;
          if (open) for (const m of messages) send(m);
        })
        // Only a send to a client already gone throws: nothing is left to deliver to it.
        .catch(() => undefined);
    });
    return () => {
      open = false;
      stop();
    };
  }

  /** A summary's message, read once for all the clients that wait for it; a failed read is a `reset`. */
  private summary(eventId: string, id: string, seq: string): Promise<FeedMessage> {
    const key = `${eventId}\n${seq}\n${id}`;
    let reading = this.reading.get(key);
    if (!reading) {
      reading = summaryOf(this.redis, eventId, id, seq)
        .catch((): FeedMessage => ({ id, kind: 'reset', data: '{}' }))
        .finally(() => this.reading.delete(key));
      this.reading.set(key, reading);
    }
    return reading;
  }
}
