import { describe, expect, it } from 'vitest';
import { activityFields } from '../../services/shared/schema/activity.ts';
import { deliveryFields } from '../../services/shared/schema/delivery.ts';
import { streams } from '../../services/shared/streams/keys.ts';
import { eventDefinition } from '../guests/support.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { flat, readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import { checkEventInvariants } from '../reliability/invariants.ts';
import { coordinatorEnv, named, publish, registerAgent, reply, resetRevisions, send, summaryOf } from './support.ts';

// The event model's invariants that `npm run chaos` prints (test/reliability/invariants.ts) hold on
// a real run, and each one fails when what Redis holds breaks its rule: a check that cannot fail
// would prove nothing in the chaos table.

const ctx = useRedisStack();

describe('the event invariants of the chaos table', () => {
  it('hold on a real run with a waitlist, and each fails on its own violation', async () => {
    resetRevisions();
    const redis = ctx.redis.client;
    const [g0, g1, g2] = await registerAgent(redis, 'inv', 3);
    await ctx.procs.coordinator(coordinatorEnv);
    await publish(redis, 'gala', { capacity: 1 });
    await eventually(async () => (await named(redis, 'inv', 'gala', 'request')).length === 3, 10_000, 'requests');
    await send(redis, [g0!, g1!, g2!].map((g) => reply('gala', g, 'yes')));
    const summary = await summaryOf(redis, 'gala', 0);
    expect(summary.waitlist).toEqual([g1!.id, g2!.id]);

    const failing = async () => (await checkEventInvariants(redis, ['inv'], new Set(['gala']))).filter((r) => !r.ok).map((r) => r.name);
    expect(await failing()).toEqual([]);

    // One more summary of the same version, counting a guest twice, its waitlist out of arrival order, above the capacity.
    const original = (await readAll(redis, streams.summaries)).find((e) => e.fields.invitation_id === 'gala')!.fields;
    const responses = JSON.parse(original.responses!) as unknown[];
    await redis.xadd(streams.summaries, '*', ...flat({ ...original, responses: JSON.stringify([...responses, responses[0]]), waitlist: JSON.stringify([g2!.id, g1!.id]), headcount: '2' }));
    // A version that opened and never got its summary.
    await redis.xadd(streams.activity, '*', ...activityFields({ type: 'version', at: Date.now(), events: [{ invitation_id: 'gala', host_id: 'host-1', sequence: 5, revision: 9, status: 'open' }] }));
    // A reminder sent twice to a guest.
    const def = eventDefinition({ rsvpDeadline: Date.now() + 60_000 });
    for (const key of ['k1', 'k2']) {
      await redis.xadd(streams.inbox('inv'), '*', ...deliveryFields({ ...def, id: 'gala' } as never, { type: 'reminder', invitationId: 'gala', sequence: 0, revision: 1, rsvpDeadline: Date.now() + 60_000, guestIds: [g0!.id], deliveryKey: key, reminder: 10 }));
    }
    expect((await failing()).sort()).toEqual(
      ['every reply counted once', 'exactly one summary per event version', 'never more than the capacity', 'no reminder twice; nothing delivered before publish_at or after expires_at', 'waitlist order kept'].sort(),
    );
    const rows = await checkEventInvariants(redis, ['inv'], new Set(['gala']));
    expect(rows.find((r) => r.name === 'exactly one summary per event version')!.detail).toContain('gala sequence 5 opened and has no summary');
    expect(rows.find((r) => r.name === 'waitlist order kept')!.detail).toContain(`${g1!.id} (arrived`);
  });
});
