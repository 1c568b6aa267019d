import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../services/launcher/redis-server.ts';
import { hostKeys, onceKey, streams } from '../../services/shared/streams/keys.ts';
import { execPipeline, loadLuaScript, queueScript, sharedScriptDir } from '../../services/shared/streams/scripts.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { deadLetters, flat, originalInvitation, readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';

const ctx = useRedisStack();

async function post(host: RoleProcess, body: unknown): Promise<{ status: number; text: string; json: Record<string, unknown>; retryAfter: string | null }> {
  const res = await fetch(host.url('/api/events'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) as Record<string, unknown>, retryAfter: res.headers.get('retry-after') };
}

/** Nothing of the inside in a response: no script sha, Lua line, Redis error text or stack. */
function expectNoInternals(text: string): void {
  expect(text).not.toMatch(/[0-9a-f]{40}|@user_script|script:|OOM command|READONLY You|WRONGTYPE|BUSY Redis|\bat \S+\.ts:\d+/);
}

async function readiness(roles: RoleProcess[]): Promise<{ status: number; body: string }[]> {
  return Promise.all(roles.map((r) => r.get('/readyz')));
}

async function startRoles(): Promise<{ host: RoleProcess; all: RoleProcess[] }> {
  const all = [await ctx.procs.coordinator(), await ctx.procs.guests({ GUESTS_PER_AGENT: '2', PERSONAS: 'instant' }), await ctx.procs.host()];
  return { host: all[2]!, all };
}

/** Every role not ready, naming `reason` under redis-writes; then (after `heal`) ready again and publishing. */
async function refusedThenHealed(all: RoleProcess[], host: RoleProcess, code: string, heal: () => Promise<unknown>): Promise<void> {
  const refused = await post(host, { id: `refused-${code}`, event_name: 'While Redis refuses' });
  expect(refused.status, refused.text).toBe(503);
  expect(refused.json).toMatchObject({ code, error: expect.stringMatching(/try again in \d+ s$/) });
  expect(Number(refused.retryAfter)).toBeGreaterThan(0);
  expectNoInternals(refused.text);
  await eventually(async () => (await readiness(all)).every((r) => r.status === 503 && r.body.includes('redis-writes')), 10_000, 'every role not ready, for writes');
  expect(await host.metric('event_planner_redis_writable')).toBe(0);
  // The other routes of every role keep answering (the coordinator's stream gauges read Redis).
  for (const p of all) {
    for (const path of ['/metrics', '/info', '/healthz']) expect((await p.get(path)).status, `${p.role} ${path}`).toBe(200);
  }

  await heal();
  await eventually(async () => (await readiness(all)).every((r) => r.status === 200), 15_000, 'every role ready again');
  expect(await host.metric('event_planner_redis_writable')).toBe(1);
  const accepted = await post(host, { id: `after-${code}`, event_name: 'After Redis healed' });
  expect(accepted.status, accepted.text).toBe(202);
  await eventually(async () => (await readAll(ctx.redis.client, streams.summaries)).some((s) => s.fields.invitation_id === `after-${code}`), 15_000, 'the summary');
  for (const p of all) expect(p.running).toBe(true);
}

