import type { RedisClient } from '../../shared/streams/redis-client.ts';
import { deadLetterStream, streams } from '../../shared/streams/keys.ts';
import { type StreamTail, type TailEntry, compareIds } from './stream-tail.ts';

/** How often a flow client's set of streams is brought up to date (agents come and go). */
const REFRESH_MS = 5_000;
import { allStreams } from './stream-stats.ts';

export type Hop = 'invitation' | 'delivery' | 'reply' | 'summary' | 'activity' | 'dead_letter';
type Role = 'host' | 'coordinator' | 'guest';

/** One message moving across the system (docs/API.md, GET /api/flow). */
export interface FlowMessage {
  stream: string;
  hop: Hop;
  from: Role;
  to: Role | 'dead_letters';
  event_id?: string;
  guest_id?: string;
  type?: string;
  at: number;
}

const hopOf = (stream: string): { hop: Hop; from: Role; to: Role } | undefined => {
  if (stream.startsWith(streams.invitations)) return { hop: 'invitation', from: 'host', to: 'coordinator' };
  if (stream.startsWith(streams.responses)) return { hop: 'reply', from: 'guest', to: 'coordinator' };
  if (stream.startsWith('guest_inbox:')) return { hop: 'delivery', from: 'coordinator', to: 'guest' };
  if (stream === streams.summaries) return { hop: 'summary', from: 'coordinator', to: 'host' };
  if (stream === streams.activity) return { hop: 'activity', from: 'coordinator', to: 'host' };
  return undefined;
};

/** An entry as a flow message (what it is about, not its content). */
export function flowMessage(entry: TailEntry): FlowMessage | undefined {
  const f = entry.fields;
  const at = Number(entry.id.split('-')[0]);
  if (entry.stream.includes('dead_letters')) {
    const source = dead.get(entry.stream);
    return { stream: entry.stream, hop: 'dead_letter', from: source ? (hopOf(source)?.to ?? 'coordinator') : 'guest', to: 'dead_letters', ...(f.id || f.invitation_id ? { event_id: f.invitation_id ?? f.id } : {}), type: (f.dead_letter_reason ?? '').split(':')[0], at };
  }
  const hop = hopOf(entry.stream);
  if (!hop) return undefined;
  const eventId = hop.hop === 'invitation' ? f.id : hop.hop === 'activity' ? activityEvent(f.events) : f.invitation_id;
  let guest = f.guest_id;
  if (!guest && f.guests) {
    try {
      const ids = JSON.parse(f.guests) as unknown;
      if (Array.isArray(ids) && ids.length === 1 && typeof ids[0] === 'string') guest = ids[0];
    } catch {
      // not a list: no guest named
    }
  }
  const type = hop.hop === 'invitation' ? (f.method ?? 'REQUEST') : hop.hop === 'summary' ? f.reason : (f.type ?? f.response ?? f.kind);
  return { stream: entry.stream, ...hop, ...(eventId ? { event_id: eventId } : {}), ...(guest ? { guest_id: guest } : {}), ...(type ? { type } : {}), at };
}

const dead = new Map<string, string>();

/** The event an activity entry is about, when it is about one. */
function activityEvent(events: string | undefined): string | undefined {
  try {
    const list = JSON.parse(events ?? '[]') as { invitation_id?: unknown }[];
    return list.length === 1 && typeof list[0]!.invitation_id === 'string' ? list[0]!.invitation_id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The system-wide message flow for SSE clients: every stream the roles write (the fixed ones, each
 * live agent's inboxes, their dead letters) followed with plain XREAD from `since` (an entry id;
 * stream ids share Redis' clock, so one id resumes every stream at the same moment).
 */
export class FlowHub {
  private readonly redis: RedisClient;
  private readonly tail: StreamTail;
  private readonly guestTtlMs: number;

  private readonly partitions: number;

  constructor(redis: RedisClient, tail: StreamTail, guestTtlMs: number, partitions = 1) {
    this.partitions = partitions;
    this.redis = redis;
    this.tail = tail;
    this.guestTtlMs = guestTtlMs;
  }

  /** Redis' clock as a stream id: "from now on". */
  async now(): Promise<string> {
    const [seconds, micros] = await this.redis.time();
    return `${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)}-0`;
  }

  async subscribe(since: string | undefined, send: (id: string, m: FlowMessage) => void): Promise<() => void> {
    // Entries of two streams may share an id (each stream numbers its own entries within a
    // millisecond): a resumed client gets every entry with its Last-Event-ID's id again rather
    // than miss the ones on other streams (at least once; the last one it saw comes twice).
    const from = since !== undefined ? justBefore(since) : await this.now();
    let last = from;
    const stops = new Map<string, () => void>();
    const follow = async () => {
      const sources = await allStreams(this.redis, this.guestTtlMs, this.partitions);
      for (const source of sources) {
        const letters = deadLetterStream(source);
        dead.set(letters, source);
        for (const stream of [source, letters]) {
          if (stops.has(stream)) continue;
          // A stream that appears later (a new agent's inbox) is followed from what this client saw last.
          stops.set(
            stream,
            this.tail.watch(stream, last, (entry) => {
              const message = flowMessage(entry);
              if (!message) return;
              if (compareIds(entry.id, last) > 0) last = entry.id;
              send(entry.id, message);
            }),
          );
        }
      }
    };
    await follow();
    const refresh = setInterval(() => void follow().catch(() => undefined), REFRESH_MS);
    return () => {
      clearInterval(refresh);
      for (const stop of stops.values()) stop();
    };
  }
}

/** The id just before `id` in stream order, so that reading "after" it includes `id` itself. */
export function justBefore(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  if (BigInt(seq) > 0n) return `${ms}-${BigInt(seq) - 1n}`;
  return BigInt(ms) > 0n ? `${BigInt(ms) - 1n}-18446744073709551615` : '0-0';
}
