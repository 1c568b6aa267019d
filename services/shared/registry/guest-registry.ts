import type { RedisClient } from '../streams/redis-client.ts';
import { join } from 'node:path';
import { registryKeys } from '../streams/keys.ts';
import { loadLuaScript, runScript, sharedScriptDir } from '../streams/scripts.ts';

const epochScript = loadLuaScript(join(sharedScriptDir, 'registry-epoch.lua'));

/** Life of the registry's epoch marker: bounded, and long enough that it rarely starts anew. */
export const registryEpochTtlMs = 86_400_000;

/** Guests of one agent read per call at most (an agent's hash above this is read with HSCAN). */
const READ_STEP = 1_000;

/** A simulated guest as the registry knows it. */
export interface GuestProfile {
  id: string;
  name: string;
  /** Persona name (e.g. "Alice Chen", "enthusiast"). */
  persona: string;
  /**
   * What an event's `target_tags` are matched against: lower-case tags (`toTag`), among them the
   * agent's persona group and the guest's persona (`guestTags`).
   */
  tags: string[];
}

export interface AgentRegistration {
  agentId: string;
  /** Persona group the agent belongs to (one per guest Deployment in Kubernetes). */
  group: string;
  guests: GuestProfile[];
}

export interface LiveGuest extends GuestProfile {
  agentId: string;
}

/** How long an agent's registration hashes outlive its last heartbeat, unless a larger value is asked for. */
export const minRegistrationTtlMs = 60_000;

/**
 * A text as a tag: lower case, and every run of characters a tag cannot hold (spaces ...) one `-`,
 * so "Alice Chen" is `alice-chen`. Undefined when nothing is left. Tags are matched as they are
 * stored, so whoever matches them (the coordinator, against an event's target_tags) lower-cases the
 * wanted tags with this function too.
 */
export function toTag(text: string): string | undefined {
  const tag = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9._:@-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 128)
    .replace(/-+$/, '');
  return tag === '' ? undefined : tag;
}

/** A guest's tags: its persona group, its persona, then any others; as tags, each once. */
export function guestTags(group: string, persona: string, others: readonly string[] = []): string[] {
  const tags = [group, persona, ...others].map(toTag).filter((t): t is string => t !== undefined);
  return [...new Set(tags)];
}

/**
 * Guest agents register the guests they host and keep a heartbeat; the coordinator invites the
 * guests whose agent's heartbeat is younger than the TTL. Layout:
 *   registry:agents                    zset agentId -> last heartbeat (ms)
 *   registry:agent:{id}:guests         hash guestId -> {"name","persona","tags"}   (expire, see below;
 *                                      a registration without "tags", from before they existed,
 *                                      reads as tagged with its group and persona)
 *   registry:agent:{id}:info           hash group, guests, started_at, pid, host
 *   registry:epoch                     string: when the registry (re)started filling (see rebuildingFor)
 * The two hashes are a lease: every heartbeat extends them by `registrationTtlMs`, so the hashes
 * of an agent that died, or whose deregistration was cut short, go by themselves.
 */
export class GuestRegistry {
  private readonly redis: RedisClient;
  private readonly registrationTtlMs: number;

  constructor(redis: RedisClient, opts: { registrationTtlMs?: number } = {}) {
    this.redis = redis;
    this.registrationTtlMs = Math.max(minRegistrationTtlMs, opts.registrationTtlMs ?? 0);
  }

  async register(agent: AgentRegistration, now = Date.now()): Promise<void> {
    const guestsKey = registryKeys.agentGuests(agent.agentId);
    const infoKey = registryKeys.agentInfo(agent.agentId);
    const guestArgs: string[] = [];
    for (const g of agent.guests) guestArgs.push(g.id, JSON.stringify({ name: g.name, persona: g.persona, tags: g.tags }));
    // The agent's two hashes share its hash tag and change together; the zset entry that makes it
    // visible is written after them, so a reader never sees a live agent without its guests.
    const tx = this.redis.multi().del(guestsKey);
    for (let i = 0; i < guestArgs.length; i += 2_000) tx.hset(guestsKey, ...guestArgs.slice(i, i + 2_000));
    tx.hset(infoKey, 'group', agent.group, 'guests', agent.guests.length, 'started_at', new Date(now).toISOString(), 'pid', process.pid);
    tx.pexpire(guestsKey, this.registrationTtlMs).pexpire(infoKey, this.registrationTtlMs);
    await Promise.all([tx.exec(), this.markEpoch()]);
    await this.redis.zadd(registryKeys.agents, now, agent.agentId);
  }

  /** Refreshes the heartbeat; false when the registration is gone (Redis lost it) and must be redone. */
  async heartbeat(agentId: string, now = Date.now()): Promise<boolean> {
    const beat = this.redis
      .pipeline()
      .zadd(registryKeys.agents, now, agentId)
      .exists(registryKeys.agentGuests(agentId))
      .pexpire(registryKeys.agentGuests(agentId), this.registrationTtlMs)
      .pexpire(registryKeys.agentInfo(agentId), this.registrationTtlMs);
    const [[[, added], [, exists]]] = (await Promise.all([beat.exec(), this.markEpoch()])) as [[[null, number], [null, number]], number];
    return added === 0 && exists === 1;
  }

