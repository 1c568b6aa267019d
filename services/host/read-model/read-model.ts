import { join } from 'node:path';
import type { RedisClient } from '../../shared/streams/redis-client.ts';
import type { Activity, EventActivity, GuestChange, VersionCounts } from '../../shared/schema/activity.ts';
import type { Summary } from '../../shared/schema/summary.ts';
import { hostKeys } from '../../shared/streams/keys.ts';
import { execPipeline, loadLuaScript, queueScript } from '../../shared/streams/scripts.ts';
import { type RowWrite, mergeRowsOfEntries } from './merge-rows.ts';

export const applyScript = loadLuaScript(join(import.meta.dirname, 'lua', 'apply-changes.lua'));

export type GuestState = 'needs_action' | 'accepted' | 'declined' | 'tentative' | 'waitlisted' | 'removed' | 'never_asked';

/** One invited guest as the API shows it (docs/API.md, GuestRow). */
export interface GuestRow {
  guest_id: string;
  guest_name?: string;
  state: GuestState;
  sequence: number;
  plus_ones?: number;
  waitlist_position?: number;
  reply_rev?: number;
  answers?: Record<string, unknown>;
  message?: string;
  /** The sequence `message` answered: a row keeps the guest's last message when a later version asks again. */
  message_sequence?: number;
  outcome?: string;
  stale?: boolean;
  reason?: string;
  updated_at: number;
  /** From the version's summary: its last word on the guest (merge-rows.ts). */
  final?: boolean;
}

export type Counts = Omit<VersionCounts, 'never_asked'> & { never_asked?: number };

export const zeroCounts = (): Counts => ({
  invited: 0, accepted: 0, declined: 0, tentative: 0, needs_action: 0, confirmed: 0, headcount: 0, waitlisted: 0, stale: 0, late: 0, rejected: 0, reminders_sent: 0,
});

/** What one source entry changes for one event. */
export interface Changes {
  sequence: number;
  revision: number;
  guests?: GuestRow[];
  counts?: Counts;
  status?: string;
  deadline?: number;
}

export interface VersionState {
  counts: Map<number, Counts>;
  status: Map<number, string>;
  deadline: Map<number, number>;
  summaries: Map<number, Record<string, unknown>>;
}

function rowOfChange(g: GuestChange, sequence: number, at: number): GuestRow {
  const state: GuestState = g.outcome === 'removed' ? 'removed' : g.state === 'accepted' && g.waitlist !== undefined ? 'waitlisted' : g.state;
  return {
    guest_id: g.guest_id,
    ...(g.guest_name !== undefined ? { guest_name: g.guest_name } : {}),
    state,
    sequence,
    ...(g.plus_ones !== undefined ? { plus_ones: g.plus_ones } : {}),
    ...(g.waitlist !== undefined ? { waitlist_position: g.waitlist } : {}),
    ...(g.reply_rev !== undefined ? { reply_rev: g.reply_rev } : {}),
    ...(g.answers !== undefined ? { answers: g.answers } : {}),
    ...(g.message !== undefined ? { message: g.message } : {}),
    outcome: g.outcome,
    ...(g.outcome === 'stale' ? { stale: true } : {}),
    ...(g.reason !== undefined ? { reason: g.reason } : {}),
    updated_at: at,
  };
}

const responseState: Record<string, GuestState> = { yes: 'accepted', no: 'declined', maybe: 'tentative' };

