import { describe, expect, it } from 'vitest';
import { activityFields, parseActivity } from '../../services/shared/schema/activity.ts';
import { deliveryFields, parseDelivery } from '../../services/shared/schema/delivery.ts';
import { bodyToFields, fieldsToBody } from '../../services/shared/schema/event-body.ts';
import { defaultEventOptions, eventTimes, openingProblem, sequenceChanges, targetingChanged } from '../../services/shared/schema/event-definition.ts';
import { type Invitation, invitationFields, invitationFingerprint, parseInvitation } from '../../services/shared/schema/invitation.ts';
import { answersProblem, dietaryQuestion, tallyAnswers } from '../../services/shared/schema/questions.ts';
import { parseResponse, receiptFields, replyFields } from '../../services/shared/schema/response.ts';
import { parseSummary } from '../../services/shared/schema/summary.ts';
import { toFields } from '../../services/shared/streams/entry.ts';

const now = Date.parse('2026-06-01T10:00:00Z');
const check = { publishedAt: now, clockAllowanceMs: 0, defaultZone: 'UTC' };
const base = { id: 'e1', event_name: 'Party', host_id: 'h1', v: '2' };

const invitation = (fields: Record<string, string>): Invitation => {
  const parsed = parseInvitation({ ...base, ...fields }, check);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
};

describe('the event definition on the wire', () => {
  it('round-trips every option through an invitation entry', () => {
    const fields = {
      event_date: '2026-07-14',
      event_time: '19:30',
      timezone: 'Europe/Paris',
      duration_minutes: '90',
      status: 'tentative',
      rsvp_deadline: '2026-07-01T12:00:00.000Z',
      publish_at: '2026-06-02T08:00:00.000Z',
      expires_at: '2026-06-20T08:00:00.000Z',
      reminders: '[10,60]',
      remind_tentative: 'true',
      start_reminders: '[30]',
      capacity: '50',
      plus_ones_max: '2',
      questions: JSON.stringify([dietaryQuestion]),
      target_tags: '["enthusiasts"]',
      target_guests: '["g1@a"]',
      exclude_guests: '["g2@a"]',
      priority: 'high',
      method: 'REQUEST',
      revision: '3',
      sequence: '2',
    };
    const inv = invitation(fields);
    expect(inv).toMatchObject({ revision: 3, sequence: 2, capacity: 50, plusOnesMax: 2, priority: 'high', reminders: [60, 10], remindTentative: true, legacy: false });
    const again = parseInvitation(toFields(invitationFields(inv)), check);
    expect(again.ok && again.value).toEqual(inv);
    expect(invitationFingerprint(inv)).toBe(invitationFingerprint(again.ok ? again.value : inv));
  });

  it('reads target tags in lower case, as guests are tagged', () => {
    const inv = invitation({ ...base, target_tags: '["Enthusiasts","VIP","vip"]' });
    expect(inv.targeting.tags).toEqual(['enthusiasts', 'vip']);
  });

  it('refuses bad options naming the field', () => {
    const bad = (fields: Record<string, string>) => parseInvitation({ ...base, ...fields }, check);
    expect(bad({ capacity: '-1' })).toMatchObject({ ok: false, field: 'capacity' });
    expect(bad({ timezone: 'Mars/Base' })).toMatchObject({ ok: false, field: 'timezone' });
    expect(bad({ timezone: '+01:00' })).toMatchObject({ ok: false, field: 'timezone' });
    expect(bad({ reminders: '[10,10]' })).toMatchObject({ ok: false, field: 'reminders' });
    expect(bad({ target_guests: '["has space"]' })).toMatchObject({ ok: false, field: 'target_guests' });
    expect(bad({ questions: '[{"id":"d","text":"?","type":"single","options":["a"]}]' })).toMatchObject({ ok: false, field: 'questions' });
    expect(bad({ method: 'PUBLISH' })).toMatchObject({ ok: false, field: 'method' });
    expect(bad({ priority: 'urgent' })).toMatchObject({ ok: false, field: 'priority' });
  });

  it('tells which changes open a new version', () => {
    const before = invitation({ event_date: '2026-07-14', location: 'Hall' });
    expect(sequenceChanges(before, invitation({ event_date: '2026-07-14', location: 'Hall', event_name: 'Renamed', capacity: '10' }))).toEqual([]);
    expect(sequenceChanges(before, invitation({ event_date: '2026-07-15', location: 'Hall' }))).toEqual(['event_date']);
    expect(sequenceChanges(before, invitation({ event_date: '2026-07-14', location: 'Roof' }))).toEqual(['location']);
    expect(targetingChanged(before, invitation({ event_date: '2026-07-14', location: 'Hall', target_tags: '["x"]' }))).toBe(true);
  });
});

