// The page's pure logic, run in Node: the form <-> API body translation, zoned times, the board's
// handling of a replayed stream, the flow view's lanes, the client routes.
import { describe, expect, it } from 'vitest';
import { applyBoardEvent, answerLines, rowState, sortedRows } from '../../services/host/web/src/lib/board.ts';
import { addFlowEntry, emptyFlow, formatRate, seenRate, streamLag } from '../../services/host/web/src/lib/flow.ts';
import { changedFields, dietaryDraft, emptyForm, fieldOfError, formFromBody, formToBody } from '../../services/host/web/src/lib/form.ts';
import { parseRoute, routePath } from '../../services/host/web/src/lib/routes.ts';
import { type EventView, emptyCounts } from '../../services/host/web/src/lib/types.ts';
import { countdown, isoToZoned, zonedToIso } from '../../services/host/web/src/lib/zoned-time.ts';
import { clientRoutes } from '../../services/host/web/serve.ts';
import { dietaryQuestion } from '../../services/shared/schema/questions.ts';

describe('times in the event’s zone', () => {
  it('reads a wall-clock time in an IANA zone, across a DST change', () => {
    expect(zonedToIso('2026-05-01T18:00', 'Europe/Paris')).toBe('2026-05-01T16:00:00.000Z');
    expect(zonedToIso('2026-01-15T18:00', 'Europe/Paris')).toBe('2026-01-15T17:00:00.000Z');
    expect(zonedToIso('2026-07-04T09:30', 'America/New_York')).toBe('2026-07-04T13:30:00.000Z');
    expect(zonedToIso('2026-07-04T09:30', 'Not/AZone')).toBeUndefined();
    expect(zonedToIso('tomorrow', 'UTC')).toBeUndefined();
  });

  it('shows an instant back on the zone’s wall clock', () => {
    expect(isoToZoned('2026-05-01T16:00:00Z', 'Europe/Paris')).toBe('2026-05-01T18:00');
    expect(isoToZoned(zonedToIso('2026-10-25T02:30', 'Europe/Berlin')!, 'Europe/Berlin')).toMatch(/^2026-10-25T02:30$/);
  });

  it('counts down to a deadline', () => {
    expect(countdown(90_000, 0)).toBe('01:30');
    expect(countdown(2 * 86_400_000 + 3_723_000, 0)).toBe('2 d 01:02:03');
    expect(countdown(0, 5)).toBe('passed');
  });
});

