import { afterEach, describe, expect, it } from 'vitest';
import { streams } from '../../services/shared/streams/keys.ts';
import { Processes, type RoleProcess } from '../helpers/processes.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { pendingCount } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { checkInvariants, failures } from './invariants.ts';
import { errorLines, invite, processStatuses, waitForNothingPending, waitForSummaries } from './scenario.ts';
import { TcpProxy } from './tcp-proxy.ts';

// Redis restarted (kill -9, same AOF) under roles that hold work: what comes back must be the
// work as it was, not work that looks as if it had failed. Real processes, a real redis-server,
// and a TCP proxy that decides which connection of each process reaches Redis first.

let redis: TestRedis | undefined;
let proxy: TcpProxy | undefined;
let procs: Processes | undefined;
afterEach(async () => {
  await procs?.stopAll();
  await proxy?.close();
  await redis?.stop();
  procs = proxy = redis = undefined;
});

async function everyRole(roles: RoleProcess[], status: number, timeoutMs: number, what: string): Promise<void> {
  await eventually(async () => {
    for (const p of roles) if ((await p.get('/readyz')).status !== status) return false;
    return true;
  }, timeoutMs, what);
}

/** Blocking readers name their connection `<consumer>:read:<stream>`; the command connection does not. */
const isBlockingReader = (hello: string) => hello.includes(':read:');
const isCommandConnection = (hello: string) => /setname/i.test(hello) && !hello.includes(':read:');

/** Guests who think 2-4 s before they answer: deliveries stay in flight across a restart. */
const thinkers = JSON.stringify([{ name: 'Thinker', likely: 'yes', delayMs: [2_000, 4_000], probabilities: { yes: 0.6, maybe: 0.3, no: 0.1 } }]);

describe('Redis restarted while guests are thinking', () => {
  it('recovers in seconds whichever connection comes back first: nothing becomes a suspect and every guest is counted before the deadline', async () => {
    redis = await startTestRedis();
    proxy = await new TcpProxy(redis.server.port).listen();
    procs = new Processes({ REDIS_URL: proxy.url });
    const c = redis.client;
    // 30 deliveries handled one at a time for a guest's whole think time take a minute or more:
    // a deadline of 30 s separates that from a recovery of a few seconds per restart.
    const env = { RSVP_DEADLINE_MS: '30000', GUEST_TTL_MS: '60000' };
    const agentId = 'thinkers';
    const coordinator = await procs.coordinator(env);
    const guests = await procs.guests({ ...env, GUEST_AGENT_ID: agentId, GUESTS_PER_AGENT: '3', PERSONAS: thinkers, REPLY_DELAY_SCALE: '1' });
    const roles = [coordinator, guests];

    const events: string[] = [];
    for (let i = 0; i < 30; i += 1) events.push(await invite(c));
    const inbox = streams.inbox(agentId);
    await eventually(async () => (await pendingCount(c, inbox, 'guests')) === 30, 10_000, '30 deliveries in flight');

    // Three restarts while the guests think: the readers' connections first, then the command
    // connections first, then the readers first again.
    for (const comesFirst of ['readers', 'commands', 'readers'] as const) {
      await redis.server.kill();
      await everyRole(roles, 503, 5_000, 'every role not ready');
      proxy.hold(comesFirst === 'readers' ? isCommandConnection : isBlockingReader);
      await redis.server.start();
      await eventually(() => proxy!.holding >= 2, 5_000, `the ${comesFirst === 'readers' ? 'command connections' : 'readers'} held back`);
      await delay(1_500);
      proxy.release();
      await everyRole(roles, 200, 15_000, 'every role ready again');
    }

    await waitForSummaries(c, events, 40_000);
    await waitForNothingPending(c, [agentId], 10_000);
    const rows = await checkInvariants({ redis: c, events, everyoneAnswers: true, processes: processStatuses(roles, new Set()) });
    expect(failures(rows)).toBe('');
    for (const p of roles) {
      expect(errorLines(p)).toEqual([]);
      // Re-reading what a process was handling is not a failed delivery: nothing is isolated.
      expect(await p.metric('event_planner_stream_suspects_total'), p.role).toBe(0);
      expect(await p.metric('event_planner_dead_letters_total'), p.role).toBe(0);
    }
  }, 150_000);
});

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
