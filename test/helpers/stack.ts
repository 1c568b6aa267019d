import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { Processes } from './processes.ts';
import { startTestRedis, type TestRedis } from './redis.ts';
import type { RedisServerOptions } from '../../services/launcher/redis-server.ts';

export interface RedisStack {
  /** The file's private redis-server (emptied after each test). */
  readonly redis: TestRedis;
  /** Role processes of the current test (stopped after each test). */
  readonly procs: Processes;
}

/**
 * Registers the hooks most process tests need: one redis-server per test file, a fresh Processes
 * per test, and after each test every process stopped and Redis emptied.
 */
export function useRedisStack(opts: Partial<RedisServerOptions> = {}): RedisStack {
  let redis: TestRedis | undefined;
  let procs: Processes | undefined;
  beforeAll(async () => {
    redis = await startTestRedis(opts);
  });
  beforeEach(() => {
    procs = new Processes({ REDIS_URL: redis!.url });
  });
  afterEach(async () => {
    await procs?.stopAll();
    await redis?.flush();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return {
    get redis() {
      return redis!;
    },
    get procs() {
      return procs!;
    },
  };
}
