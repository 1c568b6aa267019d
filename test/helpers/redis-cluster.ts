import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { RedisServerProcess, redisInstallHint, redisServerAvailable } from '../../services/launcher/redis-server.ts';
import { eventually } from './wait.ts';

const run = promisify(execFile);

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'slave';
  /** For a replica, the id of its master. */
  masterId?: string;
  /** For a master, its slot ranges as "a-b". */
  slots: string[];
}

/**
 * A real Redis Cluster on loopback: `masters` masters and as many replicas each, every node its
 * own `redis-server --cluster-enabled yes` on a free port with its own data folder (AOF on),
 * formed by `redis-cli --cluster create … --cluster-replicas n --cluster-yes`. `stop()` removes it.
 */
export class TestRedisCluster {
  readonly servers: RedisServerProcess[] = [];
  private readonly dir: string;
  private readonly opts: { masters: number; replicas: number; appendfsync: 'always' | 'everysec' | 'no' };
  /** Ports of nodes killed by `killNode` (and not restarted). */
  private readonly down = new Set<number>();
  /** A client for assertions (reads from masters). */
  client!: Cluster;

  constructor(opts: Partial<TestRedisCluster['opts']> = {}) {
    this.opts = { masters: 3, replicas: 1, appendfsync: 'everysec', ...opts };
    this.dir = mkdtempSync(join(tmpdir(), 'ep-cluster-'));
  }

