import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Processes, type Role } from '../helpers/processes.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { eventually } from '../helpers/wait.ts';

// A password-protected Redis: /info must show the configuration without it.
const password = 'observability-secret-pw';
let redis: TestRedis;
let procs: Processes | undefined;

beforeAll(async () => {
  redis = await startTestRedis({ password });
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await procs?.stopAll();
  if (redis.server.pid === undefined || !(await redis.client.ping().catch(() => false))) await redis.server.start();
  await redis.flush();
});

const roles: Role[] = ['coordinator', 'guest', 'host'];

describe.each(roles)('the %s started alone', (role) => {
  it('answers /healthz, /readyz, /metrics and /info', async () => {
    procs = new Processes({ REDIS_URL: redis.url });
    const p = await procs.start(role);

    const health = await p.get('/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });

    const ready = await p.get('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ status: 'ready' });

    const res = await fetch(p.url('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const metrics = await res.text();
    expect(metrics).toContain(`event_planner_build_info{version=`);
    expect(metrics).toMatch(new RegExp(`^event_planner_redis_up\\{role="${role}"\\} 1$`, 'm'));
    // Node's default metrics, with the project's prefix.
    expect(metrics).toMatch(/^nodejs_eventloop_lag_seconds\{/m);
    expect(metrics).toMatch(/^process_resident_memory_bytes\{/m);

    const info = await p.get('/info');
    expect(info.status).toBe(200);
    const body = JSON.parse(info.body) as Record<string, unknown>;
    expect(body).toMatchObject({ role, pid: p.pid, redis: { connected: true } });
    expect(typeof body.version).toBe('string');
    expect(typeof body.consumer).toBe('string');
    expect(body.streams).toMatchObject({ blockMs: 500, claimIdleMs: 2000 });
    expect(info.body).not.toContain(password);

    expect((await p.get('/no-such-route')).status).toBe(404);
    // Request durations by route template; probes included, unknown paths collapse into one label.
    expect(await p.metric('event_planner_http_request_duration_seconds_count', { route: '/readyz', status_code: '200' })).toBeGreaterThan(0);
    expect(await p.metric('event_planner_http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' })).toBe(1);

    // Ctrl-C in a terminal: the same orderly shutdown as SIGTERM.
    expect(await p.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(p.logs.map((l) => l.msg)).toEqual(expect.arrayContaining([`${role} shutting down`, `${role} stopped`]));
  });
});

describe('readiness follows Redis', () => {
  it('every role turns not ready while Redis is stopped and ready again once it is back, staying alive', async () => {
    procs = new Processes({ REDIS_URL: redis.url });
    const running = [await procs.coordinator(), await procs.guests(), await procs.host()];

    await redis.server.stop();
    for (const p of running) {
      // A read loop may notice the stop a moment before the command connection does: wait for the
      // 503 that names Redis, not the first one.
      const notReady = await eventually(
        async () => {
          const r = await p.get('/readyz');
          return r.status === 503 && r.body.includes('"redis"') ? r : undefined;
        },
        10_000,
        `${p.role} /readyz 503 naming redis`,
      );
      expect(JSON.parse(notReady.body)).toMatchObject({ status: 'not ready', failing: { redis: expect.stringContaining('not connected') } });
      // Alive all the same: restarting the pod would not bring Redis back.
      expect((await p.get('/healthz')).status).toBe(200);
      expect(await p.metric('event_planner_redis_up')).toBe(0);
    }

    // Same port, same data folder: the roles reconnect on their own.
    await redis.server.start();
    for (const p of running) {
      await p.waitReady(20_000);
      expect(await p.metric('event_planner_redis_up')).toBe(1);
    }
  });
});

describe('liveness follows the event loop', () => {
  it('a frozen process does not answer /healthz; once it runs again it reports the stall', async () => {
    procs = new Processes({ REDIS_URL: redis.url });
    const p = await procs.start('coordinator', { EVENT_LOOP_STALL_MS: '500' });
    expect((await p.get('/healthz')).status).toBe(200);

    // SIGSTOP freezes the whole process: from outside, exactly an event loop that never turns.
    process.kill(p.pid, 'SIGSTOP');
    try {
      const probe = fetch(p.url('/healthz'), { signal: AbortSignal.timeout(1_500) });
      await expect(probe).rejects.toThrow();
    } finally {
      process.kill(p.pid, 'SIGCONT');
    }
    // Every prober sees the stall afterwards, not only the first to ask (that was the aborted probe).
    for (let i = 0; i < 2; i += 1) {
      const stalled = await p.get('/healthz');
      expect(stalled.status).toBe(503);
      const { reason } = JSON.parse(stalled.body) as { reason: string };
      expect(Number(/^event loop stalled for (\d+) ms/.exec(reason)?.[1])).toBeGreaterThanOrEqual(1_000);
    }
    // Recovery after the report window is covered by test/observability/health.test.ts (short window).
  });
});
