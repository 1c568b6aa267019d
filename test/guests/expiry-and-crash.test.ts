import { describe, expect, it } from 'vitest';
import { planRequest } from '../../services/guest/reply-maker.ts';
import type { Receipt } from '../../services/shared/schema/response.ts';
import { deadLetterStream, lanes, streams } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { readAll } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { agentGuests, content, deliver, delivery, sentReplies, sentResponses, settled } from './support.ts';

const ctx = useRedisStack();

const receiptsOf = async (eventId: string) =>
  (await sentResponses(ctx.redis.client)).flatMap((s) => (s.entry.kind === 'receipt' && s.entry.receipt.invitationId === eventId ? [{ ...s.entry.receipt, stream: s.stream }] : []));
const withoutTime = (r: Receipt & { stream: string }) => JSON.stringify({ ...r, timestamp: undefined });

describe('expiry', () => {
  it('a request read after expires_at is not answered: receipts for its guests, a dead letter, a metric', async () => {
    const env = { GUEST_AGENT_ID: 'late-agent', GUESTS_PER_AGENT: '3', PERSONAS: 'instant', GUEST_SEED: 'late' };
    const ids = agentGuests(env).map((g) => g.id);
    // The agent exists (its groups do) but is stopped while the deliveries arrive.
    await (await ctx.procs.guests(env)).stop();
    const expiresAt = Date.now() + 1_000;
    const expired = await deliver(ctx.redis.client, 'late-agent', { invitationId: 'flash-sale', guestIds: ids }, { expiresAt });
    const expiredHigh = await deliver(ctx.redis.client, 'late-agent', { invitationId: 'flash-meeting', guestIds: ids }, { expiresAt, priority: 'high' });
    const timeless = await deliver(ctx.redis.client, 'late-agent', { invitationId: 'open-house', guestIds: ids });
    const later = await deliver(ctx.redis.client, 'late-agent', { invitationId: 'far-future', guestIds: ids }, { expiresAt: Date.now() + 3_600_000 });
    await delay(expiresAt - Date.now() + 100);

    const agent = await ctx.procs.guests(env);
    for (const [stream, id] of [[streams.inbox('late-agent'), expired], [streams.inboxHigh('late-agent'), expiredHigh], [streams.inbox('late-agent'), timeless], [streams.inbox('late-agent'), later]] as const) {
      await eventually(() => settled(ctx.redis.client, stream, id), 15_000, `${id} handled`);
    }

    for (const [eventId, lane] of [['flash-sale', streams.responses], ['flash-meeting', streams.responsesHigh]] as const) {
      const receipts = await receiptsOf(eventId);
      expect(receipts.map((r) => r.guestId).sort()).toEqual([...ids].sort());
      for (const r of receipts) expect(r).toMatchObject({ stream: lane, receipt: 'expired', sequence: 0, id: `receipt:${eventId}:0:${r.guestId}` });
      expect(await sentReplies(ctx.redis.client, eventId)).toEqual([]);
    }
    // Deliveries that had not expired are answered as usual.
    expect(await sentReplies(ctx.redis.client, 'open-house')).toHaveLength(3);
    expect(await sentReplies(ctx.redis.client, 'far-future')).toHaveLength(3);

    for (const [lane, id] of [['normal', expired], ['high', expiredHigh]] as const) {
      const letters = await readAll(ctx.redis.client, deadLetterStream(lanes.inbox('late-agent', lane)));
      expect(letters).toHaveLength(1);
      expect(letters[0]!.fields).toMatchObject({ dead_letter_entry_id: id });
      expect(letters[0]!.fields.dead_letter_reason).toMatch(/^expired: invitation flash-\w+ \(sequence 0\) expired at .+ before agent late-agent read it/);
    }
    expect(await agent.metric('event_planner_guest_expired_deliveries_total')).toBe(2);
    expect(await agent.metric('event_planner_dead_letters_total', { reason: 'expired' })).toBe(2);
  });

  it('is crash-safe: killed after sending the receipts, before the dead letter, a restart sends the same receipts and dead-letters once', async () => {
    const env = { GUEST_AGENT_ID: 'fragile', GUESTS_PER_AGENT: '4', PERSONAS: 'instant', GUEST_SEED: 'fragile' };
    const ids = agentGuests(env).map((g) => g.id);
    await (await ctx.procs.guests(env)).stop();
    const entry = await deliver(ctx.redis.client, 'fragile', { invitationId: 'gone', guestIds: ids }, { expiresAt: Date.now() + 300 });
    await delay(400);
    // Dies right after handling the entry (receipts sent), before it is dead-lettered.
    const crashing = await ctx.procs.start('guest', { ...env, STREAM_TEST_CRASH: `handled:1:${streams.inbox('fragile')}` }, { ready: false });
    expect((await crashing.exited).signal).toBe('SIGKILL');
    const first = await receiptsOf('gone');
    expect(first).toHaveLength(4);
    expect(await readAll(ctx.redis.client, deadLetterStream(streams.inbox('fragile')))).toEqual([]);

    await ctx.procs.guests(env);
    await eventually(() => settled(ctx.redis.client, streams.inbox('fragile'), entry), 15_000, 'expired delivery settled');
    const all = await receiptsOf('gone');
    expect(all).toHaveLength(8);
    expect(new Set(all.map(withoutTime))).toEqual(new Set(first.map(withoutTime)));
    expect(await readAll(ctx.redis.client, deadLetterStream(streams.inbox('fragile')))).toHaveLength(1);
  });
});

