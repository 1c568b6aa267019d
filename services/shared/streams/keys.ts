// Every Redis key and stream name the system uses is built here and nowhere else.
//
// Stream and group names are the public contract inherited from the original demo
// (event_invitations, guest_responses, event_summaries) and must not change. Keys that a Lua
// script or MULTI touches together share a hash tag so they map to one Redis Cluster slot:
//   - an event's state:            event:{<eventId>}, event:{<eventId>}:invited, ...
//   - a stream and its helpers:    dead_letters:{guest_responses} hashes like guest_responses itself
//     (a key without braces is hashed whole, so "{guest_responses}" and "guest_responses" share a slot)
//   - an agent's inbox:            guest_inbox:{<agentId>}, guest_inbox:{<agentId>}:dead_letters

import { hashTagOf, slotCount, slotOf } from './slots.ts';

export const streams = {
  /** host -> coordinator; group `coordinators`. */
  invitations: 'event_invitations',
  /** guests -> coordinator; group `coordinators`. */
  responses: 'guest_responses',
  /** coordinator -> hosts; one group per host application. */
  summaries: 'event_summaries',
  /** coordinator -> one guest agent; group `guests`. */
  inbox: (agentId: string): string => `guest_inbox:{${agentId}}`,
  /** coordinator -> hosts: the live feed of what happens to events (docs/EVENTS.md); one group per host application. */
  activity: 'event_activity',
  // The priority lane (docs/EVENTS.md): high-priority traffic has streams of its own at every hop,
  // each read by a consumer of its own, so it overtakes a backlog of normal traffic.
  /** host -> coordinator, priority lane; group `coordinators`. */
  invitationsHigh: 'event_invitations:high',
  /** guests -> coordinator, priority lane; group `coordinators`. */
  responsesHigh: 'guest_responses:high',
  /** coordinator -> one guest agent, priority lane (same hash tag as its inbox); group `guests`. */
  inboxHigh: (agentId: string): string => `guest_inbox:{${agentId}}:high`,
} as const;

/**
 * The two hot streams can be split into STREAM_PARTITIONS partitions by event id, so that on Redis
 * Cluster their traffic spreads over the shards. With one partition (the default) they keep their
 * original names, which the original Python host reads and writes. With more, partition i of both
 * is `event_invitations:{p<i>}` / `guest_responses:{p<i>}`: the hash tag is chosen so that partition
 * i's slot lies in the i-th of `count` equal slot ranges (`{p<i>}` when it already does, else
 * `{p<i>.<n>}` with the first n that does), which is where `redis-cli --cluster create` puts the
 * i-th of `count` shards; with as many partitions as shards each shard gets one.
 * The priority lanes are not partitioned (little traffic, read first).
 */
export type PartitionedStream = typeof streams.invitations | typeof streams.responses;

const partitionTagCache = new Map<number, string[]>();

function partitionTags(count: number): string[] {
  let tags = partitionTagCache.get(count);
  if (tags) return tags;
  tags = [];
  for (let i = 0; i < count; i += 1) {
    const low = Math.floor((i * slotCount) / count);
    const high = Math.floor(((i + 1) * slotCount) / count);
    let tag = `p${i}`;
    for (let n = 1; !(slotOf(tag) >= low && slotOf(tag) < high); n += 1) tag = `p${i}.${n}`;
    tags.push(tag);
  }
  partitionTagCache.set(count, tags);
  return tags;
}

/** Every partition of a hot stream, in partition order (the original name alone with one partition). */
export function partitionStreams(base: PartitionedStream, count: number): string[] {
  if (count <= 1) return [base];
  return partitionTags(count).map((tag) => `${base}:{${tag}}`);
}

/** The partition an event's invitations and replies go to: a hash of its id, stable across processes. */
export function partitionOf(eventId: string, count: number): number {
  return count <= 1 ? 0 : slotOf(eventId) % count;
}

