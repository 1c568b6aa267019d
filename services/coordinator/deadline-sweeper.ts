import type { Redis } from 'ioredis';
import type { Logger } from '../shared/logging/logger.ts';
import { deadlinesKey } from '../shared/streams/keys.ts';
import { Periodic } from '../shared/util/periodic.ts';
import type { EventStore } from './event-store.ts';
import type { SummaryPublisher } from './summary-publisher.ts';

/** Events closed per sweep at most; the rest wait for the next sweep. */
const SWEEP_LIMIT = 200;

/**
 * Closes events whose RSVP deadline passed. Every coordinator replica sweeps; the close script lets
 * only the first one decide the summary, and publishing is once per event, so racing is harmless.
 * The deadline zset is the index, the event hash the truth.
 */
export class DeadlineSweeper {
  private readonly redis: Redis;
  private readonly store: EventStore;
  private readonly summaries: SummaryPublisher;
  private readonly log: Logger;
  private readonly periodic: Periodic;
  private readonly isConnected: () => boolean;

  constructor(deps: { redis: Redis; store: EventStore; summaries: SummaryPublisher; log: Logger; intervalMs: number; isConnected: () => boolean }) {
    this.redis = deps.redis;
    this.store = deps.store;
    this.summaries = deps.summaries;
    this.log = deps.log;
    this.isConnected = deps.isConnected;
    this.periodic = new Periodic(deps.intervalMs, async () => void (await this.sweep()), (error) => this.log.debug({ err: String(error) }, 'deadline sweep failed'));
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  async sweep(now = Date.now()): Promise<number> {
    if (!this.isConnected()) return 0;
    const due = await this.redis.zrangebyscore(deadlinesKey, '-inf', now, 'LIMIT', 0, SWEEP_LIMIT);
    let closed = 0;
    await Promise.all(
      due.map(async (eventId) => {
        const result = await this.store.close(eventId, now);
        switch (result.kind) {
          case 'closed':
            closed += 1;
            this.log.info({ eventId }, 'RSVP deadline reached; closing event');
            await this.summaries.publish(eventId, result.summary);
            break;
          case 'unpublished':
            await this.summaries.publish(eventId, result.summary);
            break;
          case 'not_due':
            await this.redis.zadd(deadlinesKey, result.deadline, eventId);
            break;
          default:
            await this.redis.zrem(deadlinesKey, eventId);
        }
      }),
    );
    return closed;
  }
}
