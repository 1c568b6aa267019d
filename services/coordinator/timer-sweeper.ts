import { writeSync } from 'node:fs';
import type { RedisClient } from '../shared/streams/redis-client.ts';
import type { Logger } from '../shared/logging/logger.ts';
import { timersKey } from '../shared/streams/keys.ts';
import { Periodic } from '../shared/util/periodic.ts';
import type { EventStore } from './event-store.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { OutboxDrainer } from './outbox.ts';
import { type LiveGuests, parseTargeting, resolveTargeting } from './targeting.ts';

/** Events ticked per sweep at most; the rest wait for the next sweep. */
const SWEEP_LIMIT = 200;

/**
 * Ticks events whose next moment came (publish_at, a reminder, a start reminder, the RSVP
 * deadline). Every coordinator replica sweeps the timer index (`event_timers`); tick-event.lua
 * decides each due thing once whoever runs it, the outbox is drained, and only then the timer is
 * moved on, so a crash anywhere leaves the timer due and the next sweep (of any replica) heals it.
 */
export class TimerSweeper {
  private readonly redis: RedisClient;
  private readonly store: EventStore;
  private readonly outbox: OutboxDrainer;
  private readonly live: LiveGuests;
  private readonly metrics: CoordinatorMetrics;
  private readonly log: Logger;
  private readonly periodic: Periodic;
  private readonly isConnected: () => boolean;
  private readonly crashAfter: number;
  private decided = 0;

  constructor(deps: { redis: RedisClient; store: EventStore; outbox: OutboxDrainer; live: LiveGuests; metrics: CoordinatorMetrics; log: Logger; intervalMs: number; isConnected: () => boolean; crashAfterTick?: number }) {
    this.crashAfter = deps.crashAfterTick ?? 0;
    this.redis = deps.redis;
    this.store = deps.store;
    this.outbox = deps.outbox;
    this.live = deps.live;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.isConnected = deps.isConnected;
    this.periodic = new Periodic(deps.intervalMs, async () => void (await this.sweep()), (error) => this.log.debug({ err: String(error) }, 'timer sweep failed'));
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  async sweep(now = Date.now()): Promise<number> {
    if (!this.isConnected()) return 0;
    const flat = await this.redis.zrangebyscore(timersKey, '-inf', now, 'WITHSCORES', 'LIMIT', 0, SWEEP_LIMIT);
    const due: { eventId: string; score: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) due.push({ eventId: flat[i]!, score: Number(flat[i + 1]) });
    await Promise.all(
      due.map(async ({ eventId, score }) => {
        try {
          await this.tick(eventId, score, now);
        } catch (error) {
          this.metrics.timerTicks.inc({ outcome: 'failed' });
          this.log.warn({ eventId, err: String(error) }, 'tick failed; the timer stays due');
        }
      }),
    );
    return due.length;
  }

  private async tick(eventId: string, score: number, now: number): Promise<void> {
    let result = await this.store.tick(eventId, now);
    if (result.kind === 'need_guests') {
      // A scheduled version is published now: its targeting is resolved against the guests live now.
      const resolution = resolveTargeting(parseTargeting(result.targeting), await this.live.read());
      result = await this.store.tick(eventId, now, resolution);
      this.metrics.timerTicks.inc({ outcome: 'published' });
      this.log.info({ eventId, invited: resolution.guests.length }, 'scheduled invitation published (publish_at reached)');
    }
    this.metrics.timerTicks.inc({ outcome: 'due' });
    if (result.kind === 'ok' && result.outbox.length > 0) {
      this.decided += 1;
      if (this.decided === this.crashAfter) crash(`after timer tick ${this.decided} (event ${eventId}), before draining its outbox`);
      await this.outbox.drain(eventId, result.outbox, undefined, result.handed);
    }
    await this.store.reschedule(eventId, score, result.kind === 'ok' ? result.nextDue : -1);
  }
}

/** TIMER_TEST_CRASH: dies where an outside kill -9 could only land by luck. */
function crash(where: string): never {
  writeSync(2, `TIMER_TEST_CRASH: SIGKILL ${where}\n`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL did not end the process');
}