describe('Redis that is up but refuses the work', () => {
  it('at its memory limit (noeviction): POST /api/events answers 503 with Retry-After, readiness turns 503, both recover', async () => {
    const c = ctx.redis.client;
    const { host, all } = await startRoles();
    await c.config('SET', 'maxmemory-policy', 'noeviction');
    await c.config('SET', 'maxmemory', '1');
    try {
      await refusedThenHealed(all, host, 'redis_out_of_memory', () => c.config('SET', 'maxmemory', '0'));
    } finally {
      await c.config('SET', 'maxmemory', '0');
    }
    expect(host.logs.some((l) => l.msg === 'redis refuses writes: Redis is out of memory (maxmemory reached) and refuses writes')).toBe(true);
  });

  it('at its memory limit, valid work is handed back without spending deliveries: nothing is dead-lettered, all completes after', async () => {
    const c = ctx.redis.client;
    // Two deliveries and a fast backoff: before the fix, the refused invitation was dead-lettered
    // as max_deliveries within a second of the limit.
    const fast = { STREAM_MAX_DELIVERIES: '2', RETRY_BACKOFF_BASE_MS: '50', RETRY_BACKOFF_MAX_MS: '200' };
    const coordinator = await ctx.procs.coordinator(fast);
    await ctx.procs.guests({ ...fast, GUESTS_PER_AGENT: '3', PERSONAS: 'instant' });
    await c.config('SET', 'maxmemory-policy', 'noeviction');
    const invitation = flat(originalInvitation({ id: 'refused-for-a-while' }));
    // The entry is added and the limit set in one transaction: the coordinator meets the limit.
    await c.multi().xadd(streams.invitations, '*', ...invitation).config('SET', 'maxmemory', '1').exec();
    try {
      await eventually(async () => (await coordinator.metric('event_planner_stream_retries_total', { stream: streams.invitations })) >= 5, 15_000, 'the invitation refused again and again');
      expect(await deadLetters(c)).toEqual([]);
    } finally {
      await c.config('SET', 'maxmemory', '0');
    }
    const summary = await eventually(async () => (await readAll(c, streams.summaries)).find((e) => e.fields.invitation_id === 'refused-for-a-while'), 20_000, 'the summary');
    expect(summary.fields).toMatchObject({ total_invited: '3', total_responses: '3' });
    expect(await deadLetters(c)).toEqual([]);
  });

  it('as a read-only replica (READONLY): 503 and not ready until it is a primary again', async () => {
    const c = ctx.redis.client;
    const { host, all } = await startRoles();
    // A primary that does not exist: the data set stays, writes are refused.
    await c.call('REPLICAOF', '127.0.0.1', String(await freePort()));
    try {
      await refusedThenHealed(all, host, 'redis_read_only', () => c.call('REPLICAOF', 'NO', 'ONE'));
    } finally {
      await c.call('REPLICAOF', 'NO', 'ONE');
    }
  });

  it('busy with a long script (BUSY): 503 while it runs', async () => {
    const c = ctx.redis.client;
    const { host } = await startRoles();
    await c.config('SET', 'busy-reply-threshold', '100');
    const runner = new Redis(ctx.redis.url, { lazyConnect: true });
    runner.on('error', () => undefined);
    await runner.connect();
    // Connected before the script starts: a new connection's ready check (INFO) would get BUSY too.
    const killer = new Redis(ctx.redis.url, { lazyConnect: true });
    killer.on('error', () => undefined);
    await killer.connect();
    const busy = runner.eval('while true do end', 0).catch((error: unknown) => error);
    try {
      const refused = await eventually(async () => {
        const answer = await post(host, { id: 'while-busy', event_name: 'While a script runs' });
        return answer.status === 503 && answer.json.code === 'redis_busy' ? answer : undefined;
      }, 10_000, '503 redis_busy');
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
      expectNoInternals(refused.text);
    } finally {
      await eventually(async () => (await killer.script('KILL')) === 'OK', 5_000, 'SCRIPT KILL').catch(() => undefined);
      killer.disconnect();
      await busy;
      runner.disconnect();
      await c.config('SET', 'busy-reply-threshold', '5000');
    }
    expect((await post(host, { id: 'after-busy', event_name: 'After the script' })).status).toBe(202);
  });

  it('an unexpected Redis error is a generic 500 with a request id; the details are in the log only', async () => {
    const { host } = await startRoles();
    // The event's definition key holds a string: the host's save script fails with WRONGTYPE on it.
    await ctx.redis.client.set(hostKeys.event('wrong-type').definition, 'not a hash', 'PX', 60_000);
    const answer = await post(host, { id: 'wrong-type', event_name: 'Broken key' });
    expect(answer.status).toBe(500);
    expect(answer.json).toEqual({ error: 'internal error; the service log has the details under this request id', code: 'internal_error', request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expectNoInternals(answer.text);
    const line = await host.waitForLog((l) => l.reqId === answer.json.request_id && l.level >= 50, 5_000, 'the error logged under the request id');
    expect(JSON.stringify(line)).toContain('WRONGTYPE');
    // The process is fine, and so is the next request.
    expect((await post(host, { id: 'fine', event_name: 'Fine' })).status).toBe(202);
  });

  it('a script cache flushed again between loading and rerunning the scripts does not fail the pipeline', async () => {
    const c = ctx.redis.client;
    const script = loadLuaScript(`${sharedScriptDir}/xadd-once.lua`);
    await c.script('FLUSH');
    let runs = 0;
    const results = await execPipeline(
      c,
      ['a', 'b'],
      (pipeline, key) => {
        // Written to the same connection before this run's EVALSHAs: the rerun after the SCRIPT LOAD
        // meets an empty cache once more.
        if (key === 'a' && ++runs === 2) void c.script('FLUSH');
        queueScript(pipeline, script, ['flush-stream', onceKey('flush-stream', key)], [60_000, 0, '1', 'n', key]);
      },
      [script],
    );
    expect(runs).toBe(3);
    expect(results.map(([error]) => error)).toEqual([null, null]);
    expect(await c.xlen('flush-stream')).toBe(2);
  });
});
