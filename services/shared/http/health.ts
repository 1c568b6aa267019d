import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../telemetry/metrics.ts';

export interface ReadinessCheck {
  name: string;
  /** true when fine; a string explains what is wrong. */
  check: () => true | string;
}

export interface HealthOptions {
  metrics: Metrics;
  readiness: ReadinessCheck[];
  /** Role, version, consumer and configuration without secrets. */
  info: () => Record<string, unknown>;
  eventLoopStallMs: number;
}

/**
 * /healthz  — the process is alive: the event loop turned recently (a stuck loop never answers,
 *             and one that stalled long answers 503).
 * /readyz   — every readiness check passes (Redis connected, groups present, consumer loops
 *             running, not shutting down); 503 with the failing checks otherwise.
 * /metrics  — Prometheus text format.
 * /info     — what is running and how it is configured.
 */
export async function healthRoutes(app: FastifyInstance, opts: HealthOptions): Promise<void> {
  let lastTick = Date.now();
  let worstStall = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    worstStall = Math.max(worstStall, now - lastTick - 1_000);
    lastTick = now;
  }, 1_000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  app.get('/healthz', async (_request, reply) => {
    const sinceTick = Date.now() - lastTick;
    const stalled = Math.max(sinceTick - 1_000, worstStall);
    worstStall = 0;
    if (stalled > opts.eventLoopStallMs) {
      return reply.code(503).send({ status: 'unhealthy', reason: `event loop stalled for ${stalled} ms` });
    }
    return { status: 'ok' };
  });

  app.get('/readyz', async (_request, reply) => {
    const failing: Record<string, string> = {};
    for (const { name, check } of opts.readiness) {
      const result = check();
      if (result !== true) failing[name] = result;
    }
    if (Object.keys(failing).length > 0) return reply.code(503).send({ status: 'not ready', failing });
    return { status: 'ready' };
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await opts.metrics.registry.metrics();
    return reply.type(opts.metrics.registry.contentType).send(body);
  });

  app.get('/info', async () => opts.info());
}
