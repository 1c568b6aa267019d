import { hostname } from 'node:os';
import { type LogFormat, defaultLogFormat } from '../logging/logger.ts';
import type { EnvReader } from './env.ts';
import { type RedisConfig, readRedisConfig } from './redis-config.ts';
import { type StreamSettings, readStreamSettings } from './stream-settings.ts';
import { identifierPattern } from '../streams/keys.ts';

export const roles = ['host', 'coordinator', 'guest'] as const;
export type Role = (typeof roles)[number];

const otlpProtocols = ['http:', 'https:'];

export const defaultPorts: Record<Role, number> = { host: 8080, coordinator: 8081, guest: 8082 };

/** Settings every role reads. */
export interface CommonConfig {
  role: Role;
  port: number;
  /** Address the HTTP server binds (0.0.0.0 so Kubernetes probes reach it). */
  listenHost: string;
  logLevel: string;
  logFormat: LogFormat;
  redis: RedisConfig;
  streams: StreamSettings;
  /** Consumer name in every group this process joins; unique per process. */
  consumerName: string;
  /** /healthz fails when the event loop has not turned for this long. */
  eventLoopStallMs: number;
}

export function readCommonConfig(env: EnvReader, role: Role, streamOverrides: Partial<StreamSettings> = {}): CommonConfig {
  // hostname is the pod name in Kubernetes; with the pid (1 in a container) it stays the same
  // across a container restart, so a restarted process resumes its own pending entries.
  const fallbackConsumer = `${role}-${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._:@-]/g, '-');
  // The OpenTelemetry SDK reads these itself (tracing.ts, which does not start on a bad one); they
  // are checked here with the others so that a typo stops the start instead of losing every span.
  env.optionalUrl('OTEL_EXPORTER_OTLP_ENDPOINT', otlpProtocols, 'http://otel-collector:4318');
  env.optionalUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', otlpProtocols, 'http://otel-collector:4318/v1/traces');
  return {
    role,
    port: env.int('PORT', defaultPorts[role], { min: 0, max: 65535 }),
    listenHost: env.host('LISTEN_HOST', '0.0.0.0', 'PORT'),
    logLevel: env.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    logFormat: env.oneOf('LOG_FORMAT', ['json', 'pretty'] as const, defaultLogFormat()),
    redis: readRedisConfig(env),
    streams: readStreamSettings(env, streamOverrides),
    consumerName: env.string('CONSUMER_NAME', fallbackConsumer, {
      pattern: identifierPattern,
      patternHint: '1-128 letters, digits or . _ : @ - (starting with a letter or digit)',
    }),
    eventLoopStallMs: env.int('EVENT_LOOP_STALL_MS', 10_000, { min: 100, max: 600_000 }),
  };
}
