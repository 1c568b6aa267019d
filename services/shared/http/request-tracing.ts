import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';

// @fastify/otel needs an @opentelemetry/api newer than the one sdk-node 0.301 pins, so this is the
// small part of it the project needs: one SERVER span per request, named by route template, with
// the handler running inside it so that spans it starts (an invitation's `send`) are its children.

export interface RequestTracingOptions {
  /** Route templates that get no span: probes and scrapes every few seconds would bury real traffic. */
  ignoreRoutes?: Iterable<string>;
}

const tracer = trace.getTracer('event-planner/http');

const headerGetter = {
  get(carrier: FastifyRequest['headers'], key: string): string | undefined {
    const value = carrier[key];
    return Array.isArray(value) ? value[0] : value;
  },
  keys(carrier: FastifyRequest['headers']): string[] {
    return Object.keys(carrier);
  },
};

/** Registers the hooks on the root instance, before any route: onRoute only sees later routes. */
export function traceRequests(app: FastifyInstance, opts: RequestTracingOptions = {}): void {
  const ignored = new Set(opts.ignoreRoutes ?? []);
  const spans = new WeakMap<FastifyRequest, Span>();

  app.addHook('onRoute', (route) => {
    if (ignored.has(route.url)) return;
    const handler = route.handler;
    route.handler = function tracedHandler(this: FastifyInstance, request, reply) {
      const span = spans.get(request);
      if (!span) return handler.call(this, request, reply);
      return context.with(trace.setSpan(context.active(), span), () => handler.call(this, request, reply));
    };
  });

  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined && ignored.has(route)) return done();
    const parent = propagation.extract(ROOT_CONTEXT, request.headers, headerGetter);
    const span = tracer.startSpan(
      // Semconv: "{method} {route}", or the method alone when no route matched (never the raw path).
      route === undefined ? request.method : `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.path': request.url.split('?', 1)[0]!,
          'url.scheme': request.protocol,
          ...(route === undefined ? {} : { 'http.route': route }),
        },
      },
      parent,
    );
    spans.set(request, span);
    done();
  });

  app.addHook('onError', (request, _reply, error, done) => {
    spans.get(request)?.recordException(error);
    done();
  });

  app.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      spans.delete(request);
      span.setAttribute('http.response.status_code', reply.statusCode);
      // Server spans are errors for 5xx only; a 4xx is the client's mistake, not this service's.
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });

  // A client that hangs up gets no onResponse; the span still has to end.
  app.addHook('onRequestAbort', (request, done) => {
    const span = spans.get(request);
    if (span) {
      spans.delete(request);
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'request aborted by the client' });
      span.end();
    }
    done();
  });
}
