import { describe, expect, it } from 'vitest';
import { OutboxDrainer, revisionOnceKey } from '../../services/host/publishing/outbox.ts';
import { HostMetrics } from '../../services/host/metrics.ts';
import { Revisions } from '../../services/host/publishing/revisions.ts';
import { hostKeys, streams } from '../../services/shared/streams/keys.ts';
import { StreamProducer } from '../../services/shared/streams/producer.ts';
import type { OutboxItem } from '../../services/host/publishing/revisions.ts';
import { withAuth } from '../helpers/auth.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { readAll } from '../helpers/streams.ts';
import { connectionsFor, counterValue, memoryLogger, testMetrics } from '../reliability/support.ts';
import { call, daysAhead } from './support.ts';

// The host saves a revision with its outbox item, then publishes it; the periodic outbox drainer
// publishes pending items too. Whichever of the two adds the entry, the API answers its id.

const ctx = useRedisStack();

describe('the outbox drainer publishing before the request', () => {
  it('answers the entry id of the one entry per revision (drainer run between save and publish)', async () => {
    // HOST_TEST_DRAIN_FIRST: the drainer's sweep runs after every save, before the request publishes.
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'racy', HOST_TEST_DRAIN_FIRST: 'true' });
    const body = { id: 'raced', event_name: 'Raced', event_date: daysAhead(9) };

    const created = await call(host, 'POST', '/api/events', body);
    expect(created.status).toBe(202);
    const changed = await call(host, 'PATCH', '/api/events/raced', { event_name: 'Raced 2' }, { 'if-match': '"1"' });
    expect(changed.status).toBe(202);
    const cancelled = await call(host, 'POST', '/api/events/raced/cancel', {});
    expect(cancelled.status).toBe(202);

    // The drainer added every entry (the log line of its sweep), once per revision.
    await host.waitForLog((l) => l.msg === 'outbox: published revisions left behind by an interrupted save', 5_000, 'the drainer published');
    const entries = await readAll(ctx.redis.client, streams.invitations);
    expect(entries.map((e) => e.fields.revision)).toEqual(['1', '2', '3']);
    expect([created.body.entry_id, changed.body.entry_id, cancelled.body.entry_id]).toEqual(entries.map((e) => e.id));
    expect(await ctx.redis.client.hlen(hostKeys.event('raced').outbox)).toBe(0);

    // A retried create is a duplicate: nothing new published, no entry to name.
    const again = await call(host, 'POST', '/api/events', body);
    expect(again.body).toMatchObject({ duplicate: true, entry_id: null });
    expect(await ctx.redis.client.xlen(streams.invitations)).toBe(3);
  });

  it('answers the entry the drainer added while the request held the same outbox item', async () => {
    const { log } = memoryLogger();
    const connections = await connectionsFor(ctx.redis.url, log);
    try {
      const redis = connections.command;
      const producer = new StreamProducer(connections, { onceTtlMs: 60_000 });
      const metrics = testMetrics();
      const revisions = new Revisions(redis, { hostId: 'h', hostName: 'H', timezone: 'UTC', rsvpWindowMs: 0, retentionMs: 60_000 });
      const outbox = new OutboxDrainer({ redis, producer, hostId: 'h', metrics: new HostMetrics(metrics), log, intervalMs: 60_000, retentionMs: 60_000 });
      const saved = await revisions.create({ id: 'both', event_name: 'Both', event_date: daysAhead(9) });
      expect(saved.kind).toBe('saved');
      if (saved.kind !== 'saved') return;

      // The other drainer read the item and added it; it has not removed it from the outbox yet.
      const item = JSON.parse((await redis.hget(hostKeys.event('both').outbox, '1'))!) as OutboxItem;
      const [theirs] = await producer.addManyOnce([{ stream: item.stream, fields: item.fields, onceKey: revisionOnceKey('both', 1), markerHoldsId: true }]);
      expect(theirs).toMatchObject({ added: true });

      // The request's publish step finds the item, its add finds the marker: the same entry.
      expect(await outbox.publish([saved])).toEqual([(theirs as { id: string }).id]);
      expect((await readAll(ctx.redis.client, streams.invitations)).map((e) => e.id)).toEqual([(theirs as { id: string }).id]);
      expect(await redis.hlen(hostKeys.event('both').outbox)).toBe(0);
      // Counted by the drain that added it, not by the request that found the marker.
      expect(await counterValue(metrics, 'event_planner_host_invitations_published_total', { outcome: 'published' })).toBe(0);
    } finally {
      await connections.close();
    }
  });
});
