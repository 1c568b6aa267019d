import { writeSync } from 'node:fs';
import type { RedisClient } from '../shared/streams/redis-client.ts';
import { ApiError } from '../shared/http/errors.ts';
import type { Logger } from '../shared/logging/logger.ts';
import type { HostConfig } from './config.ts';
import type { HostMetrics } from './metrics.ts';
import type { OutboxDrainer } from './publishing/outbox.ts';
import type { Revisions } from './publishing/revisions.ts';
import type { ReadModel } from './read-model/read-model.ts';
import type { FeedHub } from './read-model/feed-hub.ts';
import type { FlowHub } from './read-model/flow-hub.ts';
import type { StreamStat } from './read-model/stream-stats.ts';

/**
 * What the routes use once the host is connected to Redis. Routes are registered before (so
 * /healthz answers at once); until then every API route answers 503 with Retry-After.
 */
export interface HostParts {
  config: HostConfig;
  redis: RedisClient;
  log: Logger;
  metrics: HostMetrics;
  revisions: Revisions;
  outbox: OutboxDrainer;
  readModel: ReadModel;
  feeds: FeedHub;
  flow: FlowHub;
  /** Stream statistics of every stream an operator looks at (GET /api/streams, the flow's rates). */
  stats: { collect(): Promise<StreamStat[]> };
  /** Called after each saved revision, before the API publishes it (test-only: a crash, or the drainer first). */
  afterSave: () => void | Promise<void>;
  /** How long a guest agent counts as live after its last heartbeat. */
  guestTtlMs: number;
}

export type PartsGetter = () => HostParts;

/**
 * Test-only fault injection (HOST_TEST_CRASH): the process SIGKILLs itself right after the n-th
 * time the returned function is called; `after-save:<n>` after a revision was saved with its outbox
 * item and before it was published (the moment the outbox drainer exists for), `after-apply-step:<n>`
 * between two read-model steps of a big summary (read-model.ts, splitIntoSteps). Without the
 * setting, a counter and a comparison.
 */
function crashAfter(n: number, what: string): () => void {
  let calls = 0;
  return () => {
    calls += 1;
    if (n === 0 || calls !== n) return;
    writeSync(2, `HOST_TEST_CRASH: SIGKILL after ${what} ${calls}\n`);
    process.kill(process.pid, 'SIGKILL');
  };
}

export const crashAfterSave = (n: number): (() => void) => crashAfter(n, 'save, before publishing it: save');
export const crashAfterApplyStep = (n: number): (() => void) => crashAfter(n, 'read-model step, before the next: step');

/**
 * Test-only (HOST_TEST_DRAIN_FIRST): the periodic outbox drainer runs between a save and the API's
 * own publish step, the race in which the drainer publishes first; the API must still answer the
 * revision's entry id.
 */
export function testAfterSave(crash: () => void, drainFirst: Pick<OutboxDrainer, 'sweep'> | undefined): HostParts['afterSave'] {
  if (!drainFirst) return crash;
  return async () => {
    crash();
    await drainFirst.sweep();
  };
}

export class PartsHolder {
  current: HostParts | undefined;

  readonly get: PartsGetter = () => {
    if (!this.current) throw new ApiError(503, 'starting', 'the host is starting: not connected to Redis yet', undefined, { 'retry-after': '2' });
    return this.current;
  };
}