/** The partition of `base` that carries one event's traffic. */
export function eventStream(base: PartitionedStream, eventId: string, count: number): string {
  return count <= 1 ? base : partitionStreams(base, count)[partitionOf(eventId, count)]!;
}

/**
 * The stream of a hop for a priority: `event_invitations` (or its event's partition) or
 * `event_invitations:high`, and so on.
 */
export const lanes = {
  invitations: (priority: 'normal' | 'high', eventId = '', partitions = 1): string =>
    priority === 'high' ? streams.invitationsHigh : eventStream(streams.invitations, eventId, partitions),
  responses: (priority: 'normal' | 'high', eventId = '', partitions = 1): string =>
    priority === 'high' ? streams.responsesHigh : eventStream(streams.responses, eventId, partitions),
  inbox: (agentId: string, priority: 'normal' | 'high'): string => (priority === 'high' ? streams.inboxHigh(agentId) : streams.inbox(agentId)),
} as const;

export const groups = {
  coordinators: 'coordinators',
  guests: 'guests',
  /** Each host application reads summaries in a group of its own, so every application sees every summary. */
  host: (hostId: string): string => `host:${hostId}`,
} as const;

export { hashTagOf } from './slots.ts';

/** A key in the same cluster slot as `stream`, for helpers that a script changes with the stream. */
function besideStream(stream: string, suffix: string): string {
  return hashTagOf(stream) === stream ? `${suffix}:{${stream}}` : `${stream}:${suffix}`;
}

/** Entries that could not be processed, with the reason and the original fields. One per source stream. */
export function deadLetterStream(stream: string): string {
  return besideStream(stream, 'dead_letters');
}

/** Marker that makes an XADD happen once per business key (invitation id, delivery key, summary). */
export function onceKey(stream: string, dedupeKey: string): string {
  return `${besideStream(stream, 'once')}:${dedupeKey}`;
}

/**
 * hash: entry id -> handler starts, for entries redelivered often enough to be suspected of
 * crashing their consumer (see StreamConsumer). Only such entries get a field; it is removed when
 * the entry is settled, and the hash expires after the retention.
 */
export function attemptsKey(stream: string): string {
  return besideStream(stream, 'attempts');
}

/**
 * What the id of a guest agent of persona group `group` starts with: its group's Redis user may
 * reach only the inboxes and registrations of ids with this prefix (security/acl.ts). `scope` is
 * `<release fullname>-` in Kubernetes, where the id is the pod name of the Deployment
 * `<fullname>-guest-<group>`, and empty for the default id (services/guest/config.ts).
 */
export const guestAgentIdPrefix = (group: string, scope = ''): string => `${scope}guest-${group}-`;

/** Every agent inbox stream matches this SCAN pattern (their dead-letter streams do not). */
export const inboxPattern = 'guest_inbox:{*}';

/** Every key of every agent inbox matches this SCAN pattern: the inbox, its dead letters, once-markers, attempts. */
export const inboxKeysPattern = 'guest_inbox:{*}*';

/** All dead-letter streams match this pattern (for SCAN in tests, metrics and operations). */
export const deadLetterPattern = '*dead_letters*';

