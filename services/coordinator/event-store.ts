import { join } from 'node:path';
import type { ChainableCommander, Redis } from 'ioredis';
import { type Invitation, invitationFingerprint } from '../shared/schema/invitation.ts';
import type { ReplyValue } from '../shared/schema/response.ts';
import { eventKeys } from '../shared/streams/keys.ts';
import { type LuaScript, type PipelineResult, execPipeline, loadLuaScript, queueScript, runScript } from '../shared/streams/scripts.ts';
import type { LiveGuest } from '../shared/registry/guest-registry.ts';

const dir = join(import.meta.dirname, 'lua');
const createEventScript = loadLuaScript(join(dir, 'create-event.lua'));
const recordRepliesScript = loadLuaScript(join(dir, 'record-replies.lua'));
const closeEventScript = loadLuaScript(join(dir, 'close-event.lua'));

/** A summary decided by a script, as the flat field list stored in the event's outbox. */
export type SummaryFields = string[];

export type ReplyResult = 'counted' | 'duplicate' | 'late' | 'not_invited' | 'unknown';

export interface ReplyToRecord {
  guestId: string;
  response: ReplyValue;
  /** The reply as JSON with the original's field names; goes into the summary as is. */
  json: string;
}

export type CreateResult =
  | { kind: 'created'; invited: number; summary: SummaryFields | null }
  | { kind: 'exists'; status: string; deadline: number; hostId: string; fingerprint: string | null };

export type CloseResult =
  | { kind: 'closed' | 'unpublished'; summary: SummaryFields }
  | { kind: 'done' | 'unknown' }
  | { kind: 'not_due'; deadline: number };

/** Replies per script call: keeps each call short and within Lua's unpack limit. */
export const REPLIES_PER_CALL = 1_000;

const keyList = (eventId: string): string[] => {
  const k = eventKeys(eventId);
  return [k.event, k.invited, k.replies, k.late, k.summary];
};

/**
 * An event's state in Redis, changed only through Lua scripts over keys that share the event's
 * hash tag. The coordinator keeps nothing about events in memory, so any replica can handle any
 * entry, and every change is idempotent.
 */
export class EventStore {
  private readonly redis: Redis;
  private readonly retentionMs: number;
  private readonly summaryCap: number;

  constructor(redis: Redis, opts: { retentionMs: number; summaryCap: number }) {
    this.redis = redis;
    this.retentionMs = opts.retentionMs;
    this.summaryCap = opts.summaryCap;
  }

  async create(inv: Invitation, guests: LiveGuest[], deadline: number, publishedAt: number, trace: Record<string, string>): Promise<CreateResult> {
    const fields: string[] = [
      'id', inv.id,
      'event_name', inv.eventName,
      'event_date', inv.eventDate,
      'event_time', inv.eventTime,
      'location', inv.location,
      'description', inv.description,
      'host_name', inv.hostName,
      'host_id', inv.hostId,
      'timestamp', inv.timestamp,
      'sequence', String(inv.sequence),
      'published_at', String(publishedAt),
      'fingerprint', invitationFingerprint(inv),
    ];
    for (const [name, value] of Object.entries(trace)) fields.push(name, value);
    const args: (string | number)[] = [Date.now(), deadline, this.retentionMs, this.summaryCap, fields.length / 2, ...fields];
    for (const g of guests) args.push(g.id, `${g.agentId}\t${g.name}`);
    const reply = await runScript<[string, unknown, unknown, unknown?, unknown?]>(this.redis, createEventScript, keyList(inv.id), args);
    if (reply[0] === 'created') return { kind: 'created', invited: Number(reply[1]), summary: (reply[2] as SummaryFields | null) ?? null };
    return { kind: 'exists', status: String(reply[1]), deadline: Number(reply[2]), hostId: String(reply[3] ?? ''), fingerprint: typeof reply[4] === 'string' ? reply[4] : null };
  }

  /** The invited guests of an existing event (for re-delivering after a crash). */
  async invitedGuests(eventId: string): Promise<LiveGuest[]> {
    const hash = await this.redis.hgetall(eventKeys(eventId).invited);
    return Object.entries(hash)
      .map(([id, value]) => {
        const tab = value.indexOf('\t');
        return { id, agentId: value.slice(0, tab), name: value.slice(tab + 1), persona: '', tags: [] };
      })
      .sort((a, b) => (a.agentId === b.agentId ? cmp(a.id, b.id) : cmp(a.agentId, b.agentId)));
  }

  /**
   * Records replies grouped by event, one script call per (event, up to REPLIES_PER_CALL replies),
   * all in one pipeline. Returns per call: results in input order and a summary to publish.
   */
  async recordReplies(groups: { eventId: string; replies: ReplyToRecord[] }[]): Promise<{ results: ReplyResult[]; summary: SummaryFields | null; error?: Error }[]> {
    const calls = groups;
    const raw = await execPipeline(
      this.redis,
      calls,
      (pipeline: ChainableCommander, call) => {
        const args: (string | number)[] = [this.retentionMs, this.summaryCap];
        for (const r of call.replies) args.push(r.guestId, r.response, r.json);
        queueScript(pipeline, recordRepliesScript, keyList(call.eventId), args);
      },
      [recordRepliesScript],
    );
    return raw.map(([error, value]: PipelineResult, i) => {
      if (error) return { results: [], summary: null, error };
      const [results, summary] = value as [string[], SummaryFields | null];
      const n = calls[i]!.replies.length;
      const all: ReplyResult[] = results[0] === 'unknown' ? Array<ReplyResult>(n).fill('unknown') : (results as ReplyResult[]);
      return { results: all, summary: summary ?? null };
    });
  }

  async close(eventId: string, now = Date.now()): Promise<CloseResult> {
    const reply = await runScript<[string, unknown?]>(this.redis, closeEventScript, keyList(eventId), [now, this.retentionMs, this.summaryCap]);
    switch (reply[0]) {
      case 'closed':
      case 'unpublished':
        return { kind: reply[0], summary: reply[1] as SummaryFields };
      case 'not_due':
        return { kind: 'not_due', deadline: Number(reply[1]) };
      case 'done':
        return { kind: 'done' };
      default:
        return { kind: 'unknown' };
    }
  }

  static scripts(): LuaScript[] {
    return [createEventScript, recordRepliesScript, closeEventScript];
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
