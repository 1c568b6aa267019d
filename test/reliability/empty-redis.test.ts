import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { streams } from '../../services/shared/streams/keys.ts';
import { Processes, type RoleProcess } from '../helpers/processes.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import { errorLines, invite, waitForSummaries } from './scenario.ts';

// Redis comes back without its data (a pod rescheduled without its volume, a wiped disk): every
// role is ready again within about a second, but the guest registry starts empty. Real processes
// and a real redis-server whose data folder is deleted between the kill and the restart.

let redis: TestRedis | undefined;
let procs: Processes | undefined;
afterEach(async () => {
  await procs?.stopAll();
  await redis?.stop();
  procs = redis = undefined;
});

async function restartEmpty(r: TestRedis): Promise<void> {
  await r.server.kill();
  rmSync(join(r.server.opts.dir, 'appendonlydir'), { recursive: true, force: true });
  rmSync(join(r.server.opts.dir, 'dump.rdb'), { force: true });
  await r.server.start();
}

async function everyRoleReady(roles: RoleProcess[]): Promise<void> {
  await eventually(async () => {
    for (const p of roles) if ((await p.get('/readyz')).status !== 200) return false;
    return true;
  }, 15_000, 'every role ready again');
}

async function summaryOf(r: TestRedis, eventId: string): Promise<Record<string, string>> {
  await waitForSummaries(r.client, [eventId], 20_000);
  return (await readAll(r.client, streams.summaries)).find((s) => s.fields.invitation_id === eventId)!.fields;
}

describe('Redis restarted empty', () => {
  it('an invitation accepted as soon as the roles are ready again invites the guests that are alive', async () => {
    redis = await startTestRedis();
    procs = new Processes({ REDIS_URL: redis.url });
    // Heartbeats every 5 s: an agent that registered again only at its next heartbeat would miss
    // the invitation below.
    const env = { HEARTBEAT_INTERVAL_MS: '5000', GUEST_TTL_MS: '15000', RSVP_DEADLINE_MS: '600000' };
    const coordinator = await procs.coordinator(env);
    const guests = await procs.guests({ ...env, GUEST_AGENT_ID: 'survivors', GUESTS_PER_AGENT: '3', PERSONAS: 'instant' });
    const host = await procs.host({ ...env, HOST_ID: 'empty-host' });
    const roles = [coordinator, guests, host];
    expect(await summaryOf(redis, await invite(redis.client))).toMatchObject({ reason: 'all_replied', total_invited: '3' });

    for (let round = 0; round < 2; round += 1) {
      await restartEmpty(redis);
      await everyRoleReady(roles);
      // At once, through the host's API, as a person would.
      const res = await fetch(host.url('/api/events'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event_name: `right after empty restart ${round}` }),
      });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      expect(await summaryOf(redis, id)).toMatchObject({ reason: 'all_replied', total_invited: '3', total_responses: '3' });
    }
    expect(await coordinator.metric('event_planner_summaries_total', { reason: 'no_guests' })).toBe(0);
    // Every key lives a bounded time: the registry's epoch marker too.
    expect(await redis.client.pttl('registry:epoch')).toBeGreaterThan(0);
    for (const p of roles) expect(errorLines(p)).toEqual([]);
  }, 90_000);

  it('with no agent at all, an invitation is closed as no_guests once the registry is GUEST_TTL_MS old, and at once after that', async () => {
    redis = await startTestRedis();
    procs = new Processes({ REDIS_URL: redis.url });
    const coordinator = await procs.coordinator({ GUEST_TTL_MS: '2000' });
    const waits = () => coordinator.metric('event_planner_registry_rebuild_waits_total');
    // A registry that just began (here: a fresh Redis) may still be filling: the coordinator waits.
    expect(await summaryOf(redis, await invite(redis.client))).toMatchObject({ reason: 'no_guests', total_invited: '0' });
    expect(await waits()).toBe(1);
    // Now older than GUEST_TTL_MS: "no guest" is the truth, and is said without waiting.
    expect(await summaryOf(redis, await invite(redis.client))).toMatchObject({ reason: 'no_guests', total_invited: '0' });
    expect(await waits()).toBe(1);
  }, 60_000);
});