/** The guests a summary lists: its attendees, or (a summary in the original's format) its replies and the silent. */
function rowsOfSummary(s: Summary, at: number): GuestRow[] {
  if (s.attendees.length > 0) {
    // The attendees carry no message; the counted replies do (unless truncated; merge-rows.ts keeps the one known).
    const messages = new Map(s.responses.map((r) => [r.guest_id, r.message]));
    return s.attendees.map((a) => ({
      guest_id: a.guest_id,
      ...(a.guest_name ? { guest_name: a.guest_name } : {}),
      state: a.state === 'accepted' && a.waitlist !== undefined ? 'waitlisted' : a.state,
      final: true,
      sequence: s.sequence,
      plus_ones: a.plus_ones,
      ...(a.waitlist !== undefined ? { waitlist_position: a.waitlist } : {}),
      ...(a.answers ? { answers: a.answers } : {}),
      ...(messages.has(a.guest_id) ? { message: messages.get(a.guest_id)! } : {}),
      updated_at: at,
    }));
  }
  return [
    ...s.responses.map((r) => ({ guest_id: r.guest_id, guest_name: r.guest_name, state: responseState[r.response] ?? 'needs_action', sequence: s.sequence, message: r.message, final: true, updated_at: at })),
    ...s.noResponseGuests.map((g) => ({ guest_id: g.guest_id, guest_name: g.guest_name, state: 'needs_action' as const, sequence: s.sequence, final: true, updated_at: at })),
    ...s.neverAsked.map((g) => ({ guest_id: g.guest_id, guest_name: g.guest_name, state: 'never_asked' as const, sequence: s.sequence, final: true, updated_at: at })),
  ];
}

function countsOfSummary(s: Summary): Counts {
  const confirmed = Math.max(s.confirmed, s.waitlisted === 0 ? s.yes : 0);
  return {
    invited: s.totalInvited,
    accepted: Math.max(s.accepted, s.yes),
    declined: Math.max(s.declined, s.no),
    tentative: Math.max(s.tentative, s.maybe),
    needs_action: Math.max(s.needsAction, s.noResponse),
    confirmed,
    // A summary in the original's format has no headcount: each confirmed guest is one person.
    headcount: Math.max(s.headcount, confirmed),
    waitlisted: s.waitlisted,
    stale: s.stale,
    late: s.late,
    rejected: s.rejected,
    reminders_sent: s.remindersSent,
    never_asked: s.neverAsked.length,
  };
}

const listFields = new Set(['responses', 'no_response', 'never_asked', 'unknown_guests', 'waitlist', 'attendees', 'answers']);
const textFields = new Set(['id', 'invitation_id', 'host_id', 'event_name', 'timestamp', 'reason', 'v', 'traceparent', 'tracestate']);

/**
 * A summary entry as the API shows it, as JSON text: its fields, lists as JSON, numbers as numbers.
 * Only for a summary `parseSummary` accepted: each non-empty list field is JSON already and is
 * copied as it is, not parsed and written again (a 1,000-guest summary's lists are ~400 KB).
 */
