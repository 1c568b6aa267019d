import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, StackContextManager, TracerProvider } from '@opentelemetry/sdk-trace';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { traceRequests } from '../../services/shared/http/request-tracing.ts';

// Each test file runs in its own process, so registering global OpenTelemetry providers here
// touches no other test.
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
let app: FastifyInstance;

beforeAll(async () => {
  context.setGlobalContextManager(new StackContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  app = Fastify();
  traceRequests(app, { ignoreRoutes: ['/healthz'] });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/api/events/:id', async (request) => {
    // Started synchronously inside the handler: must be the request span's child.
    trace.getTracer('test').startSpan('inside handler').end();
    return { id: (request.params as { id: string }).id };
  });
  app.get('/boom', async () => {
    throw new Error('kaput');
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await provider.shutdown();
});
afterEach(() => exporter.reset());

const spans = () => exporter.getFinishedSpans();

describe('request tracing', () => {
  it('makes one SERVER span per request, named by route template, parent of the handler’s spans', async () => {
    const res = await app.inject('/api/events/e-42?verbose=1');
    expect(res.statusCode).toBe(200);
    const server = spans().find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.name).toBe('GET /api/events/:id');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/api/events/:id',
      'url.path': '/api/events/e-42',
      'http.response.status_code': 200,
    });
    expect(server.parentSpanContext).toBeUndefined();
    const inside = spans().find((s) => s.name === 'inside handler')!;
    expect(inside.spanContext().traceId).toBe(server.spanContext().traceId);
    expect(inside.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
  });

  it('continues a caller’s trace from its traceparent header', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await app.inject({ url: '/api/events/e-1', headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    const server = spans().find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.spanContext().traceId).toBe(traceId);
    expect(server.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  });

  it('marks 5xx as errors, names unmatched requests by method only, and skips ignored routes', async () => {
    expect((await app.inject('/boom')).statusCode).toBe(500);
    expect((await app.inject('/nowhere/at/all')).statusCode).toBe(404);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    const byName = new Map(spans().map((s) => [s.name, s]));
    expect(byName.get('GET /boom')?.status.code).toBe(SpanStatusCode.ERROR);
    expect(byName.get('GET /boom')?.events.some((e) => e.name === 'exception')).toBe(true);
    expect(byName.get('GET')?.attributes['http.response.status_code']).toBe(404);
    expect(byName.get('GET')?.status.code).toBe(SpanStatusCode.UNSET);
    expect([...byName.keys()].sort()).toEqual(['GET', 'GET /boom']);
  });
});
