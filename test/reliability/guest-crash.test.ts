import { describe, expect, it } from 'vitest';
import { parseReply } from '../../services/shared/schema/response.ts';
import { streams } from '../../services/shared/streams/keys.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { checkInvariants, failures, readStream } from './invariants.ts';
import { errorLines, invite, processStatuses, waitForNothingPending, waitForSummaries } from './scenario.ts';

const ctx = useRedisStack();

describe('kill -9 of a guest agent while its guests are replying', () => {
  it('three times, restarted with the same GUEST_AGENT_ID: it resumes its deliveries, gives the same answers, each counted once', async () => {
    const c = ctx.redis.client;
    const agentId = 'crashing-agent';
    // 40 guests answering over ~0.5-1.5 s: a kill lands while some have answered and some have not.
    const guestEnv = { GUEST_AGENT_ID: agentId, GUESTS_PER_AGENT: '40', PERSONAS: 'undecided', REPLY_DELAY_SCALE: '0.25', GUEST_SEED: 'guest-crash' };
    await ctx.procs.coordinator({ RSVP_DEADLINE_MS: '600000' });
    const steady = await ctx.procs.guests({ GUEST_AGENT_ID: 'steady-agent', GUESTS_PER_AGENT: '5', PERSONAS: 'instant', GUEST_SEED: 'guest-crash' });
    let agent = await ctx.procs.guests(guestEnv);
    const all: RoleProcess[] = [steady, agent];
    const killed = new Set<RoleProcess>();

    const events: string[] = [];
    const repliesSoFar = async () => (await readStream(c, streams.responses)).filter((e) => e.fields.guest_id?.endsWith(`@${agentId}`)).length;
    for (let round = 0; round < 3; round += 1) {
      const before = await repliesSoFar();
      for (let i = 0; i < 2; i += 1) events.push(await invite(c));
      // Mid-reply: some of this round's 80 replies are out, most are not.
      await eventually(async () => (await repliesSoFar()) - before >= 5 + round * 7, 10_000, 'first replies of the round');
      const sent = (await repliesSoFar()) - before;
      expect(sent).toBeLessThan(80);
      killed.add(agent);
      await agent.stop('SIGKILL');
      await delay(200);
      agent = await ctx.procs.guests(guestEnv);
      all.push(agent);
      await agent.waitForLog((l) => l.msg === 'resuming own pending entries', 10_000, 'resumed deliveries');
    }

    await waitForSummaries(c, events, 30_000);
    await waitForNothingPending(c, [agentId, 'steady-agent'], 10_000);
    const rows = await checkInvariants({ redis: c, events, everyoneAnswers: true, processes: processStatuses(all, killed) });
    expect(failures(rows)).toBe('');

    // Replies sent again after a restart are the same answers with the same revs (seeded by
    // event, guest and sequence), so whichever copy was counted, the record is what the guest would
    // say. (Undecided guests also change their mind now and then: that is rev 1, never another rev 0.)
    const answers = new Map<string, Set<string>>();
    let repeats = 0;
    for (const entry of await readStream(c, streams.responses)) {
      const parsed = parseReply(entry.fields);
      if (!parsed.ok) continue;
      const key = `${parsed.value.invitationId} ${parsed.value.guestId} rev ${parsed.value.replyRev}`;
      if (answers.has(key)) repeats += 1;
      answers.set(key, (answers.get(key) ?? new Set()).add(`${parsed.value.response}: ${parsed.value.message}`));
    }
    expect(repeats).toBeGreaterThan(0);
    for (const [key, set] of answers) expect(set.size, key).toBe(1);
    for (const p of [steady, agent]) expect(errorLines(p)).toEqual([]);
  }, 120_000);
});
