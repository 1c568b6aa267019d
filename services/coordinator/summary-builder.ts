import type { RedisClient } from '../shared/streams/redis-client.ts';
import type { Question } from '../shared/schema/questions.ts';
import { eventKeys } from '../shared/streams/keys.ts';
import { CrashPoint } from './crash-point.ts';
import { hashPages } from '../shared/streams/hash-pages.ts';
import { twoReplies } from './two-replies.ts';

/** A summary decided in steps (includes/event.lua, finalize): its head fields, the list fields empty. */
export interface SteppedSummary {
  /** `summary:<id>:<sequence>`, the once-key of the summary entry. */
  key: string;
  /** Field, value, …: every summary field; the list fields hold '' until built here. */
  f: string[];
  cap: number;
  /** The version's questions (JSON), for the answers' tally. */
  q: string;
}

interface StoredReply {
  response: 'yes' | 'no' | 'maybe';
  plus_ones?: number;
  answers?: Record<string, unknown>;
  [field: string]: unknown;
}

const STATE_OF = { yes: 'accepted', no: 'declined', maybe: 'tentative' } as const;
/** The original's fields of each listed response, in its order. */
const RESPONSE_FIELDS = ['id', 'invitation_id', 'guest_name', 'guest_id', 'response', 'message', 'timestamp'];

/**
 * Builds the guest lists of a summary whose version is too large to list inside one script
 * (issue 17, item 4: a 10,000-guest summary kept Redis from answering anyone for ~45 ms). The
 * script that closed the version decided everything else; here the version's guests are read with
 * HSCAN and their replies with HMGET, `step` guests per call, so no call holds Redis for more than
 * a fraction of a millisecond whatever the event's size. The result is what summary_lists in
 * includes/event.lua produces (same fields and rules; lists in HSCAN's order instead of HGETALL's).
 *
 * Only reads: a crash at any step leaves nothing behind, and whoever drains the outbox next builds
 * it again from the start. The version's keys do not change meanwhile (apply-revision answers busy
 * while the event's `sb` names a summary being built), and the summary is added under its
 * once-key, so there is exactly one per version however often it is built.
 *
 * A small version closed by its last reply is built the same way from what an event script read
 * and handed back (`fromHanded`): the closing record-replies call, or any later call of the event
 * while the summary still waits (a coordinator died before adding it). No read at all, and no
 * decoding of every reply inside Redis (~13 µs of Redis time per guest when the script built the lists).
 */
export class SummaryBuilder {
  private readonly redis: RedisClient;
  private readonly step: number;
  private readonly crash: CrashPoint;

  constructor(redis: RedisClient, opts: { step?: number; crashAfterStep?: number } = {}) {
    this.redis = redis;
    this.step = opts.step ?? 500;
    this.crash = new CrashPoint('SUMMARY_TEST_CRASH', opts.crashAfterStep ?? 0);
  }

  /** The summary's fields with its lists filled in. */
  async build(eventId: string, summary: SteppedSummary): Promise<string[]> {
    const keys = eventKeys(eventId);
    const wait: string[] = [];
    for (let start = 0; ; start += this.step) {
      const part = await this.redis.zrange(keys.waitlist, start, start + this.step - 1);
      this.stepped();
      wait.push(...part);
      if (part.length < this.step) break;
    }
    const lists = new SummaryLists(summary, wait);
    for await (const { ids, values: homes } of hashPages(this.redis, keys.invited, this.step)) {
      if (ids.length === 0) {
        this.stepped();
        continue;
      }
      const read = await this.redis.pipeline().hmget(keys.replies, ...ids).hmget(keys.never, ...ids).exec();
      this.stepped();
      const [recs, nevers] = twoReplies(read, 'summary step');
      lists.add(ids, homes, recs, nevers);
    }
    return lists.fields();
  }

  /**
   * The same fields from the version's keys as an event script handed them back (HANDED in
   * includes/event.lua, finalize and finish): no read at all. Null when they are not this summary's.
   */
  fromHanded(summary: SteppedSummary, handed: HandedLists | undefined): string[] | null {
    if (!handed || handed.key !== summary.key) return null;
    const replies = pairs(handed.replies);
    const never = pairs(handed.never);
    const ids: string[] = [];
    const homes: string[] = [];
    for (let i = 0; i + 1 < handed.invited.length; i += 2) {
      ids.push(handed.invited[i]!);
      homes.push(handed.invited[i + 1]!);
    }
    const lists = new SummaryLists(summary, handed.wait);
    lists.add(ids, homes, ids.map((id) => replies.get(id) ?? null), ids.map((id) => never.get(id) ?? null));
    return lists.fields();
  }

