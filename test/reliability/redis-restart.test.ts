import { afterEach, describe, expect, it } from 'vitest';
import { Processes, type RoleProcess } from '../helpers/processes.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { errorLines, invite, waitForNothingPending, waitForSummaries } from './scenario.ts';

// Redis restarted (kill -9, same AOF) under roles that hold work: what comes back must be the
// work as it was, not work that looks as if it had failed. Real processes, a real redis-server.

let redis: TestRedis | undefined;
let procs: Processes | undefined;
afterEach(async () => {
  await procs?.stopAll();
  await redis?.stop();
  procs = redis = undefined;
});

async function everyRole(roles: RoleProcess[], status: number, timeoutMs: number, what: string): Promise<void> {
  await eventually(async () => {
    for (const p of roles) if ((await p.get('/readyz')).status !== status) return false;
    return true;
  }, timeoutMs, what);
}

describe('Redis hangs with commands in flight, then dies and comes back on the same port', () => {
  it('the socket timeout of the lost connection does not drop the new one: one "connection lost" per role, readers not dropped again', async () => {
    redis = await startTestRedis();
    procs = new Processes({ REDIS_URL: redis.url });
    const c = redis.client;
    // Command connections time out after 4 s, blocking readers after BLOCK + 4 s = 4.5 s; PINGs
    // every second keep a command in flight on every command connection while Redis hangs.
    const env = { REDIS_SOCKET_TIMEOUT_MS: '4000', RSVP_DEADLINE_MS: '600000' };
    const agentId = 'stale-timer';
    const coordinator = await procs.coordinator(env);
    const guests = await procs.guests({ ...env, GUEST_AGENT_ID: agentId, GUESTS_PER_AGENT: '3', PERSONAS: 'instant' });
    const host = await procs.host({ ...env, HOST_ID: 'stale-host' });
    const roles = [coordinator, guests, host];
    const events = [await invite(c)];
    await waitForSummaries(c, events, 10_000);

    redis.server.freeze();
    await delay(1_000);
    await redis.server.kill();
    const killedAt = Date.now();
    await redis.server.start();
    await everyRole(roles, 200, 10_000, 'every role ready again');
    // Past the moment a timer armed on the lost connection would fire (4.5 s after the freeze
    // began), with room to spare.
    await delay(Math.max(0, 7_000 - (Date.now() - killedAt)));
    await everyRole(roles, 200, 1_000, 'every role still ready');
    events.push(await invite(c));
    await waitForSummaries(c, events, 10_000);
    await waitForNothingPending(c, [agentId], 10_000);

    for (const p of roles) {
      expect(errorLines(p)).toEqual([]);
      expect(p.logs.filter((l) => l.msg === 'redis connection lost; reconnecting with backoff'), p.role).toHaveLength(1);
      expect(p.logs.filter((l) => l.msg === 'redis connection restored'), p.role).toHaveLength(1);
      // Each reader failed once, when Redis died; none was dropped again after it came back.
      const restored = p.logs.findIndex((l) => l.msg === 'redis connection restored');
      const readFailuresAfter = p.logs.slice(restored).filter((l) => l.msg.startsWith('stream read failed'));
      expect(readFailuresAfter.map((l) => l.err), p.role).toEqual([]);
      expect(p.logs.filter((l) => /Socket timeout/i.test(JSON.stringify(l))).map((l) => l.msg), p.role).toEqual([]);
    }
  }, 90_000);
});
