import { context, propagation, trace, type Context } from '@opentelemetry/api';

// W3C trace context travels inside stream entries as the fields `traceparent` and `tracestate`,
// so one event is one trace across host, coordinator and guests. With no tracer provider
// registered (OTEL_EXPORTER_OTLP_ENDPOINT unset) these calls are cheap no-ops.

const fieldGetter = {
  get(carrier: Record<string, string>, key: string): string | undefined {
    return carrier[key];
  },
  keys(carrier: Record<string, string>): string[] {
    return Object.keys(carrier);
  },
};

/** Appends traceparent/tracestate of `ctx` (default: active) to a flat field list for XADD. */
export function injectTraceFields(fields: string[], ctx: Context = context.active()): void {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (carrier.traceparent) fields.push('traceparent', carrier.traceparent);
  if (carrier.tracestate) fields.push('tracestate', carrier.tracestate);
}

/** The context a producer stored in an entry's fields (ROOT context when there is none). */
export function extractTraceContext(fields: Record<string, string>): Context {
  if (fields.traceparent === undefined) return context.active();
  return propagation.extract(context.active(), fields, fieldGetter);
}

export function currentTraceId(): string | undefined {
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const id = span.spanContext().traceId;
  return id === '00000000000000000000000000000000' ? undefined : id;
}