  private stepped(): void {
    this.crash.step('summary');
  }
}

/** The raw material of a small version's summary lists, as the closing script read it (flat HGETALL replies). */
export interface HandedLists {
  key: string;
  invited: string[];
  replies: string[];
  never: string[];
  wait: string[];
}

function pairs(flat: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!, flat[i + 1]!);
  return out;
}

/** The lists of one summary, fed the version's guests a page at a time (summary_lists' rules). */
class SummaryLists {
  private readonly summary: SteppedSummary;
  private readonly questions: Question[];
  private readonly wait: string[];
  private readonly place: Map<string, number>;
  private readonly responses: string[] = [];
  private readonly missing: string[] = [];
  private readonly never: string[] = [];
  private readonly attendees: string[] = [];
  private truncated = false;
  private readonly tally: Record<string, Record<string, number>> = {};

  constructor(summary: SteppedSummary, wait: string[]) {
    this.summary = summary;
    this.questions = parseQuestions(summary.q);
    this.wait = wait;
    this.place = new Map(wait.map((id, i) => [id, i + 1]));
  }

  /** Guests with their `invited` values, stored replies and never-asked marks, in the same order. */
  add(ids: string[], homes: (string | null)[], recs: (string | null)[], nevers: (string | null)[]): void {
    const cap = this.summary.cap;
    ids.forEach((id, i) => {
      const home = homes[i] ?? id;
      const tab = home.indexOf('\t');
      const name = tab >= 0 ? home.slice(tab + 1) : id;
      const att: Record<string, unknown> = { guest_id: id, guest_name: name, plus_ones: 0 };
      let state = 'needs_action';
      const raw = recs[i];
      if (raw) {
        const rec = JSON.parse(raw) as StoredReply;
        state = STATE_OF[rec.response];
        att.plus_ones = Number(rec.plus_ones) || 0;
        att.answers = rec.answers;
        att.waitlist = this.place.get(id);
        if (this.responses.length < cap) {
          const o: Record<string, unknown> = {};
          for (const n of RESPONSE_FIELDS) o[n] = rec[n] ?? '';
          this.responses.push(JSON.stringify(o));
        } else {
          this.truncated = true;
        }
        const counted = (rec.response === 'yes' && !this.place.has(id)) || rec.response === 'maybe';
        if (counted && rec.answers && typeof rec.answers === 'object') tallyAnswers(this.tally, this.questions, rec.answers);
      } else if (nevers[i]) {
        state = 'never_asked';
        if (this.never.length < cap) this.never.push(JSON.stringify({ guest_id: id, guest_name: name }));
      } else if (this.missing.length < cap) {
        this.missing.push(JSON.stringify({ guest_id: id, guest_name: name }));
      } else {
        this.truncated = true;
      }
      att.state = state;
      if (this.attendees.length < cap) this.attendees.push(JSON.stringify(att));
    });
  }

  /** The summary's fields with the list fields filled in. */
  fields(): string[] {
    const lists: Record<string, string> = {
      responses: `[${this.responses.join(',')}]`,
      no_response: `[${this.missing.join(',')}]`,
      responses_truncated: this.truncated ? '1' : '0',
      waitlist: JSON.stringify(this.wait),
      never_asked: `[${this.never.join(',')}]`,
      answers: Object.keys(this.tally).length > 0 ? JSON.stringify(this.tally) : '{}',
      attendees: `[${this.attendees.join(',')}]`,
    };
    const fields = this.summary.f.slice();
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const value = lists[fields[i]!];
      if (value !== undefined) fields[i + 1] = value;
    }
    return fields;
  }
}

function parseQuestions(text: string): Question[] {
  if (!text) return [];
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? (parsed as Question[]) : [];
}

/** The answers' tally of includes/event.lua: per choice question, how many counted guests chose each value. */
function tallyAnswers(tally: Record<string, Record<string, number>>, questions: Question[], answers: Record<string, unknown>): void {
  for (const q of questions) {
    const a = answers[q.id];
    if (q.type === 'text' || a === undefined || a === null) continue;
    const values = Array.isArray(a) ? (a as unknown[]) : [a === true ? 'yes' : a === false ? 'no' : a];
    const counts = (tally[q.id] ??= {});
    for (const v of values) counts[String(v)] = (counts[String(v)] ?? 0) + 1;
  }
}
