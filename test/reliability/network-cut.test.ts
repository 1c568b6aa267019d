import { afterEach, describe, expect, it } from 'vitest';
import type { RoleProcess } from '../helpers/processes.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { checkInvariants, failures } from './invariants.ts';
import { errorLines, invite, processStatuses, waitForNothingPending, waitForSummaries } from './scenario.ts';
import { TcpProxy } from './tcp-proxy.ts';

const ctx = useRedisStack();
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.close();
});

async function readiness(processes: RoleProcess[]): Promise<number[]> {
  return Promise.all(processes.map(async (p) => (await p.get('/readyz')).status));
}

describe('the network to Redis cut while every consumer is blocked, for longer than the block time', () => {
  it.each(['blackhole', 'reset'] as const)('%s: roles report not ready and refuse publishes at once; after it heals, everything sent meanwhile completes once', async (mode) => {
    const c = ctx.redis.client;
    proxy = await new TcpProxy(ctx.redis.server.port).listen();
    // Roles reach Redis through the proxy; the test writes to Redis directly, past the cut.
    // The agent stays invited through the cut (its heartbeats cannot get through).
    const env = { REDIS_URL: proxy.url, REDIS_SOCKET_TIMEOUT_MS: '1500', GUEST_TTL_MS: '60000', RSVP_DEADLINE_MS: '600000' };
    const agentId = `cut-${mode}`;
    const coordinator = await ctx.procs.coordinator(env);
    const guests = await ctx.procs.guests({ ...env, GUEST_AGENT_ID: agentId, GUESTS_PER_AGENT: '5', PERSONAS: 'instant' });
    const host = await ctx.procs.host({ ...env, HOST_ID: 'cut-host' });
    const roles = [coordinator, guests, host];
    const events = [await invite(c)];
    await waitForSummaries(c, events, 10_000);
    // Blocked in XREADGROUP (BLOCK 500 ms) when the cut comes.
    await delay(700);

    if (mode === 'blackhole') proxy.blackhole();
    else proxy.reset();
    const cutAt = Date.now();
    for (let i = 0; i < 3; i += 1) events.push(await invite(c));
    await eventually(async () => (await readiness(roles)).every((s) => s === 503), 8_000, 'every role not ready');
    const asked = Date.now();
    const res = await fetch(host.url('/api/events'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event_name: 'during the cut' }) });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(/Redis is not reachable/);
    expect(Date.now() - asked).toBeLessThan(300);
    await delay(Math.max(0, 7_000 - (Date.now() - cutAt)));
    proxy.heal();

    await eventually(async () => (await readiness(roles)).every((s) => s === 200), 20_000, 'every role ready again');
    await waitForSummaries(c, events, 15_000);
    await waitForNothingPending(c, [agentId], 10_000);
    const rows = await checkInvariants({ redis: c, events, everyoneAnswers: true, processes: processStatuses(roles, new Set()) });
    expect(failures(rows)).toBe('');
    for (const p of roles) {
      expect(errorLines(p)).toEqual([]);
      // 7 s of failing reconnects: logged once when lost and once when restored, not per attempt.
      expect(p.logs.filter((l) => l.msg === 'redis connection lost; reconnecting with backoff'), p.role).toHaveLength(1);
      expect(p.logs.filter((l) => l.msg === 'redis connection restored'), p.role).toHaveLength(1);
      expect(p.logs.filter((l) => l.msg === 'redis connection error').length, p.role).toBeLessThanOrEqual(2);
      expect(p.logs.filter((l) => l.msg.startsWith('stream read failed')).length, p.role).toBeLessThanOrEqual(4);
    }
  }, 90_000);
});
