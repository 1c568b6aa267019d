import { MAX_OPTION_LENGTH, MAX_TEXT_ANSWER, answersProblem } from '../shared/schema/questions.ts';
import { type ReplyValue, replyValues } from '../shared/schema/response.ts';
import { identifierPattern } from '../shared/streams/keys.ts';
import type { Random } from '../shared/util/random.ts';

/** A [min, max] range in ms; a value is drawn uniformly from it. */
export type DelayRange = [number, number];

/**
 * How a simulated guest behaves. Every decision it takes is drawn from a generator seeded by what
 * the decision is about (GUEST_SEED, event, guest, sequence ...), so the same seed gives the same
 * behaviour and a redelivered delivery the same replies (reply-maker.ts).
 */
export interface Persona {
  /** Shown as the guest's name when the agent hosts no more guests than there are personas. */
  name?: string;
  /** Persona label (metrics, registry, a tag); defaults to the name. */
  label: string;
  /** Extra tags of the guests following this persona (their persona group and label are tags too). */
  tags: string[];
  likely: ReplyValue;
  /** Think time before the first answer, ms. */
  delayMs: DelayRange;
  /** Weights for the draw when the guest does not follow its likely reply. */
  probabilities: Record<ReplyValue, number>;
  /** Chance of simply giving the likely reply (the original's rule: 0.7). */
  followLikely: number;
  /** Chance of never answering a request (a reminder may still get an answer: `reminded.replyRate`). */
  noReplyRate: number;
  messages: Record<ReplyValue, string[]>;
  /** Chance of bringing companions when accepting, and how many at most (the event's plus_ones_max caps it too). */
  plusOnes: { rate: number; max: number };
  /** Weights of dietary needs; each guest draws its own once (it is the same for every event). */
  dietary: Record<string, number>;
  /** Answer habits: skip an optional question, say yes to a yes/no question, texts for free-text questions. */
  answers: { skipOptional: number; booleanYes: number; texts: string[] };
  /** Chance of changing the reply later (before the RSVP deadline), and when: ms after the first answer. */
  changeOfMind: { rate: number; delayMs: DelayRange };
  /** When reminded: chance that a guest who has not answered answers now; that a tentative guest firms up. */
  reminded: { replyRate: number; firmUpRate: number };
  /** When a new version asks again: chance of keeping the answer given to the previous version. */
  versionChange: { keepRate: number };
  /** What the guest says (in the log) when an event it is invited to is cancelled or it is removed. */
  cancellation: { messages: string[] };
}

const defaultMessages: Record<ReplyValue, string[]> = {
  yes: ["Looking forward to it!", "Count me in!", "Wouldn't miss it!", "Sounds great, see you there!"],
  maybe: ["I'll try to make it.", 'Let me check my schedule.', 'Possibly, depends on my workload.'],
  no: ['Sorry, I have a conflict.', "Unfortunately I can't make it.", 'Thanks, but I have to pass this time.'],
};

/** The common dietary needs (the options of the shared `dietaryQuestion` but halal and kosher). */
const usualDiets: Record<string, number> = { none: 0.7, vegetarian: 0.15, vegan: 0.05, gluten_free: 0.05, halal: 0.025, kosher: 0.025 };

/**
 * What a persona does when its JSON (or preset) leaves a behaviour out: mild, plausible defaults.
 * Changes of mind are off by default, so a persona written before they existed sends one reply per
 * invitation, as it did.
 */
export const personaDefaults: Omit<Persona, 'name' | 'label' | 'likely' | 'delayMs' | 'probabilities'> = {
  tags: [],
  followLikely: 0.7,
  noReplyRate: 0,
  messages: defaultMessages,
  plusOnes: { rate: 0.2, max: 1 },
  dietary: usualDiets,
  answers: {
    skipOptional: 0.2,
    booleanYes: 0.5,
    texts: ['No special requests.', 'Happy to help where needed.', 'Looking forward to meeting everyone.'],
  },
  changeOfMind: { rate: 0, delayMs: [2_000, 10_000] },
  reminded: { replyRate: 0.5, firmUpRate: 0.5 },
  versionChange: { keepRate: 0.6 },
  cancellation: { messages: ['Oh well, maybe next time.', 'Thanks for letting me know.'] },
};

