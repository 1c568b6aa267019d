import { type ChainableCommander, Cluster, type ClusterOptions, type Command, Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/redis-config.ts';

/**
 * What every role talks to: one Redis (the default) or a Redis Cluster (REDIS_CLUSTER_NODES). Both
 * have the same command API; code that needs a node (SCAN, SCRIPT LOAD, a socket) asks `nodesOf`.
 */
export type RedisClient = Redis | Cluster;

/** Options every connection shares, single node or cluster (TLS and ACL users go here too). */
function connectionOptions(config: RedisConfig, name: string): RedisOptions {
  return {
    username: config.username,
    password: config.password,
    tls: config.tls ? { ...config.tlsOptions } : undefined,
    connectionName: name,
    lazyConnect: true,
    // Fail fast: a command issued while disconnected is rejected at once, and nothing sent before
    // a disconnect is silently sent again (a resent XADD would be a duplicate entry).
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    keepAlive: 10_000,
    connectTimeout: 5_000,
    // No `socketTimeout`: its timer outlives the socket it was armed for and drops the next one
    // (ioredis#2147). Every client gets a SocketWatchdog instead (socket-watchdog.ts).
  };
}

const retryStrategy = (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 6), 3_000) + Math.floor(Math.random() * 100);

/**
 * The one place connections are made. `autoPipelining`: commands issued in the same tick go out in
 * one write (the shared command connection); off for blocking readers, where a BLOCK would hold up
 * whatever was batched behind it.
 */
export function createRedisClient(config: RedisConfig, name: string, opts: { autoPipelining: boolean }): RedisClient {
  const options = connectionOptions(config, name);
  if (config.clusterNodes === undefined) {
    return new Redis({ ...options, host: config.host, port: config.port, db: config.db, retryStrategy, enableAutoPipelining: opts.autoPipelining });
  }
  const clusterOptions: ClusterOptions = {
    redisOptions: options,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableAutoPipelining: opts.autoPipelining,
    // The automatic pipelining routes by the first key ioredis knows of; it knows none for these
    // (see keyContainerCommand), so they go on their own, routed by SlotSafeCluster.sendCommand.
    autoPipeliningIgnoredCommands: [...containerCommands],
    // Reads go to masters: a replica lags, and every read here decides a write.
    scaleReads: 'master',
    // Through a failover: MOVED/TRYAGAIN/CLUSTERDOWN and a lost node are retried after the slots
    // are fetched again, for a bounded time, then the caller's own retry takes over.
    maxRedirections: 16,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    retryDelayOnMoved: 0,
    slotsRefreshTimeout: 2_000,
    // A backstop only: MOVED, CLUSTERDOWN and a closed connection fetch the slots at once. Each
    // refresh opens a connection and walks all 16,384 slots twice, in every Cluster client (the
    // command client and one per blocking reader): every 5 s it was ~5 % of a coordinator's CPU
    // beside its own code (docs/BENCHMARKS.md, cluster scenario).
    slotsRefreshInterval: 20_000,
    clusterRetryStrategy: retryStrategy,
  };
  return new SlotSafeCluster(config.clusterNodes, clusterOptions);
}