describe('the event form', () => {
  const zone = 'Europe/Paris';

  it('sends every option the form holds, in the API’s names and types', () => {
    const form = {
      ...emptyForm(zone, new Date('2026-04-01T10:00:00Z')),
      event_name: ' Launch party ',
      location: 'Rooftop',
      rsvp_deadline: '2026-04-10T18:00',
      publish_at: '2026-04-02T09:00',
      expires_at: '2026-04-09T00:00',
      reminders: '60, 10',
      start_reminders: '1440',
      remind_tentative: true,
      capacity: '40',
      plus_ones_max: '2',
      questions: [dietaryDraft(), { id: 'song', text: 'Favourite song?', type: 'text' as const, options: 'ignored', required: true }],
      targeting: 'tags' as const,
      target_tags: 'enthusiasts, vip',
      exclude_guests: 'g-1',
      priority: 'high' as const,
    };
    const { body, errors } = formToBody(form, 'UTC');
    expect(errors).toEqual({});
    expect(body).toMatchObject({
      event_name: 'Launch party',
      event_date: '2026-04-15',
      event_time: '18:00',
      timezone: 'Europe/Paris',
      duration_minutes: 120,
      location: 'Rooftop',
      rsvp_deadline: '2026-04-10T16:00:00.000Z',
      publish_at: '2026-04-02T07:00:00.000Z',
      expires_at: '2026-04-08T22:00:00.000Z',
      reminders: [60, 10],
      start_reminders: [1440],
      remind_tentative: true,
      capacity: 40,
      plus_ones_max: 2,
      target_tags: ['enthusiasts', 'vip'],
      target_guests: [],
      exclude_guests: ['g-1'],
      priority: 'high',
    });
    expect(body.questions).toEqual([{ ...dietaryQuestion }, { id: 'song', text: 'Favourite song?', type: 'text', required: true }]);
  });

  it('refuses what it cannot translate, naming the field', () => {
    const form = { ...emptyForm(zone), event_name: 'x', capacity: 'lots', reminders: '60, soon', targeting: 'guests' as const };
    expect(formToBody(form, 'UTC').errors).toEqual({
      capacity: 'must be a whole number',
      reminders: expect.stringContaining('minutes'),
      target_guests: expect.stringContaining('at least one guest'),
    });
  });

  it('round-trips a stored definition, and an update sends only what changed', () => {
    const stored = {
      event_name: 'Dinner',
      event_date: '2026-06-01',
      event_time: '19:30',
      timezone: zone,
      duration_minutes: 120,
      location: 'Home',
      status: 'confirmed',
      rsvp_deadline: '2026-05-30T10:00:00.000Z',
      reminders: [30],
      capacity: 10,
      plus_ones_max: 1,
      questions: [dietaryQuestion],
      target_guests: ['a', 'b'],
      priority: 'normal',
    };
    const form = formFromBody(stored, 'UTC');
    expect(form).toMatchObject({ rsvp_deadline: '2026-05-30T12:00', targeting: 'guests', target_guests: 'a, b', reminders: '30', capacity: '10' });
    const same = formToBody(form, 'UTC').body;
    expect(changedFields(stored, same)).toEqual({});
    // A deadline stored with seconds shows to the minute: left alone, it is no change.
    const withSeconds = { ...stored, rsvp_deadline: '2026-05-30T10:00:42.123Z' };
    expect(changedFields(withSeconds, formToBody(formFromBody(withSeconds, 'UTC'), 'UTC').body)).toEqual({});
    const moved = formToBody({ ...form, location: 'Garden', capacity: '' }, 'UTC').body;
    expect(changedFields(stored, moved)).toEqual({ location: 'Garden', capacity: 0 });
  });

  it('keeps a targeting by tags and by list together: an update through the form drops neither', () => {
    const stored = { event_name: 'Mixed', timezone: zone, duration_minutes: 120, target_tags: ['vip'], target_guests: ['a'], exclude_guests: ['b'], priority: 'normal', status: 'confirmed' };
    const form = formFromBody(stored, 'UTC');
    expect(form).toMatchObject({ targeting: 'both', target_tags: 'vip', target_guests: 'a', exclude_guests: 'b' });
    expect(changedFields(stored, formToBody({ ...form, location: 'Garden' }, 'UTC').body)).toEqual({ location: 'Garden' });
    expect(formToBody({ ...form, target_guests: '' }, 'UTC').errors).toMatchObject({ target_guests: expect.stringContaining('at least one guest') });
  });

  it('puts an API error beside the field it names', () => {
    const form = emptyForm(zone);
    expect(fieldOfError('rsvp_deadline', form)).toBe('rsvp_deadline');
    expect(fieldOfError('questions.0.options', form)).toBe('questions');
    expect(fieldOfError('questions[2]', form)).toBe('questions');
    expect(fieldOfError('no_such_field', form)).toBe('form');
    expect(fieldOfError(undefined, form)).toBe('form');
  });
});

describe('the live board', () => {
  const view: EventView = {
    id: 'e1',
    host_id: 'h',
    status: 'open',
    revision: 1,
    sequence: 0,
    definition: { event_name: 'E' },
    created_at: 0,
    updated_at: 0,
    counts: emptyCounts,
    guests: [{ guest_id: 'b', guest_name: 'Bob', state: 'needs_action', sequence: 0, updated_at: 0 }],
    waitlist: [],
    summaries: [],
    feed_id: '0-0',
  };

  it('upserts rows and never lets a replay take a row back', () => {
    let v = applyBoardEvent(view, { kind: 'guest', row: { guest_id: 'a', guest_name: 'Ann', state: 'accepted', sequence: 0, reply_rev: 1, updated_at: 0 } });
    v = applyBoardEvent(v, { kind: 'guest', row: { guest_id: 'a', guest_name: 'Ann', state: 'declined', sequence: 0, reply_rev: 0, updated_at: 0 } });
    expect(v.guests.find((g) => g.guest_id === 'a')!.state).toBe('accepted');
    v = applyBoardEvent(v, { kind: 'guest', row: { guest_id: 'a', state: 'needs_action', sequence: 1, updated_at: 0 } });
    v = applyBoardEvent(v, { kind: 'guest', row: { guest_id: 'a', state: 'accepted', sequence: 0, reply_rev: 5, updated_at: 0 } });
    expect(v.guests.find((g) => g.guest_id === 'a')).toMatchObject({ state: 'needs_action', sequence: 1 });
    expect(sortedRows(v.guests).map((g) => g.guest_id)).toEqual(['a', 'b']);
    // The same answer restated without its message keeps it; a new answer does not inherit it.
    v = applyBoardEvent(v, { kind: 'guest', row: { guest_id: 'b', state: 'accepted', sequence: 0, reply_rev: 0, message: 'Count me in', answers: { dietary: 'vegan' }, updated_at: 1 } });
    v = applyBoardEvent(v, { kind: 'guest', row: { guest_id: 'b', state: 'accepted', sequence: 0, updated_at: 2 } });
    expect(v.guests.find((g) => g.guest_id === 'b')).toMatchObject({ guest_name: 'Bob', message: 'Count me in', answers: { dietary: 'vegan' }, updated_at: 2 });
    v = applyBoardEvent(v, { kind: 'guest', row: { guest_id: 'b', state: 'declined', sequence: 0, reply_rev: 1, updated_at: 3 } });
    expect(v.guests.find((g) => g.guest_id === 'b')).toEqual({ guest_id: 'b', guest_name: 'Bob', state: 'declined', sequence: 0, reply_rev: 1, updated_at: 3 });
  });

  it('keeps each summary once, applies counts and newer status only', () => {
    let v = applyBoardEvent(view, { kind: 'summary', summary: { id: 'summary:e1:0', sequence: 0, answers: '{"dietary":{"vegan":1,"none":3}}' } });
    v = applyBoardEvent(v, { kind: 'summary', summary: { id: 'summary:e1:0', sequence: 0 } });
    expect(v.summaries).toHaveLength(1);
    expect(answerLines(v.summaries[0]!)).toEqual(['dietary: none 3, vegan 1']);
    v = applyBoardEvent(v, { kind: 'counts', counts: { ...emptyCounts, invited: 3, accepted: 2 } });
    expect(v.counts.accepted).toBe(2);
    v = applyBoardEvent(v, { kind: 'status', status: 'open', revision: 2, sequence: 1 });
    v = applyBoardEvent(v, { kind: 'status', status: 'closed', revision: 2, sequence: 0 });
    expect(v).toMatchObject({ status: 'open', sequence: 1, revision: 2 });
    v = applyBoardEvent(v, { kind: 'status', status: 'cancelled', revision: 3, sequence: 2 });
    v = applyBoardEvent(v, { kind: 'status', status: 'open', revision: 4, sequence: 2 });
    expect(v.status).toBe('cancelled');
  });

  it('shows a reply to an older version as stale', () => {
    expect(rowState({ guest_id: 'a', state: 'accepted', sequence: 0, stale: true, updated_at: 0 })).toBe('stale');
    expect(rowState({ guest_id: 'a', state: 'waitlisted', sequence: 0, updated_at: 0 })).toBe('waitlisted');
  });
});

