import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { Gauge } from 'prom-client';
import { type CommonConfig, type Role, readCommonConfig } from '../config/common-config.ts';
import { ConfigError, EnvReader, loadDotEnv } from '../config/env.ts';
import type { StreamSettings } from '../config/stream-settings.ts';
import { answerErrors, newRequestId, strictValidation } from '../http/errors.ts';
import { type ReadinessCheck, healthRoutes } from '../http/health.ts';
import { recordRequestMetrics } from '../http/request-metrics.ts';
import { listenProblem } from './listen-problem.ts';
import { traceRequests } from '../http/request-tracing.ts';
import { type Logger, createLogger } from '../logging/logger.ts';
import { RedisConnections } from '../streams/connection.ts';
import { RedisWriteProbe } from '../streams/write-probe.ts';
import { Metrics } from '../telemetry/metrics.ts';
import { tracingEnabled } from '../telemetry/trace-context.ts';
import { stopTracing } from '../telemetry/tracing.ts';
import { version } from '../util/version.ts';

/** Hit every few seconds by kubelet and Prometheus: measured, but never traced. */
const probeRoutes = ['/healthz', '/readyz', '/metrics'];

/** What a role hands back once started. */
export interface RoleInstance {
  /** Role readiness on top of the shared ones (Redis connected, not shutting down). */
  readiness: ReadinessCheck[];
  /** Role-specific part of /info (configuration without secrets, identities). */
  info(): Record<string, unknown>;
  /** Stop reading, finish in-flight work within the grace period, clean up (deregister). */
  stop(graceMs: number): Promise<void>;
}

export interface ServiceContext {
  config: CommonConfig;
  log: Logger;
  metrics: Metrics;
  connections: RedisConnections;
  /** The role's HTTP app: roles add their routes before it starts listening. */
  app: FastifyInstance;
}

export interface ServiceDefinition<C> {
  role: Role;
  /** Reads the role's own environment variables (problems are reported with the common ones). */
  readConfig: (env: EnvReader) => C;
  /** Role-specific stream setting defaults (e.g. guests hold entries while they think). */
  streamDefaults?: Partial<StreamSettings>;
  /** Registers HTTP routes; runs before listen and before Redis is connected. */
  routes?: (ctx: ServiceContext, config: C) => Promise<void> | void;
  /** Starts consumers and loops; runs once Redis is connected. */
  start: (ctx: ServiceContext, config: C) => Promise<RoleInstance>;
}

export interface RunningService {
  ctx: ServiceContext;
  port: number;
  shutdown(reason: string): Promise<void>;
}

/**
 * The life of every role's process: validate the environment (exit 2 with every problem listed),
 * serve /healthz, /readyz, /metrics and /info at once (not ready until Redis is connected and the
 * role is started), start the role, and on SIGTERM/SIGINT shut down in order: not ready, stop
 * reading, finish in-flight work, clean up, close HTTP and Redis, exit 0.
 */
export async function runService<C>(def: ServiceDefinition<C>, env: EnvReader = new EnvReader()): Promise<RunningService> {
  loadDotEnv();
  let config: CommonConfig;
  let roleConfig: C;
  try {
    config = readCommonConfig(env, def.role, def.streamDefaults);
    roleConfig = def.readConfig(env);
    env.done();
  } catch (error) {
    if (error instanceof ConfigError) exitInvalid(def.role, error);
    throw error;
  }

  const log = createLogger({ level: config.logLevel, format: config.logFormat, base: { role: def.role, consumer: config.consumerName } });
  const metrics = new Metrics(def.role, version);
  const connections = new RedisConnections(config.redis, config.consumerName, log);
  new Gauge({
    name: 'event_planner_redis_up',
    help: '1 while the Redis command connection is ready.',
    registers: [metrics.registry],
    collect() {
      this.set(connections.isReady() ? 1 : 0);
    },
  });
  const app = Fastify({
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    // Probes and scrapes every few seconds would drown the flow lines; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    ajv: strictValidation,
    genReqId: newRequestId,
    // Ids are up to 128 characters (identifierPattern): a longer one is answered 400 naming it by
    // the route's schema, not 414 by the router (whose default limit is 100).
    routerOptions: { maxParamLength: 1_024 },
  }) as unknown as FastifyInstance;
  answerErrors(app);
  const writeProbe = new RedisWriteProbe({ connections, consumer: config.consumerName, socketTimeoutMs: config.redis.socketTimeoutMs, log, metrics });
  const ctx: ServiceContext = { config, log, metrics, connections, app };

  let role: RoleInstance | undefined;
  let shuttingDown = false;
  if (tracingEnabled()) traceRequests(app, { ignoreRoutes: probeRoutes });
  recordRequestMetrics(app, metrics);
  await app.register(healthRoutes, {
    metrics,
    eventLoopStallMs: config.eventLoopStallMs,
    readiness: [
      { name: 'shutdown', check: () => (shuttingDown ? 'shutting down' : true) },
      { name: 'redis', check: () => (connections.isReady() ? true : `not connected to ${config.redis.display}`) },
      { name: 'redis-writes', check: () => writeProbe.check() },
      { name: 'role', check: () => (role ? true : 'starting') },
      {
        name: 'consumers',
        check: () => {
          for (const r of role?.readiness ?? []) {
            const result = r.check();
            if (result !== true) return `${r.name}: ${result}`;
          }
          return true;
        },
      },
    ],
    info: () => ({
      role: def.role,
      version,
      consumer: config.consumerName,
      pid: process.pid,
      node: process.version,
      redis: { address: config.redis.display, connected: connections.isReady() },
      streams: config.streams,
      ...role?.info(),
    }),
  });
  await def.routes?.(ctx, roleConfig);
  try {
    await app.listen({ port: config.port, host: config.listenHost });
  } catch (error) {
    const problem = listenProblem(error, config.port, config.listenHost);
    if (problem) exitInvalid(def.role, new ConfigError([problem]));
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info({ port, redis: config.redis.display, version }, `${def.role} listening on :${port}`);

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shutdownPromise ??= (async () => {
      shuttingDown = true;
      log.info({ reason }, `${def.role} shutting down`);
      const grace = config.streams.shutdownGraceMs;
      const hardStop = setTimeout(() => {
        log.error('shutdown did not finish within the grace period; exiting');
        process.exit(1);
      }, grace + 5_000);
      hardStop.unref();
      try {
        await role?.stop(grace);
      } catch (error) {
        log.error({ err: String(error) }, 'error while stopping');
      }
      await app.close().catch(() => undefined);
      writeProbe.stop();
      await connections.close();
      await stopTracing();
      clearTimeout(hardStop);
      log.info(`${def.role} stopped`);
      log.flush?.();
    })();
    return shutdownPromise;
  };

  let signals = 0;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      signals += 1;
      if (signals > 1) {
        log.warn('second signal: exiting at once');
        process.exit(1);
      }
      void shutdown(signal).then(() => process.exit(typeof process.exitCode === "number" ? process.exitCode : 0));
    });
  }

  await connections.connect();
  writeProbe.start();
  if (!shuttingDown) {
    role = await def.start(ctx, roleConfig);
    log.info(`${def.role} started`);
  }
  return { ctx, port, shutdown };
}

/** Exit code 2 and every problem on stderr: a setting is wrong, restarting will not help. */
function exitInvalid(role: Role, error: ConfigError): never {
  process.stderr.write(`event-planner ${role}: ${error.message}\n`);
  process.exit(2);
}
