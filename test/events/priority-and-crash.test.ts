import { beforeEach, describe, expect, it } from 'vitest';
import { eventKeys, streams } from '../../services/shared/streams/keys.ts';
import { invitationFields } from '../../services/shared/schema/invitation.ts';
import { defaultEventOptions } from '../../services/shared/schema/event-definition.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { checkEventInvariants, failures } from '../reliability/invariants.ts';
import { coordinatorEnv, named, publish, registerAgent, reply, resetRevisions, send, summaries, summaryOf } from './support.ts';

const ctx = useRedisStack();
beforeEach(() => resetRevisions());

describe('the priority lane', () => {
  it('lets a high-priority invitation overtake a backlog of 2,000 normal ones, at every hop of the coordinator', async () => {
    const redis = ctx.redis.client;
    const [guest] = await registerAgent(redis, 'lane', 2);
    // The backlog waits in the stream before any coordinator runs.
    const p = redis.pipeline();
    for (let i = 0; i < 2_000; i += 1) {
      p.xadd(streams.invitations, '*', ...invitationFields({ ...defaultEventOptions, id: `bulk-${i}`, eventName: `Bulk ${i}`, eventDate: '', eventTime: '', location: '', description: '', hostName: 'h', hostId: 'host-1', timestamp: new Date().toISOString(), method: 'REQUEST', revision: 1, sequence: 0, legacy: false, rsvpDeadline: Date.now() + 600_000 }));
    }
    await p.exec();
    await publish(redis, 'urgent', { priority: 'high' });
    await ctx.procs.coordinator(coordinatorEnv);

    await eventually(async () => (await named(redis, 'lane', 'urgent', 'request')).length === 2, 20_000, 'urgent request delivered');
    const backlogDone = await redis.xlen(streams.inbox('lane'));
    expect(await redis.xlen(streams.inboxHigh('lane'))).toBeGreaterThanOrEqual(1);
    // Replies on the priority lane are read by their own consumer too.
    await send(redis, [reply('urgent', guest!, 'yes')], 'high');
    await eventually(async () => (await redis.hlen(eventKeys('urgent').replies)) === 1, 20_000, 'urgent reply counted');
    const backlogAtReply = await redis.xlen(streams.inbox('lane'));
    expect(backlogDone).toBeLessThan(2_000);
    expect(backlogAtReply).toBeLessThan(2_000);
  });
});

describe('a coordinator killed mid-flow', () => {
  it('with real guests, an update mid-way and kill -9: exactly one summary per version, every rule of the event model held', async () => {
    const redis = ctx.redis.client;
    const first = await ctx.procs.coordinator(coordinatorEnv);
    await ctx.procs.coordinator(coordinatorEnv);
    await ctx.procs.guests({ GUEST_AGENT_ID: 'real', GUESTS_PER_AGENT: '20', PERSONAS: 'undecided', REPLY_DELAY_SCALE: '3', GUEST_TTL_MS: '600000' });
    await publish(redis, 'offsite', { capacity: 8 });
    await eventually(async () => (await redis.hlen(eventKeys('offsite').replies)) >= 2, 20_000, 'first replies');
    await publish(redis, 'offsite', { capacity: 8, sequence: 1, location: 'Lakeside' });
    await first.stop('SIGKILL');
    await delay(300);
    await ctx.procs.coordinator(coordinatorEnv);
    const second = await summaryOf(redis, 'offsite', 1, 40_000);
    expect(second.totalInvited).toBe(20);
    const first0 = await summaryOf(redis, 'offsite', 0);
    expect(first0.reason).toBe('updated');
    expect(second.headcount).toBeLessThanOrEqual(8);
    await delay(1_000);
    expect((await summaries(redis, 'offsite')).map((s) => s.sequence).sort()).toEqual([0, 1]);
    expect(failures(await checkEventInvariants(redis, ['real']))).toBe('');
    expect(await deadLetters(redis)).toEqual([]);
  });
});
