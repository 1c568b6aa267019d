import type { EnvReader } from '../shared/config/env.ts';
import { GuestRegistry } from '../shared/registry/guest-registry.ts';
import type { RoleInstance, ServiceContext, ServiceDefinition } from '../shared/service/run-service.ts';
import { StreamConsumer } from '../shared/streams/consumer.ts';
import { groups, guestAgentIdPrefix, lanes } from '../shared/streams/keys.ts';
import { StreamProducer } from '../shared/streams/producer.ts';
import { Periodic } from '../shared/util/periodic.ts';
import { sleep } from '../shared/util/time.ts';
import { GuestAgent, heartbeat } from './agent.ts';
import { type GuestConfig, readGuestConfig } from './config.ts';
import { buildGuests } from './guests.ts';

/**
 * A guest agent process: hosts GUESTS_PER_AGENT simulated guests, registers them (with their
 * tags), keeps a heartbeat, handles what is delivered to its two inboxes (the normal one and the
 * priority lane, each read by a consumer of its own so urgent deliveries overtake a backlog), and
 * deregisters on shutdown.
 */
export const guestService: ServiceDefinition<GuestConfig> = {
  role: 'guest',
  readConfig: (env: EnvReader) => readGuestConfig(env),
  // Guests hold a delivery while they think: many may be in flight at once.
  streamDefaults: { concurrency: 1_000 },
  start: async (ctx: ServiceContext, config: GuestConfig): Promise<RoleInstance> => {
    const { connections, log: baseLog, metrics } = ctx;
    const log = baseLog.child({ agent: config.agentId });
    // A persona group's Redis user reaches only ids carrying `guest-<group>-` (docs/SECURITY.md):
    // say so here, rather than leave only NOPERM on the inbox to explain why the agent never turns ready.
    const ownPrefix = guestAgentIdPrefix(config.personaGroup);
    if (ctx.config.redis.username?.startsWith('event-planner-guest-') && !config.agentId.includes(ownPrefix)) {
      log.warn({ user: ctx.config.redis.username }, `GUEST_AGENT_ID ${config.agentId} does not contain ${ownPrefix}: the persona group's Redis user cannot reach its inbox`);
    }
    const redis = connections.command;
    const guests = buildGuests(config.agentId, config.guestsPerAgent, config.personas, config.seed, config.personaGroup);
    const producer = new StreamProducer(connections, { onceTtlMs: ctx.config.streams.retentionMs }, metrics);
    const agent = new GuestAgent({ guests, config, producer, log, metrics, partitions: ctx.config.streams.partitions });
    // Ten missed heartbeats (at least a minute) before the registration's hashes expire on their own.
    const registry = new GuestRegistry(redis, { registrationTtlMs: 10 * config.heartbeatIntervalMs });
    // The agent id is the consumer name on both lanes: a restarted agent resumes its own pending
    // deliveries. Each lane has its own consumer (and blocking connection).
    const inboxes = (['high', 'normal'] as const).map(
      (priority) =>
        new StreamConsumer({
          stream: lanes.inbox(config.agentId, priority),
          group: groups.guests,
          consumer: config.agentId,
          connections,
          settings: ctx.config.streams,
          log,
          metrics,
          handleEntry: agent.handleEntry,
        }),
    );
    const register = () => registry.register({ agentId: config.agentId, group: config.personaGroup, guests });

    for (const inbox of inboxes) await inbox.start();
    await register();
    let lastBeatFailed = false;
    const beat = new Periodic(
      config.heartbeatIntervalMs,
      async () => {
        if (!connections.isReady()) return;
        await heartbeat(registry, register, config.agentId);
        lastBeatFailed = false;
      },
      (error) => {
        if (!lastBeatFailed) log.warn({ err: String(error) }, 'heartbeat failed');
        lastBeatFailed = true;
      },
    ).start();
    // Redis may come back empty (its data lost): register again at once, not at the next
    // heartbeat, or invitations accepted meanwhile would not reach these guests.
    const removeReadyListener = connections.onReady(() => void beat.runNow());
    const shown = guests.slice(0, 5).map((g) => g.name).join(', ') + (guests.length > 5 ? ` and ${guests.length - 5} more` : '');
    log.info({ guests: guests.length, group: config.personaGroup }, `👥 agent ${config.agentId} hosts ${guests.length} guests: ${shown}`);

    return {
      readiness: inboxes.map((inbox) => ({ name: inbox.stream.endsWith(':high') ? 'inbox_high' : 'inbox', check: () => (inbox.isHealthy() ? true : 'read loop not running') })),
      info: () => ({
        agentId: config.agentId,
        personaGroup: config.personaGroup,
        guests: guests.length,
        sampleGuests: guests.slice(0, 10).map((g) => ({ id: g.id, name: g.name, persona: g.persona, tags: g.tags, dietary: g.dietary })),
        replyDelayScale: config.replyDelayScale,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
      }),
      stop: async (graceMs) => {
        // Deregister first so no new invitation is addressed to us, answer at once whatever is in
        // flight, and keep reading a moment for a delivery that raced with the deregistration.
        removeReadyListener();
        await beat.stop();
        await registry.deregister(config.agentId).catch((error: unknown) => log.warn({ err: String(error) }, 'could not deregister'));
        log.info(`👋 agent ${config.agentId} deregistered its ${guests.length} guests`);
        agent.hurryUp();
        await sleep(Math.min(500, graceMs / 4));
        await Promise.all(inboxes.map((inbox) => inbox.close(graceMs)));
      },
    };
  },
};
