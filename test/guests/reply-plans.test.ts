import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { answerQuestions } from '../../services/guest/answers.ts';
import { buildGuests } from '../../services/guest/guests.ts';
import { type Persona, decide, parsePersonas, presets } from '../../services/guest/personas.ts';
import { type PlannedReply, planReminder, planReply, planRequest, replyRevs } from '../../services/guest/reply-maker.ts';
import { Timeline } from '../../services/guest/thinking.ts';
import { guestTags, toTag } from '../../services/shared/registry/guest-registry.ts';
import { type Question, answersProblem, dietaryQuestion, questionsProblem } from '../../services/shared/schema/questions.ts';
import { parseReply, replyFields } from '../../services/shared/schema/response.ts';
import { toFields } from '../../services/shared/streams/entry.ts';
import { seededRandom } from '../../services/shared/util/random.ts';
import { delivery } from './support.ts';

const json = (p: Record<string, unknown>) => parsePersonas(JSON.stringify([p]));
const guestsOf = (personas: Persona[], n = personas.length, seed = 'seed') => buildGuests('agent-a', n, personas, seed, 'testers');
const ids = (n: number) => Array.from({ length: n }, (_, i) => `ev-${i}`);

describe('persona model', () => {
  it('the original five keep their answers for the same seed, and never change their mind on their own', () => {
    for (const guest of guestsOf(presets.original!)) {
      expect(guest.behaviour.changeOfMind.rate).toBe(0);
      for (const id of ids(50)) {
        const d = delivery({ invitationId: id, guestIds: [guest.id] });
        // The draws of the original model, in its order, from the generator it always used.
        const original = decide(guest.behaviour, seededRandom('reply', 'seed', id, guest.id, 0));
        const plans = planRequest(guest, d, 'seed', 1);
        expect(plans.map((p) => [p.reply.response, p.reply.message, p.delayMs])).toEqual([[original.reply, 'message' in original ? original.message : '', original.delayMs]]);
      }
    }
  });

  it('gives every guest its group, persona and the persona’s own tags, as lower-case tags', () => {
    const [alice] = guestsOf(presets.original!);
    expect(alice!.tags).toEqual(['testers', 'alice-chen']);
    const [zoe] = guestsOf(json({ name: 'Zoe', label: 'Night Owl', likely: 'yes', tags: ['VIP', 'board', 'vip'] }));
    expect(zoe!.tags).toEqual(['testers', 'night-owl', 'vip', 'board']);
    expect(toTag('  José  Müller! ')).toBe('jose-muller');
    expect(toTag('__')).toBeUndefined();
    expect(guestTags('enthusiasts', 'enthusiast')).toEqual(['enthusiasts', 'enthusiast']);
  });

  it('draws each guest’s dietary need once, from its persona’s weights', () => {
    expect(guestsOf(presets.original!).map((g) => g.dietary)).toEqual(['vegetarian', 'none', 'gluten_free', 'none', 'vegan']);
    const many = guestsOf(presets.enthusiasts!, 2_000);
    expect(guestsOf(presets.enthusiasts!, 2_000).map((g) => g.dietary)).toEqual(many.map((g) => g.dietary));
    const share = (need: string) => many.filter((g) => g.dietary === need).length / many.length;
    expect(share('none')).toBeCloseTo(0.7, 1);
    expect(share('vegetarian')).toBeCloseTo(0.15, 1);
  });

  it('reads every behaviour from JSON, with defaults, and names what is wrong', () => {
    const [p] = json({
      name: 'Zoe',
      likely: 'maybe',
      plusOnes: { rate: 1, max: 3 },
      dietary: 'vegan',
      answers: { skipOptional: 0, booleanYes: 1, texts: ['Bring cake'] },
      changeOfMind: { rate: 0.5, delayMs: [100, 200] },
      reminded: { replyRate: 1, firmUpRate: 0.25 },
      versionChange: { keepRate: 0 },
      cancellation: { messages: ['Sad!'] },
    });
    expect(p).toMatchObject({
      plusOnes: { rate: 1, max: 3 },
      dietary: { vegan: 1 },
      answers: { skipOptional: 0, booleanYes: 1, texts: ['Bring cake'] },
      changeOfMind: { rate: 0.5, delayMs: [100, 200] },
      reminded: { replyRate: 1, firmUpRate: 0.25 },
      versionChange: { keepRate: 0 },
      cancellation: { messages: ['Sad!'] },
    });
    const [d] = json({ likely: 'yes' });
    expect(d).toMatchObject({ changeOfMind: { rate: 0 }, plusOnes: { rate: 0.2, max: 1 }, reminded: { replyRate: 0.5 }, tags: [] });
    const refused = (p: Record<string, unknown>) => () => json({ likely: 'yes', ...p });
    expect(refused({ plusOnes: { max: 30 } })).toThrow(/persona 0: "plusOnes.max" is an integer from 0 to 20/);
    expect(refused({ reminded: { replyRate: 2 } })).toThrow(/"reminded.replyRate" is a number from 0 to 1/);
    expect(refused({ changeOfMind: { delayMs: [5, 1] } })).toThrow(/"changeOfMind.delayMs"/);
    expect(refused({ dietary: { vegan: 0 } })).toThrow(/"dietary"/);
    expect(refused({ answers: { texts: ['   '] } })).toThrow(/"answers.texts"/);
    expect(refused({ tags: ['no spaces'] })).toThrow(/"tags"/);
    expect(refused({ changeofmind: { rate: 1 } })).toThrow(/no property "changeofmind"/);
    expect(refused({ versionChange: 0.5 })).toThrow(/"versionChange" is an object/);
  });

  it('gives every preset each behaviour a sensible value', () => {
    for (const [name, list] of Object.entries(presets)) {
      for (const p of list) {
        for (const rate of [p.plusOnes.rate, p.changeOfMind.rate, p.reminded.replyRate, p.reminded.firmUpRate, p.versionChange.keepRate, p.answers.skipOptional]) {
          expect(rate, name).toBeGreaterThanOrEqual(0);
          expect(rate, name).toBeLessThanOrEqual(1);
        }
        expect(p.answers.texts.length, name).toBeGreaterThan(0);
      }
    }
    expect(presets.undecided![0]!.changeOfMind.rate).toBeGreaterThan(presets.enthusiasts![0]!.changeOfMind.rate);
    expect(presets.silent![0]!.reminded.replyRate).toBe(0);
  });
});