describe('when an event takes place', () => {
  it('reads the date and time in the event’s zone, across a DST change', () => {
    const summer = eventTimes({ eventDate: '2026-07-14', eventTime: '19:30', timezone: 'Europe/Paris', durationMinutes: 90 }, 'UTC')!;
    expect(new Date(summer.start).toISOString()).toBe('2026-07-14T17:30:00.000Z');
    expect(summer.end - summer.start).toBe(90 * 60_000);
    const winter = eventTimes({ eventDate: '2026-12-24', eventTime: '19:30', timezone: 'Europe/Paris', durationMinutes: 90 }, 'UTC')!;
    expect(new Date(winter.start).toISOString()).toBe('2026-12-24T18:30:00.000Z');
    const allDay = eventTimes({ eventDate: '2026-12-24', eventTime: '', timezone: '', durationMinutes: 120 }, 'America/New_York')!;
    expect(allDay).toMatchObject({ allDay: true, zone: 'America/New_York' });
    expect(allDay.end - allDay.start).toBe(86_400_000);
  });

  it('refuses a version that opens after its deadline, start or expiry, judged at publication', () => {
    // As a later revision, which parseInvitation leaves to the coordinator's check.
    const open = (fields: Record<string, string>, legacy = false) => openingProblem(invitation({ ...fields, revision: '2' }), legacy, check);
    expect(open({ event_date: '2026-06-01', event_time: '09:00' })).toMatchObject({ ok: false, field: 'event_date', reason: expect.stringMatching(/^start_passed/) });
    expect(open({ event_date: '2026-06-01', event_time: '09:00' }, true)).toEqual({ ok: true, value: true });
    expect(open({ event_date: '2026-06-01' })).toEqual({ ok: true, value: true });
    expect(open({ expires_at: '2026-06-01T09:59:00Z' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^expired/) });
    expect(open({ publish_at: '2026-06-03T00:00:00Z', rsvp_deadline: '2026-06-02T00:00:00Z' })).toMatchObject({ ok: false, field: 'rsvp_deadline', reason: expect.stringMatching(/^deadline_passed.*publish_at/) });
    expect(open({ event_date: '2026-06-02', event_time: '12:00', rsvp_deadline: '2026-06-03T00:00:00Z' })).toMatchObject({ ok: false, field: 'rsvp_deadline' });
    // The first revision is checked when it is read; later ones by the coordinator against its state.
    expect(parseInvitation({ ...base, rsvp_deadline: '2026-05-01T00:00:00Z' }, check)).toMatchObject({ ok: false, reason: expect.stringMatching(/^deadline_passed/) });
    expect(parseInvitation({ ...base, rsvp_deadline: '2026-05-01T00:00:00Z', revision: '2' }, check)).toMatchObject({ ok: true });
  });
});

describe('questions and answers', () => {
  const questions = [dietaryQuestion, { id: 'songs', text: 'Songs?', type: 'multiple' as const, options: ['a', 'b', 'c'], required: false }, { id: 'bus', text: 'Bus?', type: 'boolean' as const, options: [], required: true }];

  it('accepts answers that fit and refuses those that do not, with the reason', () => {
    expect(answersProblem(questions, { dietary: 'vegan', songs: ['a', 'c'], bus: true }, 'yes')).toBeUndefined();
    expect(answersProblem(questions, { dietary: 'meat', bus: true }, 'yes')).toMatch(/^invalid_answer: dietary must be one of none, vegetarian/);
    expect(answersProblem(questions, { songs: ['a', 'a'], bus: true }, 'yes')).toMatch(/twice/);
    expect(answersProblem(questions, { bus: 'yes' }, 'yes')).toMatch(/bus must be true or false/);
    expect(answersProblem(questions, {}, 'maybe')).toBe('invalid_answer: bus is required');
    expect(answersProblem(questions, {}, 'no')).toBeUndefined();
    expect(answersProblem(questions, { colour: 'red' }, 'no')).toMatch(/no question "colour"/);
  });

  it('tallies choices and yes/no answers', () => {
    const tally: Record<string, Record<string, number>> = {};
    tallyAnswers(tally, questions, { dietary: 'vegan', songs: ['a', 'b'], bus: true });
    tallyAnswers(tally, questions, { dietary: 'vegan', bus: false });
    expect(tally).toEqual({ dietary: { vegan: 2 }, songs: { a: 1, b: 1 }, bus: { yes: 1, no: 1 } });
  });
});

