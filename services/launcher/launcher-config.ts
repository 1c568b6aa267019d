import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultPorts } from '../shared/config/common-config.ts';
import { ConfigError, EnvReader, loadDotEnv } from '../shared/config/env.ts';
import { readRedisConfig } from '../shared/config/redis-config.ts';
import type { AppendFsync } from './redis-server.ts';

/** What `npm start` and `npm run demo` read besides the roles' own variables (which the roles check). */
export interface LauncherConfig {
  /** HTTP ports of the local processes. */
  ports: { host: number; coordinator: number; guest: number };
  /** The Redis the roles use when REDIS_URL or REDIS_HOST is set; else a private redis-server runs. */
  redisUrl: string | undefined;
  appendfsync: AppendFsync;
  /** The private redis-server's AOF lives in `<dataDir>/redis`. */
  dataDir: string;
  /** `npm run demo`: how long the host waits for the sample's summary. */
  demoTimeoutMs: number;
}

/**
 * Reads and checks the launcher's variables and the Redis ones (so that a wrong REDIS_URL stops the
 * launcher once, not each role); exits 2 listing every problem, like the roles.
 */
export function readLauncherConfig(env = new EnvReader()): LauncherConfig {
  loadDotEnv();
  const port = (name: string, fallback: number) => env.int(name, fallback, { min: 1, max: 65535 });
  const ports = { host: port('HOST_PORT', defaultPorts.host), coordinator: port('COORDINATOR_PORT', defaultPorts.coordinator), guest: port('GUEST_PORT', defaultPorts.guest) };
  if (new Set(Object.values(ports)).size < 3) {
    env.problem(`HOST_PORT (${ports.host}), COORDINATOR_PORT (${ports.coordinator}) and GUEST_PORT (${ports.guest}) must differ`);
  }
  const redis = readRedisConfig(env);
  const external = env.raw('REDIS_URL') !== undefined || env.raw('REDIS_HOST') !== undefined;
  const redisUrl = external ? (env.raw('REDIS_URL') ?? `redis://${redis.host.includes(':') ? `[${redis.host}]` : redis.host}:${redis.port}/${redis.db}`) : undefined;
  const appendfsync = env.oneOf('REDIS_APPENDFSYNC', ['everysec', 'always', 'no'] as const, 'everysec');
  const dataDir = env.string('DATA_DIR', join(process.cwd(), '.data'));
  if (!external) {
    try {
      mkdirSync(join(dataDir, 'redis'), { recursive: true });
      accessSync(join(dataDir, 'redis'), constants.W_OK);
    } catch (error) {
      env.fail('DATA_DIR', dataDir, `a folder this user can create and write (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  const demoTimeoutMs = env.int('DEMO_TIMEOUT_MS', 60_000, { min: 1_000, max: 86_400_000 });
  try {
    env.done();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`event-planner launcher: ${error.message}\n`);
    process.exit(2);
  }
  return { ports, redisUrl, appendfsync, dataDir, demoTimeoutMs };
}
