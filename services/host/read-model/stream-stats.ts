import type { RedisClient } from '../../shared/streams/redis-client.ts';
import { GuestRegistry } from '../../shared/registry/guest-registry.ts';
import { deadLetterStream, partitionStreams, streams } from '../../shared/streams/keys.ts';
import { infoObject } from '../../shared/streams/stream-ids.ts';
import { entryIdTime } from '../../shared/util/time.ts';

export interface GroupStat {
  name: string;
  consumers: number;
  lag: number;
  pending: number;
  oldest_pending_ms: number;
}

export interface StreamStat {
  stream: string;
  length: number;
  groups: GroupStat[];
  dead_letters: number;
  rate_per_s?: number;
}

/** The fixed streams, in the order messages travel (each partition of a partitioned one). */
export const fixedStreams = (partitions = 1): string[] => [
  ...partitionStreams(streams.invitations, partitions),
  streams.invitationsHigh,
  ...partitionStreams(streams.responses, partitions),
  streams.responsesHigh,
  streams.summaries,
  streams.activity,
];

/** Every stream an operator looks at: the fixed ones and each live agent's inboxes. */
export async function allStreams(redis: RedisClient, guestTtlMs: number, partitions = 1): Promise<string[]> {
  const agents = await new GuestRegistry(redis).liveAgentIds(guestTtlMs);
  return [...fixedStreams(partitions), ...agents.sort().flatMap((a) => [streams.inbox(a), streams.inboxHigh(a)])];
}

/**
 * Length, groups (consumers, lag, pending, age of the oldest pending entry) and dead letters per
 * stream, in two pipelined round trips; the rate comes from XINFO's entries-added between calls.
 */
export class StreamStats {
  private readonly redis: RedisClient;
  private readonly previous = new Map<string, { added: number; at: number }>();

  constructor(redis: RedisClient) {
    this.redis = redis;
  }

  async collect(names: string[], now = Date.now()): Promise<StreamStat[]> {
    const first = this.redis.pipeline();
    for (const s of names) {
      first.xinfo('STREAM', s);
      first.xinfo('GROUPS', s);
      first.xlen(deadLetterStream(s));
    }
    const results = (await first.exec()) ?? [];
    const stats: StreamStat[] = [];
    const pendingOf: { stat: GroupStat; stream: string }[] = [];
    names.forEach((stream, i) => {
      const [infoErr, info] = results[3 * i]!;
      const [, groups] = results[3 * i + 1]!;
      const [, letters] = results[3 * i + 2]!;
      // A stream that does not exist (yet): nothing in it.
      const fields = infoErr ? {} : infoObject(info as unknown[]);
      const stat: StreamStat = { stream, length: Number(fields.length ?? 0), groups: [], dead_letters: Number(letters ?? 0) };
      const added = Number(fields['entries-added'] ?? 0);
      const before = this.previous.get(stream);
      if (before && now > before.at) stat.rate_per_s = Math.max(0, ((added - before.added) * 1000) / (now - before.at));
      this.previous.set(stream, { added, at: now });
      for (const g of (Array.isArray(groups) ? groups : []) as unknown[][]) {
        const gf = infoObject(g);
        const group: GroupStat = { name: String(gf.name), consumers: Number(gf.consumers ?? 0), lag: Number(gf.lag ?? 0), pending: Number(gf.pending ?? 0), oldest_pending_ms: 0 };
        stat.groups.push(group);
        if (group.pending > 0) pendingOf.push({ stat: group, stream });
      }
      stats.push(stat);
    });
    if (pendingOf.length > 0) {
      const second = this.redis.pipeline();
      for (const { stat, stream } of pendingOf) second.xpending(stream, stat.name);
      const pending = (await second.exec()) ?? [];
      pendingOf.forEach(({ stat }, i) => {
        const summary = pending[i]![1] as [number, string | null] | undefined;
        const oldest = summary?.[1];
        if (oldest) stat.oldest_pending_ms = Math.max(0, now - entryIdTime(oldest));
      });
    }
    return stats;
  }
}