describe('reply plans', () => {
  const fickle = json({ label: 'fickle', likely: 'maybe', followLikely: 1, delayMs: [100, 500], changeOfMind: { rate: 1, delayMs: [1_000, 2_000] } });

  it('are the same for the same inputs, and differ between events', () => {
    const guests = guestsOf(presets.undecided!, 20);
    const plan = (id: string) => guests.map((g) => planRequest(g, delivery({ invitationId: id, guestIds: [g.id] }, { plusOnesMax: 2, questions: [dietaryQuestion] }), 's', 1));
    expect(plan('ev-1')).toEqual(plan('ev-1'));
    expect(JSON.stringify(plan('ev-2'))).not.toEqual(JSON.stringify(plan('ev-1')));
  });

  it('send a change of mind after the first answer, with a higher rev and a different value', () => {
    for (const guest of guestsOf(fickle, 30)) {
      const [first, changed, ...rest] = planRequest(guest, delivery({ invitationId: 'ev', guestIds: [guest.id] }), 's', 1);
      expect(rest).toEqual([]);
      expect(first).toMatchObject({ kind: 'first', reply: { replyRev: 0, response: 'maybe', id: `reply:ev:0:${guest.id}` } });
      expect(changed).toMatchObject({ kind: 'changed', previous: 'maybe', reply: { replyRev: 1, id: `reply:ev:0:${guest.id}:1` } });
      expect(changed!.reply.response).not.toBe('maybe');
      expect(changed!.delayMs - first!.delayMs).toBeGreaterThanOrEqual(1_000);
    }
  });

  it('order reply_rev by time: first < own change < reminders, a later reminder higher', () => {
    expect(replyRevs.first).toBe(0);
    expect(replyRevs.changed).toBe(1);
    expect(replyRevs.reminder(525_600)).toBe(2);
    expect(replyRevs.reminder(60)).toBeLessThan(replyRevs.reminder(10));
    expect(replyRevs.reminder(1)).toBeLessThanOrEqual(1_000_000);
  });

  it('keep or reconsider the previous version’s answer by the persona’s keep rate', () => {
    const agrees = (keepRate: number) => {
      const guests = guestsOf(json({ label: 'v', likely: 'yes', followLikely: 0, probabilities: { yes: 1, maybe: 1, no: 1 }, versionChange: { keepRate } }), 300);
      const same = guests.filter((g) => {
        const answer = (sequence: number) => planReply(g, delivery({ invitationId: 'ev', sequence, guestIds: [g.id] }), 's', 1).reply!.response;
        return answer(1) === answer(0);
      });
      return same.length / guests.length;
    };
    expect(agrees(1)).toBe(1);
    // Drawn afresh from three equal weights: a third agree by chance.
    expect(agrees(0)).toBeCloseTo(1 / 3, 1);
    expect(agrees(0.5)).toBeCloseTo(0.5 + 0.5 / 3, 1);
  });

  it('plus-ones follow the persona’s rate, never above its maximum or the event’s plus_ones_max, only with yes', () => {
    const [generous] = json({ label: 'g', likely: 'yes', followLikely: 0.5, plusOnes: { rate: 0.5, max: 3 } });
    const guests = guestsOf([generous!], 400);
    for (const eventMax of [0, 1, 2, 5]) {
      const replies = guests.map((g) => planReply(g, delivery({ invitationId: 'ev', guestIds: [g.id] }, { plusOnesMax: eventMax }), 's', 1).reply!);
      for (const r of replies) {
        expect(r.plusOnes).toBeLessThanOrEqual(Math.min(3, eventMax));
        if (r.response !== 'yes') expect(r.plusOnes).toBe(0);
        // What the coordinator reads back: a reply with plus-ones only with yes, within the schema's limit.
        expect(parseReply(toFields(replyFields({ ...r, timestamp: new Date().toISOString() }))).ok).toBe(true);
      }
      const yes = replies.filter((r) => r.response === 'yes');
      const bringing = yes.filter((r) => r.plusOnes > 0).length / yes.length;
      expect(bringing).toBeCloseTo(eventMax === 0 ? 0 : 0.5, 1);
      if (eventMax >= 3) expect(new Set(yes.map((r) => r.plusOnes))).toEqual(new Set([0, 1, 2, 3]));
    }
  });

  it('reminders: a guest who has not answered answers by its reminded-reply rate, once; one who answered says nothing new', () => {
    const [procrastinator] = json({ label: 'p', likely: 'yes', noReplyRate: 1, reminded: { replyRate: 0.5, firmUpRate: 0 } });
    const guests = guestsOf([procrastinator!], 400);
    const remind = (g: (typeof guests)[number], minutes: number) =>
      planReminder(g, delivery({ invitationId: 'ev', type: 'reminder', reminder: minutes, guestIds: [g.id] }, { reminders: [60, 10] }), 's', 1);
    const at60 = guests.map((g) => remind(g, 60));
    const at10 = guests.map((g) => remind(g, 10));
    expect(at60.filter(Boolean).length / guests.length).toBeCloseTo(0.5, 1);
    guests.forEach((g, i) => {
      if (at60[i]) {
        expect(at60[i]).toMatchObject({ kind: 'reminded', reply: { replyRev: replyRevs.reminder(60) } });
        // Answered at the first reminder: the second has nothing new from it.
        expect(at10[i]).toBeNull();
      } else if (at10[i]) {
        expect(at10[i]!.reply.replyRev).toBe(replyRevs.reminder(10));
      }
      expect(remind(g, 60)).toEqual(at60[i]);
    });
    // Half of the rest answer the second reminder.
    expect(at10.filter(Boolean).length / at60.filter((p) => !p).length).toBeCloseTo(0.5, 1);
    const talker = guestsOf(presets.instant!)[0]!;
    expect(remind(talker, 60)).toBeNull();
  });

  it('a tentative guest reminded may firm up, when the event reminds tentative guests', () => {
    const [hesitant] = json({ label: 'h', likely: 'maybe', followLikely: 1, probabilities: { yes: 3, maybe: 1, no: 1 }, reminded: { replyRate: 0, firmUpRate: 1 } });
    const guests = guestsOf([hesitant!], 200);
    const plans = (remindTentative: boolean) =>
      guests.map((g) => planReminder(g, delivery({ invitationId: 'ev', type: 'reminder', reminder: 30, guestIds: [g.id] }, { reminders: [30], remindTentative }), 's', 1));
    expect(plans(false).every((p) => p === null)).toBe(true);
    const firmed = plans(true) as PlannedReply[];
    expect(firmed.every((p) => p.kind === 'firmed' && p.previous === 'maybe' && p.reply.response !== 'maybe' && p.reply.replyRev === replyRevs.reminder(30))).toBe(true);
    expect(firmed.filter((p) => p.reply.response === 'yes').length / firmed.length).toBeCloseTo(0.75, 1);
  });

  it('answers the dietary question from the guest’s need, and declines answer nothing', () => {
    const five = guestsOf(presets.original!);
    const answers = five.map((g) => answerQuestions(g, [{ ...dietaryQuestion, required: true }], 'yes', 's', 'ev').dietary);
    expect(answers).toEqual(['vegetarian', 'none', 'gluten_free', 'none', 'vegan']);
    expect(answerQuestions(five[0]!, [{ ...dietaryQuestion, required: true }], 'no', 's', 'ev')).toEqual({});
    const asBoolean: Question = { id: 'diet', text: 'Any needs?', type: 'boolean', options: [], required: true };
    expect(five.map((g) => answerQuestions(g, [asBoolean], 'maybe', 's', 'ev').diet)).toEqual([true, false, true, false, true]);
  });
});

