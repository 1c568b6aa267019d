import type { GuestRow } from './read-model.ts';

/**
 * A summary's row the read model already shows: apply-changes.lua marks the stored text final in
 * place (its first `cut` characters, then the summary's src and `final`) if it still is `text`.
 */
export interface RestatedRow {
  guestId: string;
  text: string;
  cut: number;
}

/** What a stored row shows that the summary's row would drop when it does not say it. */
const dropped = ['plus_ones', 'waitlist_position', 'answers', 'stale', 'reason'] as const;

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * True when the stored row (not yet final, of the same version) already shows everything the
 * summary's row says about the guest: state, party, place, answers, name and message. Applying the
 * summary's row would then tell nobody anything new: whoever saw the replies has it. The stored
 * row's reply_rev, outcome and updated_at stay (as the SSE clients have them); a row that differs
 * in anything the summary says, or that shows a stale or rejected note, is applied in full.
 */
export function restates(row: GuestRow, stored: GuestRow & { src?: unknown }): boolean {
  if (stored.final !== undefined) return false;
  for (const [k, v] of Object.entries(row) as [keyof GuestRow, unknown][]) {
    if (k === 'final' || k === 'updated_at' || v === undefined) continue;
    if (k === 'message') {
      if (stored.message !== v || (stored.message_sequence ?? stored.sequence) !== row.sequence) return false;
    } else if (!sameJson(v, stored[k])) return false;
  }
  return dropped.every((k) => row[k] !== undefined || stored[k] === undefined);
}

/**
 * Splits a summary step's rows into those to apply in full and those the read model already shows
 * (by the stored texts, read just before, in the same order; null for a guest without a row). The
 * stored text must end with its src, as apply-changes.lua writes it; a guest listed twice is
 * applied in full.
 */
export function restatedRows(rows: GuestRow[], stored: (string | null)[]): { rows: GuestRow[]; restated: RestatedRow[] } {
  const listed = new Map<string, number>();
  for (const row of rows) listed.set(row.guest_id, (listed.get(row.guest_id) ?? 0) + 1);
  const full: GuestRow[] = [];
  const restated: RestatedRow[] = [];
  rows.forEach((row, i) => {
    const text = stored[i];
    if (text && listed.get(row.guest_id) === 1) {
      const old = JSON.parse(text) as GuestRow & { src?: unknown };
      const tail = `,"src":${JSON.stringify(old.src)}}`;
      if (typeof old.src === 'string' && text.endsWith(tail) && restates(row, old)) {
        // The script cuts bytes (a name or message may be any UTF-8); the tail is ASCII.
        restated.push({ guestId: row.guest_id, text, cut: Buffer.byteLength(text) - tail.length });
        return;
      }
    }
    full.push(row);
  });
  return { rows: full, restated };
}
