import { register } from 'node:module';
import { markTracingEnabled } from './trace-context.ts';
import { redisStatement } from './redis-statement.ts';

type Env = Record<string, string | undefined>;

/**
 * Tracing is on only when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER=none can still
 * turn it off. Without it nothing is exported and no SDK is even loaded.
 */
export function tracingConfigured(env: Env = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return false;
  const endpoints = [env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim(), env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()].filter(Boolean) as string[];
  // A malformed endpoint starts nothing: the configuration check then stops the process with exit 2.
  return endpoints.length > 0 && endpoints.every((url) => URL.canParse(url));
}

let stopSdk: (() => Promise<void>) | undefined;

/**
 * Starts the OpenTelemetry Node SDK for one role: W3C propagation, OTLP export (protocol from
 * OTEL_EXPORTER_OTLP_PROTOCOL, batched per OTEL_BSP_*), service.name `event-planner-<role>`, and
 * the ioredis instrumentation. Must run before anything imports ioredis: the instrumentation
 * patches the module as it is loaded, so main.ts imports the roles only after this resolves.
 * Returns whether tracing is on.
 */
export async function startTracing(role: string, env: Env = process.env): Promise<boolean> {
  if (!tracingConfigured(env)) return false;
  // ESM imports bypass require-in-the-middle; the import-in-the-middle loader wraps ioredis as it is
  // imported so the instrumentation's hook sees it. Limited to ioredis: every other module loads
  // untouched (no wrapper cost, no risk to fastify, pino or the SDK itself).
  register('import-in-the-middle/hook.mjs', import.meta.url, { data: { include: ['ioredis'] } });
  const [{ NodeSDK }, { IORedisInstrumentation }, { suppressTracing }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@opentelemetry/core'),
  ]);
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME?.trim() || `event-planner-${role}`,
    // Traces only: metrics are Prometheus (prom-client) and logs are pino lines on stdout.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new IORedisInstrumentation({
        // Only commands issued inside a span: the blocking XREADGROUP loops, heartbeats and
        // scrapes would otherwise each start a trace of their own.
        requireParentSpan: true,
        dbStatementSerializer: redisStatement,
      }),
    ],
  });
  sdk.start();
  markTracingEnabled(suppressTracing);
  stopSdk = () => sdk.shutdown();
  return true;
}

/**
 * Exports the spans still buffered and stops the SDK. Part of the graceful shutdown: the process
 * exits right after, and spans left in the batch processor would be lost (the summary receipt is
 * often the very last span of an event). Bounded so an unreachable collector cannot hold up exit.
 */
export async function stopTracing(timeoutMs = 3_000): Promise<void> {
  const stop = stopSdk;
  stopSdk = undefined;
  if (!stop) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    stop().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}