// Any questions a host may ask (valid by the shared rules), any persona habits.
const option = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }).filter((s) => s.trim() !== '');
const question = fc.record({
  id: fc.oneof(fc.constantFrom('dietary', 'diet', 'dietary_needs', 'tshirt', 'bus', 'notes'), fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,10}$/)),
  text: fc.constant('Question?'),
  type: fc.constantFrom('text', 'single', 'multiple', 'boolean'),
  options: fc.uniqueArray(fc.oneof(fc.constantFrom('none', 'None', 'vegan', 'Vegetarian', 'gluten free', 'no'), option), { minLength: 2, maxLength: 6 }),
  required: fc.boolean(),
});
const questions = fc.uniqueArray(question, { maxLength: 8, selector: (q) => q.id }).map((list) =>
  list.map((q): Question => ({ ...q, type: q.type as Question['type'], options: q.type === 'single' || q.type === 'multiple' ? q.options : [] })),
);

describe('answers are always valid for the questions (property)', () => {
  it('for every planned reply of every preset and of random habits', () => {
    const personas = [...Object.values(presets).flat(), ...json({ label: 'odd', likely: 'yes', dietary: { 'Pescatarian diet': 1 }, answers: { skipOptional: 0, booleanYes: 0.5, texts: ['line one\nline two'] } })];
    fc.assert(
      fc.property(questions, fc.integer({ min: 0, max: 5 }), fc.string({ maxLength: 8 }), fc.integer({ min: 0, max: 3 }), (qs, plusOnesMax, seed, sequence) => {
        expect(questionsProblem(qs)).toBeUndefined();
        for (const guest of buildGuests('agent-p', personas.length * 2, personas, seed, 'prop')) {
          const d = delivery({ invitationId: 'ev', sequence, guestIds: [guest.id] }, { questions: qs, plusOnesMax, reminders: [30], remindTentative: true });
          const replies = [...planRequest(guest, d, seed, 1), planReminder(guest, { ...d, type: 'reminder', reminder: 30 }, seed, 1)].filter((p): p is PlannedReply => p !== null);
          for (const { reply } of replies) {
            expect(answersProblem(qs, reply.answers, reply.response)).toBeUndefined();
            expect(reply.plusOnes).toBeLessThanOrEqual(plusOnesMax);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('a timeline of replies', () => {
  const [guest] = guestsOf(json({ label: 't', likely: 'yes', delayMs: [0, 0] }));
  const plan = (kind: PlannedReply['kind'], delayMs: number, g = guest!): PlannedReply => ({
    guest: g,
    kind,
    delayMs,
    reply: { ...planReply(g, delivery({ invitationId: 'ev', guestIds: [g.id] }), 's', 1).reply!, replyRev: kind === 'first' ? 0 : 1 },
  });

  it('sends replies due together in one batch, in plan order, and a hurried first answer at once', async () => {
    const batches: string[][] = [];
    const [a, b] = guestsOf(json({ label: 't', likely: 'yes' }), 2);
    const t = new Timeline('ev', 0, [plan('first', 5_000, a), plan('changed', 8_000, a), plan('first', 5_000, b)]);
    const done = t.run(async (due) => void batches.push(due.map((p) => `${p.guest.id}:${p.kind}`)));
    expect(t.hurry(a!.id)).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(batches).toEqual([[`${a!.id}:first`]]);
    expect(t.drop(a!.id, 'changed')).toBe(1);
    t.hurryAll();
    await done;
    expect(batches).toEqual([[`${a!.id}:first`], [`${b!.id}:first`]]);
  });

  it('sends nothing for a stopped guest', async () => {
    const sent: string[] = [];
    const t = new Timeline('ev', 0, [plan('first', 10_000), plan('changed', 20_000)]);
    const done = t.run(async (due) => void sent.push(...due.map((p) => p.kind)));
    expect(t.drop(guest!.id)).toBe(2);
    await done;
    expect(sent).toEqual([]);
  });
});
