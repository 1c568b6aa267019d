import { type RedisClient, scanStep } from '../shared/streams/redis-client.ts';
import { join } from 'node:path';
import type { StreamSettings } from '../shared/config/stream-settings.ts';
import type { Logger } from '../shared/logging/logger.ts';
import { GuestRegistry } from '../shared/registry/guest-registry.ts';
import { deadLetterStream, hashTagOf, inboxKeysPattern, janitorLockKey, partitionStreams, registryKeys, streams } from '../shared/streams/keys.ts';
import { loadLuaScript, runScript, sharedScriptDir } from '../shared/streams/scripts.ts';
import { compareIds, infoObject, minId, nextId } from '../shared/streams/stream-ids.ts';
import { Periodic } from '../shared/util/periodic.ts';
import { entryIdTime } from '../shared/util/time.ts';

const deleteIdleConsumerScript = loadLuaScript(join(sharedScriptDir, 'delete-idle-consumer.lua'));
const deleteEmptyDeadLettersScript = loadLuaScript(join(import.meta.dirname, 'lua', 'delete-empty-dead-letters.lua'));

/** Trim calls per stream and run at most (~10,000 entries each). */
const maxTrimRounds = 200;

export interface TrimReport {
  stream: string;
  trimmed: number;
  removedConsumers: number;
}

/**
 * Retention and clean-up, done by one coordinator at a time (a lease in Redis):
 * - trims each stream to its retention, but never past an entry still pending in any group nor
 *   past what any group has not read yet (XTRIM MINID min(retention, oldest pending, last read));
 * - trims each dead-letter stream to the retention too;
 * - removes consumers idle for long with nothing pending (replicas that went away);
 * - forgets guest agents silent for long and deletes their inboxes, and deletes the inboxes of
 *   agents that deregistered long ago and, once the retention emptied them, their dead-letter
 *   streams (found a SCAN page per run).
 */
export class Janitor {
  private readonly redis: RedisClient;
  private readonly registry: GuestRegistry;
  private readonly owner: string;
  private readonly settings: StreamSettings;
  private readonly agentGcMs: number;
  private readonly log: Logger;
  private readonly periodic: Periodic;
  private leaseUntil = 0;
  /** SCAN cursor per node (each cluster master is scanned on its own). */
  private readonly inboxCursors = new Map<string, string>();

  constructor(deps: { redis: RedisClient; owner: string; settings: StreamSettings; agentGcMs: number; log: Logger }) {
    this.redis = deps.redis;
    this.registry = new GuestRegistry(deps.redis);
    this.owner = deps.owner;
    this.settings = deps.settings;
    this.agentGcMs = deps.agentGcMs;
    this.log = deps.log;
    this.periodic = new Periodic(deps.settings.janitorIntervalMs, () => this.run().then(() => undefined), (error) =>
      this.log.debug({ err: String(error) }, 'janitor run failed'),
    );
  }

  start(): void {
    this.periodic.start(Math.min(1_000, this.settings.janitorIntervalMs));
  }