/** State of one event; every key shares the {eventId} tag so one script can change them together (docs/EVENTS.md). */
export const eventKeys = (eventId: string) => {
  const base = `event:{${eventId}}`;
  return {
    /** hash: the applied revision's definition (def:<revision>), status, sequence, counters, deadline */
    event: base,
    /** hash: guestId -> "<agentId>\t<guestName>": the current version's guests, resolved when it opened */
    invited: `${base}:invited`,
    /** hash: guestId -> reply JSON, the latest counted reply of each guest in the current version */
    replies: `${base}:replies`,
    /** hash: reply id -> reply JSON for replies that arrived after the version closed */
    late: `${base}:late`,
    /** hash: <effect number> -> message decided by a script and not yet on its stream (the event's outbox) */
    outbox: `${base}:outbox`,
    /** zset: guestId scored by arrival: accepting guests waiting for a seat */
    waitlist: `${base}:waitlist`,
    /** hash: reply id -> reply JSON for replies to an earlier sequence (kept, not counted) */
    stale: `${base}:stale`,
    /** hash: reply id -> why it was rejected */
    rejected: `${base}:rejected`,
    /** hash: guestId -> why the guest was never asked (its delivery expired) */
    never: `${base}:never`,
    /** set: timers done per sequence (s<seq>:r:<minutes>, s<seq>:sr:<minutes>) */
    done: `${base}:done`,
    /** zset: guestId scored by arrival: seated by their own acceptance, told nothing since (an earlier arrival may take the seat) */
    seated: `${base}:seated`,
    /** hash (bounded life): a large version's guests staged by one coordinator call before the script that opens it; `:d` its request chunks */
    stage: (nonce: string): string => `${base}:stage:${nonce}`,
    /** hash: a fan-out's chunks (n, %09d -> {a, g}) delivered in steps; `r<revision>` a cancellation's guests set aside */
    fanout: (tag: string): string => `${base}:fanout:${tag}`,
  };
};

/** The event's keys in the order its Lua scripts take them (KEYS[1..11], includes/event.lua). */
export const eventKeyList = (eventId: string): string[] => {
  const k = eventKeys(eventId);
  return [k.event, k.invited, k.replies, k.late, k.outbox, k.waitlist, k.stale, k.rejected, k.never, k.done, k.seated];
};

/** zset: eventId scored by when it next needs a tick (publish_at, reminders, deadline, start reminders); every coordinator sweeps it. */
export const timersKey = 'event_timers';

export const registryKeys = {
  /** zset: agentId scored by last heartbeat (ms since epoch). */
  agents: 'registry:agents',
  /** hash: guestId -> guest JSON (name, persona, tags) for one agent. */
  agentGuests: (agentId: string): string => `registry:agent:{${agentId}}:guests`,
  /**
   * hash: a registration's guests being written, a bounded step at a time, before one short script
   * renames it onto agentGuests (registry-swap.lua); expires by itself when the writer dies.
   */
  agentGuestsStage: (agentId: string, token: string): string => `registry:agent:{${agentId}}:guests:stage:${token}`,
  /** hash: agent metadata (group, guests, started_at, pid, host). */
  agentInfo: (agentId: string): string => `registry:agent:{${agentId}}:info`,
  /** string: when the registry (re)started filling (ms, Redis' clock); expires after a day and is set again. */
  epoch: 'registry:epoch',
};

/** Lease so that only one coordinator at a time does retention and clean-up. */
export const janitorLockKey = 'janitor:lock';

/** string (short TTL): each process writes its own now and then to learn whether Redis takes writes (readiness). */
export const writeProbeKey = (consumer: string): string => `health:${consumer}`;

/** Marker (with a TTL) that a host application already handled a summary, against re-printing on replay. */
export const hostSeenKey = (hostId: string, summaryId: string): string => `host:{${hostId}}:seen:${summaryId}`;

/**
 * The host's own keys (docs/EVENTS.md: the host is the organizer and keeps each event's definition).
 * An event's keys share the {<eventId>} tag, like the coordinator's, but under `host:event:` so the
 * two roles never read each other's state. Each expires HOST_EVENT_RETENTION_MS after its last
 * change; so do the two indexes (every save extends them), which the drainer also trims.
 */
