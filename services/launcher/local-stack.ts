import { join } from 'node:path';
import { defaultPorts } from '../shared/config/common-config.ts';
import { loadDotEnv } from '../shared/config/env.ts';
import { RedisServerProcess, redisInstallHint, redisServerAvailable } from './redis-server.ts';
import type { AppendFsync } from './redis-server.ts';
import { ProcessGroup } from './process-group.ts';

/** HTTP ports of the local processes (HOST_PORT, COORDINATOR_PORT, GUEST_PORT override them). */
export const localPorts = {
  host: Number(process.env.HOST_PORT ?? defaultPorts.host),
  coordinator: Number(process.env.COORDINATOR_PORT ?? defaultPorts.coordinator),
  guest: Number(process.env.GUEST_PORT ?? defaultPorts.guest),
};

export interface LocalStack {
  group: ProcessGroup;
  redisUrl: string;
  redis?: RedisServerProcess;
  stop(): Promise<void>;
}

/**
 * What `npm start` and `npm run demo` share: use the configured Redis (REDIS_URL or REDIS_HOST), or
 * start a private redis-server with AOF persistence in .data/redis, then the coordinator and one
 * guest agent hosting the original's five guests. The host is started by the caller.
 */
export async function startLocalStack(opts: { title: string; guestEnv?: Record<string, string> }): Promise<LocalStack> {
  loadDotEnv();
  const group = new ProcessGroup();
  let redis: RedisServerProcess | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl && process.env.REDIS_HOST) redisUrl = `redis://${process.env.REDIS_HOST}:${process.env.REDIS_PORT ?? 6379}/${process.env.REDIS_DB ?? 0}`;
  group.say('launcher', opts.title);
  if (!redisUrl) {
    if (!redisServerAvailable()) {
      process.stderr.write(`${redisInstallHint}\n`);
      process.exit(1);
    }
    const fsync = (process.env.REDIS_APPENDFSYNC ?? 'everysec') as AppendFsync;
    if (!['always', 'everysec', 'no'].includes(fsync)) {
      process.stderr.write(`REDIS_APPENDFSYNC=${JSON.stringify(fsync)} is not valid: expected one of always, everysec, no\n`);
      process.exit(2);
    }
    const dataDir = process.env.DATA_DIR ?? join(process.cwd(), '.data');
    redis = await new RedisServerProcess({ dir: join(dataDir, 'redis'), appendfsync: fsync }).start();
    redisUrl = redis.url;
    group.say('redis', `private redis-server on port ${redis.port} (AOF, appendfsync ${fsync}, data in ${join(dataDir, 'redis')})`);
  } else {
    group.say('redis', `using ${redisUrl.replace(/\/\/[^@]*@/, '//***@')}`);
  }
  const env = { REDIS_URL: redisUrl };
  group.startRole('coordinator', 'coordinator', { ...env, PORT: String(localPorts.coordinator) });
  group.startRole('guests', 'guest', { GUESTS_PER_AGENT: '5', PERSONAS: 'original', ...env, PORT: String(localPorts.guest), ...opts.guestEnv });
  return {
    group,
    redisUrl,
    redis,
    stop: async () => {
      await group.stopAll();
      await redis?.stop();
    },
  };
}

/** Resolves once the coordinator and the guests answer /readyz. */
export async function waitUntilReady(ports: number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (res.ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`service on port ${port} not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
