import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStore } from '../../services/coordinator/event-store.ts';
import type { LiveGuest } from '../../services/shared/registry/guest-registry.ts';
import type { Invitation } from '../../services/shared/schema/invitation.ts';
import { defaultEventOptions } from '../../services/shared/schema/event-definition.ts';
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
  it('is created with every guest invited', async () => {
    const store = new EventStore(redis.client, { retentionMs: 60_000, summaryCap: 10 });
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
    const created = await store.create(invitation, guests, Date.now() + 60_000, Date.now(), {});
    expect(created).toMatchObject({ kind: 'created', invited: 100_000 });
    expect(await redis.client.hlen('event:{big-event}:invited')).toBe(100_000);
  });
});
