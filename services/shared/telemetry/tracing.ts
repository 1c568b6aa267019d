/**
 * OpenTelemetry tracing. Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER) is set, in
 * which case the Node SDK exports spans over OTLP; with it off, the API's no-op tracer keeps the hot
 * paths free of tracing cost.
 */
export async function startTracing(role: string): Promise<(() => Promise<void>) | undefined> {
  const enabled = Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || process.env.OTEL_TRACES_EXPORTER);
  if (!enabled || process.env.OTEL_SDK_DISABLED === 'true') return undefined;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  process.env.OTEL_SERVICE_NAME ??= `event-planner-${role}`;
  const sdk = new NodeSDK({});
  sdk.start();
  const shutdown = () => sdk.shutdown();
  process.once('beforeExit', () => void shutdown());
  return shutdown;
}