describe('replies, receipts and deliveries', () => {
  it('reads the original’s reply and ours with plus-ones, answers and a reply revision', () => {
    const original = { id: 'r1', invitation_id: 'e1', guest_name: 'Alice', guest_id: 'g1', response: 'yes', message: 'hi', timestamp: '2025-01-20T10:30:00.123456' };
    expect(parseResponse(original)).toMatchObject({ ok: true, value: { kind: 'reply', reply: { replyRev: 0, plusOnes: 0, answers: {} } } });
    const ours = { ...original, response: 'yes' as const, invitationId: 'e1', guestName: 'Alice', guestId: 'g1', sequence: 2, replyRev: 1, plusOnes: 2, answers: { dietary: 'vegan' } };
    const parsed = parseResponse(toFields(replyFields(ours)));
    expect(parsed).toMatchObject({ ok: true, value: { kind: 'reply', reply: { sequence: 2, replyRev: 1, plusOnes: 2, answers: { dietary: 'vegan' } } } });
    expect(parseResponse({ ...original, response: 'no', plus_ones: '1' })).toMatchObject({ ok: false, field: 'plus_ones' });
    expect(parseResponse({ ...original, answers: '[1]' })).toMatchObject({ ok: false, field: 'answers' });
  });

  it('reads an expiry receipt', () => {
    const fields = receiptFields({ id: 'x', invitationId: 'e1', guestId: 'g1', guestName: 'Alice', sequence: 0, receipt: 'expired', timestamp: new Date(now).toISOString() });
    expect(parseResponse(toFields(fields))).toMatchObject({ ok: true, value: { kind: 'receipt', receipt: { receipt: 'expired', guestId: 'g1' } } });
  });

  it('carries every delivery type with the event’s definition', () => {
    const inv = invitation({ capacity: '5', questions: JSON.stringify([dietaryQuestion]) });
    const fields = deliveryFields(inv, { type: 'cancel', scope: 'guest', invitationId: 'e1', sequence: 1, revision: 4, rsvpDeadline: now + 1000, guestIds: ['g1@a'], deliveryKey: 'k' }, now);
    const parsed = parseDelivery(toFields(fields));
    expect(parsed).toMatchObject({ ok: true, value: { type: 'cancel', scope: 'guest', revision: 4, capacity: 5, guestIds: ['g1@a'], rsvpDeadline: now + 1000 } });
    expect(parsed.ok && parsed.value.questions).toEqual([dietaryQuestion]);
    // A v1 delivery (before types) is a request.
    const v1 = { ...toFields(fields), v: '1' } as Record<string, string>;
    delete v1.type;
    expect(parseDelivery(v1)).toMatchObject({ ok: true, value: { type: 'request' } });
  });
});

describe('the API body', () => {
  it('becomes the entry’s fields and back', () => {
    const body = { event_name: 'Party', capacity: 10, remind_tentative: true, reminders: [60], questions: [dietaryQuestion], target_tags: ['x'] };
    const fields = bodyToFields(body);
    expect(fields).toMatchObject({ capacity: '10', remind_tentative: 'true', reminders: '[60]', target_tags: '["x"]' });
    expect(fieldsToBody(fields)).toEqual(body);
  });
});

describe('summaries and activity', () => {
  it('reads the original summary and the extended one', () => {
    expect(parseSummary({ id: 's', invitation_id: 'e', total_invited: '5', yes_count: '3', responses: '[]' })).toMatchObject({ ok: true, value: { accepted: 0, attendees: [], reason: 'all_replied' } });
    const extended = parseSummary({
      id: 'summary:e:1',
      invitation_id: 'e',
      reason: 'cancelled',
      sequence: '1',
      headcount: '7',
      waitlist: '["g3"]',
      answers: '{"dietary":{"vegan":2}}',
      attendees: '[{"guest_id":"g1","guest_name":"A","state":"accepted","plus_ones":1}]',
      response_rate: '0.5',
    });
    expect(extended).toMatchObject({ ok: true, value: { reason: 'cancelled', headcount: 7, waitlist: ['g3'], answers: { dietary: { vegan: 2 } }, responseRate: 0.5 } });
    expect(parseSummary({ id: 's', invitation_id: 'e', attendees: '[{"guest_id":"g1","state":"maybe"}]' })).toMatchObject({ ok: false, field: 'attendees' });
  });

  it('round-trips an activity entry', () => {
    const activity = { type: 'replies' as const, at: now, events: [{ invitation_id: 'e', host_id: 'h', sequence: 0, revision: 1, guests: [{ guest_id: 'g', outcome: 'counted' as const, state: 'accepted' as const }] }] };
    expect(parseActivity(toFields(activityFields(activity)))).toEqual({ ok: true, value: activity });
    expect(parseActivity({ type: 'replies', events: '[{}]' })).toMatchObject({ ok: false, field: 'events' });
  });

  it('keeps defaults out of the entry', () => {
    const plain: Invitation = { ...defaultEventOptions, id: 'e', eventName: 'P', eventDate: '', eventTime: '', location: '', description: '', hostName: '', hostId: 'h', timestamp: '', method: 'REQUEST', revision: 1, sequence: 0, legacy: false };
    expect(Object.keys(toFields(invitationFields(plain))).sort()).toEqual(
      ['id', 'event_name', 'event_date', 'event_time', 'location', 'description', 'host_name', 'host_id', 'timestamp', 'v', 'revision', 'sequence'].sort(),
    );
  });
});
