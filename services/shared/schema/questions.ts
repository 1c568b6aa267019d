// Questions a host asks with an invitation (dietary needs among them) and the answers guests give
// with their reply. One definition for every side: the host API checks the questions it is given,
// guests build answers that fit them, and the coordinator refuses a reply whose answers do not.

import type { ReplyValue } from './response.ts';

export const questionTypes = ['text', 'single', 'multiple', 'boolean'] as const;
export type QuestionType = (typeof questionTypes)[number];

export interface Question {
  /** Short key the answers use: letters, digits, _ and - (e.g. `dietary`). */
  id: string;
  text: string;
  type: QuestionType;
  /** The choices of a `single` or `multiple` question (empty for the others). */
  options: string[];
  /** An accepting or tentative guest must answer it. */
  required: boolean;
}

/** A guest's answer: text, one option, several options, or yes/no. */
export type Answer = string | string[] | boolean;
export type Answers = Record<string, Answer>;

export const MAX_QUESTIONS = 20;
export const MAX_OPTIONS = 50;
export const MAX_QUESTION_TEXT = 500;
export const MAX_OPTION_LENGTH = 100;
export const MAX_TEXT_ANSWER = 1_000;
const questionIdPattern = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const control = /\p{Cc}/u;

/** The usual dietary question, offered by the page as a preset. */
export const dietaryQuestion: Question = {
  id: 'dietary',
  text: 'Any dietary requirements?',
  type: 'single',
  options: ['none', 'vegetarian', 'vegan', 'gluten_free', 'halal', 'kosher'],
  required: false,
};

/** Checks a parsed JSON value as a list of questions; returns a problem (for "questions <problem>") or undefined. */
export function questionsProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return 'must be a JSON array of questions';
  if (value.length > MAX_QUESTIONS) return `may hold at most ${MAX_QUESTIONS} questions`;
  const ids = new Set<string>();
  for (const [i, q] of value.entries()) {
    const at = `[${i}]`;
    if (typeof q !== 'object' || q === null || Array.isArray(q)) return `${at} must be an object`;
    const unknown = Object.keys(q).find((k) => !['id', 'text', 'type', 'options', 'required'].includes(k));
    if (unknown !== undefined) return `${at} has an unknown property ${JSON.stringify(unknown.slice(0, 32))}`;
    const { id, text, type, options, required } = q as Record<string, unknown>;
    if (typeof id !== 'string' || !questionIdPattern.test(id)) return `${at}.id must be 1-64 letters, digits, _ or - starting with a letter`;
    if (ids.has(id)) return `${at}.id ${id} is used twice`;
    ids.add(id);
    if (typeof text !== 'string' || text.trim() === '' || text.length > MAX_QUESTION_TEXT || control.test(text)) {
      return `${at}.text must be 1-${MAX_QUESTION_TEXT} characters without control characters`;
    }
    if (typeof type !== 'string' || !(questionTypes as readonly string[]).includes(type)) return `${at}.type must be one of ${questionTypes.join(', ')}`;
    if (required !== undefined && typeof required !== 'boolean') return `${at}.required must be true or false`;
    const choice = type === 'single' || type === 'multiple';
    if (choice) {
      if (!Array.isArray(options) || options.length < 2 || options.length > MAX_OPTIONS) return `${at}.options must list 2-${MAX_OPTIONS} choices`;
      for (const o of options) {
        if (typeof o !== 'string' || o.trim() === '' || o.length > MAX_OPTION_LENGTH || control.test(o)) {
          return `${at}.options must be 1-${MAX_OPTION_LENGTH} characters each, without control characters`;
        }
      }
      if (new Set(options).size !== options.length) return `${at}.options lists a choice twice`;
    } else if (options !== undefined && !(Array.isArray(options) && options.length === 0)) {
      return `${at}.options is only for single and multiple questions`;
    }
  }
  return undefined;
}

/** Normalises checked questions (defaults filled in). */
export function normaliseQuestions(value: unknown[]): Question[] {
  return value.map((raw) => {
    const q = raw as Partial<Question>;
    return { id: q.id!, text: q.text!, type: q.type!, options: q.type === 'single' || q.type === 'multiple' ? q.options! : [], required: q.required ?? false };
  });
}

/**
 * Checks a reply's answers against the event's questions. Returns the reason to refuse the reply
 * (`invalid_answer: …`) or undefined. Declining guests need not answer; required questions bind
 * accepting and tentative ones.
 */
export function answersProblem(questions: readonly Question[], answers: Answers, response: ReplyValue): string | undefined {
  const byId = new Map(questions.map((q) => [q.id, q]));
  for (const [id, answer] of Object.entries(answers)) {
    const q = byId.get(id);
    if (!q) return `invalid_answer: there is no question ${JSON.stringify(id.slice(0, 64))}`;
    const problem = answerProblem(q, answer);
    if (problem) return `invalid_answer: ${id} ${problem}`;
  }
  if (response !== 'no') {
    const missing = questions.find((q) => q.required && !(q.id in answers));
    if (missing) return `invalid_answer: ${missing.id} is required`;
  }
  return undefined;
}

function answerProblem(q: Question, answer: Answer): string | undefined {
  switch (q.type) {
    case 'text':
      if (typeof answer !== 'string' || answer.length > MAX_TEXT_ANSWER || !answer.isWellFormed() || /[^\P{Cc}\n]/u.test(answer)) {
        return `must be text of at most ${MAX_TEXT_ANSWER} characters`;
      }
      return q.required && answer.trim() === '' ? 'must not be blank' : undefined;
    case 'boolean':
      return typeof answer === 'boolean' ? undefined : 'must be true or false';
    case 'single':
      return typeof answer === 'string' && q.options.includes(answer) ? undefined : `must be one of ${q.options.join(', ')}`;
    case 'multiple':
      if (!Array.isArray(answer) || !answer.every((a) => typeof a === 'string' && q.options.includes(a))) return `must be a list of ${q.options.join(', ')}`;
      return new Set(answer).size === answer.length ? undefined : 'names a choice twice';
  }
}

/** Parses a reply's `answers` field shape (an object of strings, string lists and booleans); undefined when it is not one. */
export function answersShapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be a JSON object of answers';
  const entries = Object.entries(value);
  if (entries.length > MAX_QUESTIONS) return `may hold at most ${MAX_QUESTIONS} answers`;
  for (const [, a] of entries) {
    const ok = typeof a === 'string' || typeof a === 'boolean' || (Array.isArray(a) && a.length <= MAX_OPTIONS && a.every((x) => typeof x === 'string'));
    if (!ok) return 'must map question ids to text, a list of choices, or true/false';
  }
  return undefined;
}

/**
 * Adds one guest's answers to per-question tallies (choice and yes/no questions; free text is
 * listed per guest, not counted): {"dietary": {"vegetarian": 1}}.
 */
export function tallyAnswers(tally: Record<string, Record<string, number>>, questions: readonly Question[], answers: Answers): void {
  for (const q of questions) {
    if (q.type === 'text' || !(q.id in answers)) continue;
    const counts = (tally[q.id] ??= {});
    const a = answers[q.id]!;
    const values = Array.isArray(a) ? a : [typeof a === 'boolean' ? (a ? 'yes' : 'no') : a];
    for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  }
}
