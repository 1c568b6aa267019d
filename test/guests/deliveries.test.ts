import { describe, expect, it } from 'vitest';
import { planReminder, planRequest, replyRevs } from '../../services/guest/reply-maker.ts';
import type { EventDefinition } from '../../services/shared/schema/event-definition.ts';
import { type Question, answersProblem, dietaryQuestion } from '../../services/shared/schema/questions.ts';
import { lanes, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { type TargetSpec, agentGuests, content, deliver, delivery, sentReplies, settled } from './support.ts';

// A real redis-server and real guest agent processes; the test plays the coordinator, adding the
// deliveries it would add (built with the shared schema) and reading what the guests send.

const ctx = useRedisStack();

const questions: Question[] = [
  { ...dietaryQuestion, required: true },
  { id: 'bus', text: 'Taking the shuttle bus?', type: 'boolean', options: [], required: true },
  { id: 'songs', text: 'Songs for the band?', type: 'multiple', options: ['jazz', 'rock', 'pop', 'folk'], required: false },
  { id: 'shirt', text: 'T-shirt size?', type: 'single', options: ['S', 'M', 'L', 'XL'], required: false },
  { id: 'notes', text: 'Anything else?', type: 'text', options: [], required: true },
];

type AgentEnv = { GUEST_AGENT_ID: string; GUESTS_PER_AGENT: string; PERSONAS: string; GUEST_SEED: string; REPLY_DELAY_SCALE: string };
const agentEnv = (id: string, guests: number, personas: object[] | string, seed = id): AgentEnv => ({
  GUEST_AGENT_ID: id,
  GUESTS_PER_AGENT: String(guests),
  PERSONAS: typeof personas === 'string' ? personas : JSON.stringify(personas),
  GUEST_SEED: seed,
  REPLY_DELAY_SCALE: '1',
});

/** Delivers and waits until the agent has handled (acknowledged) the delivery. */
async function deliverAndSettle(agentId: string, spec: TargetSpec, event: Partial<EventDefinition> = {}): Promise<string> {
  const id = await deliver(ctx.redis.client, agentId, spec, event);
  await eventually(() => settled(ctx.redis.client, lanes.inbox(agentId, event.priority ?? 'normal'), id), 20_000, `${spec.type ?? 'request'} ${id} handled`);
  return id;
}

const logged = (p: { logs: { msg: string }[] }, start: string) => p.logs.filter((l) => l.msg.startsWith(start));

describe('requests', () => {
  it('are answered with sequence, reply_rev, plus-ones and valid answers, on the lane of the delivery’s priority', async () => {
    const env = agentEnv('hosts', 6, [{ label: 'generous', likely: 'yes', followLikely: 0.6, delayMs: [0, 300], plusOnes: { rate: 1, max: 3 }, answers: { skipOptional: 0 } }]);
    const agent = await ctx.procs.guests(env);
    const guests = agentGuests(env);
    const ids = guests.map((g) => g.id);
    const normal: Partial<EventDefinition> = { questions, plusOnesMax: 2 };
    const urgent: Partial<EventDefinition> = { questions, plusOnesMax: 1, priority: 'high' };
    const deadline = Date.now() + 600_000;
    await Promise.all([
      deliverAndSettle('hosts', { invitationId: 'party', guestIds: ids, rsvpDeadline: deadline }, normal),
      deliverAndSettle('hosts', { invitationId: 'urgent-meeting', guestIds: ids, rsvpDeadline: deadline }, urgent),
    ]);

    for (const [eventId, event, lane] of [['party', normal, streams.responses], ['urgent-meeting', urgent, streams.responsesHigh]] as const) {
      const replies = await sentReplies(ctx.redis.client, eventId);
      expect(replies.map((r) => r.guestId).sort()).toEqual([...ids].sort());
      const expected = guests.flatMap((g) => planRequest(g, delivery({ invitationId: eventId, guestIds: ids, rsvpDeadline: deadline }, event), env.GUEST_SEED, 1)).map((p) => content(p.reply));
      expect(replies.map(content).sort()).toEqual(expected.sort());
      for (const r of replies) {
        expect(r).toMatchObject({ stream: lane, sequence: 0, replyRev: 0 });
        expect(answersProblem(questions, r.answers, r.response)).toBeUndefined();
        if (r.response === 'yes') {
          expect(r.plusOnes).toBeGreaterThanOrEqual(1);
          expect(r.plusOnes).toBeLessThanOrEqual(event.plusOnesMax!);
        } else expect(r.plusOnes).toBe(0);
      }
      expect(replies.some((r) => r.response === 'yes')).toBe(true);
    }
    // The priority inbox is read by a consumer of its own, under the agent's name.
    const consumers = (await ctx.redis.client.xinfo('CONSUMERS', streams.inboxHigh('hosts'), 'guests')) as unknown[][];
    expect(consumers.map((c) => c[1])).toEqual(['hosts']);
    expect(await agent.metric('event_planner_stream_messages_consumed_total', { stream: 'guest_inbox:high', outcome: 'acked' })).toBe(1);
    expect(await agent.metric('event_planner_guest_deliveries_received_total', { type: 'request' })).toBe(12);
    expect(await deadLetters(ctx.redis.client)).toEqual([]);
  });

  it('of a new version ask again: guests answer the new sequence, as their persona would', async () => {
    const env = agentEnv('versions', 5, 'undecided');
    await ctx.procs.guests({ ...env, REPLY_DELAY_SCALE: '0' });
    const guests = agentGuests(env);
    const ids = guests.map((g) => g.id);
    const deadline = Date.now() + 600_000;
    for (const sequence of [0, 1, 2]) {
      await deliverAndSettle('versions', { invitationId: 'moving', sequence, guestIds: ids, rsvpDeadline: deadline }, { location: `Room ${sequence}` });
    }
    const replies = await sentReplies(ctx.redis.client, 'moving');
    const expected = [0, 1, 2].flatMap((sequence) => guests.flatMap((g) => planRequest(g, delivery({ invitationId: 'moving', sequence, guestIds: ids, rsvpDeadline: deadline }), env.GUEST_SEED, 0)));
    expect(replies.map(content).sort()).toEqual(expected.map((p) => content(p.reply)).sort());
    for (const sequence of [0, 1, 2]) expect(new Set(replies.filter((r) => r.sequence === sequence && r.replyRev === 0).map((r) => r.guestId))).toEqual(new Set(ids));
  });

  it('of a new version stop the guests still thinking about the previous one', async () => {
    const env = agentEnv('rethinking', 3, [{ label: 'slow', likely: 'yes', delayMs: [4_000, 4_000] }]);
    const agent = await ctx.procs.guests(env);
    const ids = agentGuests(env).map((g) => g.id);
    const first = await deliver(ctx.redis.client, 'rethinking', { invitationId: 'moved', guestIds: ids });
    await agent.waitForLog((l) => l.msg.startsWith('📨 invitation "Summer Party"'), 10_000, 'request read');
    await deliverAndSettle('rethinking', { invitationId: 'moved', sequence: 1, guestIds: ids }, { location: 'Beach' });
    await eventually(() => settled(ctx.redis.client, streams.inbox('rethinking'), first), 5_000, 'first request finished');
    const replies = await sentReplies(ctx.redis.client, 'moved');
    expect(replies.map((r) => r.sequence)).toEqual([1, 1, 1]);
    expect(await agent.metric('event_planner_guest_replies_dropped_total', { reason: 'new_version' })).toBe(3);
    expect(logged(agent, '🔄 "Summer Party" changed (sequence 1)')).toHaveLength(1);
  });
});

describe('deliveries that need no answer', () => {
  it('details, start reminders and promotions are noted: acknowledged, logged, no reply', async () => {
    const env = agentEnv('noting', 2, 'instant');
    const agent = await ctx.procs.guests(env);
    const ids = agentGuests(env).map((g) => g.id);
    await deliverAndSettle('noting', { invitationId: 'gala', type: 'details', guestIds: ids }, { description: 'Now with a band' });
    await deliverAndSettle('noting', { invitationId: 'gala', type: 'start_reminder', reminder: 30, guestIds: ids });
    await deliverAndSettle('noting', { invitationId: 'gala', type: 'promoted', guestIds: [ids[0]!] }, { priority: 'high' });
    expect(await sentReplies(ctx.redis.client)).toEqual([]);
    expect(logged(agent, '📝 new details of "Summer Party" noted by')).toHaveLength(1);
    expect(logged(agent, '🔔 "Summer Party" starts in 30 min')).toHaveLength(1);
    expect(logged(agent, '🎟️ off the waitlist')).toHaveLength(1);
    for (const [type, n] of [['details', 2], ['start_reminder', 2], ['promoted', 1], ['request', 0]] as const) {
      expect(await agent.metric('event_planner_guest_deliveries_received_total', { type }), type).toBe(n);
    }
  });
});

describe('reminders', () => {
  it('get an answer from guests who had none, by their reminded-reply rate, with the reminder’s rev', async () => {
    const env = agentEnv('procrastinators', 4, [{ label: 'procrastinator', likely: 'yes', delayMs: [0, 100], noReplyRate: 1, reminded: { replyRate: 1 } }]);
    const agent = await ctx.procs.guests(env);
    const guests = agentGuests(env);
    const ids = guests.map((g) => g.id);
    const event: Partial<EventDefinition> = { reminders: [60, 10], questions: [dietaryQuestion] };
    const deadline = Date.now() + 3_600_000;
    await deliverAndSettle('procrastinators', { invitationId: 'dinner', guestIds: ids, rsvpDeadline: deadline }, event);
    expect(await sentReplies(ctx.redis.client)).toEqual([]);
    expect(logged(agent, '🙊')).toHaveLength(4);

    const reminder = (minutes: number): TargetSpec => ({ invitationId: 'dinner', type: 'reminder', reminder: minutes, guestIds: ids, rsvpDeadline: deadline });
    await deliverAndSettle('procrastinators', reminder(60), event);
    const replies = await sentReplies(ctx.redis.client, 'dinner');
    expect(replies.map((r) => r.replyRev)).toEqual([replyRevs.reminder(60), replyRevs.reminder(60), replyRevs.reminder(60), replyRevs.reminder(60)]);
    expect(replies.map(content).sort()).toEqual(guests.map((g) => content(planReminder(g, delivery(reminder(60), event), env.GUEST_SEED, 1)!.reply)).sort());
    expect(logged(agent, '⏰ reminder about "Summer Party" (60 min before the RSVP deadline)')).toHaveLength(1);
    expect(agent.logs.filter((l) => l.msg.includes('answered the reminder'))).toHaveLength(4);

    // They answered the first reminder: the second has nothing new from them.
    await deliverAndSettle('procrastinators', reminder(10), event);
    expect(await sentReplies(ctx.redis.client, 'dinner')).toHaveLength(4);
    expect(await agent.metric('event_planner_guest_deliveries_received_total', { type: 'reminder' })).toBe(8);
  });

  it('make tentative guests firm up, by their firm-up rate, when the event reminds tentative guests', async () => {
    const env = agentEnv('hesitant', 4, [{ label: 'hesitant', likely: 'maybe', followLikely: 1, delayMs: [0, 100], reminded: { firmUpRate: 1 } }]);
    const agent = await ctx.procs.guests(env);
    const ids = agentGuests(env).map((g) => g.id);
    const event: Partial<EventDefinition> = { reminders: [30], remindTentative: true };
    await deliverAndSettle('hesitant', { invitationId: 'picnic', guestIds: ids }, event);
    await deliverAndSettle('hesitant', { invitationId: 'picnic', type: 'reminder', reminder: 30, guestIds: ids }, event);
    const replies = await sentReplies(ctx.redis.client, 'picnic');
    for (const id of ids) {
      const own = replies.filter((r) => r.guestId === id).map((r) => [r.replyRev, r.response === 'maybe' ? 'maybe' : 'firm']);
      expect(own).toEqual([[0, 'maybe'], [replyRevs.reminder(30), 'firm']]);
    }
    expect(await agent.metric('event_planner_guest_changes_of_mind_total', { cause: 'reminder' })).toBe(4);
    expect(agent.logs.filter((l) => l.msg.includes('firmed up when reminded: MAYBE →'))).toHaveLength(4);
  });

  it('make guests still thinking answer at once', async () => {
    const env = agentEnv('ponderers', 2, [{ label: 'ponderer', likely: 'yes', followLikely: 1, delayMs: [60_000, 60_000], reminded: { replyRate: 0 } }]);
    const agent = await ctx.procs.guests(env);
    const ids = agentGuests(env).map((g) => g.id);
    const request = await deliver(ctx.redis.client, 'ponderers', { invitationId: 'retreat', guestIds: ids });
    await agent.waitForLog((l) => l.msg.startsWith('📨'), 10_000, 'request read');
    await deliverAndSettle('ponderers', { invitationId: 'retreat', type: 'reminder', reminder: 15, guestIds: ids }, { reminders: [15] });
    // A minute of thinking cut short: both first answers, and the request is done.
    await eventually(() => settled(ctx.redis.client, streams.inbox('ponderers'), request), 20_000, 'request answered early');
    expect((await sentReplies(ctx.redis.client, 'retreat')).map((r) => [r.replyRev, r.response])).toEqual([[0, 'yes'], [0, 'yes']]);
    expect(agent.logs.filter((l) => l.msg.includes('answers at once'))).toHaveLength(2);
  });
});

describe('cancellations', () => {
  it('stop the guests still thinking: the whole event, or only the guests removed', async () => {
    const env = agentEnv('thinkers', 3, [{ label: 'thinker', likely: 'yes', delayMs: [5_000, 5_000], cancellation: { messages: ['Shame!'] } }]);
    const agent = await ctx.procs.guests(env);
    const ids = agentGuests(env).map((g) => g.id);
    const requests = [await deliver(ctx.redis.client, 'thinkers', { invitationId: 'cancelled-gala', guestIds: ids }), await deliver(ctx.redis.client, 'thinkers', { invitationId: 'smaller-gala', guestIds: ids })];
    await eventually(() => logged(agent, '📨').length === 2 || undefined, 10_000, 'both requests read');
    await deliverAndSettle('thinkers', { invitationId: 'cancelled-gala', type: 'cancel', scope: 'event', sequence: 1, guestIds: ids }, { priority: 'high' });
    await deliverAndSettle('thinkers', { invitationId: 'smaller-gala', type: 'cancel', scope: 'guest', guestIds: [ids[0]!] });
    // The cancelled event's request ends at once, with nothing sent.
    await eventually(() => settled(ctx.redis.client, streams.inbox('thinkers'), requests[0]!), 3_000, 'cancelled request finished');
    await eventually(() => settled(ctx.redis.client, streams.inbox('thinkers'), requests[1]!), 20_000, 'other request answered');
    await delay(200);
    expect(await sentReplies(ctx.redis.client, 'cancelled-gala')).toEqual([]);
    expect((await sentReplies(ctx.redis.client, 'smaller-gala')).map((r) => r.guestId).sort()).toEqual([ids[1], ids[2]].sort());
    expect(await agent.metric('event_planner_guest_replies_dropped_total', { reason: 'cancelled' })).toBe(3);
    expect(await agent.metric('event_planner_guest_replies_dropped_total', { reason: 'removed' })).toBe(1);
    expect(await agent.metric('event_planner_guest_deliveries_received_total', { type: 'cancel' })).toBe(4);
    expect(logged(agent, '🚫 "Summer Party" is cancelled;').map((l) => l.msg)).toContain(`🚫 "Summer Party" is cancelled; ${agentGuests(env)[0]!.name} (stops thinking, sends nothing): "Shame!"`);
    expect(logged(agent, '🚪')).toHaveLength(1);
  });
});
