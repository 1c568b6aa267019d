import type { RedisClient } from '../streams/redis-client.ts';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { hashPages } from '../streams/hash-pages.ts';
import { itemSteps, writeHashInSteps } from '../streams/hash-steps.ts';
import { registryKeys } from '../streams/keys.ts';
import { loadLuaScript, runScript, sharedScriptDir } from '../streams/scripts.ts';

const epochScript = loadLuaScript(join(sharedScriptDir, 'registry-epoch.lua'));
const swapScript = loadLuaScript(join(sharedScriptDir, 'registry-swap.lua'));

/** Life of the registry's epoch marker: bounded, and long enough that it rarely starts anew. */
export const registryEpochTtlMs = 86_400_000;

/** Guests of one agent read per call at most (an agent's hash above this is read with HSCAN). */
const READ_STEP = 1_000;

/** Guests of one agent written per HSET at most (register stages them in such steps). */
export const registerStepGuests = 1_000;

/** HSETs sent per round trip while staging: 10,000 guests (about 1 MB) in flight at most. */
const STEPS_PER_ROUND = 10;

/**
 * Life of a staging hash, renewed by each step written: a registration cut short (its process
 * died) leaves a stage that goes by itself; one that outlived this is found incomplete and staged again.
 */
export const registerStageTtlMs = 60_000;

/** Stagings of one registration before register gives up (each is redone only if its stage expired midway). */
const STAGE_ATTEMPTS = 3;

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
 *   registry:agent:{id}:guests:stage:<token>
 *                                      hash: the same, being written (see register), renamed onto
 *                                      :guests when complete; a short life of its own
 *   registry:agent:{id}:info           hash group, guests, started_at, pid, registration (a token per
 *                                      registration: readers of a large agent check it, see readWhole)
 *   registry:epoch                     string: when the registry (re)started filling (see rebuildingFor)
 * The two hashes are a lease: every heartbeat extends them by `registrationTtlMs`, so the hashes
 * of an agent that died, or whose deregistration was cut short, go by themselves.
 */
export class GuestRegistry {
  private readonly redis: RedisClient;
  private readonly registrationTtlMs: number;
  private readonly stepGuests: number;
  private readonly stageTtlMs: number;

  /** `stepGuests` and `stageTtlMs` are for tests (small steps, a stage that expires quickly). */
  constructor(redis: RedisClient, opts: { registrationTtlMs?: number; stepGuests?: number; stageTtlMs?: number } = {}) {
    this.redis = redis;
    this.registrationTtlMs = Math.max(minRegistrationTtlMs, opts.registrationTtlMs ?? 0);
    this.stepGuests = opts.stepGuests ?? registerStepGuests;
    this.stageTtlMs = opts.stageTtlMs ?? registerStageTtlMs;
  }

  /**
   * Writes the agent's guests and info, then makes it visible in `registry:agents`. The guests go
   * into a staging hash a bounded HSET at a time, not in one MULTI, which Redis runs without
   * answering anyone else (86 ms for a 50,000-guest agent: issue 17, item 4); one short script then
   * swaps the stage in with the info (registry-swap.lua). So a reader sees the agent's old
   * complete set of guests or its new one, never part of either, and the zset entry that makes the
   * agent visible is written after its guests.
   */
  async register(agent: AgentRegistration, now = Date.now()): Promise<void> {
    const registration = randomBytes(8).toString('hex');
    const info = ['group', agent.group, 'guests', agent.guests.length, 'started_at', new Date(now).toISOString(), 'pid', process.pid, 'registration', registration];
    const distinct = new Set(agent.guests.map((g) => g.id)).size;
    const write = async () => {
      for (let attempt = 1; ; attempt++) {
        const stage = registryKeys.agentGuestsStage(agent.agentId, `${registration}-${attempt}`);
        await this.stage(stage, agent.guests);
        const keys = [stage, registryKeys.agentGuests(agent.agentId), registryKeys.agentInfo(agent.agentId)];
        if ((await runScript<number>(this.redis, swapScript, keys, [distinct, this.registrationTtlMs, ...info])) === 1) return;
        if (attempt === STAGE_ATTEMPTS) throw new Error(`registering agent ${agent.agentId}: its staged guests expired before they were complete, ${attempt} times`);
      }
    };
    await Promise.all([write(), this.markEpoch()]);
    await this.redis.zadd(registryKeys.agents, now, agent.agentId);
  }

