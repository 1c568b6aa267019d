import { describe, expect, it } from 'vitest';
import { readFeedEntry } from '../../services/host/read-model/feed-hub.ts';
import { type GuestRow, ReadModel, applyScript, readStepGuests } from '../../services/host/read-model/read-model.ts';
import type { GuestChange } from '../../services/shared/schema/activity.ts';
import { parseSummary } from '../../services/shared/schema/summary.ts';
import { hostKeys } from '../../services/shared/streams/keys.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { type SummaryAttendee, summaryFields } from './support.ts';

const ctx = useRedisStack();

const options = { feedMaxLen: 10_000, retentionMs: 600_000 };
let entries = 0;
/** Entry ids in stream order, as the host reads them. */
const nextId = (): string => `${1_700_000_000_000 + (entries += 1)}-0`;

const id = (n: number): string => `g${n}@agent`;
const reply = (n: number, state: GuestChange['state'], extra: Partial<GuestChange> = {}): GuestChange => ({
  guest_id: id(n),
  guest_name: n === 2 ? 'Zoë Ñandú' : `Guest ${n}`,
  outcome: 'counted',
  state,
  reply_rev: 0,
  plus_ones: 0,
  message: n === 2 ? 'Wouldn’t miss it! 🎉' : '',
  ...extra,
});

async function report(model: ReadModel, eventId: string, guests: GuestChange[], sequence = 0, type: 'replies' | 'version' = 'replies'): Promise<number> {
  return model.applyActivity(nextId(), { type, at: Date.now(), events: [{ invitation_id: eventId, host_id: 'h', sequence, revision: sequence + 1, guests }] }, 'h');
}

async function summarize(model: ReadModel, eventId: string, attendees: SummaryAttendee[], entryId = nextId()): Promise<number> {
  const fields = summaryFields(eventId, 'h', attendees);
  // The counted replies' messages, as the coordinator lists them.
  fields.responses = JSON.stringify(attendees.filter((a) => a.state !== 'needs_action').map((a) => ({ id: `r-${a.guest_id}`, invitation_id: eventId, guest_id: a.guest_id, guest_name: a.guest_name, response: a.state === 'declined' ? 'no' : 'yes', message: a.guest_id === id(2) ? 'Wouldn’t miss it! 🎉' : '', timestamp: '' })));
  const parsed = parseSummary(fields);
  if (!parsed.ok) throw new Error(parsed.reason);
  return model.applySummary(entryId, parsed.value, fields, 1_234);
}

/** The feed's messages after `since`, as the SSE route sends them. */
async function fed(eventId: string, since = '-'): Promise<{ id: string; kind: string; data: string }[]> {
  const raw = (await ctx.redis.client.xrange(hostKeys.event(eventId).feed, since === '-' ? '-' : `(${since}`, '+')) as [string, string[]][];
  const entries = await Promise.all(raw.map(([entryId, f]) => readFeedEntry(ctx.redis.client, eventId, entryId, Object.fromEntries(f.flatMap((v, i) => (i % 2 === 0 ? [[v, f[i + 1]!]] : []))))));
  return entries.flat();
}

async function lastFeedId(eventId: string): Promise<string> {
  const [last] = (await ctx.redis.client.xrevrange(hostKeys.event(eventId).feed, '+', '-', 'COUNT', 1)) as [string, string[]][];
  return last?.[0] ?? '0-0';
}

/** A client that follows the feed from the start: each `guest` message is an upsert by guest_id (docs/API.md). */
function followed(messages: { kind: string; data: string }[]): GuestRow[] {
  const rows = new Map<string, GuestRow>();
  for (const m of messages) if (m.kind === 'guest') rows.set((JSON.parse(m.data) as GuestRow).guest_id, JSON.parse(m.data) as GuestRow);
  return sorted([...rows.values()]);
}

const sorted = (rows: GuestRow[]): GuestRow[] => [...rows].sort((a, b) => a.guest_id.localeCompare(b.guest_id));
const stored = async (eventId: string): Promise<Record<string, string>> => ctx.redis.client.hgetall(hostKeys.event(eventId).guests);

const attendees = (states: Record<number, SummaryAttendee['state']>): SummaryAttendee[] =>
  Object.entries(states).map(([n, state]) => ({ guest_id: id(Number(n)), guest_name: Number(n) === 2 ? 'Zoë Ñandú' : `Guest ${n}`, state }));

