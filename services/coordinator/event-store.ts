import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../shared/streams/redis-client.ts';
import type { LiveGuest } from '../shared/registry/guest-registry.ts';
import { definitionFields, eventTimes } from '../shared/schema/event-definition.ts';
import { type Invitation, invitationFingerprint } from '../shared/schema/invitation.ts';
import { type Reply, replyRecord } from '../shared/schema/response.ts';
import { eventKeyList, eventKeys, timersKey } from '../shared/streams/keys.ts';
import { itemSteps } from '../shared/streams/hash-steps.ts';
import { type LuaScript, type PipelineResult, execPipeline, loadLuaScript, runScript } from '../shared/streams/scripts.ts';
import type { CrashPoint } from './crash-point.ts';
import type { HandedLists } from './summary-builder.ts';
import { STAGE_TTL_MS, chunkByAgent, writeChunks, writeInSteps } from './fan-out.ts';

const dir = join(import.meta.dirname, 'lua');
const applyRevisionScript = loadLuaScript(join(dir, 'apply-revision.lua'));
const recordRepliesScript = loadLuaScript(join(dir, 'record-replies.lua'));
const tickEventScript = loadLuaScript(join(dir, 'tick-event.lua'));
const rescheduleScript = loadLuaScript(join(dir, 'reschedule-timer.lua'));

/** What a script call leaves for the caller: the event's next timer and whether its outbox holds anything. */
export interface Effects {
  /** When the event next needs a tick (ms), -1 for never. */
  nextDue: number;
  /** The event's outbox as the script left it (field, item, …), to be drained before the entry is acknowledged. */
  outbox: string[];
  /** A small version's summary lists' material, when its summary waits in the outbox: the drain adds it without reading (summary-builder.ts). */
  handed?: HandedLists;
}

type RawHanded = [string, string[], string[], string[], string[]] | [] | undefined;

/** The `handed` answer element of the event scripts (includes/event.lua, finish) as the drain takes it. */
const handedOf = (raw: RawHanded): { handed?: HandedLists } =>
  raw && raw.length === 5 ? { handed: { key: raw[0], invited: raw[1], replies: raw[2], never: raw[3], wait: raw[4] } } : {};

/**
 * stage: the revision needs every guest of a large resolution: stage them (`stage`) and apply again.
 * busy: a summary is being built in steps from the version's keys; nothing was applied. Drain the
 * outbox (which finishes that summary), then apply again.
 */
export type RevisionResult = ({ kind: 'ok' | 'replay' | 'busy'; definition: Record<string, string> } & Effects) | { kind: 'dead'; reason: string } | { kind: 'stage' };

export type TickResult = ({ kind: 'ok' } & Effects) | { kind: 'need_guests'; targeting: string } | { kind: 'gone' };

export type ReplyResult =
  | 'counted'
  | 'changed'
  | 'duplicate'
  | 'outdated'
  | 'stale'
  | 'late'
  | 'rejected'
  | 'never_asked'
  | 'ignored'
  | 'not_invited'
  | 'unknown_sequence'
  | 'unknown';

/** One reply or expiry receipt as the record-replies script takes it. */
export interface ReplyToRecord {
  kind: 'reply' | 'receipt';
  guestId: string;
  sequence: number;
  /** The reply's id (a receipt's): what makes a stale, late or rejected reply count once. */
  id: string;
  /** Arrival order: the entry id as a number (ms * 1000 + sequence within the ms). */
  arrival: number;
  /** Why the answers do not fit the event's questions, '' when they do. */
  rejection: string;
  /** The reply as JSON: the original's fields plus reply_rev, plus_ones, answers, sequence, arrival. */
  json: string;
  /** What the script needs of the reply as plain values (it decodes no JSON of a new reply); a receipt's are '' and 0. */
  response: string;
  replyRev: number;
  plusOnes: number;
  /** The reply's members of its `replies` activity entry, encoded (JSON object members without braces); '' for a receipt. */
  change: string;
}

