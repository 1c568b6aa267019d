import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { type ReadinessCheck, healthRoutes } from '../../services/shared/http/health.ts';
import { recordRequestMetrics } from '../../services/shared/http/request-metrics.ts';
import { Metrics } from '../../services/shared/telemetry/metrics.ts';
import { delay } from '../helpers/wait.ts';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(readiness: ReadinessCheck[] = [], opts: { eventLoopStallMs?: number; stallReportMs?: number } = {}) {
  const metrics = new Metrics('test', '0.0.0-test');
  app = Fastify();
  recordRequestMetrics(app, metrics);
  await app.register(healthRoutes, {
    metrics,
    readiness,
    info: () => ({ role: 'test' }),
    eventLoopStallMs: opts.eventLoopStallMs ?? 200,
    stallReportMs: opts.stallReportMs ?? 300,
  });
  await app.ready();
  return { app, metrics };
}

/** Keeps the event loop busy, as a runaway synchronous loop would. */
function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spinning on purpose
  }
}

describe('/healthz', () => {
  it('answers 503 after the event loop stalled, and 200 again once the report window has passed', async () => {
    const { app } = await build([], { eventLoopStallMs: 200, stallReportMs: 300 });
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    blockEventLoop(600);
    const stalled = await app.inject('/healthz');
    expect(stalled.statusCode).toBe(503);
    expect(stalled.json()).toMatchObject({ status: 'unhealthy', reason: expect.stringMatching(/^event loop stalled for \d+ ms/) });
    // Reported to every prober within the window, not consumed by the first.
    await delay(50);
    expect((await app.inject('/healthz')).statusCode).toBe(503);
    await delay(500);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });

  it('does not count a short pause as a stall', async () => {
    const { app } = await build([], { eventLoopStallMs: 500 });
    blockEventLoop(150);
    await delay(100);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });
});

describe('/readyz', () => {
  it('is 200 when every check passes and 503 naming each failing one otherwise', async () => {
    let redisUp = true;
    const { app } = await build([
      { name: 'redis', check: () => (redisUp ? true : 'not connected') },
      { name: 'shutdown', check: () => true },
    ]);
    expect((await app.inject('/readyz')).json()).toEqual({ status: 'ready' });
    redisUp = false;
    const res = await app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'not ready', failing: { redis: 'not connected' } });
  });
});

describe('/metrics and /info', () => {
  it('serves the registry in the Prometheus text format, HTTP durations by route template', async () => {
    const { app } = await build();
    await app.inject('/readyz');
    await app.inject('/nowhere/42');
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toMatch(/^event_planner_http_request_duration_seconds_count\{role="test",method="GET",route="\/readyz",status_code="200"\} 1$/m);
    expect(res.body).toMatch(/^event_planner_http_request_duration_seconds_count\{role="test",method="GET",route="unmatched",status_code="404"\} 1$/m);
    expect(res.body).not.toContain('/nowhere/42');
    expect((await app.inject('/info')).json()).toEqual({ role: 'test' });
  });
});
