import type { GuestRow } from './read-model.ts';
import { restatedText } from './restated-rows.ts';

/** A guest row as stored: the row, the entry that set it (`src`) and, from a summary, `final`. */
export type StoredRow = GuestRow & { src?: string };

/**
 * One row a step changes: apply-changes.lua writes `text` if the stored text still is `expected`
 * ('' for a guest without a row; a stored row is a JSON object, never empty).
 */
export interface RowWrite {
  guestId: string;
  expected: string;
  text: string;
}

/** What a step changes: the rows to write and its guest feed messages, each `["guest", row JSON]`. */
export interface MergedStep {
  writes: RowWrite[];
  messages: string[];
}

/** Stream ids ("ms-n") compared as numbers: as text 9-0 would come after 10-0. A row without src is older than any entry. */
export function newerId(a: string, b: string | undefined): boolean {
  if (b === undefined) return true;
  const [am = 0, an = 0] = a.split('-').map(Number);
  const [bm = 0, bn = 0] = b.split('-').map(Number);
  return am > bm || (am === bm && an > bn);
}

/**
 * A guest's change is later than the stored one by (sequence, reply_rev), then by entry: a replayed
 * reply (re-emitted as a new entry) carries its old reply_rev and changes nothing, while changes
 * without a new reply (a promotion, a removal) follow the order of the entries. `src` is the entry
 * of `row`; a row already applied by the same entry is not later than itself (same rank, same src).
 */
export function later(row: GuestRow, old: StoredRow, src: string): boolean {
  const seq = row.sequence ?? 0;
  const oldSeq = old.sequence ?? 0;
  // A reply kept and not counted (stale, late) moves no guest into a later version: after a
  // cancellation the coordinator reports it at the cancellation's sequence, which asked nobody,
  // and the guest's answer to the version it closed must stay on the board (and in the CANCEL).
  if (seq > oldSeq && (row.outcome === 'stale' || row.outcome === 'late')) return false;
  if (seq !== oldSeq) return seq > oldSeq;
  // The version's summary (`final`) is its last word: no report of the same version overrides it.
  if ((row.final === true) !== (old.final === true)) return row.final === true;
  // A promotion or a removal is no reply (no reply_rev) but changes the guest's place: it follows
  // the order of entries. Other changes without a reply (invited, reminded, stale, late) never
  // override a reply: their entries may be added after the reply's (an outbox drained late).
  if (row.reply_rev === undefined && (row.outcome === 'promoted' || row.outcome === 'removed')) return newerId(src, old.src);
  const rev = row.reply_rev ?? -1;
  const oldRev = old.reply_rev ?? -1;
  if (rev !== oldRev) return rev > oldRev;
  return newerId(src, old.src);
}

/** The change as it is applied over `old` (a later one): what the change leaves out and the guest said stays. */
function over(row: GuestRow, old: StoredRow): GuestRow {
  const merged: GuestRow = { ...row };
  if (merged.guest_name === undefined && old.guest_name !== undefined) merged.guest_name = old.guest_name;
  // A promotion keeps what the guest's reply said (its rev, party, answers).
  if (merged.outcome === 'promoted' && merged.reply_rev === undefined && merged.sequence === old.sequence) {
    if (old.reply_rev !== undefined) merged.reply_rev = old.reply_rev;
    if (old.answers !== undefined) merged.answers = old.answers;
    else delete merged.answers;
    if (merged.plus_ones === undefined && old.plus_ones !== undefined) merged.plus_ones = old.plus_ones;
  }
  // What the guest last said stays with its row until it says something new: a summary's
  // attendees and a new version's invitation carry no message, and are no reason to drop it.
  if (merged.message === undefined && old.message !== undefined) {
    merged.message = old.message;
    merged.message_sequence = old.message_sequence ?? old.sequence;
  }
  return merged;
}

/**
 * Merges a step's rows, as an entry lists them, with the stored texts read just before (same
 * order; null for a guest without a row): the rows apply-changes.lua writes if the texts are still
 * those read, and the feed messages of the applied changes. A guest listed twice by one entry sees
 * its first change (the second is not later: same rank, same src). With `restate` (a summary), a
 * row the model already shows as the summary says it (restated-rows.ts) is only marked final, with
 * no feed message: whoever saw the replies has it.
 *
 * Written as the stored and fed texts always were: the feed's text is the row without src and
 * final, the stored text that text with them appended (the row is encoded once).
 */
export function mergeRows(src: string, rows: GuestRow[], stored: (string | null)[], restate = false): MergedStep {
  const { writes, messages } = mergeRowsOfEntries(rows.map(() => src), rows, stored, restate);
  return { writes, messages };
}

/**
 * mergeRows for rows of several entries (a batch of event_activity entries, read-model.ts), each
 * row with its own entry's id in `srcs`, in entry order: each is merged over what the rows before
 * it left, so a later entry's change of a guest is weighed against the earlier entry's, as
 * separate calls would, and each row written keeps the entry that set it. `fedRows[i]` is the
 * index of the row of `messages[i]` (the caller puts each message with its entry's part).
 */
export function mergeRowsOfEntries(srcs: readonly string[], rows: GuestRow[], stored: (string | null)[], restate = false): MergedStep & { fedRows: number[] } {
  const read = new Map<string, string>();
  const current = new Map<string, StoredRow | null>();
  const written = new Map<string, string>();
  const messages: string[] = [];
  const fedRows: number[] = [];
  let listed: Map<string, number> | undefined;
  if (restate) {
    listed = new Map();
    for (const row of rows) listed.set(row.guest_id, (listed.get(row.guest_id) ?? 0) + 1);
  }
  rows.forEach((row, i) => {
    const id = row.guest_id;
    const src = srcs[i]!;
    if (!read.has(id)) read.set(id, stored[i] ?? '');
    let old = current.get(id);
    if (old === undefined) {
      const text = stored[i];
      old = text ? (JSON.parse(text) as StoredRow) : null;
      current.set(id, old);
      if (old && listed?.get(id) === 1) {
        const marked = restatedText(row, old, text!, src);
        if (marked !== undefined) {
          written.set(id, marked);
          return;
        }
      }
    }
    if (old && !later(row, old, src)) return;
    const merged = old ? over(row, old) : { ...row };
    if (merged.message !== undefined && merged.message_sequence === undefined) merged.message_sequence = merged.sequence;
    const { final, ...fed } = merged;
    const text = JSON.stringify(fed);
    messages.push(JSON.stringify(['guest', text]));
    fedRows.push(i);
    written.set(id, `${text.slice(0, -1)},"src":${JSON.stringify(src)}${final !== undefined ? `,"final":${JSON.stringify(final)}` : ''}}`);
    current.set(id, { ...merged, src });
  });
  return { writes: [...written].map(([guestId, text]) => ({ guestId, expected: read.get(guestId)!, text })), messages, fedRows };
}
