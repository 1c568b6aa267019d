import { Gauge } from 'prom-client';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { type RedisConnections, healthIntervalMs } from './connection.ts';
import { writeProbeKey } from './keys.ts';
import { redisRefusal } from './redis-errors.ts';

/**
 * Whether Redis takes writes right now. A connected Redis can still refuse every write (maxmemory
 * with noeviction, a replica after a failover, a failing disk with stop-writes-on-bgsave-error, a
 * long script), and every role's work is writes: readiness has to see it.
 *
 * Why a write and not INFO: INFO shows used_memory next to maxmemory, but Redis' own OOM test
 * counts differently (replication and client buffers are left out), and INFO says nothing of a
 * failing disk, a running script or ACLs. A SET with a short TTL on a key of this process is
 * exactly the question, costs one small command every couple of seconds per process, and leaves
 * nothing behind (the key expires). In Redis Cluster it probes the shard holding that key only.
 */
export class RedisWriteProbe {
  private readonly connections: RedisConnections;
  private readonly key: string;
  private readonly intervalMs: number;
  private readonly log: Logger;
  private refusal: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(deps: { connections: RedisConnections; consumer: string; socketTimeoutMs: number; log: Logger; metrics: Metrics }) {
    this.connections = deps.connections;
    this.key = writeProbeKey(deps.consumer);
    this.intervalMs = healthIntervalMs(deps.socketTimeoutMs);
    this.log = deps.log;
    const gauge: Gauge = new Gauge({
      name: 'event_planner_redis_writable',
      help: '1 while the last write probe succeeded (0 while Redis refuses writes: out of memory, read-only, …).',
      registers: [deps.metrics.registry],
      collect: () => gauge.set(this.connections.isReady() && this.refusal === undefined ? 1 : 0),
    });
  }

  start(): void {
    const tick = () => {
      void this.probe().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** true, or why Redis refuses writes (the 'redis' readiness check covers a lost connection). */
  check(): true | string {
    return this.refusal ?? true;
  }

  private async probe(): Promise<void> {
    if (!this.connections.isReady()) return;
    try {
      await this.connections.command.set(this.key, String(Date.now()), 'PX', this.intervalMs * 3);
      if (this.refusal !== undefined) this.log.info('redis takes writes again');
      this.refusal = undefined;
    } catch (error) {
      const refusal = redisRefusal(error);
      // Unreachable is the connection's business (its own readiness check and log lines).
      if (!refusal || refusal.code === 'redis_unavailable') return;
      const text = `${refusal.message} (${refusal.code})`;
      if (text !== this.refusal) this.log.warn({ code: refusal.code, err: error instanceof Error ? error.message : String(error) }, `redis refuses writes: ${refusal.message}`);
      this.refusal = text;
    }
  }
}
