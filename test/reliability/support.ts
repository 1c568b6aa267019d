import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { RedisConfig } from '../../services/shared/config/redis-config.ts';
import { type StreamSettings, streamSettingDefaults } from '../../services/shared/config/stream-settings.ts';
import type { Logger } from '../../services/shared/logging/logger.ts';
import { RedisConnections } from '../../services/shared/streams/connection.ts';
import { Metrics } from '../../services/shared/telemetry/metrics.ts';

export interface LogRecord {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A logger that keeps its JSON lines in memory, to assert what was logged and how often. */
export function memoryLogger(level = 'debug'): { log: Logger; lines: LogRecord[]; count: (msg: string | RegExp) => number } {
  const lines: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  const log = pino({ level }, sink);
  const count = (msg: string | RegExp) => lines.filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg))).length;
  return { log, lines, count };
}

/** Short timings so that reclaim, keep-alive and retries happen within a test. */
export function fastSettings(overrides: Partial<StreamSettings> = {}): StreamSettings {
  return {
    ...streamSettingDefaults,
    blockMs: 200,
    batchSize: 10,
    concurrency: 50,
    claimIdleMs: 1_000,
    reclaimIntervalMs: 200,
    maxDeliveries: 5,
    backoffBaseMs: 50,
    backoffMaxMs: 400,
    shutdownGraceMs: 2_000,
    ...overrides,
  };
}

export function redisConfigFor(url: string, socketTimeoutMs = 1_500): RedisConfig {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port), db: 0, tls: false, display: url, socketTimeoutMs };
}

/** Connections as a role process has them, connected. */
export async function connectionsFor(url: string, log: Logger, socketTimeoutMs?: number): Promise<RedisConnections> {
  const connections = new RedisConnections(redisConfigFor(url, socketTimeoutMs), `test-${process.pid}`, log);
  await connections.connect();
  return connections;
}

export function testMetrics(): Metrics {
  return new Metrics('test', '0.0.0');
}

/** The current value of a counter, summed over the series matching `labels`. */
export async function counterValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)).reduce((sum, v) => sum + v.value, 0);
}
