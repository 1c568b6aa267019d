import { describe, expect, it } from 'vitest';
import { groups, streams } from '../../services/shared/streams/keys.ts';
import { infoObject } from '../../services/shared/streams/stream-ids.ts';
import { seededRandom } from '../../services/shared/util/random.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { checkInvariants, failures } from './invariants.ts';
import { errorLines, invite, processStatuses, waitForNothingPending, waitForSummaries } from './scenario.ts';

const ctx = useRedisStack();

// Summaries come only from all guests having answered, never from a deadline running out while
// the coordinators are down; dead consumers are removed soon after they are emptied.
const coordinatorEnv = { RSVP_DEADLINE_MS: '600000', CONSUMER_IDLE_MS: '1000' };

describe('kill -9 of a coordinator after it read a batch and before it acknowledged it', () => {
  it('at 22 random points: every invitation delivered once, every reply counted once, one summary per event', async () => {
    const c = ctx.redis.client;
    const seed = String(Date.now());
    const random = seededRandom('coordinator-crash', seed);
    const agents = ['crash-a', 'crash-b'];
    const guests = await Promise.all(
      agents.map((id) => ctx.procs.guests({ GUEST_AGENT_ID: id, GUESTS_PER_AGENT: '10', PERSONAS: 'enthusiasts', REPLY_DELAY_SCALE: '0.15', GUEST_SEED: seed })),
    );

    const all: RoleProcess[] = [...guests];
    const killed = new Set<RoleProcess>();
    const events: string[] = [];
    const points: string[] = [];
    let hookCrashes = 0;
    // Until 22 crash points were hit exactly (a point waiting for a batch that never comes ends in
    // a plain kill -9 instead and does not count).
    for (let i = 0; hookCrashes < 22 && i < 40; i += 1) {
      const stream = random() < 0.3 ? streams.invitations : streams.responses;
      const phase = ['read', 'handled', `delay-${Math.floor(random() * 40)}`][Math.floor(random() * 3)]!;
      const batch = stream === streams.invitations ? 1 : 1 + Math.floor(random() * 2);
      // Half restart under the same name (own pending entries first), half as a new replica
      // (the dead one's entries are reclaimed after the claim timeout).
      const name = random() < 0.5 ? 'coordinator-fixed' : `coordinator-${i}`;
      const point = `${phase}:${batch}:${stream}`;
      const coordinator = await ctx.procs.start('coordinator', { ...coordinatorEnv, CONSUMER_NAME: name, STREAM_TEST_CRASH: point }, { ready: false });
      all.push(coordinator);
      events.push(await invite(c));
      const exit = await Promise.race([coordinator.exited, delay(4_000).then(() => undefined)]);
      if (exit === undefined) {
        // The point was not reached (fewer batches than it waits for): a plain kill -9 then.
        killed.add(coordinator);
        await coordinator.stop('SIGKILL');
        points.push(`${point} (not reached; killed at 4 s)`);
      } else {
        expect(exit.signal, `${point}: ${coordinator.stderr.join('\n')}`).toBe('SIGKILL');
        expect(coordinator.stderr.some((l) => l.startsWith('STREAM_TEST_CRASH: SIGKILL'))).toBe(true);
        hookCrashes += 1;
        points.push(point);
      }
    }
    expect(hookCrashes, `crash points (seed ${seed}):\n${points.join('\n')}`).toBeGreaterThanOrEqual(20);

    // Two healthy replicas finish what the crashed ones left.
    const survivors = [await ctx.procs.coordinator(coordinatorEnv), await ctx.procs.coordinator(coordinatorEnv)];
    all.push(...survivors);
    await waitForSummaries(c, events, 30_000);
    await waitForNothingPending(c, agents, 15_000);

    const rows = await checkInvariants({ redis: c, events, everyoneAnswers: true, processes: processStatuses(all, killed) });
    expect(failures(rows), `seed ${seed}, points:\n${points.join('\n')}`).toBe('');
    for (const p of [...guests, ...survivors]) expect(errorLines(p)).toEqual([]);

    // The janitor removes the consumers of dead replicas once their entries were taken over.
    const live = new Set(survivors.map((p) => p.logs.find((l) => l.consumer)?.consumer as string));
    await eventually(
      async () => {
        for (const stream of [streams.invitations, streams.responses]) {
          const names = ((await c.xinfo('CONSUMERS', stream, groups.coordinators)) as unknown[][]).map((r) => String(infoObject(r).name));
          if (names.some((n) => !live.has(n))) return false;
        }
        return true;
      },
      10_000,
      'only live consumers left in the coordinators group',
    );
  }, 180_000);
});
