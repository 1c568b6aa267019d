import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type GuestProfile, GuestRegistry, type LiveGuest } from '../../services/shared/registry/guest-registry.ts';
import { registryKeys } from '../../services/shared/streams/keys.ts';
import { loadLuaScript, runScript, sharedScriptDir } from '../../services/shared/streams/scripts.ts';
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

describe('registering an agent in bounded steps', () => {
  const profiles = (agentId: string, from: number, count: number, persona: string): GuestProfile[] =>
    Array.from({ length: count }, (_, i) => ({ id: `g${from + i}@${agentId}`, name: `Guest ${from + i}`, persona, tags: ['big', persona] }));
  const ids = (guests: readonly { id: string }[]) => guests.map((g) => g.id).sort();
  const stages = async (agentId: string) => ctx.redis.client.keys(registryKeys.agentGuestsStage(agentId, '*'));

  it('a reader polling liveGuests while a 5,000-guest agent registers again and again (HSCAN across a swap) sees one complete set or the other, never part; each HSET bounded, no MULTI', async () => {
    const c = ctx.redis.client;
    const registry = new GuestRegistry(c, { stepGuests: 250 });
    // Two sets that overlap (half of each in the other) and differ in persona: a mix shows in both.
    const before = profiles('big', 0, 5_000, 'before');
    const after = profiles('big', 2_500, 5_000, 'after');
    await registry.register({ agentId: 'big', group: 'large', guests: before });
    const readerClient = c.duplicate();
    const reader = new GuestRegistry(readerClient);
    const snapshots: LiveGuest[][] = [];
    let writing = true;
    // And the hash itself, read whole (HGETALL: one command, so it shows the swap's own atomicity).
    const raw = c.duplicate();
    const hashes: string[][] = [];
    const reading = Promise.all([
      (async () => {
        while (writing) snapshots.push(await reader.liveGuests(60_000));
      })(),
      (async () => {
        while (writing) hashes.push(Object.keys(await raw.hgetall(registryKeys.agentGuests('big'))).sort());
      })(),
    ]);
    const pairs = (await c.config('GET', 'slowlog-*')) as string[];
    const restore = Object.fromEntries(pairs.flatMap((v, i) => (i % 2 === 0 ? [[v, pairs[i + 1]!]] : [])));
    await c.config('SET', 'slowlog-log-slower-than', '0');
    await c.config('SET', 'slowlog-max-len', '100000');
    await c.slowlog('RESET');
    try {
      for (const guests of [after, before, after, before, after]) await registry.register({ agentId: 'big', group: 'large', guests });
    } finally {
      writing = false;
      await reading;
    }
    const log = (await c.slowlog('GET', 100_000)) as [number, number, number, string[]][];
    const [beforeIds, afterIds] = [ids(before), ids(after)];
    for (const [name, value] of Object.entries(restore)) await c.config('SET', name, value);
    expect(snapshots.length).toBeGreaterThan(0);
    expect(hashes.length).toBeGreaterThan(0);
    for (const hash of hashes) expect([beforeIds, afterIds]).toContainEqual(hash);
    for (const snapshot of snapshots) {
      const personas = new Set(snapshot.map((g) => g.persona));
      expect(personas.size, 'one registration’s guests').toBe(1);
      expect(ids(snapshot)).toEqual(personas.has('before') ? beforeIds : afterIds);
    }
    expect(ids(await reader.liveGuests(60_000))).toEqual(afterIds);
    // Each registration's guests went in HSETs of 250 guests at most (SLOWLOG shows 32 arguments and
    // counts the rest), and no transaction held Redis for the whole agent.
    const written = log.filter((e) => e[3][0]!.toLowerCase() === 'hset' && e[3][1]!.includes(':stage:'));
    expect(written.length).toBeGreaterThanOrEqual(5 * 20);
    const argCount = (args: string[]) => {
      const more = /^\.\.\. \((\d+) more arguments\)$/.exec(args.at(-1)!);
      return more ? args.length - 1 + Number(more[1]) : args.length;
    };
    expect(Math.max(...written.map((e) => argCount(e[3])))).toBe(2 + 2 * 250);
    expect(log.some((e) => ['multi', 'exec'].includes(e[3][0]!.toLowerCase()))).toBe(false);
    // What is left: the two hashes with their lease, no stage.
    expect(await stages('big')).toEqual([]);
    for (const key of [registryKeys.agentGuests('big'), registryKeys.agentInfo('big')]) {
      const ttl = await c.pttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(60_000);
    }
    expect(await c.hget(registryKeys.agentInfo('big'), 'guests')).toBe('5000');
    readerClient.disconnect();
    raw.disconnect();
  });

  it('a registration cut short leaves a stage that is never read and expires by itself; registering again replaces the set', async () => {
    const c = ctx.redis.client;
    const registry = new GuestRegistry(c, { stepGuests: 100, stageTtlMs: 500 });
    const first = profiles('cut', 0, 1_500, 'first');
    await registry.register({ agentId: 'cut', group: 'cut', guests: first });
    const registration = await c.hget(registryKeys.agentInfo('cut'), 'registration');
    // The process dies while building its second round of HSETs (the first 1,000 guests are staged).
    const dying = profiles('cut', 10_000, 1_500, 'dying');
    Object.defineProperty(dying[1_200], 'name', { get: () => { throw new Error('the agent died'); } });
    await expect(registry.register({ agentId: 'cut', group: 'cut', guests: dying })).rejects.toThrow('the agent died');
    const [stage] = await stages('cut');
    expect(await c.hlen(stage!)).toBe(1_000);
    const ttl = await c.pttl(stage!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(500);
    // Readers still see the first registration, whole.
    const live = await registry.liveGuests(60_000);
    expect(ids(live)).toEqual(ids(first));
    expect(await c.hget(registryKeys.agentInfo('cut'), 'registration')).toBe(registration);
    await eventually(async () => (await c.exists(stage!)) === 0, 5_000, 'the stage expired');
    // Registering again (the agent restarted) puts a new complete set in place of the old one.
    const again = profiles('cut', 20_000, 1_200, 'again');
    await registry.register({ agentId: 'cut', group: 'cut', guests: again });
    expect(ids(await registry.liveGuests(60_000))).toEqual(ids(again));
    expect(await stages('cut')).toEqual([]);
  });

  it('a stage that lost guests (it expired while being written, and a later step began it anew) is dropped, not swapped in', async () => {
    const c = ctx.redis.client;
    const registry = new GuestRegistry(c);
    await registry.register({ agentId: 'short', group: 'g', guests: profiles('short', 0, 3, 'first') });
    // What the staging left: 2 of the 3 guests it wrote (the first step expired before the second came).
    const stage = registryKeys.agentGuestsStage('short', 'f00d-1');
    await c.hset(stage, 'g1@short', '{}', 'g2@short', '{}');
    await c.pexpire(stage, 60_000);
    const keys = [stage, registryKeys.agentGuests('short'), registryKeys.agentInfo('short')];
    expect(await runScript(c, loadLuaScript(join(sharedScriptDir, 'registry-swap.lua')), keys, [3, 60_000, 'guests', 3, 'registration', 'lost'])).toBe(0);
    expect(await c.exists(stage)).toBe(0);
    expect(await c.hget(registryKeys.agentInfo('short'), 'registration')).not.toBe('lost');
    expect(ids(await registry.liveGuests(60_000))).toEqual(ids(profiles('short', 0, 3, 'first')));
  });

  it('an agent of no guests registers with no guests hash, as before', async () => {
    const registry = new GuestRegistry(ctx.redis.client);
    await registry.register({ agentId: 'empty', group: 'none', guests: profiles('empty', 0, 3, 'x') });
    await registry.register({ agentId: 'empty', group: 'none', guests: [] });
    expect(await ctx.redis.client.exists(registryKeys.agentGuests('empty'))).toBe(0);
    expect(await ctx.redis.client.hget(registryKeys.agentInfo('empty'), 'guests')).toBe('0');
    expect(await registry.liveGuests(60_000)).toEqual([]);
  });

  it('guestsOf (the host API’s guest list) reads any agent, alive or not, in the order asked, a large one in steps and never with one HGETALL', async () => {
    const c = ctx.redis.client;
    const registry = new GuestRegistry(c, { stepGuests: 500 });
    await registry.register({ agentId: 'huge', group: 'many', guests: profiles('huge', 0, 2_500, 'p') });
    await registry.register({ agentId: 'tiny', group: 'few', guests: profiles('tiny', 0, 2, 'p') }, Date.now() - 3_600_000);
    const pairs = (await c.config('GET', 'slowlog-*')) as string[];
    const saved = Object.fromEntries(pairs.reduce<[string, string][]>((acc, v, i) => (i % 2 === 0 ? [...acc, [v, pairs[i + 1]!]] : acc), []));
    await c.config('SET', 'slowlog-log-slower-than', '0');
    await c.config('SET', 'slowlog-max-len', '10000');
    await c.slowlog('RESET');
    let read;
    try {
      read = await registry.guestsOf(['tiny', 'huge', 'nobody']);
    } finally {
      const log = (await c.slowlog('GET', 10_000)) as [number, number, number, string[]][];
      for (const [name, value] of Object.entries(saved)) await c.config('SET', name, value);
      const whole = log.filter(([, , , args]) => args[0]?.toLowerCase() === 'hgetall' && args[1] === registryKeys.agentGuests('huge'));
      expect(whole, 'one HGETALL of the 2,500-guest agent').toEqual([]);
    }
    expect(read.map((a) => [a.agentId, a.group, a.guests.length])).toEqual([['tiny', 'few', 2], ['huge', 'many', 2_500], ['nobody', '', 0]]);
    expect(ids(read[1]!.guests)).toEqual(ids(profiles('huge', 0, 2_500, 'p')));
    // The agent registered an hour ago is not live, and still listed by guestsOf.
    expect(ids(await registry.liveGuests(60_000))).toEqual(ids(profiles('huge', 0, 2_500, 'p')));
  });
});
