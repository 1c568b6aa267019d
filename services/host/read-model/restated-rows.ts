import type { GuestRow } from './read-model.ts';

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
 * The stored text of a summary's row the read model already shows (`restates`): the stored text
 * as read, marked final by the summary's entry (its `src` replaced, `final` added), or undefined
 * when the summary's row is to be applied in full. The stored text must end with its src, as
 * merge-rows.ts writes it. A string edit: no JSON work, and no feed message (merge-rows.ts).
 */
export function restatedText(row: GuestRow, old: GuestRow & { src?: unknown }, text: string, src: string): string | undefined {
  if (typeof old.src !== 'string' || !restates(row, old)) return undefined;
  const tail = `,"src":${JSON.stringify(old.src)}}`;
  if (!text.endsWith(tail)) return undefined;
  return `${text.slice(0, -tail.length)},"src":${JSON.stringify(src)},"final":true}`;
}