/** A reply as the record-replies script takes it; `rejection` says why its answers do not fit ('' when they do). */
export function replyToRecord(reply: Reply, arrival: number, rejection: string): ReplyToRecord {
  const record: Record<string, unknown> = { ...replyRecord(reply), sequence: reply.sequence, reply_rev: reply.replyRev, plus_ones: reply.plusOnes, arrival };
  const answers = Object.keys(reply.answers).length > 0 ? reply.answers : undefined;
  if (answers) record.answers = answers;
  // guest_change's fields of includes/event.lua (an absent `answers` is left out, as there).
  const change = JSON.stringify({ guest_name: reply.guestName, reply_rev: reply.replyRev, plus_ones: reply.plusOnes, answers, message: reply.message });
  return {
    kind: 'reply',
    guestId: reply.guestId,
    sequence: reply.sequence,
    id: reply.id,
    arrival,
    rejection,
    json: JSON.stringify(record),
    response: reply.response,
    replyRev: reply.replyRev,
    plusOnes: reply.plusOnes,
    change: change.slice(1, -1),
  };
}

/** An expiry receipt (or an expired delivery's guest) as the record-replies script takes it. */
export function receiptToRecord(r: { guestId: string; sequence: number; id: string }, arrival: number): ReplyToRecord {
  return { kind: 'receipt', guestId: r.guestId, sequence: r.sequence, id: r.id, arrival, rejection: '', json: '{}', response: '', replyRev: 0, plusOnes: 0, change: '' };
}

/** A resolved targeting rule: the guests to ask and the explicit ids nobody live answers to. */
export interface Resolution {
  guests: LiveGuest[];
  unknown: string[];
}

/**
 * Replies per script call: keeps each call short (issue 17, item 4: 1,000 replies of a
 * 1,000-guest event held Redis ~9 ms in one call, 250 ~3 ms; ~15 % more script time in all,
 * measured on one redis-server) and within Lua's unpack limit.
 */
export const REPLIES_PER_CALL = 250;

/** Arrival order of a stream entry id ("<ms>-<seq>") as one number that keeps the order. */
export function arrivalScore(entryId: string): number {
  const dash = entryId.indexOf('-');
  return Number(entryId.slice(0, dash)) * 1_000 + Math.min(Number(entryId.slice(dash + 1)), 999);
}

const guestArgs = (guests: LiveGuest[]): string[] => guests.flatMap((g) => [g.id, g.agentId, g.name]);


/**
 * A large version's guests written in bounded steps before the script that opens it: a hash like
 * `invited` (renamed into place by the script, O(1)) and its request chunks (the fan-out's source).
 * Per call (a random name): a stage cut short by a crash is never used and expires.
 */
export interface Staged {
  guests: string;
  chunks: string;
  /** Guests and chunks written: the script opens only a complete stage. */
  n: number;
  c: number;
}

/**
 * An event's state in Redis, changed only through the Lua scripts of the event model over keys
 * that share the event's hash tag. The coordinator keeps nothing about events in memory, so any
 * replica can handle any entry or timer, and every change is idempotent by its business key.
 */
export class EventStore {
  private readonly redis: RedisClient;
  private readonly retentionMs: number;
  private readonly summaryCap: number;
  private readonly rsvpDeadlineMs: number;
  private readonly summaryStepAbove: number;
  private readonly fanOutStepAbove: number;
  private readonly crash: CrashPoint | undefined;

  constructor(
    redis: RedisClient,
    opts: { retentionMs: number; summaryCap: number; rsvpDeadlineMs: number; summaryStepAbove?: number; fanOutStepAbove?: number; crash?: CrashPoint },
  ) {
    this.redis = redis;
    this.retentionMs = opts.retentionMs;
    this.summaryCap = opts.summaryCap;
    this.rsvpDeadlineMs = opts.rsvpDeadlineMs;
    this.summaryStepAbove = opts.summaryStepAbove ?? 0;
    this.fanOutStepAbove = opts.fanOutStepAbove ?? 0;
    this.crash = opts.crash;
  }

