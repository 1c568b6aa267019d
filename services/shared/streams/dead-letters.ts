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
        queueScript(pipeline, deadLetterScript, [stream, target], [group, entry.id, reason.slice(0, 1000), entry.deliveries, now, deadLetterMaxLen]),
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
