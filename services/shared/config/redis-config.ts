import type { EnvReader } from './env.ts';

export interface RedisConfig {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** Printable address without credentials, for logs and the info route. */
  display: string;
  /**
   * A connection with a command outstanding that gets no byte back for this long is presumed dead
   * (a silent network cut sends no FIN or RST) and is dropped and reconnected.
   */
  socketTimeoutMs: number;
}

/**
 * `REDIS_URL` (redis:// or rediss://) wins; otherwise the original demo's REDIS_HOST, REDIS_PORT and
 * REDIS_DB. REDIS_PASSWORD applies to both (a Kubernetes Secret is mounted into it, so the URL can
 * stay free of credentials).
 */
export function readRedisConfig(env: EnvReader): RedisConfig {
  const url = env.raw('REDIS_URL');
  const password = env.raw('REDIS_PASSWORD');
  const username = env.raw('REDIS_USERNAME');
  const socketTimeoutMs = env.int('REDIS_SOCKET_TIMEOUT_MS', 10_000, { min: 200, max: 600_000 });
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      env.fail('REDIS_URL', url, 'a URL like redis://host:6379/0 or rediss://user:password@host:6380');
      return fallback();
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      env.fail('REDIS_URL', url, 'a redis:// or rediss:// URL');
      return fallback();
    }
    const port = parsed.port === '' ? 6379 : Number(parsed.port);
    const dbText = parsed.pathname.replace(/^\//, '');
    const db = dbText === '' ? 0 : Number(dbText);
    if (!Number.isInteger(db) || db < 0 || db > 15) {
      env.fail('REDIS_URL', url, 'a database number from 0 to 15 as the path (redis://host:6379/0)');
    }
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    return {
      host,
      port,
      db: Number.isInteger(db) ? db : 0,
      username: parsed.username ? decodeURIComponent(parsed.username) : username,
      password: parsed.password ? decodeURIComponent(parsed.password) : password,
      tls: parsed.protocol === 'rediss:',
      display: `${parsed.protocol}//${host}:${port}/${db}`,
      socketTimeoutMs,
    };
  }
  return fallback();

  // Read only without REDIS_URL: Kubernetes injects REDIS_PORT=tcp://… for any Service named
  // "redis" in the namespace, which must not break a deployment that configured REDIS_URL.
  function fallback(): RedisConfig {
    const host = env.raw('REDIS_HOST') ?? '127.0.0.1';
    const port = env.int('REDIS_PORT', 6379, { min: 1, max: 65535 });
    const db = env.int('REDIS_DB', 0, { min: 0, max: 15 });
    return { host, port, db, username, password, tls: false, display: `redis://${host}:${port}/${db}`, socketTimeoutMs };
  }
}
