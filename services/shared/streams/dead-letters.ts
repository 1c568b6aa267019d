import { join } from 'node:path';
import type { Metrics } from '../telemetry/metrics.ts';
import type { RedisConnections } from './connection.ts';
import type { StreamEntry } from './entry.ts';
import { deadLetterStream, streamLabel } from './keys.ts';
import { execPipeline, loadLuaScript, queueScript, sharedScriptDir } from './scripts.ts';

const deadLetterScript = loadLuaScript(join(sharedScriptDir, 'dead-letter.lua'));

/** Upper bound on each dead-letter stream (approximate trim), so hostile traffic cannot fill memory. */
export const deadLetterMaxLen = 100_000;

/** The reason code: the part of a reason before the first colon (used as a metric label). */
export function reasonCode(reason: string): string {
  const code = reason.split(':', 1)[0]!.trim();
  return /^[a-z_]{1,40}$/.test(code) ? code : 'other';
}

/**
 * The reason as stored: one line of at most 1,000 characters. Reasons may quote what a hostile
 * entry carried; line breaks and other control characters are escaped so that an operator's
 * `XRANGE`, a log line or a dashboard shows one reason per dead letter.
 */
export function storedReason(reason: string): string {
  const escapes: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  // eslint-disable-next-line no-control-regex -- control characters (and the Unicode line separators) are what is replaced
  const oneLine = reason.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => escapes[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (oneLine.length <= 1000) return oneLine;
  // Cut before a surrogate pair rather than through it.
  const end = /[\ud800-\udbff]/.test(oneLine[998]!) ? 998 : 999;
  return `${oneLine.slice(0, end)}…`;
}

export class DeadLetters {
  private readonly connections: RedisConnections;
  private readonly metrics: Metrics | undefined;

  constructor(connections: RedisConnections, metrics?: Metrics) {
    this.connections = connections;
    this.metrics = metrics;
  }

  /** Moves entries to `stream`'s dead-letter stream, each atomically with its XACK (one round trip). */
  async move(stream: string, group: string, items: { entry: StreamEntry; reason: string }[]): Promise<void> {
    const target = deadLetterStream(stream);
    const now = new Date().toISOString();
    const results = await execPipeline(
      this.connections.command,
      items,
      (pipeline, { entry, reason }) =>
        queueScript(pipeline, deadLetterScript, [stream, target], [group, entry.id, storedReason(reason), entry.deliveries, now, deadLetterMaxLen]),
      [deadLetterScript],
    );
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
    items.forEach(({ reason }, i) => {
      // A null result means another consumer acknowledged the entry first: no dead letter was written.
      if (results[i]?.[1]) this.metrics?.deadLetters.inc({ stream: streamLabel(stream), reason: reasonCode(reason) });
    });
  }
}
