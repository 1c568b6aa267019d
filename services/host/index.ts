import type { EnvReader } from '../shared/config/env.ts';
import type { RoleInstance, ServiceContext, ServiceDefinition } from '../shared/service/run-service.ts';
import { invitationFields } from '../shared/schema/invitation.ts';
import { StreamConsumer } from '../shared/streams/consumer.ts';
import { toFields } from '../shared/streams/entry.ts';
import { groups, streams } from '../shared/streams/keys.ts';
import { StreamProducer } from '../shared/streams/producer.ts';
import { type HostConfig, readHostConfig } from './config.ts';
import { HostMetrics } from './metrics.ts';
import { InvitationPublisher } from './publisher.ts';
import { hostRoutes } from './routes.ts';
import { sampleInvitation } from './sample.ts';
import { SummaryReceiver } from './summary-receiver.ts';
import { webPage } from './web/serve.ts';

let publisher: InvitationPublisher | undefined;

/**
 * The host: publishes invitations (HTTP API, or the original's sample at start) and receives the
 * summaries of its own events in its application's consumer group.
 */
export const hostService: ServiceDefinition<HostConfig> = {
  role: 'host',
  readConfig: (env: EnvReader) => readHostConfig(env),
  routes: async (ctx, config) => {
    hostRoutes(ctx.app, config, () => publisher);
    await ctx.app.register(webPage);
  },
  start: async (ctx: ServiceContext, config: HostConfig): Promise<RoleInstance> => {
    const { connections, log, metrics } = ctx;
    const hm = new HostMetrics(metrics);
    const producer = new StreamProducer(connections, { onceTtlMs: ctx.config.streams.retentionMs }, metrics);
    const receiver = new SummaryReceiver({
      hostId: config.hostId,
      redis: connections.command,
      metrics: hm,
      log,
      print: ctx.config.logFormat === 'pretty',
      seenTtlMs: ctx.config.streams.retentionMs,
    });
    const consumer = new StreamConsumer({
      stream: streams.summaries,
      group: groups.host(config.hostId),
      consumer: ctx.config.consumerName,
      connections,
      settings: ctx.config.streams,
      log,
      metrics,
      handleEntry: receiver.handleEntry,
    });
    await consumer.start();
    publisher = new InvitationPublisher({ producer, redis: connections.command, hostId: config.hostId, metrics: hm, log });

    if (config.publishSample) {
      const sample = sampleInvitation(config.hostId, config.hostName);
      if (config.rsvpWindowMs > 0) sample.rsvpDeadline = Date.now() + config.rsvpWindowMs;
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
      const published = await publisher.publish(toFields(invitationFields(sample)));
      // The sample is built here; a refusal would be a bug in it, and waiting for its summary pointless.
      if (published.kind !== 'published') throw new Error(`the sample invitation was refused: ${JSON.stringify(published)}`);
    }

    return {
      readiness: [{ name: 'summaries', check: () => (consumer.isHealthy() ? true : 'read loop not running') }],
      info: () => ({ hostId: config.hostId, hostName: config.hostName, summaryGroup: groups.host(config.hostId) }),
      stop: (graceMs) => consumer.close(graceMs),
    };
  },
};