  async stop(): Promise<void> {
    await this.periodic.stop();
    // Hand the lease over at once instead of letting it expire.
    if (this.isLeader()) {
      await this.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, janitorLockKey, this.owner).catch(() => undefined);
    }
    this.leaseUntil = 0;
  }

  /** True while this replica holds the lease (it also exports the stream gauges). */
  isLeader(): boolean {
    return Date.now() < this.leaseUntil;
  }

  private async acquire(): Promise<boolean> {
    const ttl = this.settings.janitorIntervalMs * 3;
    const got = await this.redis.set(janitorLockKey, this.owner, 'PX', ttl, 'NX');
    if (got === 'OK' || (await this.redis.get(janitorLockKey)) === this.owner) {
      await this.redis.pexpire(janitorLockKey, ttl);
      this.leaseUntil = Date.now() + ttl - 500;
      return true;
    }
    this.leaseUntil = 0;
    return false;
  }

  async run(now = Date.now()): Promise<TrimReport[]> {
    if (!(await this.acquire())) return [];
    const agents = await this.redis.zrange(registryKeys.agents, '0', '-1');
    const targets = [...partitionStreams(streams.invitations, this.settings.partitions), streams.invitationsHigh, ...partitionStreams(streams.responses, this.settings.partitions), streams.responsesHigh, streams.summaries, streams.activity, ...agents.flatMap((a) => [streams.inbox(a), streams.inboxHigh(a)])];
    const reports: TrimReport[] = [];
    for (const stream of targets) reports.push(await this.trim(stream, now));
    for (const stream of targets) await this.trimBefore(deadLetterStream(stream), this.retentionBoundary(now));
    for (const agentId of await this.registry.expiredAgentIds(this.agentGcMs, now)) {
      await this.registry.deregister(agentId);
      // UNLINK: a long inbox is freed in the background instead of blocking Redis. Both lanes
      // share the agent's hash tag (one slot).
      await this.redis.unlink(streams.inbox(agentId), streams.inboxHigh(agentId));
      this.log.info({ agentId }, 'removed guest agent silent for too long, and its inbox');
    }
    await this.removeOrphanInboxes(new Set(agents), now);
    const trimmed = reports.filter((r) => r.trimmed > 0 || r.removedConsumers > 0);
    if (trimmed.length > 0) this.log.debug({ trimmed }, 'retention applied');
    return reports;
  }

  async trim(stream: string, now = Date.now()): Promise<TrimReport> {
    const report: TrimReport = { stream, trimmed: 0, removedConsumers: 0 };
    let groups: Record<string, unknown>[];
    try {
      groups = ((await this.redis.xinfo('GROUPS', stream)) as unknown[][]).map(infoObject);
    } catch (error) {
      if (error instanceof Error && error.message.includes('no such key')) return report;
      throw error;
    }
    let boundary = this.retentionBoundary(now);
    for (const group of groups) {
      const name = String(group.name);
      // Everything up to the last entry the group was given may go (unless still pending); nothing after it.
      boundary = minId(boundary, nextId(String(group['last-delivered-id'])));
      if (Number(group.pending) > 0) {
        const [, oldest] = (await this.redis.xpending(stream, name)) as [number, string | null, string | null, unknown];
        if (oldest) boundary = minId(boundary, oldest);
      }
      report.removedConsumers += await this.removeIdleConsumers(stream, name);
    }
    report.trimmed = await this.trimBefore(stream, boundary);
    return report;
  }

  private retentionBoundary(now: number): string {
    return `${Math.max(0, now - this.settings.retentionMs)}-0`;
  }

  /** Removes the entries of `stream` older than `boundary`; returns how many. */
  private async trimBefore(stream: string, boundary: string): Promise<number> {
    if (compareIds(boundary, '0-1') <= 0) return 0;
    let trimmed = 0;
    // An approximate trim removes at most 10,000 entries per call (Redis' default LIMIT): call
    // again while it keeps finding whole nodes to drop, so a stream faster than 10,000 entries
    // per janitor run still shrinks, in steps that never hold Redis up for long.
    for (let round = 0; round < maxTrimRounds; round += 1) {
      const n = Number(await this.redis.xtrim(stream, 'MINID', '~', boundary));
      trimmed += n;
      if (n === 0) {
        // Only whole nodes go with `~`: the old entries of the last, partly old node (at most
        // stream-node-max-entries, 100 by default) would stay for good on a quiet stream. Exact
        // now, cheap with so few left.
        return trimmed + Number(await this.redis.xtrim(stream, 'MINID', boundary));
      }
    }
    return trimmed;
  }

  /**
   * An agent that stopped cleanly deregistered: its inbox is no longer among the trimmed ones and
   * would stay forever (agent ids change with every pod). It goes once nothing was delivered to it
   * and nobody read it for AGENT_GC_MS, like the inbox of an agent that went silent. Its
   * dead-letter stream is kept for the retention like any other, then deleted once it is empty and
   * the inbox is gone. Returns how many streams were deleted.
   */
  async removeOrphanInboxes(registered: Set<string>, now = Date.now()): Promise<number> {
    const keys = await scanStep(this.redis, this.inboxCursors, ['MATCH', inboxKeysPattern, 'COUNT', 1_000, 'TYPE', 'stream']);
    let removed = 0;
    for (const key of keys) {
      const agentId = hashTagOf(key);
      if (registered.has(agentId)) continue;
      const inbox = streams.inbox(agentId);
      const high = streams.inboxHigh(agentId);
      if (key === high) {
        // The priority lane goes with its inbox (below) while that exists. Alone, it was created
        // again by a reader of the agent after its inbox went (an agent shutting down re-creates
        // its group, MKSTREAM, on NOGROUP), and would stay forever: it goes by the same rule.
        if ((await this.redis.exists(inbox)) === 1 || !(await this.unused(key, now))) continue;
        await this.redis.unlink(key);
        removed += 1;
        this.log.info({ agentId }, 'removed the priority lane of a guest agent that left long ago');
        continue;
      }
      if (key !== inbox) {
        if (key !== deadLetterStream(inbox)) continue;
        await this.trimBefore(key, this.retentionBoundary(now));
        // Empty and inbox gone, checked and deleted in one step: a dead letter written meanwhile stays.
        const deleted = await runScript<number>(this.redis, deleteEmptyDeadLettersScript, [key, inbox], []);
        if (deleted === 1) this.log.info({ agentId }, 'removed the emptied dead-letter stream of a guest agent that left');
        removed += deleted;
        continue;
      }
      if (!(await this.unused(key, now))) continue;
      // The agent's priority lane was created with its inbox and goes with it.
      await this.redis.unlink(key, high);
      removed += 1;
      this.log.info({ agentId }, 'removed the inbox of a guest agent that left long ago');
    }
    return removed;
  }

  /** Whether an agent's stream still exists and nothing was added to it or read from it for AGENT_GC_MS. */
  private async unused(key: string, now: number): Promise<boolean> {
    // Gone meanwhile (its inbox's removal took the lane found on the same SCAN page).
    if ((await this.redis.exists(key)) === 0) return false;
    const last = String(infoObject((await this.redis.xinfo('STREAM', key)) as unknown[])['last-generated-id']);
    if (entryIdTime(last) > now - this.agentGcMs) return false;
    for (const group of ((await this.redis.xinfo('GROUPS', key)) as unknown[][]).map(infoObject)) {
      const consumers = ((await this.redis.xinfo('CONSUMERS', key, String(group.name))) as unknown[][]).map(infoObject);
      if (consumers.some((c) => Number(c.idle) < this.agentGcMs)) return false;
    }
    return true;
  }

  private async removeIdleConsumers(stream: string, group: string): Promise<number> {
    const consumers = ((await this.redis.xinfo('CONSUMERS', stream, group)) as unknown[][]).map(infoObject);
    let removed = 0;
    for (const c of consumers) {
      if (Number(c.pending) === 0 && Number(c.idle) > this.settings.consumerIdleMs) {
        // DELCONSUMER drops the consumer's pending entries too: the script checks again, atomically.
        removed += await runScript<number>(this.redis, deleteIdleConsumerScript, [stream], [group, String(c.name), this.settings.consumerIdleMs]);
      }
    }
    return removed;
  }
}