  /** `REDIS_CLUSTER_NODES` for the roles: every node as a seed. */
  get nodesEnv(): string {
    return this.servers.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  async start(): Promise<this> {
    if (!redisServerAvailable()) throw new Error(redisInstallHint);
    const count = this.opts.masters * (1 + this.opts.replicas);
    for (let i = 0; i < count; i += 1) {
      const server = new RedisServerProcess({
        dir: join(this.dir, `node-${i}`),
        appendfsync: this.opts.appendfsync,
        // A failed master is noticed after 2 s (the default 15 s would make failover tests crawl).
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--cluster-announce-ip', '127.0.0.1'],
      });
      this.servers.push(server);
    }
    await Promise.all(this.servers.map((s) => s.start()));
    const addresses = this.servers.map((s) => `127.0.0.1:${s.port}`);
    if (this.opts.masters >= 3) {
      await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(this.opts.replicas), '--cluster-yes'], { timeout: 60_000 });
    } else {
      // `--cluster create` wants 3 masters; a smaller cluster (the 1-shard benchmark) is formed by hand.
      const [first, ...others] = this.servers;
      for (let m = 0; m < this.opts.masters; m += 1) {
        const from = Math.floor((m * 16_384) / this.opts.masters);
        const to = Math.floor(((m + 1) * 16_384) / this.opts.masters) - 1;
        await this.cli(this.servers[m]!.port, 'CLUSTER', 'ADDSLOTSRANGE', from, to);
      }
      for (const other of others) await this.cli(other.port, 'CLUSTER', 'MEET', '127.0.0.1', first!.port);
      await eventually(async () => (await this.nodes()).length === this.servers.length, 20_000, 'every node met');
      const masters = (await this.nodes()).filter((n) => n.slots.length > 0);
      for (let i = this.opts.masters; i < this.servers.length; i += 1) {
        await this.cli(this.servers[i]!.port, 'CLUSTER', 'REPLICATE', masters[(i - this.opts.masters) % masters.length]!.id);
      }
    }
    await this.waitHealthy();
    // `--cluster create` returns before every replica is attached: wait for the shape asked for.
    await eventually(
      async () => {
        const nodes = await this.nodes();
        return nodes.filter((n) => n.role === 'master').length === this.opts.masters && nodes.filter((n) => n.role === 'slave').length === this.opts.masters * this.opts.replicas;
      },
      30_000,
      'every replica attached',
    );
    // …and synced: a replica whose link to its master never came up refuses to be promoted.
    await this.waitReplicasSynced();
    this.client = new Cluster([{ host: '127.0.0.1', port: this.servers[0]!.port }], { scaleReads: 'master', redisOptions: { maxRetriesPerRequest: 3 } });
    this.client.on('error', () => undefined);
    await eventually(async () => (await this.client.ping().catch(() => '')) === 'PONG', 20_000, 'cluster client ready');
    return this;
  }

  /** Waits until every slot is served (cluster_state:ok on every node that is up). */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await eventually(
      async () => {
        for (const server of this.servers) {
          if (this.down.has(server.port)) continue;
          const info = await this.cli(server.port, 'CLUSTER', 'INFO').catch(() => '');
          if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
        }
        return true;
      },
      timeoutMs,
      'cluster state ok on every node',
    );
  }

  /** Every live replica's link to its master is up (INFO replication). */
  async waitReplicasSynced(timeoutMs = 30_000): Promise<void> {
    await eventually(
      async () => {
        for (const node of await this.nodes()) {
          if (node.role !== 'slave' || this.down.has(node.port)) continue;
          if (!/master_link_status:up/.test(await this.cli(node.port, 'INFO', 'replication').catch(() => ''))) return false;
        }
        return true;
      },
      timeoutMs,
      'every replica synced with its master',
    );
  }

  /** CLUSTER NODES, parsed, as seen by the node on `port` (any live node by default). */
  async nodes(port?: number): Promise<ClusterNodeInfo[]> {
    const at = port ?? this.servers.find((s) => !this.down.has(s.port))!.port;
    const text = await this.cli(at, 'CLUSTER', 'NODES');
    return text
      .trim()
      .split('\n')
      .filter((line) => !/\b(fail|fail\?|noaddr|handshake)\b/.test(line.split(' ')[2] ?? ''))
      .map((line) => {
        const [id, address, flags, master, , , , , ...slots] = line.split(' ');
        return {
          id: id!,
          port: Number(address!.split('@')[0]!.split(':')[1]),
          role: flags!.includes('master') ? ('master' as const) : ('slave' as const),
          ...(master && master !== '-' ? { masterId: master } : {}),
          slots: slots.filter((s) => /^\d/.test(s)),
        };
      });
  }

  /** The master that serves `slot` now. */
  async masterOf(slot: number): Promise<ClusterNodeInfo> {
    const nodes = await this.nodes();
    const owner = nodes.find(
      (n) =>
        n.role === 'master' &&
        n.slots.some((range) => {
          const [a, b = a] = range.split('-').map(Number);
          return slot >= a! && slot <= b!;
        }),
    );
    if (!owner) throw new Error(`no master serves slot ${slot}`);
    return owner;
  }

  server(port: number): RedisServerProcess {
    const server = this.servers.find((s) => s.port === port);
    if (!server) throw new Error(`no cluster node on port ${port}`);
    return server;
  }

  /** kill -9 of one node: nothing flushed beyond what its fsync policy already wrote. */
  async killNode(port: number): Promise<void> {
    this.down.add(port);
    await this.server(port).kill();
  }

  /** Starts a killed node again on its port and data folder; it rejoins (as a replica if it was failed over). */
  async restartNode(port: number): Promise<void> {
    await this.server(port).start();
    this.down.delete(port);
    // Back as a replica once it has synced with its new master (only then can it be promoted again).
    await eventually(
      async () => {
        const info = await this.cli(port, 'INFO', 'replication').catch(() => '');
        return /role:master/.test(info) || /master_link_status:up/.test(info);
      },
      30_000,
      `node ${port} synced after its restart`,
    );
  }

  /** One command on one node with a plain client (CLUSTER FAILOVER, WAIT, INFO…). */
  async cli(port: number, ...args: (string | number)[]): Promise<string> {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return String(await client.call(String(args[0]), ...args.slice(1).map(String)));
    } finally {
      client.disconnect();
    }
  }

  /** Empties every master (FLUSHALL reaches only the node it runs on). */
  async flush(): Promise<void> {
    for (const node of await this.nodes()) if (node.role === 'master') await this.cli(node.port, 'FLUSHALL');
    await Promise.all(this.client.nodes('master').map((n) => n.script('FLUSH').catch(() => undefined)));
  }

  async stop(): Promise<void> {
    this.client?.disconnect();
    await Promise.all(this.servers.map((s) => s.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
