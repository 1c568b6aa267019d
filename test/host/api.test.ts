import ICAL from 'ical.js';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { activityFields } from '../../services/shared/schema/activity.ts';
import { hostKeys, streams } from '../../services/shared/streams/keys.ts';
import { withAuth } from '../helpers/auth.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import { call, daysAhead, msAhead } from './support.ts';

const ctx = useRedisStack();

function parseIcs(text: string) {
  const calendar = new ICAL.Component(ICAL.parse(text) as unknown[]);
  const vevent = calendar.getFirstSubcomponent('vevent')!;
  return {
    method: String(calendar.getFirstPropertyValue('method')),
    uid: String(vevent.getFirstPropertyValue('uid')),
    sequence: Number(vevent.getFirstPropertyValue('sequence')),
    status: String(vevent.getFirstPropertyValue('status')),
    start: vevent.getFirstProperty('dtstart')!,
    attendees: vevent.getAllProperties('attendee').map((p) => ({
      address: String(p.getFirstValue()),
      partstat: String(p.getParameter('partstat')),
      rsvp: String(p.getParameter('rsvp')),
      waitlist: p.getParameter('x-event-planner-waitlist') as string | undefined,
      plusOnes: p.getParameter('x-num-guests') as string | undefined,
    })),
  };
}

