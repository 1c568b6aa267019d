import type { EnvReader } from '../shared/config/env.ts';
import { type RoleInstance, type ServiceContext, type ServiceDefinition } from '../shared/service/run-service.ts';
import { StreamConsumer } from '../shared/streams/consumer.ts';
import { groups, partitionStreams, streams } from '../shared/streams/keys.ts';
import { StreamProducer } from '../shared/streams/producer.ts';
import { type CoordinatorConfig, readCoordinatorConfig } from './config.ts';
import { EventStore } from './event-store.ts';
import { Janitor } from './janitor.ts';
import { CoordinatorMetrics } from './metrics.ts';
import { OutboxDrainer } from './outbox.ts';
import { ReplyHandler } from './replies.ts';
import { InvitationHandler } from './revisions.ts';
import { StreamStats } from './stream-stats.ts';
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
    const redis = connections.command;
    const settings = ctx.config.streams;
    const cm = new CoordinatorMetrics(metrics);
    const producer = new StreamProducer(connections, { onceTtlMs: Math.max(config.eventRetentionMs, settings.retentionMs) }, metrics);
    const store = new EventStore(redis, { retentionMs: config.eventRetentionMs, summaryCap: config.summaryMaxResponses, rsvpDeadlineMs: config.rsvpDeadlineMs });
    const summaries = new SummaryPublisher(producer, cm, log);
    const outbox = new OutboxDrainer({ redis, producer, summaries, store, metrics: cm, log });
    const live = new LiveGuests({ redis, guestTtlMs: config.guestTtlMs, metrics: cm, log });
    const invitations = new InvitationHandler({ store, outbox, live, metrics: cm, log });
    const replies = new ReplyHandler({ redis, store, outbox, metrics: cm, log });
    const consumerBase = { connections, settings, log, metrics, group: groups.coordinators, consumer: ctx.config.consumerName };
    // The priority lanes have consumers of their own: a high-priority entry is read at once, however
    // long the normal lane's backlog.
    const consumers = [
      new StreamConsumer({ ...consumerBase, stream: streams.invitationsHigh, handleBatch: invitations.handleBatch }),
      new StreamConsumer({ ...consumerBase, stream: streams.responsesHigh, handleBatch: replies.handleBatch }),
      // Every coordinator reads every partition (one consumer, so one blocking connection, each);
      // the group shares each partition's entries among the coordinators.
      ...partitionStreams(streams.invitations, settings.partitions).map((stream) => new StreamConsumer({ ...consumerBase, stream, handleBatch: invitations.handleBatch })),
      ...partitionStreams(streams.responses, settings.partitions).map((stream) => new StreamConsumer({ ...consumerBase, stream, handleBatch: replies.handleBatch })),
    ];
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
      },
    };
  },
};
