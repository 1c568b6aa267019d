import type { EnvReader } from '../shared/config/env.ts';
import { type RoleInstance, type ServiceContext, type ServiceDefinition } from '../shared/service/run-service.ts';
import { RedisConnections } from '../shared/streams/connection.ts';
import { StreamConsumer } from '../shared/streams/consumer.ts';
import { groups, partitionStreams, streams } from '../shared/streams/keys.ts';
import { StreamProducer } from '../shared/streams/producer.ts';
import { type CoordinatorConfig, readCoordinatorConfig } from './config.ts';
import { CrashPoint } from './crash-point.ts';
import { EventStore } from './event-store.ts';
import { FanOutLister } from './fan-out.ts';
import { Janitor } from './janitor.ts';
import { CoordinatorMetrics } from './metrics.ts';
import { OutboxDrainer } from './outbox.ts';
import { ReplyHandler } from './replies.ts';
import { InvitationHandler } from './revisions.ts';
import { StreamStats } from './stream-stats.ts';
import { SummaryBuilder } from './summary-builder.ts';
import { QuestionCache } from './version-questions.ts';
import { SummaryPublisher } from './summary-publisher.ts';
import { LiveGuests } from './targeting.ts';
import { TimerSweeper } from './timer-sweeper.ts';

/**
 * The coordinator: reads invitations and replies in the shared group `coordinators` (any number of
 * replicas split the work), each lane (normal and high priority) with a consumer of its own; keeps
 * every event's state in Redis, ticks events' timers (publish_at, reminders, deadlines), and
 * applies retention. It holds nothing about events in memory.
 */
export const coordinatorService: ServiceDefinition<CoordinatorConfig> = {
  role: 'coordinator',
  readConfig: (env: EnvReader) => readCoordinatorConfig(env),
  // Ten batches in flight: with two, the coordinator waited on Redis while the CPU had room
  // (+11 % RSVP/s measured on a quiet machine, docs/BENCHMARKS.md).
  streamDefaults: { concurrency: 1_000 },
  start: async (ctx: ServiceContext, config: CoordinatorConfig): Promise<RoleInstance> => {
    const { connections, log, metrics } = ctx;
    const settings = ctx.config.streams;
    const cm = new CoordinatorMetrics(metrics);
    // The priority lanes get Redis connections of their own: on the shared command connection an
    // urgent event's commands waited behind those of up to STREAM_CONCURRENCY normal entries in
    // flight (3 s between applying a high-priority invitation and delivering it, behind a backlog
    // of 1,000: docs/BENCHMARKS.md, priority lane).
    // Its state changes are those of the main connection (same Redis): only the main one reports them.
    const priority = new RedisConnections(ctx.config.redis, `${ctx.config.consumerName}:priority`, log.child({ connection: 'priority' }, { level: 'error' }));
    await priority.connect();
    // One count of fan-out steps for the process (FANOUT_TEST_CRASH), whichever lane takes them.
    const fanOutCrash = new CrashPoint('FANOUT_TEST_CRASH', config.fanOutTestCrash);
    // The questions of the versions this process opened, for both lanes' reply handlers.
    const questions = new QuestionCache();
    const lane = (conns: RedisConnections) => {
      const redis = conns.command;
      const producer = new StreamProducer(conns, { onceTtlMs: Math.max(config.eventRetentionMs, settings.retentionMs) }, metrics);
      const store = new EventStore(redis, { retentionMs: config.eventRetentionMs, summaryCap: config.summaryMaxResponses, rsvpDeadlineMs: config.rsvpDeadlineMs, summaryStepAbove: config.summaryStepGuests, fanOutStepAbove: config.fanOutStepGuests, crash: fanOutCrash });
      const summaries = new SummaryPublisher(producer, cm, log);
      const builder = new SummaryBuilder(redis, { crashAfterStep: config.summaryTestCrash });
      const lister = new FanOutLister(redis, { step: config.fanOutStepGuests, crash: fanOutCrash });
      const outbox = new OutboxDrainer({ redis, producer, summaries, builder, store, lister, crash: fanOutCrash, metrics: cm, log });
      const live = new LiveGuests({ redis, guestTtlMs: config.guestTtlMs, metrics: cm, log });
      const invitations = new InvitationHandler({ store, outbox, live, metrics: cm, log, questions });
      const replies = new ReplyHandler({ redis, store, outbox, metrics: cm, log, questions });
      return { redis, store, outbox, live, invitations, replies };
    };
    const normal = lane(connections);
    const high = lane(priority);
    const consumerBase = { connections, settings, log, metrics, group: groups.coordinators, consumer: ctx.config.consumerName };
    const highBase = { ...consumerBase, connections: priority };
    // The priority lanes have consumers of their own: a high-priority entry is read at once, however
    // long the normal lane's backlog.
    const consumers = [
      new StreamConsumer({ ...highBase, stream: streams.invitationsHigh, handleBatch: high.invitations.handleBatch }),
      new StreamConsumer({ ...highBase, stream: streams.responsesHigh, handleBatch: high.replies.handleBatch }),
      // Every coordinator reads every partition (one consumer, so one blocking connection, each);
      // the group shares each partition's entries among the coordinators.
      ...partitionStreams(streams.invitations, settings.partitions).map((stream) => new StreamConsumer({ ...consumerBase, stream, handleBatch: normal.invitations.handleBatch })),
      ...partitionStreams(streams.responses, settings.partitions).map((stream) => new StreamConsumer({ ...consumerBase, stream, handleBatch: normal.replies.handleBatch })),
    ];
    const { redis, store, outbox, live } = normal;
    const sweeper = new TimerSweeper({ redis, store, outbox, live, metrics: cm, log, intervalMs: config.deadlineSweepIntervalMs, isConnected: () => connections.isReady(), crashAfterTick: config.timerTestCrash });
    const janitor = new Janitor({ redis, owner: ctx.config.consumerName, settings, agentGcMs: config.agentGcMs, log });
    new StreamStats({ redis, metrics, guestTtlMs: config.guestTtlMs, active: () => janitor.isLeader(), partitions: settings.partitions });

    for (const consumer of consumers) await consumer.start();
    sweeper.start();
    janitor.start();

    return {
      readiness: consumers.map((c) => ({ name: `${c.stream}/${c.group}`, check: () => (c.isHealthy() ? true : 'read loop not running') })),
      info: () => ({ coordinator: config, janitorLeader: janitor.isLeader() }),
      stop: async (graceMs) => {
        await sweeper.stop();
        await janitor.stop();
        await Promise.all(consumers.map((c) => c.close(graceMs)));
        await priority.close();
      },
    };
  },
};