describe('the host API: events', () => {
  it('creates, retries, changes with ETag/If-Match, cancels, and refuses what it must', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'api-host' });
    const body = { id: 'launch', event_name: 'Launch', event_date: daysAhead(10), event_time: '18:00', timezone: 'Europe/Paris', rsvp_deadline: msAhead(3_600_000), capacity: 10, priority: 'high' };

    const created = await call(host, 'POST', '/api/events', body);
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ id: 'launch', revision: 1, sequence: 0, status: 'open', duplicate: false, entry_id: expect.any(String) });
    expect(created.headers.get('etag')).toBe('"1"');
    // High priority travels on its own lane.
    expect((await readAll(ctx.redis.client, streams.invitationsHigh)).map((e) => [e.fields.id, e.fields.revision])).toEqual([['launch', '1']]);
    expect(await ctx.redis.client.xlen(streams.invitations)).toBe(0);

    expect((await call(host, 'POST', '/api/events', body)).body).toMatchObject({ revision: 1, duplicate: true, entry_id: null });
    expect((await call(host, 'POST', '/api/events', { ...body, location: 'Elsewhere' })).body).toMatchObject({ code: 'id_conflict', field: 'id' });

    const got = await call(host, 'GET', '/api/events/launch');
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe('"1"');
    expect(got.body).toMatchObject({
      id: 'launch',
      host_id: 'api-host',
      status: 'open',
      revision: 1,
      sequence: 0,
      definition: { event_name: 'Launch', timezone: 'Europe/Paris', capacity: 10, priority: 'high', duration_minutes: 120, plus_ones_max: 0, questions: [] },
      guests: [],
      summaries: [],
      feed_id: '0-0',
    });

    // A detail that keeps SEQUENCE, then one that bumps it.
    const renamed = await call(host, 'PATCH', '/api/events/launch', { event_name: 'Launch party' }, { 'if-match': '"1"' });
    expect(renamed).toMatchObject({ status: 202, body: { revision: 2, sequence: 0, bumped: false, duplicate: false } });
    expect(renamed.headers.get('etag')).toBe('"2"');
    const stale = await call(host, 'PATCH', '/api/events/launch', { location: 'Hall' }, { 'if-match': '"1"' });
    expect(stale).toMatchObject({ status: 412, body: { code: 'precondition_failed' } });
    expect(stale.headers.get('etag')).toBe('"2"');
    expect((await call(host, 'PATCH', '/api/events/launch', { location: 'Hall' }, { 'if-match': 'soon' })).status).toBe(412);
    const moved = await call(host, 'PATCH', '/api/events/launch', { location: 'Hall' }, { 'if-match': '"2"' });
    expect(moved.body).toMatchObject({ revision: 3, sequence: 1, bumped: true });
    // The same change again is no new revision.
    expect((await call(host, 'PATCH', '/api/events/launch', { location: 'Hall' })).body).toMatchObject({ revision: 3, duplicate: true });
    const badPatch = await call(host, 'PATCH', '/api/events/launch', { capacity: -1 });
    expect(badPatch).toMatchObject({ status: 400, body: { field: 'capacity' } });
    expect((await call(host, 'PATCH', '/api/events/launch', { capacity: '5' })).body).toMatchObject({ code: 'invalid_type', field: 'capacity' });
    expect((await call(host, 'PATCH', '/api/events/launch', { id: 'other' })).body).toMatchObject({ code: 'unknown_field', field: 'id' });
    // A new version must open with its deadline ahead.
    expect((await call(host, 'PATCH', '/api/events/launch', { event_time: '19:00', rsvp_deadline: '2000-01-01T00:00:00Z' })).body).toMatchObject({ code: 'deadline_passed', field: 'rsvp_deadline' });
    expect((await call(host, 'PATCH', '/api/events/nope', { location: 'x' })).status).toBe(404);
    expect((await call(host, 'PATCH', '/api/events/has%20space', { location: 'x' })).body).toMatchObject({ field: 'id' });

    // No body at all: the reason is optional.
    const cancelled = await call(host, 'POST', '/api/events/launch/cancel');
    expect(cancelled.body).toMatchObject({ revision: 4, sequence: 2, status: 'cancelled', bumped: true, duplicate: false });
    expect((await call(host, 'POST', '/api/events/launch/cancel', { reason: 'again' })).body).toMatchObject({ revision: 4, duplicate: true });
    expect((await call(host, 'PATCH', '/api/events/launch', { location: 'Back' })).body).toMatchObject({ code: 'cancelled' });
    expect((await call(host, 'POST', '/api/events/nope/cancel', {})).status).toBe(404);

    // One entry per revision, each the whole event as of it.
    const entries = await readAll(ctx.redis.client, streams.invitationsHigh);
    expect(entries.map((e) => [e.fields.revision, e.fields.sequence, e.fields.method ?? 'REQUEST', e.fields.event_name, e.fields.location ?? ''])).toEqual([
      ['1', '0', 'REQUEST', 'Launch', ''],
      ['2', '0', 'REQUEST', 'Launch party', ''],
      ['3', '1', 'REQUEST', 'Launch party', 'Hall'],
      ['4', '2', 'CANCEL', 'Launch party', 'Hall'],
    ]);
    expect(entries.every((e) => e.fields.host_id === 'api-host' && e.fields.v === '2')).toBe(true);
    // Every host key expires.
    for (const key of [hostKeys.event('launch').definition, hostKeys.event('launch').outbox]) {
      const ttl = await ctx.redis.client.pttl(key);
      expect(ttl === -2 || ttl > 0, key).toBe(true);
    }
    expect((await call(host, 'GET', '/api/events/launch')).body).toMatchObject({ status: 'cancelled', revision: 4, sequence: 2 });
    expect((await call(host, 'GET', '/api/events/nope')).status).toBe(404);
  });

  it('another host application cannot use or change an id it does not own (409 id_in_use)', async () => {
    const a = await ctx.procs.host({ ...withAuth, HOST_ID: 'host-a' });
    const b = await ctx.procs.host({ ...withAuth, HOST_ID: 'host-b' });
    expect((await call(a, 'POST', '/api/events', { id: 'shared', event_name: 'A' })).status).toBe(202);
    expect((await call(b, 'POST', '/api/events', { id: 'shared', event_name: 'A' })).body).toMatchObject({ code: 'id_in_use', field: 'id', error: 'id shared is already used by host application host-a' });
    expect((await call(b, 'PATCH', '/api/events/shared', { event_name: 'B' })).body).toMatchObject({ code: 'id_in_use' });
    expect((await call(b, 'GET', '/api/events/shared')).status).toBe(404);
    expect((await call(b, 'GET', '/api/events')).body).toEqual({ items: [], next_cursor: null });
  });

  it('lists events newest first, paged by cursor, filtered by status and start time', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'lister' });
    for (let i = 0; i < 7; i += 1) {
      expect((await call(host, 'POST', '/api/events', { id: `e${i}`, event_name: `Event ${i}`, event_date: daysAhead(10 + i), event_time: '12:00' })).status).toBe(202);
    }
    await call(host, 'POST', '/api/events/e3/cancel', {});
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: { id: string }[]; next_cursor: string | null } } = await call(host, 'GET', `/api/events?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.items.map((i) => i.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(['e6', 'e5', 'e4', 'e3', 'e2', 'e1', 'e0']);
    const cancelled = await call<{ items: { id: string; status: string }[] }>(host, 'GET', '/api/events?status=cancelled');
    expect(cancelled.body.items.map((i) => [i.id, i.status])).toEqual([['e3', 'cancelled']]);
    const window = await call<{ items: { id: string }[] }>(host, 'GET', `/api/events?from=${daysAhead(12)}&to=${daysAhead(14)}`);
    expect(window.body.items.map((i) => i.id)).toEqual(['e3', 'e2']);
    for (const [query, field] of [['limit=0', 'limit'], ['limit=abc', 'limit'], ['cursor=zzz', 'cursor'], ['from=yesterday', 'from'], ['status=done', 'status'], ['colour=red', 'colour']]) {
      const answer = await call(host, 'GET', `/api/events?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body.field, query).toBe(field);
    }
  });

  it('publishes a batch item by item: valid ones in pipelined round trips, the rest answered with their reason', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'batcher' });
    await call(host, 'POST', '/api/events', { id: 'taken', event_name: 'Taken' });
    const events = [
      { id: 'b1', event_name: 'One' },
      { event_name: '' },
      { id: 'taken', event_name: 'Other content' },
      { event_name: 'Two', capacity: 'lots' },
      { event_name: 'Three', colour: 'red' },
      { id: 'b1', event_name: 'One' },
    ];
    const answer = await call<{ results: Record<string, unknown>[] }>(host, 'POST', '/api/events/batch', { events });
    expect(answer.status).toBe(200);
    expect(answer.body.results).toMatchObject([
      { index: 0, id: 'b1', status: 202, duplicate: false },
      { index: 1, status: 400, error: { field: 'event_name' } },
      { index: 2, id: 'taken', status: 409, error: { code: 'id_conflict' } },
      { index: 3, status: 400, error: { code: 'invalid_type', field: 'capacity' } },
      { index: 4, status: 400, error: { code: 'unknown_field', field: 'colour' } },
      { index: 5, id: 'b1', status: 202, duplicate: true },
    ]);
    expect((await readAll(ctx.redis.client, streams.invitations)).map((e) => e.fields.id)).toEqual(['taken', 'b1']);
    const tooMany = await call(host, 'POST', '/api/events/batch', { events: Array.from({ length: 10_001 }, () => ({ event_name: 'x' })) });
    expect(tooMany).toMatchObject({ status: 413, body: { code: 'too_many_events', field: 'events' } });
    expect((await call(host, 'POST', '/api/events/batch', { events: 'none' })).body).toMatchObject({ field: 'events' });
    const huge = await call(host, 'POST', '/api/events', { event_name: 'x', description: 'y'.repeat(2 * 1024 * 1024) });
    expect(huge.status).toBe(413);
    expect(await ctx.redis.client.xlen(streams.invitations)).toBe(2);
  });

  it('serves the event’s and each guest’s calendar file, parsed back by an independent parser', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'cal-host' });
    const date = daysAhead(20);
    await call(host, 'POST', '/api/events', { id: 'dinner', event_name: 'Dinner', event_date: date, event_time: '19:30', timezone: 'America/New_York', duration_minutes: 90, location: 'Home', plus_ones_max: 2, capacity: 2, rsvp_deadline: msAhead(3_600_000) });
    // The coordinator's report of the guests (the shared writer, as the coordinator writes it).
    const guests = [
      { guest_id: 'ann@agent-1', guest_name: 'Ann', outcome: 'counted', state: 'accepted', plus_ones: 1, reply_rev: 0 },
      { guest_id: 'bo@agent-1', guest_name: 'Bo', outcome: 'counted', state: 'accepted', waitlist: 1, reply_rev: 0 },
      { guest_id: 'cy@agent-1', guest_name: 'Cy', outcome: 'counted', state: 'declined', reply_rev: 0 },
      { guest_id: 'di@agent-1', guest_name: 'Di', outcome: 'invited', state: 'needs_action' },
      // No longer targeted: sent a cancellation of its own.
      { guest_id: 'ed@agent-1', guest_name: 'Ed', outcome: 'removed', state: 'needs_action' },
    ] as const;
    await ctx.redis.client.xadd(streams.activity, '*', ...activityFields({ type: 'replies', at: Date.now(), events: [{ invitation_id: 'dinner', host_id: 'cal-host', sequence: 0, revision: 1, guests: [...guests] }] }));
    await eventually(async () => ((await call<{ guests: unknown[] }>(host, 'GET', '/api/events/dinner')).body.guests.length === 5 ? true : undefined), 10_000, 'the read model');

    const res = await call<string>(host, 'GET', '/api/events/dinner.ics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/calendar/);
    const ics = parseIcs(res.body);
    expect(ics).toMatchObject({ method: 'REQUEST', uid: 'dinner', sequence: 0, status: 'CONFIRMED' });
    expect(ics.start.getParameter('tzid')).toBe('America/New_York');
    expect(String(ics.start.getFirstValue())).toBe(`${date}T19:30:00`);
    // The TZID names a VTIMEZONE of the file, and with it the start is the right instant.
    const calendar = new ICAL.Component(ICAL.parse(res.body) as unknown[]);
    const vtimezone = calendar.getFirstSubcomponent('vtimezone')!;
    expect(vtimezone.getFirstPropertyValue('tzid')).toBe('America/New_York');
    ICAL.TimezoneService.register(vtimezone);
    const start = new ICAL.Event(calendar.getFirstSubcomponent('vevent')!).startDate.toJSDate().getTime();
    expect(start).toBe(DateTime.fromISO(`${date}T19:30`, { zone: 'America/New_York' }).toMillis());
    const byAddress = Object.fromEntries(ics.attendees.map((a) => [decodeURIComponent(a.address.replace(/^mailto:/i, '').split('@guests')[0]!), a]));
    expect(byAddress['ann@agent-1']).toMatchObject({ partstat: 'ACCEPTED', rsvp: 'TRUE', plusOnes: '1' });
    expect(byAddress['bo@agent-1']).toMatchObject({ partstat: 'ACCEPTED', waitlist: '1' });
    expect(byAddress['cy@agent-1']).toMatchObject({ partstat: 'DECLINED' });
    expect(byAddress['di@agent-1']).toMatchObject({ partstat: 'NEEDS-ACTION' });
    expect(Object.keys(byAddress)).toHaveLength(4);

    const reply = parseIcs((await call<string>(host, 'GET', `/api/events/dinner/guests/${encodeURIComponent('cy@agent-1')}.ics`)).body);
    expect(reply.method).toBe('REPLY');
    expect(reply.attendees).toHaveLength(1);
    expect(reply.attendees[0]).toMatchObject({ partstat: 'DECLINED' });
    const invitation = parseIcs((await call<string>(host, 'GET', `/api/events/dinner/guests/${encodeURIComponent('di@agent-1')}.ics`)).body);
    expect(invitation.method).toBe('REQUEST');
    // RFC 5546 §3.2.5, uninviting: a CANCEL naming the removed guest alone, without STATUS:CANCELLED.
    const uninvited = parseIcs((await call<string>(host, 'GET', `/api/events/dinner/guests/${encodeURIComponent('ed@agent-1')}.ics`)).body);
    expect(uninvited).toMatchObject({ method: 'CANCEL', sequence: 0, status: 'null' });
    expect(uninvited.attendees.map((a) => a.address)).toEqual([expect.stringContaining('ed%40agent-1@guests')]);
    expect((await call(host, 'GET', '/api/events/dinner/guests/nobody.ics')).status).toBe(404);
    expect((await call(host, 'GET', '/api/events/nothing.ics')).status).toBe(404);

    // An update that bumps SEQUENCE, then the cancellation: SEQUENCE follows, CANCEL at the end.
    await call(host, 'PATCH', '/api/events/dinner', { event_time: '20:00' });
    expect(parseIcs((await call<string>(host, 'GET', '/api/events/dinner.ics')).body)).toMatchObject({ method: 'REQUEST', sequence: 1 });
    // Ann accepted version 0; version 1 asks her again.
    const askedAgain = parseIcs((await call<string>(host, 'GET', `/api/events/dinner/guests/${encodeURIComponent('ann@agent-1')}.ics`)).body);
    expect(askedAgain).toMatchObject({ method: 'REQUEST', sequence: 1, attendees: [{ partstat: 'NEEDS-ACTION', rsvp: 'TRUE', plusOnes: undefined }] });
    await call(host, 'POST', '/api/events/dinner/cancel', {});
    const cancel = parseIcs((await call<string>(host, 'GET', '/api/events/dinner.ics')).body);
    expect(cancel).toMatchObject({ method: 'CANCEL', sequence: 2, status: 'CANCELLED' });
    // RFC 5546 §3.2.5: a CANCEL of the whole event names every attendee it cancels, here each with its
    // last answer (not Ed, who had a cancellation of its own).
    const cancelled = (ics: ReturnType<typeof parseIcs>) => Object.fromEntries(ics.attendees.map((a) => [decodeURIComponent(a.address.replace(/^mailto:/i, '').split('@guests')[0]!), [a.partstat, a.rsvp]]));
    const expected = { 'ann@agent-1': ['ACCEPTED', 'FALSE'], 'bo@agent-1': ['ACCEPTED', 'FALSE'], 'cy@agent-1': ['DECLINED', 'FALSE'], 'di@agent-1': ['NEEDS-ACTION', 'FALSE'] };
    expect(cancelled(cancel)).toEqual(expected);
    expect(parseIcs((await call<string>(host, 'GET', `/api/events/dinner/guests/${encodeURIComponent('cy@agent-1')}.ics`)).body)).toMatchObject({ method: 'CANCEL', status: 'CANCELLED', attendees: [{ partstat: 'DECLINED' }] });

    // A late reply after the cancellation: the coordinator reports it at the cancellation's sequence
    // (record-replies.lua); it is kept, not counted, and changes neither the board nor the CANCEL.
    const late = { guest_id: 'cy@agent-1', guest_name: 'Cy', outcome: 'late', state: 'needs_action' } as const;
    await ctx.redis.client.xadd(streams.activity, '*', ...activityFields({ type: 'replies', at: Date.now(), events: [{ invitation_id: 'dinner', host_id: 'cal-host', sequence: 2, revision: 3, status: 'cancelled', guests: [late] }] }));
    const marker = { guest_id: 'ann@agent-1', guest_name: 'Ann', outcome: 'promoted', state: 'accepted' } as const;
    await ctx.redis.client.xadd(streams.activity, '*', ...activityFields({ type: 'promoted', at: Date.now(), events: [{ invitation_id: 'dinner', host_id: 'cal-host', sequence: 0, revision: 3, guests: [marker] }] }));
    const after = await eventually(async () => {
      const v = (await call<{ guests: { guest_id: string; state: string; sequence: number; outcome?: string }[] }>(host, 'GET', '/api/events/dinner')).body;
      return v.guests.find((g) => g.guest_id === 'ann@agent-1')?.outcome === 'promoted' ? v : undefined;
    }, 10_000, 'both reports applied');
    expect(after.guests.find((g) => g.guest_id === 'cy@agent-1')).toMatchObject({ state: 'declined', sequence: 0 });
    expect(cancelled(parseIcs((await call<string>(host, 'GET', '/api/events/dinner.ics')).body))).toEqual(expected);
  });
});

