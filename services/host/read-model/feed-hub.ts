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
          const f = toFields(flat);
          send({ id, kind: f.kind ?? 'change', data: f.data ?? '{}' });
          last = id;
        }
        if (batch.length < 500) break;
      }
    }
    return this.tail.watch(feed, last, (entry) => send({ id: entry.id, kind: entry.fields.kind ?? 'change', data: entry.fields.data ?? '{}' }));
  }
}