/** The Redis connections a client consists of: itself, or every node it knows of a cluster. */
export function nodesOf(client: RedisClient, role: 'all' | 'master' = 'all'): Redis[] {
  return client instanceof Cluster ? client.nodes(role) : [client];
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

type Exec = ChainableCommander['exec'];

/** Stream commands with a subcommand before the key, for which ioredis finds no key. */
const containerCommands = new Set(['xgroup', 'xinfo']);

/**
 * ioredis' command table gives XGROUP and XINFO no key (the key follows the subcommand), so on a
 * cluster it sends them to a random node, which answers MOVED (and a pipeline holding one fails).
 * Naming the key before the command is routed sends it to the node that owns the stream.
 */
function keyContainerCommand(command: Command): void {
  const c = command as unknown as { keys?: unknown[]; name: string; args: unknown[] };
  if (c.keys === undefined && containerCommands.has(c.name) && c.args.length > 1 && String(c.args[0]).toUpperCase() !== 'HELP') c.keys = [c.args[1]];
}

/**
 * A Cluster whose pipelines may mix keys of any slots. ioredis refuses a pipeline whose keys are not
 * all served by one node; the code batches freely (replies of many events, messages to many
 * inboxes), so a pipeline that spans nodes is split here, one pipeline per node, run in parallel,
 * and the results put back in the order the commands were queued. A pipeline was never atomic, so
 * splitting it changes nothing callers rely on. MULTI is not split: a transaction must stay in one
 * slot, and ioredis says so if it does not.
 */
export class SlotSafeCluster extends Cluster {
  // The automatic pipelining calls this too; its pipelines already hold one node's commands.
  override sendCommand(...args: Parameters<Cluster['sendCommand']>): ReturnType<Cluster['sendCommand']> {
    keyContainerCommand(args[0]);
    return super.sendCommand(...args);
  }

  override pipeline(commands?: unknown[][]): ChainableCommander {
    const pipeline = this.keyedPipeline(commands);
    const exec = pipeline.exec.bind(pipeline);
    const split: Exec = async (callback) => {
      const queue = (pipeline as unknown as { _queue: Command[] })._queue;
      const groups = new Map<string, number[]>();
      for (let i = 0; i < queue.length; i += 1) {
        const slot = queue[i]!.getSlot();
        const key = slot === null || slot === undefined ? 'any' : (this.slots[slot]?.join(',') ?? `slot:${slot}`);
        const group = groups.get(key);
        if (group) group.push(i);
        else groups.set(key, [i]);
      }
      // The automatic pipelining passes a callback and groups by node itself: leave it alone.
      if (callback || groups.size <= 1) return exec(callback);
      const results: [Error | null, unknown][] = new Array(queue.length);
      await Promise.all(
        [...groups.values()].map(async (indexes) => {
          const part = this.keyedPipeline();
          const queued = part as unknown as Record<string, (...args: unknown[]) => unknown>;
          for (const i of indexes) queued[queue[i]!.name]!(...queue[i]!.args);
          try {
            const partResults = (await part.exec()) ?? [];
            indexes.forEach((i, k) => (results[i] = partResults[k] ?? [new Error('no reply in a split pipeline'), null]));
          } catch (error) {
            for (const i of indexes) results[i] = [error instanceof Error ? error : new Error(String(error)), null];
          }
        }),
      );
      return results;
    };
    pipeline.exec = split;
    return pipeline;
  }

  /** ioredis' own pipeline, with XGROUP/XINFO keyed as they are queued. */
  private keyedPipeline(commands?: unknown[][]): ChainableCommander {
    const pipeline = (Cluster.prototype as unknown as { pipeline: (c?: unknown[][]) => ChainableCommander }).pipeline.call(this, commands);
    const queue = pipeline as unknown as { sendCommand: (command: Command) => unknown };
    const send = queue.sendCommand.bind(pipeline);
    queue.sendCommand = (command: Command) => {
      keyContainerCommand(command);
      return send(command);
    };
    return pipeline;
  }
}

/**
 * One SCAN step on every node that holds keys (the one Redis, or each cluster master: SCAN sees
 * only the node it runs on), each node with its own cursor in `cursors`, which a caller keeps
 * between steps. Returns the keys this step found.
 */
export async function scanStep(client: RedisClient, cursors: Map<string, string>, args: (string | number)[]): Promise<string[]> {
  const found = await Promise.all(
    nodesOf(client, 'master').map(async (node) => {
      const id = `${node.options.host ?? ''}:${node.options.port ?? ''}`;
      const [cursor, keys] = (await node.call('SCAN', cursors.get(id) ?? '0', ...args)) as [string, string[]];
      cursors.set(id, cursor);
      return keys;
    }),
  );
  return found.flat();
}
