import { describe, expect, it } from 'vitest';
import { GuestRegistry } from '../../services/shared/registry/guest-registry.ts';
import { parseDelivery } from '../../services/shared/schema/delivery.ts';
import { type ReplyValue, replyFields } from '../../services/shared/schema/response.ts';
import { toFields } from '../../services/shared/streams/entry.ts';
import { groups, streams } from '../../services/shared/streams/keys.ts';
import { seededRandom } from '../../services/shared/util/random.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { checkInvariants, failures } from './invariants.ts';
import { errorLines, invite, processStatuses, waitForNothingPending, waitForSummaries } from './scenario.ts';

const ctx = useRedisStack();

describe('every reply sent three times', () => {
  it('to two coordinators at once: each guest counted once, one summary per event, every repeat seen as a duplicate', async () => {
    const c = ctx.redis.client;
    const env = { RSVP_DEADLINE_MS: '600000' };
    const coordinators = [await ctx.procs.coordinator(env), await ctx.procs.coordinator(env)];
    const steady = await ctx.procs.guests({ GUEST_AGENT_ID: 'steady', GUESTS_PER_AGENT: '5', PERSONAS: 'instant' });
    const all: RoleProcess[] = [...coordinators, steady];

    // A guest agent played by the test that sends every reply three times: two copies at once
    // (they race on the two coordinators) and a third up to 400 ms later, often after the summary.
    const agentId = 'triple';
    const registry = new GuestRegistry(c);
    const guests = Array.from({ length: 25 }, (_, i) => ({ id: `guest.${i}@${agentId}`, name: `Guest ${i}`, persona: 'triple', tags: ['triple'] }));
    await registry.register({ agentId, group: 'triple', guests });
    const inbox = streams.inbox(agentId);
    await c.xgroup('CREATE', inbox, groups.guests, '0', 'MKSTREAM');
    const reader = c.duplicate();
    let running = true;
    let sent = 0;
    const late: Promise<unknown>[] = [];
    const heartbeat = setInterval(() => void registry.heartbeat(agentId).catch(() => undefined), 300);
    const loop = (async () => {
      while (running) {
        const reply = (await reader.xreadgroup('GROUP', groups.guests, agentId, 'COUNT', 10, 'BLOCK', 200, 'STREAMS', inbox, '>')) as [string, [string, string[]][]][] | null;
        for (const [id, flatFields] of reply?.[0]?.[1] ?? []) {
          const parsed = parseDelivery(toFields(flatFields));
          if (!parsed.ok) throw new Error(parsed.reason);
          const d = parsed.value;
          for (const guestId of d.guestIds) {
            const random = seededRandom('triple', d.invitationId, guestId);
            const response: ReplyValue = (['yes', 'no', 'maybe'] as const)[Math.floor(random() * 3)]!;
            const fields = replyFields({
              id: `reply:${d.invitationId}:${d.sequence}:${guestId}`,
              invitationId: d.invitationId,
              guestName: guestId,
              guestId,
              response,
              message: 'said three times',
              timestamp: new Date().toISOString(),
              sequence: d.sequence,
              replyRev: 0,
              plusOnes: 0,
              answers: {},
            });
            await c.pipeline().xadd(streams.responses, '*', ...fields).xadd(streams.responses, '*', ...fields).exec();
            late.push(delay(random() * 400).then(() => c.xadd(streams.responses, '*', ...fields)));
            sent += 1;
          }
          await c.xack(inbox, groups.guests, id);
        }
      }
    })();

    try {
      const events: string[] = [];
      for (let i = 0; i < 10; i += 1) events.push(await invite(c));
      await waitForSummaries(c, events, 30_000);
      await eventually(() => sent === 10 * 25, 10_000, 'all replies sent');
      await Promise.all(late);
      await waitForNothingPending(c, [agentId, 'steady'], 10_000);
      const rows = await checkInvariants({ redis: c, events, everyoneAnswers: true, processes: processStatuses(all, new Set()) });
      expect(failures(rows)).toBe('');

      // Counted: 25 + 5 guests per event. Every other copy: a duplicate (also the ones after the summary).
      let counted = 0;
      let duplicates = 0;
      for (const p of coordinators) {
        counted += await p.metric('event_planner_reply_outcomes_total', { outcome: 'counted' });
        duplicates += await p.metric('event_planner_reply_outcomes_total', { outcome: 'duplicate' });
        expect(errorLines(p)).toEqual([]);
      }
      expect(counted).toBe(10 * 30);
      expect(duplicates).toBe(10 * 25 * 2);
      // Both coordinators took part in the counting.
      for (const p of coordinators) expect(await p.metric('event_planner_stream_messages_consumed_total', { stream: streams.responses, outcome: 'acked' })).toBeGreaterThan(0);
    } finally {
      running = false;
      clearInterval(heartbeat);
      await loop.catch(() => undefined);
      reader.disconnect();
    }
  }, 90_000);
});
