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
  /**
   * Seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES): when set, every connection is an ioredis
   * Cluster that discovers the rest; host, port and db are then unused (a cluster has only db 0).
   */
  clusterNodes?: { host: string; port: number }[];
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
  const clusterNodes = readClusterNodes(env);
  if (clusterNodes !== undefined) {
    if (config.db !== 0) env.problem(`REDIS_CLUSTER_NODES (${env.raw('REDIS_CLUSTER_NODES') ?? ''}) names a Redis Cluster, which has only database 0, but ${url === undefined ? 'REDIS_DB' : 'REDIS_URL'} asks for ${config.db}`);
    config.clusterNodes = clusterNodes;
    config.display = `redis-cluster://${clusterNodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',')}`;
  }
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

/**
 * REDIS_CLUSTER_NODES: comma-separated host:port seeds of a Redis Cluster ([v6]:port for IPv6).
 * One reachable seed is enough (the client learns the others), more survive a seed being down.
 */
function readClusterNodes(env: EnvReader): { host: string; port: number }[] | undefined {
  const text = env.raw('REDIS_CLUSTER_NODES');
  if (text === undefined || text.trim() === '') return undefined;
  const nodes: { host: string; port: number }[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(part);
    const host = match ? parseHost(match[1]!) : undefined;
    const port = match ? Number(match[2]) : 0;
    if (host === undefined || port < 1 || port > 65535) {
      env.fail('REDIS_CLUSTER_NODES', text, `comma-separated host:port seeds of a Redis Cluster, like 10.0.0.1:6379,10.0.0.2:6379 ([::1]:6379 for IPv6); here: "${part}" is not host:port with a port from 1 to 65535`);
      return undefined;
    }
    nodes.push({ host, port });
  }
  return nodes;
}

/** decodeURIComponent, with null for a malformed escape instead of a URIError. */
function decoded(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
