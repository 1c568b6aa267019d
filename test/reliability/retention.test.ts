import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { replyFields } from '../../services/shared/schema/response.ts';
import { deadLetterStream, timersKey, eventKeys, isPersistentKey, registryKeys, streams } from '../../services/shared/streams/keys.ts';
import { infoObject } from '../../services/shared/streams/stream-ids.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { flat, originalInvitation } from '../helpers/streams.ts';
import { delay, eventually } from '../helpers/wait.ts';
import { waitForSummaries } from './scenario.ts';

const stack = useRedisStack();

// Every retention as short as the settings allow, the janitor often: what a week and a day do in
// production happens here in seconds.
const retention = {
  EVENT_RETENTION_MS: '5000',
  STREAM_RETENTION_MS: '1500',
  AGENT_GC_MS: '2000',
  GUEST_TTL_MS: '1500',
  CONSUMER_IDLE_MS: '1000',
  JANITOR_INTERVAL_MS: '250',
  HOST_EVENT_RETENTION_MS: '5000',
};

interface KeyState {
  key: string;
  type: string;
  pttl: number;
  size: number;
}

/** Every key in Redis with its type, remaining life (-1: none) and length. */
async function keyspace(redis: Redis): Promise<KeyState[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1_000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const out: KeyState[] = [];
  for (const key of keys) {
    const [type, pttl] = await Promise.all([redis.type(key), redis.pttl(key)]);
    if (type === 'none') continue;
    const size = type === 'stream' ? await redis.xlen(key) : type === 'zset' ? await redis.zcard(key) : type === 'hash' ? await redis.hlen(key) : 1;
    out.push({ key, type, pttl, size });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

async function waitForDeadLetters(redis: Redis, stream: string, count: number): Promise<void> {
  await eventually(async () => ((await redis.exists(stream)) === 1 && (await redis.xlen(stream)) >= count) || undefined, 15_000, `${count} dead letters in ${stream}`);
}

describe('retention', () => {
  it('leaves nothing of events, late replies, dead letters and departed agents once their retention passed: only the fixed keys, emptied by trimming', async () => {
    const { redis, procs } = stack;
    const c = redis.client;
    // The API event's deadline (default RSVP_DEADLINE_MS, 30 s) is a moment of interest: its keys live
    // until it plus EVENT_RETENTION_MS, even once everyone answered (a guest may change its reply until
    // then). A short default keeps that within the wait below, whatever the machine's speed.
    await procs.coordinator({ ...retention, RSVP_DEADLINE_MS: '5000' });
    const host = await procs.host({ HOST_ID: 'ret-host', ...retention });
    const agent = (id: string, personas: string, guests: string) =>
      procs.guests({ GUEST_AGENT_ID: id, PERSONAS: personas, GUESTS_PER_AGENT: guests, REPLY_DELAY_SCALE: '0', ...retention });
    const keeper = await agent('ret-keeper', 'instant', '3');
    const leaver = await agent('ret-leaver', 'instant', '2');
    const crasher = await agent('ret-crasher', 'instant', '2');

    // An event every guest answers, published through the host's API.
    const res = await fetch(host.url('/api/events'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'ret-all', event_name: 'Everybody answers' }),
    });
    expect(res.status).toBe(202);
    await waitForSummaries(c, ['ret-all'], 20_000);

    // Dead letters on a main stream and in an agent's inbox: their streams are kept, their entries are not.
    await c.xadd(streams.invitations, '*', 'event_name', 'no id');
    await c.xadd(streams.responses, '*', 'guest_id', 'nobody');
    await c.xadd(streams.inbox('ret-leaver'), '*', 'not', 'a delivery');
    await waitForDeadLetters(c, 'dead_letters:{event_invitations}', 1);
    await waitForDeadLetters(c, 'dead_letters:{guest_responses}', 1);
    await waitForDeadLetters(c, 'guest_inbox:{ret-leaver}:dead_letters', 1);

    // One agent leaves cleanly (deregisters; its inbox stays behind), one dies without a word.
    await leaver.stop('SIGTERM');
    await crasher.stop('SIGKILL');
    const quiet = await agent('ret-quiet', 'silent', '1');
    await delay(Number(retention.GUEST_TTL_MS) + 200);

    // An event closed at its deadline (one guest never answers), then that guest's late reply.
    const deadline = new Date(Date.now() + 1_500).toISOString();
    await c.xadd(streams.invitations, '*', ...flat(originalInvitation({ id: 'ret-late', rsvp_deadline: deadline })));
    const invited = await eventually(async () => {
      const all = await c.hgetall(eventKeys('ret-late').invited);
      return Object.keys(all).length > 0 ? all : undefined;
    }, 10_000, 'event ret-late created');
    const [quietGuest, value] = Object.entries(invited).find(([, v]) => v.startsWith('ret-quiet\t'))!;
    // While events are open and agents registered, too, every key is either a fixed one or expires.
    const whileRunning = (await keyspace(c)).filter((k) => k.pttl === -1 && !isPersistentKey(k.key));
    expect.soft(whileRunning, 'keys without a TTL while the event is open').toEqual([]);
    await waitForSummaries(c, ['ret-late'], 20_000);
    const late = replyFields({
      id: 'late-1',
      invitationId: 'ret-late',
      guestName: value.slice(value.indexOf('\t') + 1),
      guestId: quietGuest,
      response: 'yes',
      message: 'Sorry, only saw it now',
      timestamp: new Date().toISOString(),
      sequence: 0,
      replyRev: 0,
      plusOnes: 0,
      answers: {},
    });
    await c.xadd(streams.responses, '*', ...late);
    await eventually(async () => (await c.hlen(eventKeys('ret-late').late)) === 1 || undefined, 10_000, 'late reply recorded');
    // The late hash is created after the summary set the event's expiry: it must expire with it.
    const latePttl = await c.pttl(eventKeys('ret-late').late);
    expect.soft(latePttl, 'the late-reply hash has a TTL').toBeGreaterThan(0);
    expect.soft(latePttl).toBeLessThanOrEqual(Number(retention.EVENT_RETENTION_MS));

    // The host has read what the coordinator told it (its group on event_activity holds back trimming
    // of what it has not read: a host application that never comes back keeps its last entries).
    await eventually(async () => {
      const groups = (await c.xinfo('GROUPS', streams.activity)) as unknown[][];
      return groups.map((g) => infoObject(g)).every((g) => Number(g.lag) === 0 && Number(g.pending) === 0) || undefined;
    }, 10_000, 'the host to read every activity entry');
    // Everybody but the coordinator (whose janitor applies retention) leaves.
    await Promise.all([host.stop('SIGTERM'), keeper.stop('SIGTERM'), quiet.stop('SIGTERM')]);

    const ids = ['ret-all', 'ret-late', 'ret-host', 'ret-keeper', 'ret-leaver', 'ret-crasher', 'ret-quiet'];
    const leftovers = (keys: KeyState[]) =>
      keys.filter((k) => {
        if (k.pttl === -1 && !isPersistentKey(k.key)) return true; // lives forever and is not one of the fixed keys
        if (ids.some((id) => k.key.includes(id))) return true; // something of the run's events, agents or host
        return isPersistentKey(k.key) && k.size > 0; // a fixed key that trimming did not empty
      });
    let last: KeyState[] = [];
    try {
      await eventually(async () => {
        last = await keyspace(c);
        return leftovers(last).length === 0 || undefined;
      }, 30_000, 'retention to empty the keyspace');
    } catch {
      // Reported below with what is left.
    }
    expect(leftovers(last), `left behind: ${JSON.stringify(leftovers(last))}`).toEqual([]);
    // What remains without a TTL: the fixed keys of the main streams and the two zsets, nothing per agent.
    const main = [streams.invitations, streams.responses, streams.summaries];
    // The coordinator's priority lanes and the live feed are fixed streams too (emptied by trimming).
    const fixed = [...main, ...main.map(deadLetterStream), streams.invitationsHigh, streams.responsesHigh, streams.activity, timersKey, registryKeys.agents];
    expect(last.filter((k) => k.pttl === -1 && !fixed.includes(k.key))).toEqual([]);
    expect(last.map((k) => k.key)).toEqual(expect.arrayContaining([streams.invitations, streams.responses, streams.summaries, 'dead_letters:{event_invitations}']));
    expect(infoObject((await c.xinfo('STREAM', streams.summaries)) as unknown[]).groups, 'the host group on event_summaries').toBe(1);
  }, 180_000);
});
