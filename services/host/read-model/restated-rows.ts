import type { GuestRow } from './read-model.ts';

/**
 * A summary's row the read model already shows: apply-changes.lua marks the stored text final in
 * place (its first `cut` bytes, then the summary's src and `final`) if it still is `text`.
 */
export interface RestatedRow {
  guestId: string;
  text: string;
  cut: number;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  return ak.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * True when the stored row (not yet final, of the same version) already shows everything the
 * summary's row says about the guest: state, party, place, answers, name and message (the fields
 * `rowsOfSummary` gives; a field added there must be compared here). Applying the summary's row
 * would then tell nobody anything new: whoever saw the replies has it. The stored row's reply_rev,
 * outcome and updated_at stay (as the SSE clients have them); a row that differs in anything the
 * summary says, or that shows a stale or rejected note (which the summary's row would drop), is
 * applied in full. Field by field, not generic: this runs for every guest of every summary.
 */
export function restates(row: GuestRow, stored: GuestRow): boolean {
  return (
    stored.final === undefined &&
    row.guest_id === stored.guest_id &&
    row.state === stored.state &&
    row.sequence === stored.sequence &&
    (row.guest_name === undefined || row.guest_name === stored.guest_name) &&
    row.plus_ones === stored.plus_ones &&
    row.waitlist_position === stored.waitlist_position &&
    stored.stale === undefined &&
    stored.reason === undefined &&
    (row.message === undefined || (row.message === stored.message && (stored.message_sequence ?? stored.sequence) === row.sequence)) &&
    (row.answers === undefined ? stored.answers === undefined : sameJson(row.answers, stored.answers))
  );
}

/**
 * Splits a summary step's rows into those to apply in full and those the read model already shows
 * (by the stored texts, read just before, in the same order, as bytes: ioredis reads them faster so,
 * and their length is the script's; sent back as text, which ioredis writes faster; a text that was
 * not UTF-8 no longer matches and is read again, then applied in full; null for a guest without a row). The
 * stored text must end with its src, as apply-changes.lua writes it; a guest listed twice is
 * applied in full.
 */
export function restatedRows(rows: GuestRow[], stored: (Buffer | null)[]): { rows: GuestRow[]; restated: RestatedRow[] } {
  const listed = new Map<string, number>();
  for (const row of rows) listed.set(row.guest_id, (listed.get(row.guest_id) ?? 0) + 1);
  const full: GuestRow[] = [];
  const restated: RestatedRow[] = [];
  rows.forEach((row, i) => {
    const bytes = stored[i];
    if (bytes && listed.get(row.guest_id) === 1) {
      const text = bytes.toString();
      const old = JSON.parse(text) as GuestRow & { src?: unknown };
      if (typeof old.src === 'string' && restates(row, old)) {
        // The script cuts bytes; the tail is ASCII (an entry id).
        const tail = `,"src":"${old.src}"}`;
        if (text.endsWith(tail)) {
          restated.push({ guestId: row.guest_id, text, cut: bytes.length - tail.length });
          return;
        }
      }
    }
    full.push(row);
  });
  return { rows: full, restated };
}
