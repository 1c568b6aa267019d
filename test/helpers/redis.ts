import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisServerProcess, type RedisServerOptions, redisInstallHint, redisServerAvailable } from '../../services/launcher/redis-server.ts';

export interface TestRedis {
  server: RedisServerProcess;
  /** A plain client for assertions and for playing other programs (XADD like the original host). */
  client: Redis;
  url: string;
  /** Removes every key: each test starts from an empty Redis. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a private redis-server on a free port with its own data folder (AOF on, as everywhere).
 * Fails with install instructions when redis-server is missing.
 */
export async function startTestRedis(opts: Partial<RedisServerOptions> = {}): Promise<TestRedis> {
  if (!redisServerAvailable()) throw new Error(redisInstallHint);
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ep-redis-'));
  const server = await new RedisServerProcess({ ...opts, dir }).start();
  const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  client.on('error', () => undefined);
  await client.connect();
  return {
    server,
    client,
    url: server.url,
    flush: async () => {
      await client.flushall();
    },
    stop: async () => {
      client.disconnect();
      await server.stop();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