type PersonaSpec = Partial<Persona> & Pick<Persona, 'likely' | 'delayMs' | 'probabilities'>;

function persona(p: PersonaSpec): Persona {
  return { ...personaDefaults, label: p.name ?? p.likely, ...p };
}

/**
 * The original demo's five guests: likely reply, delay, and yes-maybe-no probabilities, as the
 * original has them. What the original did not have (dietary needs, plus-ones, reminders) they
 * gain; they never change their mind on their own, so an invitation gets their five replies and
 * nothing more, as in the original.
 */
const original = (delay: number, likely: ReplyValue, yes: number, maybe: number, no: number, name: string, more: Partial<Persona>): Persona =>
  persona({ name, label: name, likely, delayMs: [Math.round(delay * 800), Math.round(delay * 1200)], probabilities: { yes, maybe, no }, ...more });

export const presets: Record<string, Persona[]> = {
  original: [
    original(2.0, 'yes', 0.7, 0.2, 0.1, 'Alice Chen', { dietary: { vegetarian: 1 }, plusOnes: { rate: 0.5, max: 1 }, versionChange: { keepRate: 0.8 } }),
    original(3.0, 'maybe', 0.3, 0.5, 0.2, 'Bob Rodriguez', { dietary: { none: 1 }, reminded: { replyRate: 0.6, firmUpRate: 0.4 }, versionChange: { keepRate: 0.4 } }),
    original(1.5, 'yes', 0.8, 0.1, 0.1, 'Carol Williams', { dietary: { gluten_free: 1 }, plusOnes: { rate: 0.7, max: 2 }, reminded: { replyRate: 0.9, firmUpRate: 0.8 } }),
    original(4.0, 'no', 0.2, 0.2, 0.6, 'David Kim', { dietary: { none: 1 }, plusOnes: { rate: 0, max: 0 }, reminded: { replyRate: 0.3, firmUpRate: 0.5 }, versionChange: { keepRate: 0.8 } }),
    original(2.5, 'maybe', 0.4, 0.4, 0.2, 'Emma Thompson', { dietary: { vegan: 1 }, plusOnes: { rate: 0.3, max: 1 }, versionChange: { keepRate: 0.5 } }),
  ],
  enthusiasts: [
    persona({
      label: 'enthusiast',
      likely: 'yes',
      delayMs: [500, 2_000],
      probabilities: { yes: 0.8, maybe: 0.15, no: 0.05 },
      plusOnes: { rate: 0.5, max: 2 },
      changeOfMind: { rate: 0.05, delayMs: [2_000, 8_000] },
      reminded: { replyRate: 0.9, firmUpRate: 0.8 },
      versionChange: { keepRate: 0.85 },
      cancellation: { messages: ['Oh no, I was so looking forward to it!', 'What a pity! Let me know when it is back on.'] },
    }),
  ],
  undecided: [
    persona({
      label: 'undecided',
      likely: 'maybe',
      delayMs: [2_000, 6_000],
      probabilities: { yes: 0.3, maybe: 0.5, no: 0.2 },
      plusOnes: { rate: 0.15, max: 1 },
      changeOfMind: { rate: 0.3, delayMs: [2_000, 10_000] },
      reminded: { replyRate: 0.6, firmUpRate: 0.5 },
      versionChange: { keepRate: 0.4 },
      cancellation: { messages: ['Ah, that settles it then.', 'Fine, I had not decided anyway.'] },
    }),
  ],
  sceptics: [
    persona({
      label: 'sceptic',
      likely: 'no',
      delayMs: [1_000, 5_000],
      probabilities: { yes: 0.15, maybe: 0.25, no: 0.6 },
      plusOnes: { rate: 0.05, max: 1 },
      changeOfMind: { rate: 0.1, delayMs: [3_000, 12_000] },
      reminded: { replyRate: 0.3, firmUpRate: 0.6 },
      versionChange: { keepRate: 0.7 },
      cancellation: { messages: ['Figures.', 'I had my doubts anyway.'] },
    }),
  ],
  /** Replies at once, once (benchmarks, tests). */
  instant: [persona({ label: 'instant', likely: 'yes', delayMs: [0, 0], probabilities: { yes: 0.6, maybe: 0.3, no: 0.1 }, reminded: { replyRate: 1, firmUpRate: 0.5 } })],
  /** Never replies, reminded or not (tests of the RSVP deadline). */
  silent: [
    persona({ label: 'silent', likely: 'no', delayMs: [0, 0], probabilities: { yes: 0, maybe: 0, no: 1 }, noReplyRate: 1, reminded: { replyRate: 0, firmUpRate: 0 } }),
  ],
};