  /**
   * Stages the guests of a resolution above FANOUT_STEP_GUESTS, that many per call (undefined when
   * it is small enough to go in the script's arguments). Guests named twice count once (the last).
   */
  async stage(eventId: string, guests: LiveGuest[]): Promise<Staged | undefined> {
    const step = this.fanOutStepAbove;
    if (step <= 0 || guests.length <= step) return undefined;
    const unique = [...new Map(guests.map((g) => [g.id, g])).values()];
    const keys = eventKeys(eventId);
    const nonce = randomUUID();
    const staged: Staged = { guests: keys.stage(nonce), chunks: keys.stage(`${nonce}:d`), n: unique.length, c: 0 };
    const calls = itemSteps(unique, step, (g) => [g.id, `${g.agentId}\t${g.name}`]);
    await writeInSteps(this.redis, staged.guests, calls, STAGE_TTL_MS, this.crash);
    // Ordered as the one-call path delivers them (guests in resolution order within each agent).
    const chunks = chunkByAgent(unique.map((g) => ({ id: g.id, agent: g.agentId })));
    staged.c = chunks.length;
    await writeChunks(this.redis, staged.chunks, chunks, step, STAGE_TTL_MS, this.crash);
    return staged;
  }

  /** Drops a stage the script did not open (its guests still there); an opened one's chunks are the fan-out's. */
  async unstage(staged: Staged | undefined): Promise<void> {
    if (staged && (await this.redis.unlink(staged.guests)) === 1) await this.redis.unlink(staged.chunks);
  }

  /** Applies one revision (an invitation entry) with the guests its targeting resolves to now. */
  async applyRevision(
    inv: Invitation,
    meta: { publishedAt: number; openingProblem: string; resolution: Resolution; trace: Record<string, string>; staged?: Staged },
    now = Date.now(),
  ): Promise<RevisionResult> {
    const def = definitionFields(inv);
    const start = inv.legacy ? undefined : eventTimes(inv, 'UTC')?.start;
    const header = {
      id: inv.id,
      revision: inv.revision,
      sequence: inv.sequence,
      method: inv.method,
      host_id: inv.hostId,
      fingerprint: invitationFingerprint(inv),
      opening_problem: meta.openingProblem,
      rsvp_deadline: inv.rsvpDeadline ?? 0,
      publish_at: inv.publishAt ?? 0,
      expires_at: inv.expiresAt ?? 0,
      start: start ?? 0,
      reminders: JSON.stringify(inv.reminders),
      start_reminders: JSON.stringify(inv.startReminders),
      remind_tentative: inv.remindTentative ? 'true' : '',
      capacity: inv.capacity,
      plus_ones_max: inv.plusOnesMax,
      priority: inv.priority,
      questions: JSON.stringify(inv.questions),
      targeting: JSON.stringify(inv.targeting),
      unknown_guests: JSON.stringify(meta.resolution.unknown),
      event_name: inv.eventName,
      published_at: meta.publishedAt,
      traceparent: meta.trace.traceparent ?? '',
      tracestate: meta.trace.tracestate ?? '',
      summary_step_above: this.summaryStepAbove,
      fanout_step_above: this.fanOutStepAbove,
      guests_total: meta.resolution.guests.length,
      staged: stagedSpec(meta.staged),
    };
    const defJson = JSON.stringify(def);
    // A large resolution's guests go staged (the script answers `stage` when the revision needs
    // them: it sees from guests_total that the arguments name fewer); the arguments name none of
    // them, before or after: a large version's activity lists no guests, its fan-out's steps do (outbox.ts).
    const large = meta.staged !== undefined || (this.fanOutStepAbove > 0 && meta.resolution.guests.length > this.fanOutStepAbove);
    const guests = large ? [] : meta.resolution.guests;
    const args = [now, this.rsvpDeadlineMs, this.retentionMs, this.summaryCap, JSON.stringify(header), defJson, ...guestArgs(guests)];
    const keys = [...eventKeyList(inv.id), ...stageKeys(inv.id, meta.staged), eventKeys(inv.id).fanout(`r${inv.revision}`)];
    const reply = await runScript<[string, string | number, string[]?, RawHanded?]>(this.redis, applyRevisionScript, keys, args);
    if (reply[0] === 'dead') return { kind: 'dead', reason: String(reply[1]) };
    if (reply[0] === 'stage') return { kind: 'stage' };
    const kind = reply[0] === 'replay' || reply[0] === 'busy' ? reply[0] : 'ok';
    // The definition as stored (def:<revision>): the outbox drainer needs it and need not read it back.
    return { kind, nextDue: Number(reply[1]), outbox: reply[2] ?? [], ...handedOf(reply[3]), definition: JSON.parse(defJson) as Record<string, string> };
  }

