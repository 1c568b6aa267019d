import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GuestRegistry } from '../../services/shared/registry/guest-registry.ts';
import type { AclRole } from '../../services/shared/security/acl.ts';
import {
  attemptsKey,
  deadLetterStream,
  eventKeyList,
  groups,
  guestAgentIdPrefix,
  hostKeys,
  hostSeenKey,
  janitorLockKey,
  onceKey,
  registryKeys,
  streams,
  timersKey,
  writeProbeKey,
} from '../../services/shared/streams/keys.ts';
import { TestAclUsers } from '../helpers/acl-users.ts';
import { Processes } from '../helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { flat, originalInvitation, readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';

// Each role under its own ACL user (services/shared/security/acl.ts) on a real redis-server that
// loaded the rendered aclfile, with the default user off. Guest agents log in as their persona
// group's user: two groups here, `original` (the default guest user) and `sceptics`.

const users = new TestAclUsers({ guestGroups: ['original', 'sceptics'] });
let redis: TestRedis;
let procs: Processes;
const clients: Redis[] = [];

/** The environment a process of `role` gets: its user and password (the URL carries neither). */
function roleEnv(role: AclRole, group?: string): Record<string, string> {
  return { REDIS_URL: `redis://127.0.0.1:${redis.server.port}`, ...users.env(role, group) };
}