export type Decision = { reply: ReplyValue; message: string; delayMs: number } | { reply: null; delayMs: number };

/** A value drawn uniformly from a range. */
export function drawDelay([min, max]: DelayRange, random: Random): number {
  return Math.round(min + random() * (max - min));
}

/** One of `items` (undefined when empty). */
export function pick<T>(items: readonly T[], random: Random): T | undefined {
  return items.length > 0 ? items[Math.floor(random() * items.length)] : undefined;
}

/** A reply value drawn by weight among `among` (all weights 0: the first). */
export function drawReply(weights: Record<ReplyValue, number>, random: Random, among: readonly ReplyValue[] = replyValues): ReplyValue {
  const total = among.reduce((sum, r) => sum + weights[r], 0);
  let x = random() * total;
  for (const r of among) {
    if (x < weights[r]) return r;
    x -= weights[r];
  }
  return among[0]!;
}

/**
 * The original's rule: follow the likely reply 70% of the time, else a weighted draw. The order of
 * the draws is the original model's; new decisions use generators of their own so that these stay
 * the same for the same seed.
 */
export function decide(p: Persona, random: Random): Decision {
  const delayMs = drawDelay(p.delayMs, random);
  if (random() < p.noReplyRate) return { reply: null, delayMs };
  let reply: ReplyValue = p.likely;
  if (random() >= p.followLikely) {
    const { yes, maybe, no } = p.probabilities;
    const total = yes + maybe + no;
    const x = random() * total;
    reply = x < yes ? 'yes' : x < yes + maybe ? 'maybe' : 'no';
  }
  const texts = p.messages[reply];
  const message = texts.length > 0 ? texts[Math.floor(random() * texts.length)]! : '';
  return { reply, message, delayMs };
}

/**
 * Reads PERSONAS: a preset name (original, enthusiasts, undecided, sceptics, instant, silent) or a
 * JSON array of personas (the README documents every property), e.g.
 *   [{"name":"Zoe","likely":"yes","delayMs":[500,1500],"probabilities":{"yes":0.8,"maybe":0.1,"no":0.1}}]
 * Throws an Error naming what is wrong.
 */
export function parsePersonas(text: string): Persona[] {
  const preset = presets[text];
  if (preset) return preset;
  if (!text.trim().startsWith('[') && !text.trim().startsWith('{')) {
    throw new Error(`a preset (${Object.keys(presets).join(', ')}) or a JSON array of personas`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`valid JSON (${(error as Error).message})`, { cause: error });
  }
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new Error('at least one persona');
  return list.map((item, i) => new PersonaReader(item, `persona ${i}`).persona());
}

