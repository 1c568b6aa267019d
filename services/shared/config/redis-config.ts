import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { EnvReader } from './env.ts';
import { hostHint, parseHost } from './network.ts';

/** What ioredis passes to tls.connect: PEM contents, not paths. */
export interface RedisTlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
}

export interface RedisConfig {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** With `tls`: the CA to trust, the client certificate and key, the name to verify (files read at start). */
  tlsOptions?: RedisTlsOptions;
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
  const password = readPassword(env);
  const username = env.raw('REDIS_USERNAME');
  if (username !== undefined && !/^[^\s<>#%~&@]{1,128}$/.test(username)) {
    // What ACL SETUSER accepts as a name, minus the characters its rules give a meaning.
    env.fail('REDIS_USERNAME', username, 'an ACL user name: 1-128 characters, no spaces and none of < > # % ~ & @');
  }
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
    env.problem(`REDIS_USERNAME (${JSON.stringify(config.username)}) needs a password: set REDIS_PASSWORD or REDIS_PASSWORD_FILE (or user:password@ in REDIS_URL)`);
  }
  const tls = readTls(env, config.tls, url?.startsWith('rediss:') === true);
  return { ...config, ...tls, display: tls.tls ? config.display.replace(/^redis:/, 'rediss:') : config.display };

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

/**
 * REDIS_PASSWORD, or REDIS_PASSWORD_FILE (a mounted Secret: the password then never sits in the
 * process environment). One trailing newline is dropped (`echo pw > file` writes one).
 */
function readPassword(env: EnvReader): string | undefined {
  const inline = env.raw('REDIS_PASSWORD');
  const file = env.file('REDIS_PASSWORD_FILE', 'the Redis password');
  if (file === undefined) return inline;
  if (inline !== undefined) env.problem('REDIS_PASSWORD_FILE: REDIS_PASSWORD is set as well; set one of them');
  return file.toString('utf8').replace(/\r?\n$/, '');
}

/**
 * TLS to Redis: on with a rediss:// URL or REDIS_TLS=true; the CA (else the system's), the client
 * certificate and key (mutual TLS, both or neither) and the name to verify come from files. The
 * files are checked together at start (a key that does not match its certificate stops the start).
 */
function readTls(env: EnvReader, fromUrl: boolean, rediss: boolean): { tls: boolean; tlsOptions?: RedisTlsOptions } {
  const wanted = env.raw('REDIS_TLS');
  const tls = env.bool('REDIS_TLS', fromUrl);
  if (rediss && wanted !== undefined && !tls) env.fail('REDIS_TLS', wanted, 'true (or unset) with a rediss:// REDIS_URL');
  const ca = env.file('REDIS_TLS_CA_FILE', 'the PEM certificate(s) of the CA that signed the Redis server\'s certificate');
  const cert = env.file('REDIS_TLS_CERT_FILE', 'the PEM client certificate');
  const key = env.file('REDIS_TLS_KEY_FILE', 'the PEM private key of the client certificate');
  const servername = env.raw('REDIS_TLS_SERVERNAME');
  const given = { REDIS_TLS_CA_FILE: ca, REDIS_TLS_CERT_FILE: cert, REDIS_TLS_KEY_FILE: key, REDIS_TLS_SERVERNAME: servername };
  if (!tls) {
    for (const [name, value] of Object.entries(given)) {
      if (value !== undefined) env.problem(`${name}: set, but TLS is off: use a rediss:// REDIS_URL or REDIS_TLS=true`);
    }
    return { tls };
  }
  if (cert !== undefined && key === undefined) env.problem('REDIS_TLS_CERT_FILE: goes together with REDIS_TLS_KEY_FILE (a client certificate needs its key)');
  if (key !== undefined && cert === undefined) env.problem('REDIS_TLS_KEY_FILE: goes together with REDIS_TLS_CERT_FILE (a key needs its client certificate)');
  const options: RedisTlsOptions = { ca, cert, key, servername };
  // What tls.connect would refuse later (not PEM, a key that does not match its certificate), now.
  const unusable = (name: string, parts: { ca?: Buffer; cert?: Buffer; key?: Buffer }) => {
    try {
      createSecureContext(parts);
    } catch (error) {
      env.problem(`${name}: not usable (${(error as Error).message})`);
    }
  };
  if (ca?.length) {
    // createSecureContext skips a CA that is not PEM without a word; parsing it does not.
    try {
      new X509Certificate(ca);
      unusable('REDIS_TLS_CA_FILE', { ca });
    } catch (error) {
      env.problem(`REDIS_TLS_CA_FILE: not usable (not a PEM certificate: ${(error as Error).message})`);
    }
  }
  if (cert?.length && key?.length) unusable('REDIS_TLS_CERT_FILE', { cert, key });
  return { tls, tlsOptions: Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RedisTlsOptions };
}

/** decodeURIComponent, with null for a malformed escape instead of a URIError. */
function decoded(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
