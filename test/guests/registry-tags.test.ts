import { describe, expect, it } from 'vitest';
import { GuestRegistry } from '../../services/shared/registry/guest-registry.ts';
import { registryKeys } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { eventually } from '../helpers/wait.ts';

const ctx = useRedisStack();

describe('guest tags in the registry', () => {
  it('agents register each guest with its persona group, persona and the persona’s tags; liveGuests reads them back', async () => {
    const personas = [
      { name: 'Zoe Quinn', label: 'Night Owl', likely: 'yes', tags: ['VIP', 'board'] },
      { label: 'early-bird', likely: 'no' },
    ];
    await ctx.procs.guests({ GUEST_AGENT_ID: 'tagged', GUESTS_PER_AGENT: '4', PERSONAS: JSON.stringify(personas), PERSONA_GROUP: 'Owls_2', GUEST_SEED: 'tags' });
    await ctx.procs.guests({ GUEST_AGENT_ID: 'plain', GUESTS_PER_AGENT: '1', PERSONAS: 'enthusiasts' });
    const registry = new GuestRegistry(ctx.redis.client);
    const live = await eventually(async () => {
      const guests = await registry.liveGuests(10_000);
      return guests.length === 5 ? guests : undefined;
    }, 10_000, 'five live guests');
    const tagsOf = (agentId: string) => live.filter((g) => g.agentId === agentId).map((g) => [g.persona, g.tags]);
    // Sorted by guest id, which follows the generated names: compare per persona.
    expect(tagsOf('tagged').sort()).toEqual([
      ['Night Owl', ['owls_2', 'night-owl', 'vip', 'board']],
      ['Night Owl', ['owls_2', 'night-owl', 'vip', 'board']],
      ['early-bird', ['owls_2', 'early-bird']],
      ['early-bird', ['owls_2', 'early-bird']],
    ]);
    expect(tagsOf('plain')).toEqual([['enthusiast', ['enthusiasts', 'enthusiast']]]);
  });

  it('reads a registration from before tags existed as tagged with its group and persona', async () => {
    const c = ctx.redis.client;
    // What an agent of the previous release wrote.
    await c.hset(registryKeys.agentGuests('veteran'), 'alice-chen.0@veteran', JSON.stringify({ name: 'Alice Chen', persona: 'Alice Chen' }), 'x.1@veteran', 'not json');
    await c.hset(registryKeys.agentInfo('veteran'), 'group', 'original', 'guests', 2);
    await c.zadd(registryKeys.agents, Date.now(), 'veteran');
    const live = await new GuestRegistry(c).liveGuests(10_000);
    expect(live).toEqual([
      { id: 'alice-chen.0@veteran', agentId: 'veteran', name: 'Alice Chen', persona: 'Alice Chen', tags: ['original', 'alice-chen'] },
      { id: 'x.1@veteran', agentId: 'veteran', name: 'x.1@veteran', persona: '', tags: ['original'] },
    ]);
  });
});
