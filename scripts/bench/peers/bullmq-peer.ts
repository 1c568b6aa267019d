// BullMQ flows as users would build this system (issue 17, item 3): a parent job per event in
// queue `events`, a child job per guest in the queue of the guest's agent; an agent's worker
// answers a guest by completing its child with the answer; when the last child completes BullMQ
// moves the parent to wait, and the coordinator-like worker builds the summary from the children's
// values and completes the parent with it (the driver reads it from the queue's events).
//
//   node scripts/bench/peers/bullmq-peer.ts coordinator <redis-url>
//   node scripts/bench/peers/bullmq-peer.ts agent <redis-url> <agent-id>
import { Worker } from 'bullmq';
import { type Answer, type PeerSummary, answerOf, redisOptions } from './common.ts';

export const eventsQueue = 'peer-events';
export const agentQueue = (agent: string): string => `peer-guests-${agent}`;
/** Jobs each worker runs at once (BullMQ's default is 1; more is what a user tuning it would set). */
export const WORKER_CONCURRENCY = 200;

if (import.meta.main) {
  const [role, url, agent] = process.argv.slice(2);
  if (!role || !url || (role === 'agent' && !agent)) {
    process.stderr.write('usage: bullmq-peer.ts coordinator <redis-url> | agent <redis-url> <agent-id>\n');
    process.exit(2);
  }
  const connection = { ...redisOptions(url), maxRetriesPerRequest: null };
  const worker =
    role === 'coordinator'
      ? new Worker<{ eventId: string; invited: number }, PeerSummary>(
          eventsQueue,
          async (job) => {
            const values = (await job.getChildrenValues()) as Record<string, Answer>;
            const summary: PeerSummary = { eventId: job.data.eventId, invited: job.data.invited, yes: 0, no: 0, maybe: 0 };
            for (const answer of Object.values(values)) summary[answer] += 1;
            return summary;
          },
          { connection, concurrency: WORKER_CONCURRENCY },
        )
      : new Worker<{ eventId: string; guestId: string }, Answer>(agentQueue(agent!), async (job) => answerOf(job.data.eventId, job.data.guestId), {
          connection,
          concurrency: WORKER_CONCURRENCY,
        });
  await worker.waitUntilReady();
  process.stdout.write('ready\n');
  const stop = () => void worker.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
