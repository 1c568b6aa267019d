import type { RedisClient } from '../shared/streams/redis-client.ts';
import type { Logger } from '../shared/logging/logger.ts';
import { GuestRegistry, type LiveGuest } from '../shared/registry/guest-registry.ts';
import { type Targeting, targetsEveryone } from '../shared/schema/event-definition.ts';
import { backoffMs, sleep } from '../shared/util/time.ts';
import type { Resolution } from './event-store.ts';
import type { CoordinatorMetrics } from './metrics.ts';

/**
 * A targeting rule against the guests live now (docs/EVENTS.md, "Targeting"): every live guest by
 * default, or those with any of the tags and/or listed explicitly, minus the excluded ones. Listed
 * ids that no live guest answers to are reported (`unknown_guests`), not dropped silently.
 */
export function resolveTargeting(targeting: Targeting, live: readonly LiveGuest[]): Resolution {
  const exclude = new Set(targeting.exclude);
  if (targetsEveryone(targeting)) return { guests: live.filter((g) => !exclude.has(g.id)), unknown: [] };
  const tags = new Set(targeting.tags);
  const listed = new Set(targeting.guests);
  const guests = live.filter((g) => !exclude.has(g.id) && (listed.has(g.id) || g.tags.some((t) => tags.has(t))));
  const liveIds = new Set(live.map((g) => g.id));
  return { guests, unknown: targeting.guests.filter((id) => !liveIds.has(id)) };
}

/** Reads a stored targeting rule (JSON); an unreadable one targets everyone, as the default does. */
export function parseTargeting(json: string): Targeting {
  try {
    const t = JSON.parse(json) as Partial<Targeting>;
    return { tags: t.tags ?? [], guests: t.guests ?? [], exclude: t.exclude ?? [] };
  } catch {
    return { tags: [], guests: [], exclude: [] };
  }
}

/** The guests live now, from the registry, waiting while it rebuilds. */
export class LiveGuests {
  private readonly registry: GuestRegistry;
  private readonly guestTtlMs: number;
  private readonly metrics: CoordinatorMetrics;
  private readonly log: Logger;

  constructor(deps: { redis: RedisClient; guestTtlMs: number; metrics: CoordinatorMetrics; log: Logger }) {
    this.registry = new GuestRegistry(deps.redis);
    this.guestTtlMs = deps.guestTtlMs;
    this.metrics = deps.metrics;
    this.log = deps.log;
  }

  /**
   * The guests live now. "None" is not taken for an answer while the registry is rebuilding
   * (Redis came back empty, or the system just started: agents that are alive register again
   * within one heartbeat): the registry is asked again with backoff until guests show up or the
   * registry is GUEST_TTL_MS old. With a complete registry, none is none at once.
   */
  async read(): Promise<LiveGuest[]> {
    const ttl = this.guestTtlMs;
    for (let attempt = 1; ; attempt += 1) {
      const guests = await this.registry.liveGuests(ttl);
      if (guests.length > 0) return guests;
      const rebuilding = await this.registry.rebuildingFor(ttl);
      if (rebuilding === 0) return guests;
      if (attempt === 1) {
        this.metrics.registryWaits.inc();
        this.log.info({ waitMs: rebuilding }, 'no guest registered while the guest registry rebuilds; waiting for agents to register again');
      }
      await sleep(Math.min(rebuilding, backoffMs(attempt, 100, 1_000)));
    }
  }
}