  /**
   * How much longer the registry may still be rebuilding, in ms (0: it is complete). A registry
   * whose epoch began less than `ttlMs` ago (Redis came back empty, or the system just started)
   * may lack agents that are alive and register again at their next heartbeat, within `ttlMs`.
   * Sets the epoch if it is missing, so that "rebuilding" ends even when no agent exists at all.
   */
  async rebuildingFor(ttlMs: number): Promise<number> {
    return Math.max(0, ttlMs - (await this.markEpoch()));
  }

  /** Sets the epoch marker if it is missing; returns its age in ms. */
  private async markEpoch(): Promise<number> {
    return Number(await runScript<number>(this.redis, epochScript, [registryKeys.epoch], [registryEpochTtlMs]));
  }

  async deregister(agentId: string): Promise<void> {
    await this.redis.zrem(registryKeys.agents, agentId);
    await this.redis.del(registryKeys.agentGuests(agentId), registryKeys.agentInfo(agentId));
  }

  async liveAgentIds(ttlMs: number, now = Date.now()): Promise<string[]> {
    return this.redis.zrangebyscore(registryKeys.agents, now - ttlMs, '+inf');
  }

  /**
   * Every guest of every live agent, sorted by agent then guest id (a stable order). An agent
   * registered with more than READ_STEP guests is read with HSCAN, READ_STEP per call: one HGETALL
   * of a 50,000-guest agent kept Redis from answering anyone else for 20–100 ms (issue 17, item 4).
   */
  async liveGuests(ttlMs: number, now = Date.now()): Promise<LiveGuest[]> {
    const agents = (await this.liveAgentIds(ttlMs, now)).sort();
    if (agents.length === 0) return [];
    const infoRead = this.redis.pipeline();
    for (const agentId of agents) infoRead.hmget(registryKeys.agentInfo(agentId), 'group', 'guests');
    const infos = ((await infoRead.exec()) ?? []).map(([, value]) => (value ?? [null, null]) as [string | null, string | null]);
    // An agent whose count is unknown is read in steps too: it may be of any size.
    const small = agents.filter((_, i) => infos[i]![1] !== null && Number(infos[i]![1]) <= READ_STEP);
    const smallRead = this.redis.pipeline();
    for (const agentId of small) smallRead.hgetall(registryKeys.agentGuests(agentId));
    const [smallHashes, largeHashes] = await Promise.all([
      smallRead.exec(),
      Promise.all(agents.filter((a) => !small.includes(a)).map(async (agentId) => [agentId, await this.readInSteps(registryKeys.agentGuests(agentId))] as const)),
    ]);
    const hashes = new Map<string, Record<string, string>>(largeHashes);
    small.forEach((agentId, i) => hashes.set(agentId, (smallHashes?.[i]?.[1] ?? {}) as Record<string, string>));
    const guests: LiveGuest[] = [];
    agents.forEach((agentId, i) => {
      const hash = hashes.get(agentId) ?? {};
      const group = infos[i]![0] ?? '';
      for (const id of Object.keys(hash).sort()) guests.push({ id, agentId, ...readProfile(hash[id]!, id, group) });
    });
    return guests;
  }

  /** A hash read with HSCAN, READ_STEP fields per call. */
  private async readInSteps(key: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', READ_STEP);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
    } while (cursor !== '0');
    return out;
  }

  /** Live guests per persona group (for the registered-guests gauge). */
  async liveCountsByGroup(ttlMs: number, now = Date.now()): Promise<Map<string, number>> {
    const agents = await this.liveAgentIds(ttlMs, now);
    const pipeline = this.redis.pipeline();
    for (const agentId of agents) pipeline.hmget(registryKeys.agentInfo(agentId), 'group', 'guests');
    const results = (await pipeline.exec()) ?? [];
    const counts = new Map<string, number>();
    for (const [, value] of results) {
      const [group, guests] = (value ?? []) as [string | null, string | null];
      const name = group ?? 'unknown';
      counts.set(name, (counts.get(name) ?? 0) + Number(guests ?? 0));
    }
    return counts;
  }

  /** Agents whose heartbeat stopped longer ago than `olderThanMs` (clean-up candidates). */
  async expiredAgentIds(olderThanMs: number, now = Date.now()): Promise<string[]> {
    return this.redis.zrangebyscore(registryKeys.agents, '-inf', now - olderThanMs);
  }
}

/** One registered guest's JSON; a damaged registration still counts as a guest, with its id as name. */
function readProfile(json: string, id: string, group: string): Omit<GuestProfile, 'id'> {
  let profile: { name?: unknown; persona?: unknown; tags?: unknown } = {};
  try {
    profile = (JSON.parse(json) ?? {}) as typeof profile;
  } catch {
    /* see above */
  }
  const name = typeof profile.name === 'string' ? profile.name : id;
  const persona = typeof profile.persona === 'string' ? profile.persona : '';
  const tags = Array.isArray(profile.tags) && profile.tags.every((t) => typeof t === 'string') ? (profile.tags as string[]) : guestTags(group, persona);
  return { name, persona, tags };
}
