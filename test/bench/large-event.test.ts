import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStore } from '../../services/coordinator/event-store.ts';
import type { LiveGuest } from '../../services/shared/registry/guest-registry.ts';
import type { Invitation } from '../../services/shared/schema/invitation.ts';
import { defaultEventOptions } from '../../services/shared/schema/event-definition.ts';
import { MAX_GUESTS_PER_DELIVERY } from '../../services/shared/schema/delivery.ts';
import { MAX_FIELD_LENGTH } from '../../services/shared/schema/validation.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

// Found by the benchmark's fan-out scenario: creating a 100,000-guest event spread 200,000
// arguments into one call and failed with "Maximum call stack size exceeded", so the invitation
// was retried and dead-lettered and no guest was ever invited.
let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('an event with 100,000 guests', () => {
  it('is created with every guest invited and a request per chunk', async () => {
    const store = new EventStore(redis.client, { retentionMs: 60_000, summaryCap: 10, rsvpDeadlineMs: 60_000 });
    const guests: LiveGuest[] = Array.from({ length: 100_000 }, (_, i) => ({ id: `g${i}@agent-${i % 2}`, agentId: `agent-${i % 2}`, name: `Guest ${i}`, persona: '', tags: [] }));
    const invitation: Invitation = {
      ...defaultEventOptions,
      id: 'big-event',
      method: 'REQUEST',
      revision: 1,
      legacy: false,
      eventName: 'Everyone',
      eventDate: '',
      eventTime: '',
      location: '',
      description: '',
      hostName: 'Host',
      hostId: 'host',
      timestamp: new Date().toISOString(),
      sequence: 0,
    };
    const applied = await store.applyRevision(invitation, { publishedAt: Date.now(), openingProblem: '', resolution: { guests, unknown: [] }, trace: {} });
    expect(applied).toMatchObject({ kind: 'ok' });
    // Requests per agent in chunks within the guest count and the field length (agents refuse a
    // longer field), waiting in the event's outbox: every guest in exactly one of them.
    const items = Object.values(await redis.client.hgetall('event:{big-event}:outbox')).map((v) => JSON.parse(v) as { k: string; g: string[] });
    const requests = items.filter((i) => i.k === 'd');
    for (const r of requests) {
      expect(r.g.length).toBeLessThanOrEqual(MAX_GUESTS_PER_DELIVERY);
      expect(JSON.stringify(r.g).length).toBeLessThanOrEqual(MAX_FIELD_LENGTH);
    }
    const named = requests.flatMap((r) => r.g);
    expect(named).toHaveLength(100_000);
    expect(new Set(named).size).toBe(100_000);
    expect(await redis.client.hlen('event:{big-event}:invited')).toBe(100_000);
  });
});