export function summaryJsonText(fields: Record<string, string>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (name === 'traceparent' || name === 'tracestate') continue;
    let json: string;
    if (listFields.has(name)) json = value.trim() === '' ? JSON.stringify(value) : value;
    else if (!textFields.has(name) && /^-?\d+(\.\d+)?$/.test(value)) json = JSON.stringify(Number(value));
    else json = JSON.stringify(value);
    parts.push(`${JSON.stringify(name)}:${json}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * Guests per script call: a call's work grows with its guests (a read, a check and a write of each
 * row, the feed message), so a 100,000-guest summary is 400 calls, not one call that holds Redis
 * for seconds (GUIDE: no single call blocks Redis for long). 250 kept a step near 3 ms when the
 * script merged the rows itself (~12-14 µs each); merged by the host (merge-rows.ts) they cost
 * Redis a fraction of that, and the host's read and merge of a step grow with it too.
 */
export const applyStepGuests = 250;

/**
 * Guests read per HSCAN call when GET reads an event: a 100,000-guest event is ~100 short reads,
 * not one HGETALL that holds Redis for tens of milliseconds (GUIDE: no single call blocks for long).
 */
export const readStepGuests = 1000;

/** What one entry changes for one event: a summary's rows may restate what the model shows. */
interface Item {
  eventId: string;
  /** The entry's id: the `src` of every row and version field it sets. */
  src: string;
  changes: Changes;
  summary: string;
  /** A summary: rows the read model already shows are only marked final (restated-rows.ts). */
  restate?: boolean;
}

/** One entry's part of a step: some of its rows (the version's fields and summary ride with its last part). */
interface Part {
  src: string;
  changes: Changes;
  summary: string;
}

/** One script call: the parts of one event's entries, in entry order, at most one step of guests in all. */
interface Step {
  eventId: string;
  parts: Part[];
  restate: boolean;
  guests: number;
}

/** A step's merge: the rows to write (each guest's last text) and each part's feed messages. */
interface MergedParts {
  writes: RowWrite[];
  messages: string[][];
  count: number;
}

/**
 * Tries of a step whose rows another replica changed between the host's read and its write
 * (apply-changes.lua answers -1): each reads and merges again. Two replicas meet on the same rows
 * only while both apply entries of the same event; after the last try the entries fail and are
 * retried by their consumer, never applied over rows their merge did not see.
 */
export const applyTries = 6;

/**
 * Splits each event's changes into steps of at most `size` guests, the entries of an event (a batch
 * of event_activity entries) packed into the same steps in entry order, each entry a part with its
 * own src. Why steps and no cursor: a guest row remembers the entry that set it and an entry never
 * re-applies its own change (merge-rows.ts), so a crash between steps leaves the entries pending,
 * their redelivery (in whatever batch) finds the done steps no-ops and does the rest; an entry's
 * counts, status and summary come with its last part, once every row of it is in.
 * (Reading closed versions from the stored summary instead of copying its rows was the other
 * design: it would need a second read path and merge for GET and the SSE feed; this keeps one.)
 */
export function splitIntoSteps(items: Item[], size: number): Step[] {
  const byEvent = new Map<string, Item[]>();
  for (const item of items) {
    const list = byEvent.get(item.eventId);
    if (list) list.push(item);
    else byEvent.set(item.eventId, [item]);
  }
  const steps: Step[] = [];
  for (const [eventId, list] of byEvent) {
    let step: Step = { eventId, parts: [], restate: list[0]?.restate ?? false, guests: 0 };
    for (const { src, changes, summary, restate = false } of list) {
      const { guests = [], counts, status, deadline, ...version } = changes;
      let start = 0;
      do {
        // A full step, or a summary's rows next to an entry's (restating is for a summary's rows only).
        if (step.parts.length > 0 && ((step.guests >= size && start < guests.length) || step.restate !== restate)) {
          steps.push(step);
          step = { eventId, parts: [], restate, guests: 0 };
        }
        const rows = guests.slice(start, start + size - step.guests);
        start += rows.length;
        const last = start >= guests.length;
        step.parts.push({
          src,
          changes: {
            ...version,
            ...(changes.guests ? { guests: rows } : {}),
            ...(last && counts ? { counts } : {}),
            ...(last && status ? { status } : {}),
            ...(last && deadline !== undefined ? { deadline } : {}),
          },
          summary: last ? summary : '',
        });
        step.guests += rows.length;
      } while (start < guests.length);
    }
    steps.push(step);
  }
  return steps;
}

/**
 * The host's read model of its events (docs/EVENTS.md, "event_activity"): built only from the
 * streams the host reads in its application's group, kept in Redis under host keys, so a restart
 * loses nothing and every replica answers the same.
 */
export class ReadModel {
  private readonly redis: RedisClient;
  private readonly feedMaxLen: number;
  private readonly retentionMs: number;
  private readonly stepGuests: number;
  private readonly afterStep: () => void;

  constructor(redis: RedisClient, opts: { feedMaxLen: number; retentionMs: number; stepGuests?: number; afterStep?: () => void }) {
    this.redis = redis;
    this.feedMaxLen = opts.feedMaxLen;
    this.retentionMs = opts.retentionMs;
    this.stepGuests = opts.stepGuests ?? applyStepGuests;
    this.afterStep = opts.afterStep ?? (() => {});
  }

  /** Applies an event_activity entry's changes to the events of `hostId`; returns the feed messages added. */
  async applyActivity(entryId: string, activity: Activity, hostId: string): Promise<number> {
    const { added, failed } = await this.applyActivities([{ id: entryId, activity }], hostId);
    const error = failed.get(entryId);
    if (error !== undefined) throw error;
    return added;
  }

  /**
   * Applies event_activity entries (a batch, in stream order) to the events of `hostId`: the parts
   * of all the entries about one event go in the same steps, as if applied one by one (same rows,
   * versions and feed messages, in the same order), in a call per step instead of one per entry
   * and event. Returns the feed messages added and the entries that failed (an entry fails when one
   * of its events did; the other events' steps are applied, and applying again is a no-op).
   */
  async applyActivities(entries: { id: string; activity: Activity }[], hostId: string): Promise<{ added: number; failed: Map<string, unknown> }> {
    const items: Item[] = [];
    const eventsOf = new Map<string, string[]>();
    for (const { id, activity } of entries) {
      const mine = activity.events.filter((e) => e.host_id === hostId || e.host_id === undefined || e.host_id === '');
      eventsOf.set(id, mine.map((e) => e.invitation_id));
      for (const e of mine as EventActivity[]) {
        items.push({
          eventId: e.invitation_id,
          src: id,
          changes: {
            sequence: e.sequence,
            revision: e.revision,
            ...(e.guests ? { guests: e.guests.map((g) => rowOfChange(g, e.sequence, activity.at)) } : {}),
            ...(e.counts ? { counts: e.counts } : {}),
            ...(e.status ? { status: e.status } : {}),
            ...(e.deadline !== undefined ? { deadline: e.deadline } : {}),
          },
          summary: '',
        });
      }
    }
    const { added, failed: failedEvents } = await this.apply(items);
    const failed = new Map<string, unknown>();
    for (const [id, events] of eventsOf) {
      const event = events.find((e) => failedEvents.has(e));
      if (event !== undefined) failed.set(id, failedEvents.get(event));
    }
    return { added, failed };
  }

  /** Applies a version's summary: its guests, counts and closing status, and the summary itself. */
  async applySummary(entryId: string, summary: Summary, fields: Record<string, string>, at = Date.now()): Promise<number> {
    const { added, failed } = await this.apply([
      {
        eventId: summary.invitationId,
        src: entryId,
        changes: {
          sequence: summary.sequence,
          revision: summary.revision,
          guests: rowsOfSummary(summary, at),
          counts: countsOfSummary(summary),
          status: summary.reason === 'cancelled' ? 'cancelled' : 'closed',
        },
        summary: summaryJsonText(fields),
        restate: true,
      },
    ]);
    for (const error of failed.values()) throw error;
    return added;
  }

  /**
   * Runs the steps in order, as many per round trip as fit in one step of guests (an entry about
   * many small events is still one pipeline); a big event's steps go one round trip each. A batch
   * holds at most one step of an event, so a step tried again after the others keeps each event's
   * order. An event whose step failed (a Redis error, or rows changed under every try) is left
   * there: its later steps are not run (an entry's version fields come only after all its rows),
   * and it is answered in `failed`; the other events go on.
   */
  private async apply(items: Item[]): Promise<{ added: number; failed: Map<string, unknown> }> {
    const failed = new Map<string, unknown>();
    let added = 0;
    let batch: Step[] = [];
    let guests = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const steps = batch;
      batch = [];
      guests = 0;
      const merged = await Promise.allSettled(steps.map((step) => this.merge(step)));
      const ready = steps.flatMap((step, i) => {
        const m = merged[i]!;
        if (m.status === 'rejected') failed.set(step.eventId, m.reason);
        return m.status === 'fulfilled' ? [[step, m.value] as const] : [];
      });
      let values: (number | Error)[];
      try {
        await this.storeSummaries(ready.map(([step]) => step));
        values = await this.run(ready);
      } catch (error) {
        values = ready.map(() => error as Error);
      }
      for (const [i, [step, first]] of ready.entries()) {
        try {
          let value = values[i]!;
          let done = first;
          if (value instanceof Error) throw value;
          // A row changed after the read (another replica applied another entry, or the same one):
          // read and merge again; a stale merge is never written.
          for (let attempt = 1; value < 0; attempt += 1) {
            if (attempt >= applyTries) throw new Error(`event ${step.eventId}: its rows changed under each of ${applyTries} tries to apply entries ${step.parts.map((p) => p.src).join(', ')}`);
            // Spread apart: two replicas that met once would otherwise read and meet again.
            if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
            done = await this.merge(step);
            const [again] = await this.run([[step, done]]);
            if (again instanceof Error) throw again;
            value = again!;
          }
          added += value + done.count;
        } catch (error) {
          failed.set(step.eventId, error);
        }
      }
      this.afterStep();
    };
    for (const step of splitIntoSteps(items, this.stepGuests)) {
      if (batch.length > 0 && (guests + step.guests > this.stepGuests || batch.some((s) => s.eventId === step.eventId))) await flush();
      if (failed.has(step.eventId)) continue;
      batch.push(step);
      guests += step.guests;
    }
    await flush();
    return { added, failed };
  }

  /**
   * Reads the stored rows of the step's guests (one HMGET; the steps of a round trip are sent
   * together, in a cluster each to its event's node) and merges the parts' changes with them in
   * entry order (merge-rows.ts): the rows to write, with the texts read, and each part's feed
   * messages. The host does the JSON work, not Redis' one thread: decoding, merging and encoding
   * each row in the script was ~13 µs of Redis time per guest.
   */
  private async merge(step: Step): Promise<MergedParts> {
    const rows: GuestRow[] = [];
    const srcs: string[] = [];
    const partOf: number[] = [];
    step.parts.forEach((part, p) => {
      for (const row of part.changes.guests ?? []) {
        rows.push(row);
        srcs.push(part.src);
        partOf.push(p);
      }
    });
    const stored = rows.length > 0 ? await this.redis.hmget(hostKeys.event(step.eventId).guests, ...rows.map((g) => g.guest_id)) : [];
    const { writes, messages, fedRows } = mergeRowsOfEntries(srcs, rows, stored, step.restate);
    const byPart = step.parts.map((): string[] => []);
    messages.forEach((message, i) => byPart[partOf[fedRows[i]!]!]!.push(message));
    return { writes, messages: byPart, count: messages.length };
  }

  /**
   * Stores the text of each summary the steps carry (`summary:<seq>` in the event's versions hash,
   * kept once: HSETNX), with plain commands, before the steps' scripts run. Why not in the script:
   * a 1,000-guest summary is ~400 KB, and a value that size costs Redis ~1.1-1.3 ms per
   * `redis.call` that writes it inside a script against ~0.3 ms as a plain command (the script's
   * copy of its argument and its effects' propagation); written there and again in the feed entry it
   * made the summary's step the longest call Redis ran (docs/BENCHMARKS.md, "Fourth round"). The
   * script then only marks the summary fed, once (apply-changes.lua), and the feed entry refers to
   * it by sequence (feed-hub.ts reads it when it sends). Stored first, so a feed entry never refers
   * to a text that is not there; a crash after this and before the script leaves the entry
   * pending, and its redelivery finds the text stored and feeds it.
   */
  private async storeSummaries(steps: readonly Step[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    let queued = 0;
    for (const { eventId, parts } of steps) {
      for (const { changes, summary } of parts) {
        if (summary === '') continue;
        const versions = hostKeys.event(eventId).versions;
        pipeline.hsetnx(versions, `summary:${changes.sequence}`, summary);
        // A bounded life even if the script never follows (it refreshes the expiry when it runs).
        pipeline.pexpire(versions, this.retentionMs, 'NX');
        queued += 1;
      }
    }
    if (queued === 0) return;
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }

  /**
   * One script call per step, in one round trip; each answers its feed messages besides the rows',
   * or -1 (apply-changes.lua), or the error Redis answered for it. A part's summary is passed as a
   * flag: its text is stored already (storeSummaries).
   */
  private async run(steps: readonly (readonly [Step, MergedParts])[]): Promise<(number | Error)[]> {
    if (steps.length === 0) return [];
    const results = await execPipeline(
      this.redis,
      steps,
      (pipeline, [{ eventId, parts }, { writes, messages }]) => {
        const k = hostKeys.event(eventId);
        const args: (string | number)[] = [this.feedMaxLen, this.retentionMs, parts.length];
        parts.forEach(({ src, changes, summary }, p) => {
          const { sequence, revision, counts, status, deadline } = changes;
          const countsText = counts ? JSON.stringify(counts) : '';
          args.push(
            src,
            sequence,
            summary === '' ? '' : '1',
            countsText,
            counts ? JSON.stringify(['counts', countsText]) : '',
            status ?? '',
            status ? JSON.stringify(['status', JSON.stringify({ status, revision, sequence })]) : '',
            deadline !== undefined && deadline !== null ? JSON.stringify(deadline) : '',
            messages[p]!.join(','),
          );
        });
        for (const w of writes) args.push(w.guestId, w.expected, w.text);
        queueScript(pipeline, applyScript, [k.guests, k.versions, k.feed], args);
      },
      [applyScript],
    );
    return results.map(([error, value]) => error ?? Number(value));
  }

  /**
   * Guests, versions and the last feed id of several events: one round trip for events of up to
   * `readStepGuests` guests, then one per further step of the big ones (HSCAN, never one HGETALL
   * of every row). The feed id is read first: a change applied while the rows are read is in the
   * feed after it, so a client that follows the feed from there misses nothing (a row read after
   * such a change is sent to it again, which changes nothing).
   */
  async readMany(ids: string[]): Promise<{ guests: GuestRow[]; versions: VersionState; feedId: string }[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) {
      const k = hostKeys.event(id);
      pipeline.xrevrange(k.feed, '+', '-', 'COUNT', 1);
      pipeline.hgetall(k.versions);
      pipeline.hscan(k.guests, '0', 'COUNT', readStepGuests);
    }
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
    // HSCAN may return a row twice (the hash resized between calls): keyed by guest id.
    const rows = ids.map(() => new Map<string, string>());
    const cursors = ids.map((_, i) => {
      const [cursor, flat] = results[3 * i + 2]![1] as [string, string[]];
      for (let j = 0; j + 1 < flat.length; j += 2) rows[i]!.set(flat[j]!, flat[j + 1]!);
      return cursor;
    });
    for (let open = cursors.flatMap((c, i) => (c === '0' ? [] : [i])); open.length > 0; open = open.filter((i) => cursors[i] !== '0')) {
      const next = this.redis.pipeline();
      for (const i of open) next.hscan(hostKeys.event(ids[i]!).guests, cursors[i]!, 'COUNT', readStepGuests);
      const pages = (await next.exec()) ?? [];
      open.forEach((i, n) => {
        const [error, page] = pages[n] ?? [new Error('no reply from Redis')];
        if (error) throw error;
        const [cursor, flat] = page as [string, string[]];
        for (let j = 0; j + 1 < flat.length; j += 2) rows[i]!.set(flat[j]!, flat[j + 1]!);
        cursors[i] = cursor;
      });
    }
    return ids.map((_, i) => {
      const last = results[3 * i]![1] as [string, string[]][];
      const versionsRaw = results[3 * i + 1]![1] as Record<string, string>;
      const guests = [...rows[i]!.values()].map((json) => {
        const { src: _src, final: _final, ...row } = JSON.parse(json) as GuestRow & { src?: string };
        return row;
      });
      const versions: VersionState = { counts: new Map(), status: new Map(), deadline: new Map(), summaries: new Map() };
      for (const [field, json] of Object.entries(versionsRaw)) {
        const [kind, seqText] = field.split(':');
        // `summary_fed:<seq>` marks a summary fed (apply-changes.lua); the text is `summary:<seq>`.
        if (kind === 'summary_fed') continue;
        const seq = Number(seqText);
        const parsed = JSON.parse(json) as { value?: unknown } & Record<string, unknown>;
        if (kind === 'counts') versions.counts.set(seq, { ...zeroCounts(), ...(parsed.value as Counts) });
        else if (kind === 'status') versions.status.set(seq, String(parsed.value));
        else if (kind === 'deadline') versions.deadline.set(seq, Number(parsed.value));
        else if (kind === 'summary') versions.summaries.set(seq, parsed);
      }
      return { guests, versions, feedId: last[0]?.[0] ?? '0-0' };
    });
  }
}
