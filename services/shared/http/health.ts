import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
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
  /** A turn of the event loop later than this is a stall. */
  eventLoopStallMs: number;
  /**
   * How long /healthz keeps reporting a stall after it ended. Long enough for the next probe (the
   * kubelet's default period is 10 s) and for every prober, not only the first one to ask.
   */
  stallReportMs?: number;
}

/**
 * /healthz  — the process is alive: the event loop turns. A stuck loop never answers (the probe
 *             times out); a loop that is overdue right now, or stalled within the last
 *             `stallReportMs`, answers 503 with how long it stalled.
 * /readyz   — every readiness check passes (Redis connected, groups present, consumer loops
 *             running, not shutting down); 503 with the failing checks otherwise.
 * /metrics  — Prometheus text format.
 * /info     — what is running and how it is configured.
 */
export async function healthRoutes(app: FastifyInstance, opts: HealthOptions): Promise<void> {
  const stallMs = opts.eventLoopStallMs;
  const reportMs = opts.stallReportMs ?? 10_000;
  // Ticks often enough to notice a stall of the configured length, never more than once a second.
  const tickMs = Math.min(1_000, Math.max(20, Math.floor(stallMs / 2)));
  let lastTick = performance.now();
  let lastStall = { ms: 0, endedAt: Number.NEGATIVE_INFINITY };
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - lastTick - tickMs;
    if (late > stallMs) lastStall = { ms: Math.round(late), endedAt: now };
    lastTick = now;
  }, tickMs);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  app.get('/healthz', async (_request, reply) => {
    const now = performance.now();
    // A request served before the overdue tick: the stall is measured here, not yet by the timer.
    const overdue = now - lastTick - tickMs;
    if (overdue > stallMs) {
      return reply.code(503).send({ status: 'unhealthy', reason: `event loop stalled for ${Math.round(overdue)} ms` });
    }
    if (now - lastStall.endedAt < reportMs) {
      return reply
        .code(503)
        .send({ status: 'unhealthy', reason: `event loop stalled for ${lastStall.ms} ms, ${Math.round(now - lastStall.endedAt)} ms ago` });
    }
    return { status: 'ok' };
  });

  const failingChecks = (): Record<string, string> => {
    const failing: Record<string, string> = {};
    for (const { name, check } of opts.readiness) {
      const result = check();
      if (result !== true) failing[name] = result;
    }
    return failing;
  };
  // What the kubelet sees at /readyz, as a metric: Prometheus keeps the history the probe does not.
  new Gauge({
    name: 'event_planner_ready',
    help: '1 while /readyz answers 200 (Redis connected, consumer loops running, not starting or shutting down).',
    registers: [opts.metrics.registry],
    collect() {
      this.set(Object.keys(failingChecks()).length === 0 ? 1 : 0);
    },
  });

  app.get('/readyz', async (_request, reply) => {
    const failing = failingChecks();
    if (Object.keys(failing).length > 0) return reply.code(503).send({ status: 'not ready', failing });
    return { status: 'ready' };
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await opts.metrics.registry.metrics();
    return reply.type(opts.metrics.registry.contentType).send(body);
  });

  app.get('/info', async () => opts.info());
}
