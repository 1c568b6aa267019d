import type { EnvReader } from './env.ts';
import { hostHint, parseHost } from './network.ts';

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
  const config = url === undefined ? fromVariables() : fromUrl(url);
  if (config.username !== undefined && config.password === undefined) {
    // Redis authenticates a user only with a password (AUTH <user> <password>); a user alone is a mistake.
    env.problem(`REDIS_USERNAME (${JSON.stringify(config.username)}) needs a password: set REDIS_PASSWORD (or user:password@ in REDIS_URL)`);
  }
  return config;

  function fromUrl(text: string): RedisConfig {
    const example = 'redis://[user:password@]host[:port][/db] or rediss://… (port 1-65535, db 0-15)';
    // Messages and logs never show the credentials.
    const shown = text.replace(/\/\/.*@/, '//***@');
    let parsed: URL;
    try {
      parsed = new URL(text);
    } catch {
      env.fail('REDIS_URL', shown, `a URL like ${example}`);
      return fromVariables();
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      env.fail('REDIS_URL', shown, `a redis:// or rediss:// URL (${example})`);
      return fromVariables();
    }
    const problems: string[] = [];
    const host = parseHost(parsed.hostname);
    if (host === undefined) problems.push(`a host: ${hostHint('the :port of the URL')}`);
    const port = parsed.port === '' ? 6379 : Number(parsed.port);
    if (port < 1) problems.push('a port from 1 to 65535');
    const dbMatch = /^\/?(\d{1,2})?$/.exec(parsed.pathname);
    const db = dbMatch?.[1] === undefined ? 0 : Number(dbMatch[1]);
    if (!dbMatch || db > 15) problems.push('a database number from 0 to 15 as the path (redis://host:6379/0)');
    if (parsed.search !== '' || parsed.hash !== '') problems.push('no ?query or #fragment (options are environment variables)');
    const user = decoded(parsed.username);
    const secret = decoded(parsed.password);
    if (user === null || secret === null) problems.push('user and password percent-encoded (%40 for @)');
    if (problems.length > 0) env.fail('REDIS_URL', shown, `${example}; here: ${problems.join('; ')}`);
    const shownHost = host ?? parsed.hostname;
    return {
      host: shownHost,
      port,
      db,
      username: user || username,
      password: secret || password,
      tls: parsed.protocol === 'rediss:',
      display: `${parsed.protocol}//${shownHost}:${port}/${db}`,
      socketTimeoutMs,
    };
  }

  // Read only without REDIS_URL: Kubernetes injects REDIS_PORT=tcp://… for any Service named
  // "redis" in the namespace, which must not break a deployment that configured REDIS_URL.
  function fromVariables(): RedisConfig {
    const host = env.host('REDIS_HOST', '127.0.0.1', 'REDIS_PORT');
    const port = env.int('REDIS_PORT', 6379, { min: 1, max: 65535 });
    const db = env.int('REDIS_DB', 0, { min: 0, max: 15 });
    return { host, port, db, username, password, tls: false, display: `redis://${host}:${port}/${db}`, socketTimeoutMs };
  }
}

/** decodeURIComponent, with null for a malformed escape instead of a URIError. */
function decoded(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
