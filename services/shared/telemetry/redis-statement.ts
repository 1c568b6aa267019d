// What a Redis client span may say about its command: the command and the keys it touches, never
// values. Stream entries carry guest names and messages, scripts carry replies, AUTH carries a
// password; none of that belongs in a span attribute that any trace backend user can read.

/** Commands whose first argument is the (only or first) key. Anything not listed shows no arguments. */
const firstArgIsKey = new Set([
  'xadd', 'xack', 'xclaim', 'xautoclaim', 'xpending', 'xlen', 'xrange', 'xrevrange', 'xdel', 'xtrim', 'xsetid',
  'hset', 'hget', 'hgetall', 'hdel', 'hmget', 'hmset', 'hkeys', 'hvals', 'hlen', 'hincrby', 'hexists', 'hsetnx',
  'get', 'set', 'del', 'unlink', 'exists', 'expire', 'pexpire', 'pexpireat', 'ttl', 'pttl', 'incr', 'incrby', 'type',
  'zadd', 'zrem', 'zcard', 'zrange', 'zrangebyscore', 'zscore', 'zcount', 'zremrangebyscore', 'zmscore',
  'sadd', 'srem', 'smembers', 'scard', 'sismember',
]);

/** Commands with a subcommand first and the key second (XINFO GROUPS <key>, XGROUP CREATE <key> ...). */
const secondArgIsKey = new Set(['xinfo', 'xgroup']);

const maxKeys = 4;

type Arg = string | Buffer | number | unknown;

function text(arg: Arg): string {
  return typeof arg === 'string' ? arg : typeof arg === 'number' ? String(arg) : Buffer.isBuffer(arg) ? arg.toString() : '?';
}

function keysOf(command: string, args: Arg[]): string[] {
  if (firstArgIsKey.has(command)) return args.length > 0 ? [text(args[0])] : [];
  if (secondArgIsKey.has(command)) return args.length > 1 ? [text(args[1])] : [];
  if (command === 'evalsha' || command === 'eval' || command === 'fcall') {
    const count = Number(text(args[1]));
    return Number.isInteger(count) && count > 0 ? args.slice(2, 2 + Math.min(count, maxKeys)).map(text) : [];
  }
  if (command === 'xreadgroup' || command === 'xread') {
    const at = args.findIndex((a) => text(a).toUpperCase() === 'STREAMS');
    if (at < 0) return [];
    const rest = args.slice(at + 1);
    return rest.slice(0, Math.min(rest.length / 2, maxKeys)).map(text);
  }
  return [];
}

/**
 * `db.query.text` for the ioredis instrumentation: `XADD event_invitations`, `EVALSHA event:{id} ...`.
 * Keys name streams and events (ids, not personal data); values are never included.
 */
export function redisStatement(command: string, args: Arg[]): string {
  const name = command.toLowerCase();
  const keys = keysOf(name, args);
  return keys.length > 0 ? `${name.toUpperCase()} ${keys.join(' ')}` : name.toUpperCase();
}
