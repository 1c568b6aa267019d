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
    const cap = summary.cap;
    const questions = parseQuestions(summary.q);

    const wait: string[] = [];
    for (let start = 0; ; start += this.step) {
      const part = await this.redis.zrange(keys.waitlist, start, start + this.step - 1);
      this.stepped();
      wait.push(...part);
      if (part.length < this.step) break;
    }
    const place = new Map(wait.map((id, i) => [id, i + 1]));

    const responses: string[] = [];
    const missing: string[] = [];
    const never: string[] = [];
    const attendees: string[] = [];
    let truncated = false;
    const tally: Record<string, Record<string, number>> = {};
    for await (const { ids, values: homes } of hashPages(this.redis, keys.invited, this.step)) {
      if (ids.length === 0) {
        this.stepped();
        continue;
      }
      const read = await this.redis.pipeline().hmget(keys.replies, ...ids).hmget(keys.never, ...ids).exec();
      this.stepped();
      const [recs, nevers] = twoReplies(read, 'summary step');
      ids.forEach((id, i) => {
        const home = homes[i]!;
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
          att.waitlist = place.get(id);
          if (responses.length < cap) {
            const o: Record<string, unknown> = {};
            for (const n of RESPONSE_FIELDS) o[n] = rec[n] ?? '';
            responses.push(JSON.stringify(o));
          } else {
            truncated = true;
          }
          const counted = (rec.response === 'yes' && !place.has(id)) || rec.response === 'maybe';
          if (counted && rec.answers && typeof rec.answers === 'object') tallyAnswers(tally, questions, rec.answers);
        } else if (nevers[i]) {
          state = 'never_asked';
          if (never.length < cap) never.push(JSON.stringify({ guest_id: id, guest_name: name }));
        } else if (missing.length < cap) {
          missing.push(JSON.stringify({ guest_id: id, guest_name: name }));
        } else {
          truncated = true;
        }
        att.state = state;
        if (attendees.length < cap) attendees.push(JSON.stringify(att));
      });
    }

    const lists: Record<string, string> = {
      responses: `[${responses.join(',')}]`,
      no_response: `[${missing.join(',')}]`,
      responses_truncated: truncated ? '1' : '0',
      waitlist: JSON.stringify(wait),
      never_asked: `[${never.join(',')}]`,
      answers: Object.keys(tally).length > 0 ? JSON.stringify(tally) : '{}',
      attendees: `[${attendees.join(',')}]`,
    };
    const fields = summary.f.slice();
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const value = lists[fields[i]!];
      if (value !== undefined) fields[i + 1] = value;
    }
    return fields;
  }

  private stepped(): void {
    this.crash.step('summary');
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