describe('the message flow', () => {
  it('keeps the latest entries per hop, once each, and counts them', () => {
    let f = emptyFlow();
    for (let i = 0; i < 12; i += 1) f = addFlowEntry(f, { key: String(i), stream: 'guest_responses', hop: 'reply', from: 'guest', to: 'coordinator', at: 0 }, i * 1000);
    f = addFlowEntry(f, { key: '11', stream: 'guest_responses', hop: 'reply', from: 'guest', to: 'coordinator', at: 0 }, 11_000);
    expect(f.byHop.reply.map((e) => e.key)).toEqual(['11', '10', '9', '8', '7', '6', '5', '4']);
    expect(f.totals.reply).toBe(12);
    // Rates over the last 10 s: entries at 2..11 s seen at 11.5 s, none on another hop.
    expect(seenRate(f.seenByHop.reply, 11_500)).toBeCloseTo(1.0);
    expect(seenRate(f.seenByStream.guest_responses, 25_000)).toBe(0);
    expect(seenRate(f.seenByHop.summary, 11_500)).toBe(0);
    // An entry replayed from minutes ago counts at its own time, not as traffic now.
    f = addFlowEntry(f, { key: 'old', stream: 'event_summaries', hop: 'summary', from: 'coordinator', to: 'host', at: 1_000 }, 60_000);
    expect(f.totals.summary).toBe(1);
    expect(seenRate(f.seenByHop.summary, 60_000)).toBe(0);
    expect(streamLag({ stream: 's', length: 1, dead_letters: 0, groups: [{ name: 'a', consumers: 1, lag: 2, pending: 0, oldest_pending_ms: 0 }, { name: 'b', consumers: 1, lag: 7, pending: 1, oldest_pending_ms: 5 }] })).toBe(7);
    expect([formatRate(12.4), formatRate(0.25), formatRate(undefined)]).toEqual(['12/s', '0.3/s', '–']);
  });
});

describe('client routes', () => {
  it('parses every path the host serves the page for', () => {
    const samples: Record<string, string> = { '/events': 'events', '/events/new': 'new', '/events/:id': 'board', '/events/:id/edit': 'edit', '/flow': 'flow', '/guests': 'guests' };
    for (const route of clientRoutes) expect(parseRoute(route.replace(':id', 'abc')).name).toBe(samples[route]);
    expect(parseRoute('/')).toEqual({ name: 'events' });
    expect(parseRoute('/events/a%2Fb')).toEqual({ name: 'board', id: 'a/b' });
    expect(routePath({ name: 'board', id: 'a/b' })).toBe('/events/a%2Fb');
    expect(parseRoute('/nope').name).toBe('not_found');
  });
});