describe('the host API: calendar times', () => {
  it('reads a date and time given without a zone in the host’s DEFAULT_TIMEZONE, and writes an event without a time as all day', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'tz-host', DEFAULT_TIMEZONE: 'Asia/Tokyo' });
    const date = daysAhead(12);
    expect((await call(host, 'POST', '/api/events', { id: 'zoneless', event_name: 'Zoneless', event_date: date, event_time: '09:15' })).status).toBe(202);
    expect((await call<{ definition: { timezone: string } }>(host, 'GET', '/api/events/zoneless')).body.definition.timezone).toBe('Asia/Tokyo');
    const text = (await call<string>(host, 'GET', '/api/events/zoneless.ics')).body;
    const calendar = new ICAL.Component(ICAL.parse(text) as unknown[]);
    ICAL.TimezoneService.register(calendar.getFirstSubcomponent('vtimezone')!);
    const event = new ICAL.Event(calendar.getFirstSubcomponent('vevent')!);
    expect(parseIcs(text).start.getParameter('tzid')).toBe('Asia/Tokyo');
    expect(event.startDate.toJSDate().getTime()).toBe(DateTime.fromISO(`${date}T09:15`, { zone: 'Asia/Tokyo' }).toMillis());
    expect(event.endDate.toJSDate().getTime() - event.startDate.toJSDate().getTime()).toBe(120 * 60_000);

    expect((await call(host, 'POST', '/api/events', { id: 'all-day', event_name: 'All day', event_date: date })).status).toBe(202);
    const allDay = parseIcs((await call<string>(host, 'GET', '/api/events/all-day.ics')).body);
    expect(allDay.start.type).toBe('date');
    expect(String(allDay.start.getFirstValue())).toBe(date);
  });
});

