import type { Redis } from 'ioredis';
import { isCluster, nodesOf, type RedisClient } from './redis-client.ts';

/**
 * A consumer's writes could not be shown to be on enough replicas: the entries they served must
 * not be acknowledged (they stay pending and are handled again; every effect is idempotent).
 * Deliberately not a connection error, which the settler would retry on a new connection: after a
 * failover a WAIT on the new master says nothing about what the dead one had acknowledged.
 */
export class ReplicasUnconfirmed extends Error {
  constructor(detail: string) {
    super(`writes not confirmed on enough replicas: ${detail}`);
    this.name = 'ReplicasUnconfirmed';
  }
}

/**
 * Waits until `replicas` replicas hold every write this client has sent so far, on every master it
 * talks to (WAIT counts per connection, and the client has one connection per master: the one its
 * handlers wrote on). A master the client never wrote to answers at once. Why before an
 * acknowledgement: a master acknowledges a write before its replica has it; if it then dies, the
 * promoted replica lacks the write while the acknowledgement of the entry that caused it (often on
 * another shard) survives, and the effect is lost for good (docs/RELIABILITY.md §7, measured).
 * Nothing to wait for with `replicas` 0.
 */
export async function confirmReplicated(client: RedisClient, replicas: number, timeoutMs: number): Promise<void> {
  if (replicas <= 0) return;
  const masters = nodesOf(client, 'master');
  if (masters.length === 0) throw new ReplicasUnconfirmed('no master connection');
  const known = isCluster(client) ? cachedReplicasPerMaster(client) : undefined;
  const answers = await Promise.all(
    masters.map(async (node) => {
      // A master with fewer replicas than asked (one promoted after a failover, before the old
      // master rejoins) is waited on for those it has: no replica could take over from it with
      // less, and waiting for one it does not have would stop every acknowledgement meanwhile.
      const want = Math.min(replicas, known?.get(nodeKey(node)) ?? replicas);
      if (want === 0) return { node, count: 0, want };
      try {
        return { node, count: await node.wait(want, timeoutMs), want };
      } catch (error) {
        return { node, error: error instanceof Error ? error.message : String(error), want };
      }
    }),
  );
  const short = answers.filter((a) => a.error !== undefined || (a.count ?? 0) < a.want);
  if (short.length > 0) {
    const where = short.map((a) => `${nodeKey(a.node)} ${a.error ?? `${a.count}/${a.want} replicas`}`);
    throw new ReplicasUnconfirmed(where.join('; '));
  }
}

function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/** The slot table has 16,384 rows: read it at most once a second per client, not per acknowledgement. */
const replicaCounts = new WeakMap<object, { at: number; counts: Map<string, number> }>();
function cachedReplicasPerMaster(cluster: object): Map<string, number> {
  const now = Date.now();
  const cached = replicaCounts.get(cluster);
  if (cached && now - cached.at < 1_000) return cached.counts;
  const counts = replicasPerMaster(cluster);
  replicaCounts.set(cluster, { at: now, counts });
  return counts;
}

/**
 * Replicas of each master as the cluster client last learnt them (CLUSTER SLOTS, refreshed every
 * few seconds and after a MOVED): its slot table lists, per slot, the master then its replicas.
 */
function replicasPerMaster(cluster: object): Map<string, number> {
  const slots = (cluster as { slots?: (string[] | undefined)[] }).slots ?? [];
  const replicas = new Map<string, Set<string>>();
  for (const nodes of slots) {
    if (!nodes || nodes.length === 0) continue;
    const [master, ...rest] = nodes as [string, ...string[]];
    const set = replicas.get(master) ?? new Set<string>();
    for (const r of rest) set.add(r);
    replicas.set(master, set);
  }
  return new Map([...replicas].map(([master, set]) => [master, set.size]));
}