  /**
   * Records replies grouped by event, one script call per (event, up to REPLIES_PER_CALL replies),
   * all in one pipeline. Returns per call the results in input order and the effects.
   */
  async recordReplies(calls: { eventId: string; replies: ReplyToRecord[] }[], now = Date.now()): Promise<({ results: ReplyResult[] } & Effects & { error?: Error })[]> {
    const raw = await execPipeline(
      this.redis,
      calls,
      (pipeline: ChainableCommander, call) => {
        const args: (string | number)[] = [now, this.retentionMs, this.summaryCap];
        for (const r of call.replies) args.push(r.kind, r.guestId, r.sequence, r.id, r.arrival, r.rejection, r.response, r.replyRev, r.plusOnes, r.change, r.json);
        const keys = eventKeyList(call.eventId);
        pipeline.evalsha(recordRepliesScript.sha, keys.length, ...keys, ...args);
      },
      [recordRepliesScript],
    );
    return raw.map(([error, value]: PipelineResult) => {
      if (error) return { results: [], nextDue: -1, outbox: [], error };
      const [results, nextDue, outbox, handed] = value as [ReplyResult[], string, string[], RawHanded];
      // A version this call closed (or whose summary still waits): its lists' material, so the drain adds the summary without reading it.
      return { results, nextDue: Number(nextDue), outbox: outbox ?? [], ...handedOf(handed) };
    });
  }

  /** Does what is due for the event now; `resolution` publishes a scheduled version. */
  async tick(eventId: string, now: number, resolution?: Resolution): Promise<TickResult> {
    const staged = resolution ? await this.stage(eventId, resolution.guests) : undefined;
    const guests = resolution?.guests ?? [];
    const args = [now, this.rsvpDeadlineMs, this.retentionMs, this.summaryCap, resolution ? '1' : '0', JSON.stringify(resolution?.unknown ?? []), stagedSpec(staged), ...guestArgs(staged ? [] : guests)];
    let reply: [string, string?, string[]?, RawHanded?];
    try {
      reply = await runScript<[string, string?, string[]?, RawHanded?]>(this.redis, tickEventScript, [...eventKeyList(eventId), ...stageKeys(eventId, staged)], args);
    } finally {
      await this.unstage(staged);
    }
    if (reply[0] === 'gone') return { kind: 'gone' };
    if (reply[0] === 'need_guests') return { kind: 'need_guests', targeting: String(reply[1] ?? '') };
    return { kind: 'ok', nextDue: Number(reply[1]), outbox: reply[2] ?? [], ...handedOf(reply[3]) };
  }

  /**
   * Puts the event's next tick in the timer index, never later than a moment already there (ZADD
   * LT): writers racing with older knowledge can only make a tick early, and an early tick finds
   * nothing due and sets the right moment (`reschedule`).
   */
  async scheduleTimer(eventId: string, due: number): Promise<void> {
    if (due >= 0) await this.redis.zadd(timersKey, 'LT', due, eventId);
  }

  /** After a tick: moves the timer to `next` (or removes it) unless it changed since it was read. */
  async reschedule(eventId: string, read: number, next: number): Promise<void> {
    await runScript(this.redis, rescheduleScript, [timersKey], [eventId, read, next]);
  }

  static scripts(): LuaScript[] {
    // commit-fanout.lua is FanOutLister's.
    return [applyRevisionScript, recordRepliesScript, tickEventScript, rescheduleScript];
  }
}

const stagedSpec = (staged: Staged | undefined): string => (staged ? JSON.stringify({ n: staged.n, c: staged.c }) : '');

/** KEYS[12..13] of a script that may open a version: the stage, or names in the event's slot nobody uses. */
const stageKeys = (eventId: string, staged: Staged | undefined): string[] => {
  const keys = eventKeys(eventId);
  return staged ? [staged.guests, staged.chunks] : [keys.stage('none'), keys.stage('none:d')];
};