describe('the host API: failure', () => {
  it('answers 503 with Retry-After while Redis refuses writes, and recovers', async () => {
    const host = await ctx.procs.host({ ...withAuth, HOST_ID: 'oom-host' });
    const c = ctx.redis.client;
    await c.config('SET', 'maxmemory', '1');
    try {
      const refused = await call(host, 'POST', '/api/events', { event_name: 'No room' });
      expect(refused).toMatchObject({ status: 503, body: { code: 'redis_out_of_memory' } });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await c.config('SET', 'maxmemory', '0');
    }
    expect((await call(host, 'POST', '/api/events', { event_name: 'Room again' })).status).toBe(202);
  });

  it('answers 503 with Retry-After until it is connected to Redis', async () => {
    const host = await ctx.procs.start('host', { ...withAuth, REDIS_URL: 'redis://127.0.0.1:1' }, { ready: false });
    const answer = await eventually(async () => {
      try {
        return await call(host, 'POST', '/api/events', { event_name: 'Too early' });
      } catch {
        return undefined;
      }
    }, 10_000, 'the HTTP server');
    expect(answer).toMatchObject({ status: 503, body: { code: 'starting' } });
    expect(answer.headers.get('retry-after')).toBe('2');
    expect((await call(host, 'GET', '/api/events')).status).toBe(503);
  });
});
