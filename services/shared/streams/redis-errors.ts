import { isConnectionError } from './connection.ts';

/**
 * A Redis that is up but refuses the work for a while: the honest answer to a client is "try again
 * later" (503 with Retry-After), never a 500, and readiness should say so too.
 */
export interface RedisRefusal {
  /** Short code for responses, logs and metrics, e.g. redis_out_of_memory. */
  code: string;
  /** What a client or an operator may read: no script sha, line number or key name. */
  message: string;
  /** A sensible moment to try again. */
  retryAfterSeconds: number;
}

// The error code Redis puts first in an error reply. A command refused inside a Lua script keeps
// it (Redis 7: "OOM command not allowed … script: <sha>, on @user_script:14."; Redis 6 wraps it as
// "ERR Error running script … -OOM …"), hence the optional "-" prefix anywhere in the text.
const refusals: { pattern: RegExp; code: string; message: string; retryAfterSeconds: number }[] = [
  { pattern: /(?:^|-)OOM\b/, code: 'redis_out_of_memory', message: 'Redis is out of memory (maxmemory reached) and refuses writes', retryAfterSeconds: 30 },
  { pattern: /(?:^|-)LOADING\b/, code: 'redis_loading', message: 'Redis is loading its data set after a restart', retryAfterSeconds: 5 },
  { pattern: /(?:^|-)READONLY\b/, code: 'redis_read_only', message: 'Redis is a read-only replica (a failover in progress?) and refuses writes', retryAfterSeconds: 5 },
  { pattern: /(?:^|-)MASTERDOWN\b/, code: 'redis_master_down', message: 'the Redis replica lost its primary and serves no data', retryAfterSeconds: 5 },
  { pattern: /(?:^|-)BUSY\b/, code: 'redis_busy', message: 'Redis is busy running a long script', retryAfterSeconds: 5 },
  { pattern: /(?:^|-)MISCONF\b/, code: 'redis_persistence_failing', message: 'Redis refuses writes because it cannot persist them (disk full or failing?)', retryAfterSeconds: 30 },
  { pattern: /(?:^|-)NOSCRIPT\b/, code: 'redis_script_cache_flushed', message: "Redis lost this service's scripts while it retried", retryAfterSeconds: 1 },
  { pattern: /(?:^|-)(?:TRYAGAIN|CLUSTERDOWN)\b/, code: 'redis_cluster_unavailable', message: 'the Redis cluster cannot serve this key right now', retryAfterSeconds: 5 },
  { pattern: /(?:^|-)(?:NOAUTH|WRONGPASS|NOPERM)\b/, code: 'redis_access_denied', message: 'Redis refuses this service (authentication or ACL permissions)', retryAfterSeconds: 60 },
];

const unreachable: RedisRefusal = { code: 'redis_unavailable', message: 'Redis is not reachable right now', retryAfterSeconds: 2 };

/**
 * The one place Redis errors are classified: a refusal to retry later, or undefined for anything
 * else (a bug: WRONGTYPE, a syntax error, a script error), which stays an internal error.
 */
export function redisRefusal(error: unknown): RedisRefusal | undefined {
  return classify(error, new Set());
}

function classify(error: unknown, seen: Set<unknown>): RedisRefusal | undefined {
  // ioredis can list an error among its own previousErrors (a pipeline whose connection closed
  // fails every command with the one error): each error is looked at once.
  if (seen.has(error)) return undefined;
  seen.add(error);
  // A MULTI whose queued command was refused (OOM, READONLY…) fails as EXECABORT; ioredis keeps
  // the refusals themselves in `previousErrors`.
  const previous = (error as { previousErrors?: unknown[] } | undefined)?.previousErrors;
  if (Array.isArray(previous)) {
    for (const e of previous) {
      const refusal = classify(e, seen);
      if (refusal) return refusal;
    }
  }
  const text = error instanceof Error ? error.message : String(error);
  for (const { pattern, code, message, retryAfterSeconds } of refusals) {
    if (pattern.test(text)) return { code, message, retryAfterSeconds };
  }
  if (isConnectionError(error)) return unreachable;
  return undefined;
}