export const hostKeys = {
  event: (eventId: string) => {
    const base = `host:event:{${eventId}}`;
    return {
      /** hash: host_id, revision, sequence, status, definition (JSON body), request fingerprint, times */
      definition: base,
      /** hash: revision -> JSON {stream, fields} not yet on its stream (the outbox; save-revision.lua writes it) */
      outbox: `${base}:outbox`,
      /** hash: guest_id -> JSON GuestRow plus the feed entry id that set it (read model) */
      guests: `${base}:guests`,
      /** hash: read model of the versions: `counts:<seq>`, `status:<seq>`, `deadline:<seq>`, `summary:<seq>` (its text), `summary_fed:<seq>` (fed once) */
      versions: `${base}:versions`,
      /** stream: what changed in the read model, read by every replica's SSE fan-out with plain XREAD */
      feed: `${base}:feed`,
    };
  },
  /** zset: this host application's event ids scored by creation time (ms); the list route's index. */
  events: (hostId: string): string => `host:${hostId}:events`,
  /** zset: event ids whose outbox may hold items, scored by when they were last written (the drainer's index). */
  outboxIndex: (hostId: string): string => `host:${hostId}:outbox`,
};

/**
 * The only keys that live without a TTL. Every other key the system writes expires on its own
 * (event state, once-markers, seen-markers, attempts, the janitor's lease, an agent's registration),
 * and each of these is bounded by trimming or clean-up instead. The README's key table and the
 * retention test (test/reliability/retention.test.ts) are checked against this list.
 */
export interface PersistentKey {
  /** As the README names it; `<…>` stands for a part that varies. */
  name: string;
  type: 'stream' | 'zset';
  /** What keeps it from growing without bound. */
  bound: string;
  pattern: RegExp;
}

function persistent(name: string, type: PersistentKey['type'], bound: string): PersistentKey {
  const parts = name.split(/<[^>]+>/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return { name, type, bound, pattern: new RegExp(`^${parts.join('[^{}]+')}$`) };
}

const trimmed = 'entries trimmed after STREAM_RETENTION_MS once every group has read and acknowledged them';
const lettersTrimmed = 'entries trimmed after STREAM_RETENTION_MS, and at most ~100,000';

export const persistentKeys: readonly PersistentKey[] = [
  persistent(streams.invitations, 'stream', trimmed),
  persistent(streams.responses, 'stream', trimmed),
  persistent(`${streams.invitations}:{<partition>}`, 'stream', `${trimmed} (STREAM_PARTITIONS above 1)`),
  persistent(`${streams.responses}:{<partition>}`, 'stream', `${trimmed} (STREAM_PARTITIONS above 1)`),
  persistent('<partitioned stream>:{<partition>}:dead_letters', 'stream', lettersTrimmed),
  persistent(streams.summaries, 'stream', trimmed),
  persistent(streams.invitationsHigh, 'stream', trimmed),
  persistent(streams.responsesHigh, 'stream', trimmed),
  persistent(streams.activity, 'stream', trimmed),
  persistent('dead_letters:{<stream>}', 'stream', lettersTrimmed),
  persistent(streams.inbox('<agentId>'), 'stream', `${trimmed}; deleted AGENT_GC_MS after its agent left`),
  persistent(streams.inboxHigh('<agentId>'), 'stream', `${trimmed}; deleted with its agent's inbox`),
  persistent(deadLetterStream(streams.inbox('<agentId>')), 'stream', `${lettersTrimmed}; deleted once empty after its agent left`),
  persistent(timersKey, 'zset', 'one member per event with a timer ahead, removed when nothing is due any more or its state expired'),
  persistent(registryKeys.agents, 'zset', 'one member per guest agent, removed when it deregisters or after AGENT_GC_MS of silence'),
];

/** True for a key allowed to live without a TTL (one of persistentKeys). */
export function isPersistentKey(key: string): boolean {
  return persistentKeys.some((p) => p.pattern.test(key));
}

/** Identifiers that end up inside key names: no braces, no spaces, no control characters. */
export const identifierPattern = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

/**
 * The stream name as a metric label: per-agent inboxes collapse to `guest_inbox`, so the number of
 * series does not grow with the number of guest agents.
 */
export function streamLabel(stream: string): string {
  if (stream.startsWith('guest_inbox:')) {
    if (stream.includes('dead_letters')) return 'guest_inbox:dead_letters';
    return stream.endsWith('}:high') ? 'guest_inbox:high' : 'guest_inbox';
  }
  return stream;
}