async function clientAs(role: AclRole, group?: string): Promise<Redis> {
  const client = new Redis({ port: redis.server.port, username: users.user(role, group).username, password: users.password(role, group), lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return client;
}

/** ACL LOG entries: what Redis refused, by whom, for which command or key. */
async function refusals(): Promise<{ username: string; reason: string; object: string }[]> {
  const log = (await redis.client.call('ACL', 'LOG')) as unknown[][];
  return log.map((entry) => {
    const fields: Record<string, unknown> = {};
    for (let i = 0; i < entry.length; i += 2) fields[String(entry[i])] = entry[i + 1];
    return { username: String(fields.username), reason: String(fields.reason), object: String(fields.object) };
  });
}

/** Sends commands over a plain socket and returns Redis' raw replies once each has answered. */
function rawReplies(port: number, commands: string[][]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let data = '';
    socket.setTimeout(3_000, () => socket.destroy(new Error(`no reply, got ${JSON.stringify(data)}`)));
    socket.on('error', reject);
    socket.on('connect', () => socket.write(commands.map((args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`).join('')));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      if (data.split('\r\n').length > commands.length) {
        socket.destroy();
        resolve(data);
      }
    });
  });
}

beforeAll(async () => {
  redis = await startTestRedis({ aclFile: users.aclFile(), username: users.user('admin').username, password: users.password('admin') });
});
afterEach(async () => {
  if (process.env.ACL_DEBUG) console.log(JSON.stringify(await refusals(), null, 1));
  await procs?.stopAll();
  for (const c of clients.splice(0)) c.disconnect();
  await redis.flush();
  await redis.client.call('ACL', 'LOG', 'RESET');
});
afterAll(async () => {
  await redis?.stop();
});

describe('Redis ACL users per role', () => {
  it('covers every stream and key family of keys.ts: one application role may append to each stream, one may write each key', async () => {
    // ACL DRYRUN asks Redis itself whether a user may run a command. A stream or key added to
    // keys.ts without a rule in acl.ts fails here, before a role meets NOPERM in production.
    const may = async (role: AclRole, ...command: string[]) => (await redis.client.call('ACL', 'DRYRUN', users.user(role).username, ...command)) === 'OK';
    const appRoles: AclRole[] = ['host', 'coordinator', 'guest'];
    const anyRole = async (...command: string[]) => (await Promise.all(appRoles.map((role) => may(role, ...command)))).some(Boolean);
    // An agent of the first persona group (its id carries the group: the guest user's scope).
    const agent = `${guestAgentIdPrefix('original')}1`;
    const allStreams = Object.values(streams).map((s) => (typeof s === 'function' ? s(agent) : s));
    for (const stream of allStreams) {
      expect(await anyRole('XADD', stream, '*', 'f', 'v'), `someone appends to ${stream}`).toBe(true);
      expect(await anyRole('XACK', stream, 'g', '0-1'), `someone consumes ${stream}`).toBe(true);
      expect(await anyRole('XADD', deadLetterStream(stream), '*', 'f', 'v'), `someone dead-letters ${stream}`).toBe(true);
    }
    const keys = [
      ...eventKeyList('e1'),
      ...Object.values(hostKeys.event('e1')),
      hostKeys.events('h1'),
      hostKeys.outboxIndex('h1'),
      hostSeenKey('h1', 's1'),
      registryKeys.agents,
      registryKeys.agentGuests(agent),
      registryKeys.agentGuestsStage(agent, 'f00d-1'),
      registryKeys.agentInfo(agent),
      registryKeys.epoch,
      timersKey,
      janitorLockKey,
      writeProbeKey('c1'),
      ...allStreams.map((s) => onceKey(s, 'k1')),
      ...allStreams.map((s) => attemptsKey(s)),
    ];
    for (const key of keys) expect(await anyRole('PEXPIRE', key, '1000'), `someone writes ${key}`).toBe(true);
    // And nobody but the admin reaches outside the system's keys (so the checks above can fail).
    expect(await anyRole('XADD', 'a_stream_keys_ts_does_not_know', '*', 'f', 'v')).toBe(false);
    for (const role of [...appRoles, 'metrics' as const]) expect(await may(role, 'GET', 'someone-elses:key'), role).toBe(false);
  });

  it('runs every role under its own user with nothing refused: sample event, API event, priority lane, summaries, janitor', async () => {
    procs = new Processes({});
    // An agent that went silent long ago, with a registration and an inbox for the janitor to remove.
    const gone = 'agent-gone';
    await redis.client.zadd('registry:agents', 1, gone);
    await redis.client.hset(`registry:agent:{${gone}}:guests`, 'g1', '{"name":"Gone","persona":"x","tags":[]}');
    await redis.client.xadd(streams.inbox(gone), '1-1', 'event_id', 'old');
    // Every event counts as large (steps of one guest): staging, fan-outs and summaries in steps run under the user too.
    const coordinator = await procs.coordinator({ ...roleEnv('coordinator'), JANITOR_INTERVAL_MS: '300', AGENT_GC_MS: '3500', FANOUT_STEP_GUESTS: '1', SUMMARY_STEP_GUESTS: '1' });
    // Two persona groups, each under its own user: each agent reaches its own inboxes only.
    await procs.guests({ ...roleEnv('guest', 'original'), GUESTS_PER_AGENT: '5', PERSONAS: 'original' });
    await procs.guests({ ...roleEnv('guest', 'sceptics'), GUESTS_PER_AGENT: '3', PERSONAS: 'sceptics', REPLY_DELAY_SCALE: '0' });
    const host = await procs.host({ ...roleEnv('host'), PUBLISH_SAMPLE_EVENT: 'true', HOST_ID: 'acl-host' });
    await host.waitForLog((l) => l.msg.startsWith('📊 summary received'), 30_000, 'summary of the sample event');

    // The API: a new event on the priority lane, then the reads (event views, guests, stream statistics).
    const body = JSON.stringify({ id: 'acl-party', event_name: 'ACL party', priority: 'high' });
    const created = await fetch(host.url('/api/events'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(created.status).toBeLessThan(300);
    await eventually(async () => (await readAll(redis.client, streams.summaries)).some((e) => e.fields.invitation_id === 'acl-party'), 30_000, 'summary of the API event');
    // Both groups' agents read their inboxes and replied, each under its own user.
    const repliedFrom = async () => new Set([...(await readAll(redis.client, streams.responses)), ...(await readAll(redis.client, streams.responsesHigh))].map((e) => /@guest-([a-z]+)-/.exec(e.fields.guest_id ?? '')?.[1]));
    await eventually(async () => (await repliedFrom()).has('original') && (await repliedFrom()).has('sceptics'), 10_000, 'replies from both persona groups');
    for (const path of ['/api/events', '/api/events/acl-party', '/api/guests', '/api/streams', '/api/events/acl-party.ics', '/readyz', '/info']) {
      expect((await host.get(path)).status, path).toBe(200);
    }
    // A change (a new version: invitations again, a second summary) and a cancellation.
    const json = { 'content-type': 'application/json' };
    const changed = await fetch(host.url('/api/events/acl-party'), { method: 'PATCH', headers: json, body: JSON.stringify({ event_name: 'ACL party, moved' }) });
    expect(changed.status, await changed.clone().text()).toBeLessThan(300);
    const published = async () => [...(await readAll(redis.client, streams.invitations)), ...(await readAll(redis.client, streams.invitationsHigh))].filter((e) => e.fields.id === 'acl-party');
    await eventually(async () => (await published()).length >= 2, 10_000, 'the change published');
    const cancelled = await fetch(host.url('/api/events/acl-party/cancel'), { method: 'POST', headers: json, body: '{}' });
    expect(cancelled.status).toBeLessThan(300);
    // A summary with nobody to read it is dead-lettered by no one; an invitation the coordinator
    // rejects goes to its dead letters under the coordinator's user.
    await (await clientAs('host')).xadd(streams.invitations, '*', 'id', 'broken', 'host_id', 'acl-host');
    await eventually(async () => (await readAll(redis.client, 'dead_letters:{event_invitations}')).length === 1, 10_000, 'dead letter');
    // The janitor (trimming, agent GC) under the coordinator's user.
    await eventually(async () => (await redis.client.exists(streams.inbox(gone), `registry:agent:{${gone}}:guests`)) === 0, 10_000, 'the silent agent removed');
    // Three summaries: the sample event's, the API event's first version's, and its second's (closed
    // by the cancellation); the last may still be on its way (every event runs in steps of one guest).
    await eventually(async () => (await coordinator.metric('event_planner_summaries_total')) >= 3, 20_000, 'three summaries published');
    const ours = (await readAll(redis.client, streams.summaries)).filter((e) => e.fields.invitation_id === 'acl-party');
    expect(new Set(ours.map((e) => e.fields.sequence)).size, 'one summary per version of the API event').toBe(ours.length);
    // Graceful stops: the guest agent deregisters, the consumers leave their groups.
    await procs.stopAll();
    expect(await redis.client.zcard('registry:agents')).toBe(0);
    expect(await refusals()).toEqual([]);
  });

  it('a guest agent cannot write invitations or summaries, nor administer Redis', async () => {
    const guest = await clientAs('guest');
    const forbidden: [string, () => Promise<unknown>][] = [
      ['XADD event_invitations', () => guest.xadd(streams.invitations, '*', ...flat(originalInvitation()))],
      ['XADD event_invitations:high', () => guest.xadd(streams.invitationsHigh, '*', 'id', 'x')],
      ['XADD event_summaries', () => guest.xadd(streams.summaries, '*', 'invitation_id', 'x')],
      ['XREADGROUP event_summaries', () => guest.xreadgroup('GROUP', groups.host('h'), 'c', 'STREAMS', streams.summaries, '>')],
      ['HSET event state', () => guest.hset('event:{party}', 'status', 'cancelled')],
      ['HGETALL a host event', () => guest.hgetall('host:event:{party}')],
      ['FLUSHALL', () => guest.flushall()],
      ['FLUSHDB', () => guest.flushdb()],
      ['CONFIG SET', () => guest.config('SET', 'appendonly', 'no')],
      ['CONFIG GET', () => guest.config('GET', '*')],
      ['KEYS', () => guest.keys('*')],
      ['SCRIPT FLUSH', () => guest.script('FLUSH')],
      ['ACL SETUSER', () => guest.call('ACL', 'SETUSER', 'intruder', 'on', '>x', '+@all', '~*')],
      ['SAVE', () => guest.call('SAVE')],
      ['XADD to an inbox', () => guest.xadd(streams.inbox('agent-b'), '*', 'x', 'y')],
      ['SHUTDOWN', () => guest.call('SHUTDOWN', 'NOSAVE')],
      ['MONITOR-free PUBLISH', () => guest.publish('anything', 'x')],
      // A script runs with its caller's rights: XADD to the invitations from Lua is refused too.
      ['EVAL XADD event_invitations', () => guest.eval("return redis.call('XADD', KEYS[1], '*', 'id', 'x')", 1, streams.invitations)],
    ];
    for (const [what, run] of forbidden) {
      await expect(run(), what).rejects.toThrow(/NOPERM/);
    }
    expect(await redis.client.exists(streams.invitations, streams.invitationsHigh, streams.summaries)).toBe(0);
    // What it may do: reply, and read its inbox.
    await expect(guest.xadd(streams.responses, '*', 'guest_id', 'g', 'response', 'yes')).resolves.toBeTruthy();
    await expect(guest.xlen(streams.inbox(`${guestAgentIdPrefix('original')}a`))).resolves.toBe(0);
  });

  it('a guest agent reads and acknowledges its own group\'s inboxes, and cannot touch another group\'s inbox or registration', async () => {
    // Agent ids as the chart's pods and `npm start` form them: guest-<group>-... (keys.ts).
    const own = `${guestAgentIdPrefix('original')}pod-1`;
    const other = `${guestAgentIdPrefix('sceptics')}pod-1`;
    const coordinator = await clientAs('coordinator');
    const a = await clientAs('guest', 'original');
    const b = await clientAs('guest', 'sceptics');
    // Each agent creates its consumer group (as StreamConsumer does), the coordinator delivers.
    await a.xgroup('CREATE', streams.inbox(own), groups.guests, '0', 'MKSTREAM');
    await b.xgroup('CREATE', streams.inbox(other), groups.guests, '0', 'MKSTREAM');
    await coordinator.xadd(streams.inbox(own), '*', 'event_id', 'party');
    const theirs = await coordinator.xadd(streams.inbox(other), '*', 'event_id', 'party');
    const read = (await a.xreadgroup('GROUP', groups.guests, own, 'COUNT', 10, 'STREAMS', streams.inbox(own), '>')) as [string, [string, string[]][]][];
    expect(read[0]![1]).toHaveLength(1);
    expect(await a.xack(streams.inbox(own), groups.guests, read[0]![1][0]![0])).toBe(1);
    await expect(a.hset(registryKeys.agentInfo(own), 'group', 'original')).resolves.toBe(1);
    // Its registration in steps: a stage, then the swap script (HLEN, UNLINK, RENAME) under its user, twice (the second replaces the first).
    const guestsOf = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `g${i}@${own}`, name: `G ${i}`, persona: 'p', tags: ['original'] }));
    for (const n of [5, 3]) await new GuestRegistry(a, { stepGuests: 2 }).register({ agentId: own, group: 'original', guests: guestsOf(n) });
    expect(await redis.client.hlen(registryKeys.agentGuests(own))).toBe(3);
    await expect(a.xadd(deadLetterStream(streams.inbox(own)), '*', 'reason', 'x')).resolves.toBeTruthy();

    const forbidden: [string, () => Promise<unknown>][] = [
      ['XREADGROUP', () => a.xreadgroup('GROUP', groups.guests, other, 'STREAMS', streams.inbox(other), '>')],
      ['XREADGROUP, priority lane', () => a.xreadgroup('GROUP', groups.guests, other, 'STREAMS', streams.inboxHigh(other), '>')],
      ['XRANGE', () => a.xrange(streams.inbox(other), '-', '+')],
      ['XLEN', () => a.xlen(streams.inbox(other))],
      ['XACK', () => a.xack(streams.inbox(other), groups.guests, theirs!)],
      ['XAUTOCLAIM', () => a.xautoclaim(streams.inbox(other), groups.guests, own, 0, '0')],
      ['XGROUP CREATE', () => a.xgroup('CREATE', streams.inboxHigh(other), groups.guests, '0', 'MKSTREAM')],
      ['XADD to its dead letters', () => a.xadd(deadLetterStream(streams.inbox(other)), '*', 'reason', 'x')],
      ['DEL', () => a.del(streams.inbox(other))],
      ['HSET its registration', () => a.hset(registryKeys.agentInfo(other), 'group', 'original')],
      ['HGETALL its guests', () => a.hgetall(registryKeys.agentGuests(other))],
      ['UNLINK its guests', () => a.unlink(registryKeys.agentGuests(other))],
      ['RENAME its stage onto its guests', () => a.rename(registryKeys.agentGuestsStage(other, 'x'), registryKeys.agentGuests(other))],
      ['RENAME its own stage onto the other\'s guests', () => a.rename(registryKeys.agentGuestsStage(own, 'x'), registryKeys.agentGuests(other))],
      // A script runs with its caller's rights.
      ['EVAL XRANGE', () => a.eval("return redis.call('XRANGE', KEYS[1], '-', '+')", 1, streams.inbox(other))],
      // The prefix ends at the group's dash: `guest-original` does not reach `guest-originalx-...`.
      ['a group whose name extends its own', () => a.xlen(streams.inbox('guest-originalx-pod-1'))],
    ];
    for (const [what, run] of forbidden) await expect(run(), what).rejects.toThrow(/NOPERM/);
    // Nothing of the other group's changed: its entry unread, its agent's registration absent.
    const pending = (await redis.client.xpending(streams.inbox(other), groups.guests)) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
    expect(await redis.client.xlen(streams.inbox(other))).toBe(1);
    expect(await redis.client.exists(registryKeys.agentInfo(other))).toBe(0);
  });

  it('a guest agent whose id lacks its group\'s prefix says why its user cannot reach its inbox', async () => {
    procs = new Processes({});
    const agent = await procs.start('guest', { ...roleEnv('guest', 'original'), PERSONAS: 'original', GUEST_AGENT_ID: 'someone-else-1' }, { ready: false });
    const warning = await agent.waitForLog((l) => l.msg.includes('does not contain guest-original-'), 15_000, 'the warning');
    expect(warning.level).toBe(40);
    // And Redis refuses it the inbox of an id outside its group's.
    await eventually(async () => (await refusals()).some((r) => r.username === users.user('guest', 'original').username && r.object.includes('someone-else-1')), 10_000, 'NOPERM on its inbox');
  });

  it('keeps what the roles wrote in transactions and scripts through a restart (the AOF is replayed as the disabled default user)', async () => {
    // Redis replays the AOF as the default user and, before 8.x, re-checks that user's ACL at each
    // EXEC (redis/redis#14541): with the default user refused everything, every MULTI/EXEC and
    // every script's effects were dropped at restart, silently (seen on the kind cluster).
    const coordinator = await clientAs('coordinator');
    await coordinator.multi().hset('event:{aof-check}', 'status', 'open').pexpire('event:{aof-check}', 600_000).exec();
    await coordinator.eval("redis.call('HSET', KEYS[1], 'by', 'script'); return redis.call('PEXPIRE', KEYS[1], 600000)", 1, 'event:{aof-check}:state');
    await redis.server.restart();
    const after = await clientAs('coordinator');
    expect(await after.hget('event:{aof-check}', 'status')).toBe('open');
    expect(await after.hget('event:{aof-check}:state', 'by')).toBe('script');
    // And the default user still lets nobody in.
    expect(await rawReplies(redis.server.port, [['PING']])).toMatch(/^-NOAUTH/);
  });

  it('the coordinator adds a large summary as a WATCH transaction of plain commands under its own user', async () => {
    const coordinator = await clientAs('coordinator');
    const marker = onceKey(streams.summaries, 'summary:acl-watched:0');
    await coordinator.watch(marker);
    expect(await coordinator.get(marker)).toBeNull();
    const done = await coordinator.multi().set(marker, '1', 'PX', 60_000).xadd(streams.summaries, '*', 'id', 'summary:acl-watched:0').exec();
    expect(done?.map(([error]) => error)).toEqual([null, null]);
    expect((await readAll(redis.client, streams.summaries)).some((e) => e.fields.id === 'summary:acl-watched:0')).toBe(true);
  });

  it('every consuming role may WAIT for replicas before it acknowledges (STREAM_ACK_WAIT_REPLICAS)', async () => {
    // No replica here: WAIT 0 answers at once with 0; a user without +wait gets NOPERM instead.
    for (const role of ['host', 'coordinator', 'guest'] as const) expect(await (await clientAs(role)).wait(0, 0), role).toBe(0);
  });

  it('the host cannot reply for a guest, deliver to an inbox or change the coordinator\'s state', async () => {
    const host = await clientAs('host');
    await expect(host.xadd(streams.responses, '*', 'guest_id', 'g', 'response', 'yes')).rejects.toThrow(/NOPERM/);
    await expect(host.xadd(streams.inbox('agent-a'), '*', 'x', 'y')).rejects.toThrow(/NOPERM/);
    await expect(host.xadd(streams.summaries, '*', 'invitation_id', 'x')).rejects.toThrow(/NOPERM/);
    await expect(host.hset('event:{party}', 'status', 'cancelled')).rejects.toThrow(/NOPERM/);
    await expect(host.zadd('registry:agents', 1, 'fake-agent')).rejects.toThrow(/NOPERM/);
    await expect(host.flushall()).rejects.toThrow(/NOPERM/);
  });

  it('the coordinator cannot touch the host\'s own keys or administer Redis', async () => {
    const coordinator = await clientAs('coordinator');
    await expect(coordinator.hset('host:event:{party}', 'status', 'cancelled')).rejects.toThrow(/NOPERM/);
    await expect(coordinator.zadd('host:h:events', 1, 'party')).rejects.toThrow(/NOPERM/);
    // It consumes invitations and replies (XACK, XCLAIM write to them) but cannot append to them.
    await expect(coordinator.xadd(streams.invitations, '*', ...flat(originalInvitation()))).rejects.toThrow(/NOPERM/);
    await expect(coordinator.xadd(streams.responses, '*', 'guest_id', 'g', 'response', 'yes')).rejects.toThrow(/NOPERM/);
    await expect(coordinator.xgroup('CREATE', streams.invitations, 'c', '$', 'MKSTREAM')).resolves.toBe('OK');
    await expect(coordinator.flushall()).rejects.toThrow(/NOPERM/);
    await expect(coordinator.config('SET', 'appendonly', 'no')).rejects.toThrow(/NOPERM/);
  });

  it('the metrics user reads server statistics and no key; the default user cannot log in', async () => {
    await redis.client.set('health:x', '1');
    const metrics = await clientAs('metrics');
    expect(await metrics.info('memory')).toContain('used_memory');
    await expect(metrics.get('health:x')).rejects.toThrow(/NOPERM/);
    await expect(metrics.xlen(streams.responses)).rejects.toThrow(/NOPERM/);
    // Raw RESP, to see Redis' own replies (a client library would retry or hide them).
    expect(await rawReplies(redis.server.port, [['GET', 'health:x']])).toMatch(/^-NOAUTH/);
    expect(await rawReplies(redis.server.port, [['AUTH', 'default', 'anything']])).toMatch(/^-WRONGPASS/);
    expect(await rawReplies(redis.server.port, [['AUTH', users.user('guest').username, 'not-the-password']])).toMatch(/^-WRONGPASS/);
    expect(await rawReplies(redis.server.port, [['AUTH', users.user('guest').username, users.password('guest')], ['GET', 'event:{party}']])).toMatch(/^\+OK\r\n-NOPERM/);
  });
});