  /**
   * Writes guests into a staging hash, `this.stepGuests` per HSET, each step renewing the stage's
   * life; a round's steps are built only when it is sent (writeHashInSteps).
   */
  private async stage(stage: string, guests: readonly GuestProfile[]): Promise<void> {
    const steps = itemSteps(guests, this.stepGuests, (g) => [g.id, JSON.stringify({ name: g.name, persona: g.persona, tags: g.tags })]);
    await writeHashInSteps(this.redis, stage, steps, { ttlMs: this.stageTtlMs, stepsPerRound: STEPS_PER_ROUND });
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
    return (await this.guestsOf(agents)).flatMap((a) => a.guests);
  }

  /**
   * Each agent's persona group and guests (sorted by guest id), in the order given, whether or not
   * the agent is alive. A small agent is read with one HGETALL; a larger one (or one whose count is
   * unknown) in steps, as a whole registration (readWhole), so no call is long whatever its size.
   */
  async guestsOf(agents: readonly string[]): Promise<{ agentId: string; group: string; guests: LiveGuest[] }[]> {
    if (agents.length === 0) return [];
    const infoRead = this.redis.pipeline();
    for (const agentId of agents) infoRead.hmget(registryKeys.agentInfo(agentId), 'group', 'guests', 'registration');
    const infos = ((await infoRead.exec()) ?? []).map(([, value]) => (value ?? [null, null, null]) as [string | null, string | null, string | null]);
    // An agent whose count is unknown is read in steps too: it may be of any size.
    const isSmall = agents.map((_, i) => infos[i]![1] !== null && Number(infos[i]![1]) <= READ_STEP);
    const small = agents.filter((_, i) => isSmall[i]);
    const smallRead = this.redis.pipeline();
    for (const agentId of small) smallRead.hgetall(registryKeys.agentGuests(agentId));
    const [smallHashes, largeHashes] = await Promise.all([
      smallRead.exec(),
      Promise.all(
        agents
          .map((agentId, i) => ({ agentId, registration: infos[i]![2], i }))
          .filter(({ i }) => !isSmall[i])
          .map(async ({ agentId, registration }) => [agentId, await this.readWhole(agentId, registration)] as const),
      ),
    ]);
    const hashes = new Map<string, Record<string, string>>(largeHashes);
    small.forEach((agentId, i) => hashes.set(agentId, (smallHashes?.[i]?.[1] ?? {}) as Record<string, string>));
    return agents.map((agentId, i) => {
      const hash = hashes.get(agentId) ?? {};
      const group = infos[i]![0] ?? '';
      return { agentId, group, guests: Object.keys(hash).sort().map((id) => ({ id, agentId, ...readProfile(hash[id]!, id, group) })) };
    });
  }


  /**
   * A large agent's guests, read with HSCAN. The scan takes several calls, and the agent may
   * register again between two of them (a new set renamed in: registry-swap.lua); its info's
   * `registration` tells, and the hash is read again, so the guests returned are one
   * registration's complete set, never parts of two.
   */
  private async readWhole(agentId: string, registration: string | null): Promise<Record<string, string>> {
    let seen = registration;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const hash = await this.readInSteps(registryKeys.agentGuests(agentId));
      const [now] = await this.redis.hmget(registryKeys.agentInfo(agentId), 'registration');
      if (now === seen) return hash;
      seen = now ?? null;
    }
    // Registered again during each of three scans (it hardly ever re-registers; something is
    // amiss): one HGETALL, long for a large agent but one registration's set.
    return this.redis.hgetall(registryKeys.agentGuests(agentId));
  }

  /** A hash read with HSCAN, READ_STEP fields per call. */
  private async readInSteps(key: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for await (const { ids, values } of hashPages(this.redis, key, READ_STEP)) ids.forEach((id, i) => (out[id] = values[i]!));
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
