import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppendFsync } from '../../services/launcher/redis-server.ts';
import { streams } from '../../services/shared/streams/keys.ts';
import { Processes, type RoleProcess } from '../helpers/processes.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { flat, originalInvitation } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { checkInvariants, failures, readStream } from './invariants.ts';
import { errorLines, processStatuses, waitForNothingPending, waitForSummaries } from './scenario.ts';

let redis: TestRedis | undefined;
let procs: Processes | undefined;
afterEach(async () => {
  await procs?.stopAll();
  await redis?.stop();
});

/**
 * Writes as fast as 8 concurrent callers can, the way a fail-fast client does (no offline queue,
 * nothing resent), and remembers every XADD Redis acknowledged. One write in ten is an invitation.
 */
function loadWriter(url: string) {
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false });
  client.on('error', () => undefined);
  const acknowledged: { stream: string; id: string }[] = [];
  const invitations: string[] = [];
  let failed = 0;
  let stopped = false;
  const worker = async (w: number) => {
    for (let i = 0; !stopped; i += 1) {
      if (client.status !== 'ready') {
        await delay(20);
        continue;
      }
      try {
        if (i % 10 === 0) {
          const id = randomUUID();
          const entryId = (await client.xadd(streams.invitations, '*', ...flat(originalInvitation({ id })))) as string;
          acknowledged.push({ stream: streams.invitations, id: entryId });
          invitations.push(id);
        } else {
          acknowledged.push({ stream: 'load', id: (await client.xadd('load', '*', 'worker', String(w), 'n', String(i), 'pad', 'x'.repeat(200))) as string });
        }
      } catch {
        failed += 1;
        await delay(20);
      }
    }
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));
  return {
    acknowledged,
    invitations,
    failed: () => failed,
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
      client.disconnect();
    },
  };
}

describe('kill -9 of redis-server under load, restarted on the same AOF', () => {
  it.each(['everysec', 'always'] as AppendFsync[])('appendfsync %s: no acknowledged write lost, roles not ready while it is down, then every event completes once', async (appendfsync) => {
    redis = await startTestRedis({ appendfsync });
    procs = new Processes({ REDIS_URL: redis.url });
    const c = redis.client;
    const env = { RSVP_DEADLINE_MS: '600000' };
    const agentId = `aof-${appendfsync}`;
    const coordinators = [await procs.coordinator(env), await procs.coordinator(env)];
    const guests = await procs.guests({ GUEST_AGENT_ID: agentId, GUESTS_PER_AGENT: '10', PERSONAS: 'instant' });
    const host = await procs.host({ HOST_ID: 'aof-host' });
    const all: RoleProcess[] = [...coordinators, guests, host];

    const writer = loadWriter(redis.url);
    await eventually(() => writer.invitations.length >= 20, 10_000, 'load running');
    await redis.server.kill();
    const ackedAtKill = writer.acknowledged.length;

    // While Redis is down: publishing fails fast with a clear error, and nobody claims to be ready.
    const started = Date.now();
    const res = await fetch(host.url('/api/events'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event_name: 'during the outage' }) });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(/Redis is not reachable/);
    expect(Date.now() - started).toBeLessThan(500);
    await eventually(async () => {
      for (const p of all) if ((await p.get('/readyz')).status !== 503) return false;
      return true;
    }, 5_000, 'every role not ready');

    await delay(1_000);
    await redis.server.start();
    // Load goes on across the restart, then stops.
    await eventually(() => writer.acknowledged.length > ackedAtKill + 200, 15_000, 'writes after the restart');
    await writer.stop();
    expect(writer.failed()).toBeGreaterThan(0);

    const lost = [];
    for (const { stream, id } of writer.acknowledged.slice(0, ackedAtKill)) {
      if ((await c.xrange(stream, id, id)).length !== 1) lost.push(`${stream} ${id}`);
    }
    expect(lost, `acknowledged before the kill but gone after the restart (${appendfsync})`).toEqual([]);

    await eventually(async () => {
      for (const p of all) if ((await p.get('/readyz')).status !== 200) return false;
      return true;
    }, 15_000, 'every role ready again');
    // Invitations whose XADD got no reply may or may not have been written: what is in the stream counts.
    const events = (await readStream(c, streams.invitations)).map((e) => e.fields.id!);
    expect(events.length).toBeGreaterThanOrEqual(writer.invitations.length);
    await waitForSummaries(c, events, 40_000);
    await waitForNothingPending(c, [agentId], 15_000);
    const rows = await checkInvariants({ redis: c, events, everyoneAnswers: true, processes: processStatuses(all, new Set()), acknowledged: writer.acknowledged });
    expect(failures(rows)).toBe('');
    for (const p of all) {
      expect(errorLines(p)).toEqual([]);
      // One warning when the connection went, one line when it came back: not one per retry.
      expect(p.logs.filter((l) => l.msg === 'redis connection lost; reconnecting with backoff')).toHaveLength(1);
      expect(p.logs.filter((l) => l.msg === 'redis connection restored')).toHaveLength(1);
    }
  }, 120_000);
});
