import type { Answer, Answers, Question } from '../shared/schema/questions.ts';
import type { ReplyValue } from '../shared/schema/response.ts';
import { type Random, seededRandom } from '../shared/util/random.ts';
import type { SimulatedGuest } from './guests.ts';
import { pick } from './personas.ts';

/** A question about dietary needs (the shared `dietaryQuestion` is `dietary`): answered from the guest's own need. */
const dietaryId = /diet/i;
/** Options that mean "no special need". */
const nothingSpecial = /^(none|no|nothing|no[ _-]?restrictions?|n\/a)$/i;

/**
 * A guest's answers to an event's questions, drawn from a generator per (seed, event, guest,
 * question): the same at every revision of a reply and at every version that asks the same
 * question, and always valid for the question (the coordinator refuses a reply whose answers do
 * not fit, `answersProblem`). Declining guests answer nothing; accepting and tentative guests answer
 * every required question and skip an optional one now and then (their persona's habit).
 */
export function answerQuestions(guest: SimulatedGuest, questions: readonly Question[], response: ReplyValue, seed: string, eventId: string): Answers {
  const answers: Answers = {};
  if (response === 'no') return answers;
  const habits = guest.behaviour.answers;
  for (const q of questions) {
    const random = seededRandom('answer', seed, eventId, guest.id, q.id);
    if (!q.required && random() < habits.skipOptional) continue;
    const answer = dietaryId.test(q.id) ? dietaryAnswer(q, guest.dietary, random) : habitualAnswer(q, guest, random);
    if (answer !== undefined) answers[q.id] = answer;
  }
  return answers;
}

function habitualAnswer(q: Question, guest: SimulatedGuest, random: Random): Answer {
  switch (q.type) {
    case 'single':
      return pick(q.options, random)!;
    case 'multiple':
      return q.options.filter(() => random() < 0.35);
    case 'boolean':
      return random() < guest.behaviour.answers.booleanYes;
    case 'text':
      return pick(guest.behaviour.answers.texts, random)!;
  }
}

/** The option that names `need` (case, spaces and dashes aside), if any. */
function optionFor(options: readonly string[], need: string): string | undefined {
  const key = (s: string) => s.toLowerCase().replace(/[\s_-]+/g, '_');
  return options.find((o) => key(o) === key(need)) ?? (nothingSpecial.test(need) ? options.find((o) => nothingSpecial.test(o)) : undefined);
}

/**
 * The guest's dietary need as an answer to this question. A need the question does not offer is
 * answered as plausibly as the options allow: a single choice falls back to its "none" option (a
 * guest who cannot say what it needs says nothing special) or, a required question without one, to
 * a drawn option.
 */
function dietaryAnswer(q: Question, need: string, random: Random): Answer | undefined {
  const special = !nothingSpecial.test(need);
  switch (q.type) {
    case 'boolean':
      return special;
    case 'text':
      return special ? need.replace(/_/g, ' ') : 'none';
    case 'multiple': {
      const option = optionFor(q.options, need);
      return option === undefined ? [] : [option];
    }
    case 'single': {
      const option = optionFor(q.options, need) ?? optionFor(q.options, 'none');
      if (option !== undefined) return option;
      return q.required ? pick(q.options, random) : undefined;
    }
  }
}
