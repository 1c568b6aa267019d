import type { EnvReader } from '../shared/config/env.ts';
import type { RoleInstance, ServiceContext, ServiceDefinition } from '../shared/service/run-service.ts';
import { StreamConsumer } from '../shared/streams/consumer.ts';
import { groups, streams } from '../shared/streams/keys.ts';
import { StreamProducer } from '../shared/streams/producer.ts';
import { ensureScripts } from '../shared/streams/scripts.ts';
import { closeLiveStreams } from './api/live.ts';
import { registerHostApp } from './app.ts';
import { type HostConfig, readHostConfig } from './config.ts';
import { HostMetrics } from './metrics.ts';
import { PartsHolder, crashAfterApplyStep, crashAfterSave, testAfterSave } from './parts.ts';
import { OutboxDrainer } from './publishing/outbox.ts';
import { Revisions, saveRevisionScript } from './publishing/revisions.ts';
import { activityBatchHandler } from './read-model/activity-receiver.ts';
import { FeedHub } from './read-model/feed-hub.ts';
import { FlowHub } from './read-model/flow-hub.ts';
import { ReadModel, applyScript } from './read-model/read-model.ts';
import { StreamStats, allStreams } from './read-model/stream-stats.ts';
import { StreamTail } from './read-model/stream-tail.ts';
import { sampleBody } from './sample.ts';
import { SummaryReceiver } from './summary-receiver.ts';

const parts = new PartsHolder();

/**
 * The host: the organizer of its events (publishes each revision through an outbox), serves the
 * HTTP API, and builds its read model from event_summaries and event_activity, read in its
 * application's consumer group.
 */
export const hostService: ServiceDefinition<HostConfig> = {
  role: 'host',
  readConfig: (env: EnvReader) => readHostConfig(env),
  routes: (ctx, config) => registerHostApp(ctx.app, parts.get, config),
  start: async (ctx: ServiceContext, config: HostConfig): Promise<RoleInstance> => {
    const { connections, log, metrics } = ctx;
    const redis = connections.command;
    const hm = new HostMetrics(metrics);
    // Loaded once: a first batch of 10,000 saves would otherwise meet NOSCRIPT 10,000 times and run again.
    await ensureScripts(redis, [saveRevisionScript, applyScript]);
    const producer = new StreamProducer(connections, { onceTtlMs: ctx.config.streams.retentionMs }, metrics);
    const readModel = new ReadModel(redis, { feedMaxLen: config.feedMaxLen, retentionMs: config.eventRetentionMs, afterStep: crashAfterApplyStep(config.testCrashAfterApplyStep) });
    const receiver = new SummaryReceiver({
      hostId: config.hostId,
      redis,
      metrics: hm,
      log,
      print: ctx.config.logFormat === 'pretty',
      seenTtlMs: ctx.config.streams.retentionMs,
      readModel,
    });
    const consumerOptions = { group: groups.host(config.hostId), consumer: ctx.config.consumerName, connections, settings: ctx.config.streams, log, metrics };
    const summaries = new StreamConsumer({ ...consumerOptions, stream: streams.summaries, handleEntry: receiver.handleEntry });
    const activity = new StreamConsumer({ ...consumerOptions, stream: streams.activity, handleBatch: activityBatchHandler(readModel, config.hostId) });
    await summaries.start();
    await activity.start();

    const revisions = new Revisions(redis, {
      hostId: config.hostId,
      hostName: config.hostName,
      timezone: config.defaultTimezone,
      rsvpWindowMs: config.rsvpWindowMs,
      retentionMs: config.eventRetentionMs,
      partitions: ctx.config.streams.partitions,
    });
    const outbox = new OutboxDrainer({ redis, producer, hostId: config.hostId, metrics: hm, log, intervalMs: config.outboxDrainIntervalMs, retentionMs: config.eventRetentionMs });
    // At start, before anything new: revisions a crash left in an outbox are published first.
    await outbox.sweep();
    outbox.start();
    const feedTail = new StreamTail(connections, log, 'feeds');
    const flowTail = new StreamTail(connections, log, 'flow');
    const stats = new StreamStats(redis);
    parts.current = {
      config,
      redis,
      log,
      metrics: hm,
      revisions,
      outbox,
      readModel,
      feeds: new FeedHub(redis, feedTail),
      flow: new FlowHub(redis, flowTail, config.guestTtlMs, ctx.config.streams.partitions),
      stats: { collect: async () => stats.collect(await allStreams(redis, config.guestTtlMs, ctx.config.streams.partitions)) },
      guestTtlMs: config.guestTtlMs,
      afterSave: testAfterSave(crashAfterSave(config.testCrashAfterSave), config.testDrainFirst ? outbox : undefined),
    };

    if (config.publishSample) {
      const sample = sampleBody(config.rsvpWindowMs);
      if (config.exitAfterSummary) {
        const timer = setTimeout(() => {
          log.error({ eventId: sample.id, timeoutMs: config.summaryTimeoutMs }, 'no summary arrived in time');
          process.exitCode = 1;
          process.kill(process.pid, 'SIGTERM');
        }, config.summaryTimeoutMs);
        receiver.onSummary((summary) => {
          if (summary.invitationId !== sample.id) return;
          clearTimeout(timer);
          process.kill(process.pid, 'SIGTERM');
        });
      }
      const created = await revisions.create(sample);
      // The sample is built here; a refusal would be a bug in it, and waiting for its summary pointless.
      if (created.kind !== 'saved') throw new Error(`the sample invitation was refused: ${JSON.stringify(created)}`);
      await outbox.drain([created.id]);
      log.info({ eventId: created.id }, `📤 published invitation "${String(sample.event_name)}"`);
    }

    return {
      readiness: [
        { name: 'summaries', check: () => (summaries.isHealthy() ? true : 'read loop not running') },
        { name: 'activity', check: () => (activity.isHealthy() ? true : 'read loop not running') },
      ],
      info: () => ({ hostId: config.hostId, hostName: config.hostName, summaryGroup: groups.host(config.hostId) }),
      stop: async (graceMs) => {
        closeLiveStreams();
        await outbox.stop();
        await Promise.all([feedTail.close(), flowTail.close(), summaries.close(graceMs), activity.close(graceMs)]);
      },
    };
  },
};
