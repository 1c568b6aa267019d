import type { RedisClient } from '../shared/streams/redis-client.ts';
import { Gauge } from 'prom-client';
import { GuestRegistry } from '../shared/registry/guest-registry.ts';
import { deadLetterStream, groups as groupNames, partitionStreams, streamLabel, streams, timersKey } from '../shared/streams/keys.ts';
import { entryIdTime } from '../shared/util/time.ts';
import { infoObject } from '../shared/streams/stream-ids.ts';
import type { Metrics } from '../shared/telemetry/metrics.ts';

interface GroupStats {
  stream: string;
  group: string;
  lag: number;
  pending: number;
  oldestPendingAgeSeconds: number;
  consumers: number;
}

interface Snapshot {
  lengths: Map<string, number>;
  groups: GroupStats[];
  liveGuests: Map<string, number>;
  openEvents: number;
}

/**
 * Stream gauges read from XINFO at scrape time. Only the coordinator replica holding the janitor
 * lease reports them (the others report none), so replicas do not duplicate the series. Per-agent
 * inboxes are summed into stream="guest_inbox" (oldest pending age: the maximum).
 */
export class StreamStats {
  private readonly redis: RedisClient;
  private readonly registry: GuestRegistry;
  private readonly guestTtlMs: number;
  private readonly active: () => boolean;
  private cached: { at: number; value: Promise<Snapshot> } | undefined;

  private readonly partitions: number;

  constructor(deps: { redis: RedisClient; metrics: Metrics; guestTtlMs: number; active: () => boolean; partitions?: number }) {
    this.redis = deps.redis;
    this.partitions = deps.partitions ?? 1;
    this.registry = new GuestRegistry(deps.redis);
    this.guestTtlMs = deps.guestTtlMs;
    this.active = deps.active;
    const registers = [deps.metrics.registry];
    const snapshot = () => this.snapshot();
    const gauge = <L extends string>(name: string, help: string, labelNames: L[], fill: (g: Gauge<L>, s: Snapshot) => void) =>
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          this.reset();
          const current = await snapshot();
          if (current) fill(this, current);
        },
      });
    gauge('event_planner_stream_length', 'Entries in a stream (XLEN).', ['stream'], (g, s) => {
      for (const [stream, length] of s.lengths) g.set({ stream }, length);
    });
    gauge('event_planner_stream_group_lag', 'Entries a group has not read yet (XINFO GROUPS lag).', ['stream', 'group'], (g, s) => {
      for (const x of s.groups) g.set({ stream: x.stream, group: x.group }, x.lag);
    });
    gauge('event_planner_stream_group_pending', 'Entries read but not acknowledged (XPENDING).', ['stream', 'group'], (g, s) => {
      for (const x of s.groups) g.set({ stream: x.stream, group: x.group }, x.pending);
    });
    gauge(
      'event_planner_stream_group_oldest_pending_age_seconds',
      'Age of the oldest unacknowledged entry (0 when none).',
      ['stream', 'group'],
      (g, s) => {
        for (const x of s.groups) g.set({ stream: x.stream, group: x.group }, x.oldestPendingAgeSeconds);
      },
    );
    gauge('event_planner_stream_group_consumers', 'Consumers registered in a group.', ['stream', 'group'], (g, s) => {
      for (const x of s.groups) g.set({ stream: x.stream, group: x.group }, x.consumers);
    });
    gauge('event_planner_guests_live', 'Registered guests with a live heartbeat, by persona group.', ['persona_group'], (g, s) => {
      for (const [group, count] of s.liveGuests) g.set({ persona_group: group }, count);
    });
    gauge('event_planner_events_open', 'Events waiting for replies or their deadline.', [], (g, s) => {
      g.set(s.openEvents);
    });
  }

  /** One XINFO round per second at most, however many gauges and scrapes ask. */
  private async snapshot(): Promise<Snapshot | undefined> {
    if (!this.active() || this.redis.status !== 'ready') return undefined;
    const now = Date.now();
    if (!this.cached || now - this.cached.at > 1_000) {
      this.cached = { at: now, value: this.read(now) };
      this.cached.value.catch(() => {
        this.cached = undefined;
      });
    }
    return this.cached.value.catch(() => undefined);
  }

  private async read(now: number): Promise<Snapshot> {
    const agents = await this.registry.liveAgentIds(this.guestTtlMs, now);
    // The priority lanes and the live feed are watched like the main streams (their lag is the priority lane's lag).
    const main = [...partitionStreams(streams.invitations, this.partitions), ...partitionStreams(streams.responses, this.partitions), streams.summaries, streams.invitationsHigh, streams.responsesHigh, streams.activity];
    const all = [...main, ...agents.flatMap((a) => [streams.inbox(a), streams.inboxHigh(a)])];
    const dlqs = main.map((s) => deadLetterStream(s));
    const pipeline = this.redis.pipeline();
    for (const stream of all) pipeline.xlen(stream).xinfo('GROUPS', stream);
    for (const dlq of dlqs) pipeline.xlen(dlq);
    const results = (await pipeline.exec()) ?? [];

    const lengths = new Map<string, number>();
    const groupRows: { stream: string; label: string; group: Record<string, unknown> }[] = [];
    all.forEach((stream, i) => {
      const label = i < main.length ? stream : streamLabel(stream);
      const length = Number(results[i * 2]?.[1] ?? 0);
      lengths.set(label, (lengths.get(label) ?? 0) + length);
      const [error, info] = results[i * 2 + 1] ?? [];
      if (error || !Array.isArray(info)) return;
      for (const row of info as unknown[][]) groupRows.push({ stream, label, group: infoObject(row) });
    });
    dlqs.forEach((dlq, k) => lengths.set(dlq, Number(results[all.length * 2 + k]?.[1] ?? 0)));

    // Oldest pending entry per group with anything pending (XPENDING summary form).
    const withPending = groupRows.filter((r) => Number(r.group.pending) > 0);
    const pendingPipeline = this.redis.pipeline();
    for (const r of withPending) pendingPipeline.xpending(r.stream, String(r.group.name));
    const pendingResults = withPending.length > 0 ? ((await pendingPipeline.exec()) ?? []) : [];
    const oldest = new Map<(typeof groupRows)[number], string>();
    withPending.forEach((r, i) => {
      const summary = pendingResults[i]?.[1] as [number, string | null] | undefined;
      if (summary?.[1]) oldest.set(r, summary[1]);
    });

    const groups = new Map<string, GroupStats>();
    for (const row of groupRows) {
      const group = row.label.startsWith('guest_inbox') ? groupNames.guests : String(row.group.name);
      const key = `${row.label}\u0000${group}`;
      const stats = groups.get(key) ?? { stream: row.label, group, lag: 0, pending: 0, oldestPendingAgeSeconds: 0, consumers: 0 };
      stats.lag += Number(row.group.lag ?? 0) || 0;
      stats.pending += Number(row.group.pending ?? 0);
      stats.consumers += Number(row.group.consumers ?? 0);
      const first = oldest.get(row);
      if (first) stats.oldestPendingAgeSeconds = Math.max(stats.oldestPendingAgeSeconds, Math.max(0, now - entryIdTime(first)) / 1000);
      groups.set(key, stats);
    }
    const liveGuests = await this.registry.liveCountsByGroup(this.guestTtlMs, now);
    const openEvents = await this.redis.zcard(timersKey);
    return { lengths, groups: [...groups.values()], liveGuests, openEvents };
  }
}
