import { ROOT_CONTEXT, context, propagation, trace, type Context } from '@opentelemetry/api';

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

let enabled = false;
let suppress: ((ctx: Context) => Context) | undefined;

/**
 * Set once by startTracing when an SDK exports spans; hot paths skip span work while false.
 * `suppressTracing` comes from @opentelemetry/core, loaded only when tracing is on.
 */
export function markTracingEnabled(suppressTracing: (ctx: Context) => Context): void {
  enabled = true;
  suppress = suppressTracing;
}

/**
 * Runs `fn` without instrumentation spans (the ioredis client spans). For the XADDs of a `send`:
 * the producer span already is that operation, and a second span per entry would double the cost
 * of tracing on the busiest path (a fan-out or a burst of replies pipelines thousands of them).
 */
export function withoutClientSpans<T>(fn: () => T): T {
  return suppress ? context.with(suppress(context.active()), fn) : fn();
}

export function tracingEnabled(): boolean {
  return enabled;
}

/** Appends traceparent/tracestate of `ctx` (default: active) to a flat field list for XADD. */
export function injectTraceFields(fields: string[], ctx: Context = context.active()): void {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (carrier.traceparent) fields.push('traceparent', carrier.traceparent);
  if (carrier.tracestate) fields.push('tracestate', carrier.tracestate);
}

/**
 * The context a producer stored in an entry's fields. Extracted onto ROOT, never onto whatever
 * happens to be active: an entry without trace fields must not inherit an unrelated span.
 */
export function extractTraceContext(fields: Record<string, string>): Context {
  if (fields.traceparent === undefined) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, fields, fieldGetter);
}

const invalidTraceId = '00000000000000000000000000000000';

/** trace_id and span_id of the active span for log lines; empty when there is none. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (!enabled) return undefined;
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return traceId === invalidTraceId ? undefined : { trace_id: traceId, span_id: spanId };
}