describe('kill -9 of a guest agent mid-think', () => {
  it('restarted with the same id, its guests send the same replies with the same revs', async () => {
    const personas = [{ label: 'fickle', likely: 'maybe', delayMs: [200, 2_500], changeOfMind: { rate: 1, delayMs: [500, 2_000] }, plusOnes: { rate: 0.5, max: 2 } }];
    const env = { GUEST_AGENT_ID: 'fickle-agent', GUESTS_PER_AGENT: '12', PERSONAS: JSON.stringify(personas), GUEST_SEED: 'fickle', REPLY_DELAY_SCALE: '1' };
    const guests = agentGuests(env);
    const ids = guests.map((g) => g.id);
    const deadline = Date.now() + 600_000;
    const event = { plusOnesMax: 2 };
    let agent = await ctx.procs.guests(env);
    const entry = await deliver(ctx.redis.client, 'fickle-agent', { invitationId: 'reunion', guestIds: ids, rsvpDeadline: deadline }, event);
    // Some guests have answered (a few changed their mind already), most have not.
    await eventually(async () => (await sentReplies(ctx.redis.client)).length >= 4 || undefined, 10_000, 'first replies');
    await agent.stop('SIGKILL');
    const before = await sentReplies(ctx.redis.client);
    expect(before.length).toBeLessThan(24);
    agent = await ctx.procs.guests(env);
    await agent.waitForLog((l) => l.msg === 'resuming own pending entries', 10_000, 'resumed');
    await eventually(() => settled(ctx.redis.client, streams.inbox('fickle-agent'), entry), 20_000, 'delivery answered after the restart');

    const replies = await sentReplies(ctx.redis.client, 'reunion');
    const byRev = new Map<string, Set<string>>();
    for (const r of replies) byRev.set(`${r.guestId} ${r.replyRev}`, (byRev.get(`${r.guestId} ${r.replyRev}`) ?? new Set()).add(content(r)));
    // Every guest: its first answer (rev 0) and its change of mind (rev 1), each always the same.
    expect([...byRev.keys()].sort()).toEqual(ids.flatMap((id) => [`${id} 0`, `${id} 1`]).sort());
    for (const [key, set] of byRev) expect(set.size, key).toBe(1);
    const planned = guests.flatMap((g) => planRequest(g, delivery({ invitationId: 'reunion', guestIds: ids, rsvpDeadline: deadline }, event), env.GUEST_SEED, 1));
    expect(new Set(replies.map(content))).toEqual(new Set(planned.map((p) => content(p.reply))));
    // What was sent before the kill was sent again, identically.
    expect(replies.length).toBeGreaterThan(24);
    for (const r of before) expect(byRev.get(`${r.guestId} ${r.replyRev}`)).toEqual(new Set([content(r)]));
    // For each guest the change of mind follows its first answer on the stream.
    for (const id of ids) {
      const revs = replies.filter((r) => r.guestId === id).map((r) => r.replyRev);
      expect(revs.indexOf(1), id).toBeGreaterThan(revs.indexOf(0));
    }
  }, 60_000);
});