describe('a version’s summary over the replies the read model has', () => {
  it('updates and feeds only the guests it says something new about; a client of the feed ends with the rows GET reads', async () => {
    const model = new ReadModel(ctx.redis.client, options);
    await report(model, 'party', [1, 2, 3, 4, 5].map((n): GuestChange => ({ guest_id: id(n), outcome: 'invited', state: 'needs_action' })), 0, 'version');
    await report(model, 'party', [reply(1, 'accepted'), reply(2, 'accepted'), reply(3, 'accepted', { answers: { diet: 'vegan', days: ['fri', 'sat'] } })]);
    await report(model, 'party', [reply(4, 'declined')]);
    const replied = await stored('party');
    const before = await lastFeedId('party');

    // The summary says what the replies said, except guest 4 (the coordinator counted a change of
    // mind the host has not seen yet) and guest 5 (silent: the summary brings its name).
    const closing = attendees({ 1: 'accepted', 2: 'accepted', 3: 'accepted', 4: 'accepted', 5: 'needs_action' });
    closing[2]!.answers = { days: ['fri', 'sat'], diet: 'vegan' };
    expect(await summarize(model, 'party', closing)).toBe(5);
    const messages = await fed('party', before);
    expect(messages.map((m) => m.kind)).toEqual(['guest', 'guest', 'counts', 'status', 'summary']);
    expect(messages.slice(0, 2).map((m) => JSON.parse(m.data) as GuestRow)).toEqual([
      expect.objectContaining({ guest_id: id(4), state: 'accepted', sequence: 0, updated_at: 1_234 }),
      expect.objectContaining({ guest_id: id(5), guest_name: 'Guest 5', state: 'needs_action', updated_at: 1_234 }),
    ]);

    // The restated rows are the replies' rows, marked final by the summary's entry (not shown).
    const [read] = await model.readMany(['party']);
    const after = await stored('party');
    for (const n of [1, 2, 3]) {
      const { src, final, ...row } = JSON.parse(after[id(n)]!) as GuestRow & { src: string };
      const { src: replySrc, ...replyRow } = JSON.parse(replied[id(n)]!) as GuestRow & { src: string };
      expect([row, final]).toEqual([replyRow, true]);
      expect(src > replySrc).toBe(true);
    }
    expect(read!.guests.find((g) => g.guest_id === id(2))).toMatchObject({ guest_name: 'Zoë Ñandú', message: 'Wouldn’t miss it! 🎉', reply_rev: 0 });
    // A client that followed the feed from the start shows what GET shows.
    expect(followed(await fed('party'))).toEqual(sorted(read!.guests));

    // The summary's entry delivered again: nothing changes, nothing is fed.
    const entrySrc = (JSON.parse(after[id(1)]!) as { src: string }).src;
    expect(await summarize(model, 'party', closing, entrySrc)).toBe(0);
    expect(await stored('party')).toEqual(after);
    // The version's last word: a later report of the same version changes no row.
    expect(await report(model, 'party', [reply(1, 'declined', { reply_rev: 1 })])).toBe(0);
    expect(await stored('party')).toEqual(after);
    // A new version asks again, over the final rows.
    expect(await report(model, 'party', [1, 2].map((n): GuestChange => ({ guest_id: id(n), outcome: 'invited', state: 'needs_action' })), 1, 'version')).toBe(2);
    expect(sorted((await model.readMany(['party']))[0]!.guests.filter((g) => g.sequence === 1)).map((g) => [g.guest_id, g.state, g.message])).toEqual([
      [id(1), 'needs_action', ''],
      [id(2), 'needs_action', 'Wouldn’t miss it! 🎉'],
    ]);
  });

  it('applies a row in full when it differs in party, place, answers, name or message, or shows a rejected note', async () => {
    const model = new ReadModel(ctx.redis.client, options);
    await report(model, 'fussy', [
      reply(1, 'accepted', { plus_ones: 2 }),
      reply(2, 'accepted', { waitlist: 1 }),
      reply(3, 'accepted', { answers: { diet: 'vegan' } }),
      reply(4, 'accepted', { guest_name: 'Old Name' }),
      reply(5, 'accepted', { message: 'see you' }),
      reply(6, 'accepted', { outcome: 'rejected', reason: 'invalid_answers' }),
      reply(7, 'accepted'),
    ]);
    const before = await lastFeedId('fussy');
    const closing = attendees({ 1: 'accepted', 2: 'accepted', 3: 'accepted', 4: 'accepted', 5: 'accepted', 6: 'accepted', 7: 'accepted' });
    closing[2]!.answers = { diet: 'none' };
    await summarize(model, 'fussy', closing);
    const guests = (await fed('fussy', before)).filter((m) => m.kind === 'guest').map((m) => (JSON.parse(m.data) as GuestRow).guest_id);
    expect(guests).toEqual([1, 2, 3, 4, 5, 6].map(id));
    expect(followed(await fed('fussy'))).toEqual(sorted((await model.readMany(['fussy']))[0]!.guests));
  });

  it('resumes a summary killed between steps: each row marked or applied once, the feed without repeats', async () => {
    let steps = 0;
    const crashing = new ReadModel(ctx.redis.client, {
      ...options,
      stepGuests: 2,
      afterStep: () => {
        if ((steps += 1) === 2) throw new Error('killed');
      },
    });
    const all = Array.from({ length: 9 }, (_, i) => i + 1);
    const model = new ReadModel(ctx.redis.client, { ...options, stepGuests: 2 });
    await report(model, 'steps', all.map((n) => reply(n, n % 2 === 0 ? 'declined' : 'accepted')));
    const before = await lastFeedId('steps');
    const closing = attendees(Object.fromEntries(all.map((n) => [n, n === 7 ? 'declined' : n % 2 === 0 ? 'declined' : 'accepted'])));
    const entryId = nextId();
    await expect(summarize(crashing, 'steps', closing, entryId)).rejects.toThrow('killed');
    // Redelivered to a host that was not killed.
    await summarize(model, 'steps', closing, entryId);
    const messages = await fed('steps', before);
    expect(messages.map((m) => [m.kind, m.kind === 'guest' ? (JSON.parse(m.data) as GuestRow).guest_id : ''])).toEqual([
      ['guest', id(7)],
      ['counts', ''],
      ['status', ''],
      ['summary', ''],
    ]);
    const rows = await stored('steps');
    expect(Object.values(rows).every((text) => (JSON.parse(text) as { final?: boolean; src: string }).final === true && text.includes(`"src":"${entryId}"`))).toBe(true);
    expect(followed(await fed('steps'))).toEqual(sorted((await model.readMany(['steps']))[0]!.guests));
  });

  it('is applied once by two replicas racing on the same summary entry (a redelivery while the first still works)', async () => {
    const a = new ReadModel(ctx.redis.client, { ...options, stepGuests: 3 });
    const b = new ReadModel(ctx.redis.client, { ...options, stepGuests: 3 });
    const all = Array.from({ length: 12 }, (_, i) => i + 1);
    await report(a, 'twice', all.map((n) => reply(n, 'accepted')));
    const before = await lastFeedId('twice');
    const closing = attendees(Object.fromEntries(all.map((n) => [n, n % 5 === 0 ? 'declined' : 'accepted'])));
    const entryId = nextId();
    for (let round = 0; round < 3; round += 1) await Promise.all([summarize(a, 'twice', closing, entryId), summarize(b, 'twice', closing, entryId)]);
    const messages = await fed('twice', before);
    expect(messages.filter((m) => m.kind === 'guest').map((m) => (JSON.parse(m.data) as GuestRow).guest_id)).toEqual([id(5), id(10)]);
    expect(messages.filter((m) => m.kind === 'summary')).toHaveLength(1);
    expect(Object.values(await stored('twice')).every((text) => text.endsWith(`"src":"${entryId}","final":true}`))).toBe(true);
    expect(followed(await fed('twice'))).toEqual(sorted((await a.readMany(['twice']))[0]!.guests));
  });

  it('writes nothing when a row changed after the host read it (the host reads again)', async () => {
    const model = new ReadModel(ctx.redis.client, options);
    await report(model, 'raced', [reply(1, 'accepted'), reply(2, 'declined')]);
    const k = hostKeys.event('raced');
    const read = (await ctx.redis.client.hget(k.guests, id(1)))!;
    // Another entry changes the row after the read.
    await report(model, 'raced', [reply(1, 'declined', { reply_rev: 1 })]);
    const now = await stored('raced');
    const feed = await ctx.redis.client.xlen(k.feed);
    const marked = `${read.slice(0, read.lastIndexOf(',"src":'))},"src":"${nextId()}","final":true}`;
    const call = (expected: string, text: string): Promise<unknown> =>
      ctx.redis.client.eval(applyScript.source, 3, k.guests, k.versions, k.feed, 100, 60_000, 1, nextId(), 0, '', '{"accepted":1}', '["counts","{\\"accepted\\":1}"]', 'closed', '["status","{}"]', '', '["guest","{}"]', id(2), (now[id(2)] ?? ''), now[id(2)]!, id(1), expected, text);
    expect(await call(read, marked)).toBe(-1);
    // A guest without a row is expected as '': a row written meanwhile fails the check too.
    expect(await call('', marked)).toBe(-1);
    expect(await stored('raced')).toEqual(now);
    expect(await ctx.redis.client.xlen(k.feed)).toBe(feed);
    expect(await ctx.redis.client.hgetall(k.versions)).toEqual({});
    // The text as it is now passes.
    expect(await call(now[id(1)]!, marked)).toBe(2);
    expect((await stored('raced'))[id(1)]).toBe(marked);
  });

  it('reads a big event’s rows in bounded steps, each once', async () => {
    const model = new ReadModel(ctx.redis.client, options);
    const n = 5 * readStepGuests + 123;
    const k = hostKeys.event('crowd');
    for (let start = 0; start < n; start += 1_000) {
      const args = Array.from({ length: Math.min(1_000, n - start) }, (_, i) => [id(start + i), JSON.stringify({ guest_id: id(start + i), state: 'accepted', sequence: 0, updated_at: 1, src: '1-0' })]).flat();
      await ctx.redis.client.hset(k.guests, ...args);
    }
    await ctx.redis.client.config('RESETSTAT');
    const [read] = await model.readMany(['crowd']);
    expect(read!.guests).toHaveLength(n);
    expect(new Set(read!.guests.map((g) => g.guest_id)).size).toBe(n);
    const info = await ctx.redis.client.info('commandstats');
    expect(Number(/cmdstat_hscan:calls=(\d+)/.exec(info)?.[1])).toBeGreaterThan(n / readStepGuests);
    // The versions are one small hash; the guests never one HGETALL.
    expect(Number(/cmdstat_hgetall:calls=(\d+)/.exec(info)?.[1] ?? 0)).toBe(1);
  });
});