const knownProperties = new Set([
  'name', 'label', 'tags', 'likely', 'delayMs', 'probabilities', 'followLikely', 'noReplyRate', 'messages',
  'plusOnes', 'dietary', 'answers', 'changeOfMind', 'reminded', 'versionChange', 'cancellation',
]);

const MAX_TAGS = 20;

/** Checks one persona object property by property; every error names the persona and the property. */
class PersonaReader {
  private readonly o: Record<string, unknown>;
  private readonly where: string;

  constructor(item: unknown, where: string) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error(`${where}: an object`);
    this.o = item as Record<string, unknown>;
    this.where = where;
    const unknown = Object.keys(this.o).find((k) => !knownProperties.has(k));
    // A misspelt property would otherwise be ignored in silence and its default used.
    if (unknown !== undefined) throw new Error(`${where}: no property "${unknown.slice(0, 40)}" (known: ${[...knownProperties].join(', ')})`);
  }

  persona(): Persona {
    const o = this.o;
    if (!replyValues.includes(o.likely as ReplyValue)) this.fail('"likely" is one of yes, maybe, no');
    if (o.name !== undefined && (typeof o.name !== 'string' || o.name.trim().length === 0 || o.name.length > 100)) this.fail('"name" is a string of 1-100 characters');
    if (o.label !== undefined && (typeof o.label !== 'string' || o.label.trim().length === 0 || o.label.length > 100)) this.fail('"label" is a string of 1-100 characters');
    const d = personaDefaults;
    const plusOnes = this.section('plusOnes');
    const answers = this.section('answers');
    const change = this.section('changeOfMind');
    const reminded = this.section('reminded');
    const versionChange = this.section('versionChange');
    const cancellation = this.section('cancellation');
    return {
      name: o.name as string | undefined,
      label: (o.label as string | undefined) ?? (o.name as string | undefined) ?? (o.likely as string),
      tags: this.tags(),
      likely: o.likely as ReplyValue,
      delayMs: this.range(o.delayMs, '"delayMs"', [1_000, 3_000]),
      probabilities: this.probabilities(),
      followLikely: this.rate(o.followLikely, '"followLikely"', d.followLikely),
      noReplyRate: this.rate(o.noReplyRate, '"noReplyRate"', d.noReplyRate),
      messages: this.messages(),
      plusOnes: {
        rate: this.rate(plusOnes.rate, '"plusOnes.rate"', d.plusOnes.rate),
        max: this.count(plusOnes.max, '"plusOnes.max"', d.plusOnes.max, 20),
      },
      dietary: this.dietary(),
      answers: {
        skipOptional: this.rate(answers.skipOptional, '"answers.skipOptional"', d.answers.skipOptional),
        booleanYes: this.rate(answers.booleanYes, '"answers.booleanYes"', d.answers.booleanYes),
        texts: this.texts(answers.texts, '"answers.texts"', d.answers.texts),
      },
      changeOfMind: {
        rate: this.rate(change.rate, '"changeOfMind.rate"', d.changeOfMind.rate),
        delayMs: this.range(change.delayMs, '"changeOfMind.delayMs"', d.changeOfMind.delayMs),
      },
      reminded: {
        replyRate: this.rate(reminded.replyRate, '"reminded.replyRate"', d.reminded.replyRate),
        firmUpRate: this.rate(reminded.firmUpRate, '"reminded.firmUpRate"', d.reminded.firmUpRate),
      },
      versionChange: { keepRate: this.rate(versionChange.keepRate, '"versionChange.keepRate"', d.versionChange.keepRate) },
      cancellation: { messages: this.strings(cancellation.messages, '"cancellation.messages"', d.cancellation.messages) },
    };
  }

  private fail(what: string): never {
    throw new Error(`${this.where}: ${what}`);
  }

  /** A nested object property (absent: empty, every default applies). */
  private section(name: string): Record<string, unknown> {
    const value = this.o[name];
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(`"${name}" is an object`);
    return value as Record<string, unknown>;
  }

  private rate(value: unknown, name: string, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) this.fail(`${name} is a number from 0 to 1`);
    return value;
  }

  private count(value: unknown, name: string, fallback: number, max: number): number {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > max) this.fail(`${name} is an integer from 0 to ${max}`);
    return value as number;
  }

  private range(value: unknown, name: string, fallback: DelayRange): DelayRange {
    if (value === undefined) return fallback;
    const ok = Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number' && v >= 0 && v <= 86_400_000) && value[0] <= value[1];
    if (!ok) this.fail(`${name} is [min, max] in ms with 0 <= min <= max <= 86400000`);
    return [(value as number[])[0]!, (value as number[])[1]!];
  }

  private probabilities(): Record<ReplyValue, number> {
    const probs = (this.o.probabilities ?? { yes: 1 / 3, maybe: 1 / 3, no: 1 / 3 }) as Record<string, unknown>;
    if (typeof probs !== 'object' || probs === null) this.fail('"probabilities" is an object of yes, maybe, no');
    for (const r of replyValues) {
      if (typeof probs[r] !== 'number' || !((probs[r] as number) >= 0)) this.fail(`"probabilities.${r}" is a number >= 0`);
    }
    return { yes: probs.yes as number, maybe: probs.maybe as number, no: probs.no as number };
  }

  private strings(value: unknown, name: string, fallback: string[]): string[] {
    if (value === undefined) return fallback;
    if (!Array.isArray(value) || value.length > 100 || !value.every((t) => typeof t === 'string' && t.length <= 1_000)) {
      this.fail(`${name} is an array of at most 100 strings of at most 1000 characters`);
    }
    return value as string[];
  }

  private messages(): Record<ReplyValue, string[]> {
    const messages = { ...defaultMessages };
    const m = this.section('messages');
    for (const r of replyValues) if (m[r] !== undefined) messages[r] = this.strings(m[r], `"messages.${r}"`, []);
    return messages;
  }

  /** Texts for free-text questions: each must be a valid answer to a required text question. */
  private texts(value: unknown, name: string, fallback: string[]): string[] {
    const texts = this.strings(value, name, fallback);
    const question = { id: 'q', text: 'q', type: 'text' as const, options: [], required: true };
    if (texts.length === 0 || texts.some((t) => answersProblem([question], { q: t }, 'yes') !== undefined)) {
      this.fail(`${name} is a non-empty array of texts of 1-${MAX_TEXT_ANSWER} characters, not blank, without control characters but line feeds`);
    }
    return texts;
  }

  /** A need ("vegan") or weights of needs ({"none":0.8,"vegan":0.2}). */
  private dietary(): Record<string, number> {
    const value = this.o.dietary;
    if (value === undefined) return personaDefaults.dietary;
    const need = (n: unknown) => typeof n === 'string' && n.trim().length > 0 && n.length <= MAX_OPTION_LENGTH && !/\p{Cc}/u.test(n);
    if (need(value)) return { [value as string]: 1 };
    const problem = `"dietary" is a need (a string of 1-${MAX_OPTION_LENGTH} characters) or an object of needs to weights >= 0, not all 0`;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(problem);
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 || !entries.every(([k, w]) => need(k) && typeof w === 'number' && w >= 0) || !entries.some(([, w]) => (w as number) > 0)) {
      this.fail(problem);
    }
    return value as Record<string, number>;
  }

  /** Tags are lower-cased; the coordinator matches an event's target_tags against them. */
  private tags(): string[] {
    const value = this.o.tags;
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.length > MAX_TAGS || !value.every((t) => typeof t === 'string' && identifierPattern.test(t))) {
      this.fail(`"tags" is an array of at most ${MAX_TAGS} tags (1-128 letters, digits or . _ : @ -, starting with a letter or digit)`);
    }
    return [...new Set((value as string[]).map((t) => t.toLowerCase()))];
  }
}
