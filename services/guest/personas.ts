import type { ReplyValue } from '../shared/schema/response.ts';
import type { Random } from '../shared/util/random.ts';

/** How a simulated guest behaves. */
export interface Persona {
  /** Shown as the guest's name when the agent hosts no more guests than there are personas. */
  name?: string;
  /** Persona label (metrics, registry); defaults to the name. */
  label: string;
  likely: ReplyValue;
  /** Reply delay range in ms; the delay is drawn uniformly from it. */
  delayMs: [number, number];
  /** Weights for the draw when the guest does not follow its likely reply. */
  probabilities: Record<ReplyValue, number>;
  /** Chance of simply giving the likely reply (the original's rule: 0.7). */
  followLikely: number;
  /** Chance of never answering at all. */
  noReplyRate: number;
  messages: Record<ReplyValue, string[]>;
}

const defaultMessages: Record<ReplyValue, string[]> = {
  yes: ["Looking forward to it!", "Count me in!", "Wouldn't miss it!", "Sounds great, see you there!"],
  maybe: ["I'll try to make it.", 'Let me check my schedule.', 'Possibly, depends on my workload.'],
  no: ['Sorry, I have a conflict.', "Unfortunately I can't make it.", 'Thanks, but I have to pass this time.'],
};

function persona(p: Partial<Persona> & Pick<Persona, 'likely' | 'delayMs' | 'probabilities'>): Persona {
  return { label: p.name ?? p.likely, followLikely: 0.7, noReplyRate: 0, messages: defaultMessages, ...p };
}

/** The original demo's five guests: likely reply, delay, and yes-maybe-no probabilities. */
const original = (delay: number, likely: ReplyValue, yes: number, maybe: number, no: number, name: string): Persona =>
  persona({ name, label: name, likely, delayMs: [Math.round(delay * 800), Math.round(delay * 1200)], probabilities: { yes, maybe, no } });

export const presets: Record<string, Persona[]> = {
  original: [
    original(2.0, 'yes', 0.7, 0.2, 0.1, 'Alice Chen'),
    original(3.0, 'maybe', 0.3, 0.5, 0.2, 'Bob Rodriguez'),
    original(1.5, 'yes', 0.8, 0.1, 0.1, 'Carol Williams'),
    original(4.0, 'no', 0.2, 0.2, 0.6, 'David Kim'),
    original(2.5, 'maybe', 0.4, 0.4, 0.2, 'Emma Thompson'),
  ],
  enthusiasts: [persona({ label: 'enthusiast', likely: 'yes', delayMs: [500, 2_000], probabilities: { yes: 0.8, maybe: 0.15, no: 0.05 } })],
  undecided: [persona({ label: 'undecided', likely: 'maybe', delayMs: [2_000, 6_000], probabilities: { yes: 0.3, maybe: 0.5, no: 0.2 } })],
  sceptics: [persona({ label: 'sceptic', likely: 'no', delayMs: [1_000, 5_000], probabilities: { yes: 0.15, maybe: 0.25, no: 0.6 } })],
  /** Replies at once (benchmarks, tests). */
  instant: [persona({ label: 'instant', likely: 'yes', delayMs: [0, 0], probabilities: { yes: 0.6, maybe: 0.3, no: 0.1 } })],
  /** Never replies (tests of the RSVP deadline). */
  silent: [persona({ label: 'silent', likely: 'no', delayMs: [0, 0], probabilities: { yes: 0, maybe: 0, no: 1 }, noReplyRate: 1 })],
};

export type Decision = { reply: ReplyValue; message: string; delayMs: number } | { reply: null; delayMs: number };

/** The original's rule: follow the likely reply 70% of the time, else a weighted draw. */
export function decide(p: Persona, random: Random): Decision {
  const [min, max] = p.delayMs;
  const delayMs = Math.round(min + random() * (max - min));
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
 * JSON array of personas, e.g.
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
  return list.map((item, i) => validatePersona(item, i));
}

function validatePersona(item: unknown, i: number): Persona {
  const where = `persona ${i}`;
  if (typeof item !== 'object' || item === null) throw new Error(`${where}: an object`);
  const o = item as Record<string, unknown>;
  const replies = ['yes', 'maybe', 'no'] as const;
  if (!replies.includes(o.likely as ReplyValue)) throw new Error(`${where}: "likely" is one of yes, maybe, no`);
  const delay = o.delayMs ?? [1_000, 3_000];
  if (!Array.isArray(delay) || delay.length !== 2 || !delay.every((d) => typeof d === 'number' && d >= 0) || delay[0] > delay[1]) {
    throw new Error(`${where}: "delayMs" is [min, max] in ms with 0 <= min <= max`);
  }
  const probs = (o.probabilities ?? { yes: 1 / 3, maybe: 1 / 3, no: 1 / 3 }) as Record<string, unknown>;
  for (const r of replies) {
    if (typeof probs[r] !== 'number' || (probs[r] as number) < 0) throw new Error(`${where}: "probabilities.${r}" is a number >= 0`);
  }
  const rate = (name: string, fallback: number) => {
    const v = o[name] ?? fallback;
    if (typeof v !== 'number' || v < 0 || v > 1) throw new Error(`${where}: "${name}" is a number from 0 to 1`);
    return v;
  };
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length === 0 || o.name.length > 100)) {
    throw new Error(`${where}: "name" is a string of 1-100 characters`);
  }
  const messages = { ...defaultMessages };
  if (o.messages !== undefined) {
    const m = o.messages as Record<string, unknown>;
    for (const r of replies) {
      if (m[r] === undefined) continue;
      if (!Array.isArray(m[r]) || !(m[r] as unknown[]).every((t) => typeof t === 'string')) {
        throw new Error(`${where}: "messages.${r}" is an array of strings`);
      }
      messages[r] = m[r] as string[];
    }
  }
  return {
    name: o.name as string | undefined,
    label: typeof o.label === 'string' ? o.label : ((o.name as string | undefined) ?? (o.likely as string)),
    likely: o.likely as ReplyValue,
    delayMs: [delay[0] as number, delay[1] as number],
    probabilities: { yes: probs.yes as number, maybe: probs.maybe as number, no: probs.no as number },
    followLikely: rate('followLikely', 0.7),
    noReplyRate: rate('noReplyRate', 0),
    messages,
  };
}
