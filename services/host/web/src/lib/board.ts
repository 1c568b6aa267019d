// The live board of one event: the GET /api/events/{id} view, kept current by the event's SSE
// stream (guest upserts, counts, status, summaries). Pure, so the tests run it without a browser.
import type { Counts, EventStatus, EventView, GuestRow, Summary } from './types.ts';

export type BoardEvent =
  | { kind: 'guest'; row: GuestRow }
  | { kind: 'counts'; counts: Counts }
  | { kind: 'status'; status: EventStatus; revision: number; sequence: number }
  | { kind: 'summary'; summary: Summary };

/**
 * Applies one stream event. The stream is at least once and a reconnect may replay: a row never
 * goes back to an older version or an older reply of the same version, and a summary is kept once.
 */
export function applyBoardEvent(view: EventView, e: BoardEvent): EventView {
  switch (e.kind) {
    case 'guest': {
      const i = view.guests.findIndex((g) => g.guest_id === e.row.guest_id);
      if (i < 0) return { ...view, guests: [...view.guests, e.row] };
      const old = view.guests[i]!;
      if (e.row.sequence < old.sequence) return view;
      if (e.row.sequence === old.sequence && old.reply_rev !== undefined && e.row.reply_rev !== undefined && e.row.reply_rev < old.reply_rev) return view;
      const guests = view.guests.slice();
      // A row sent before the guest's first reply may not carry its name yet; one restating the same
      // answer (the version closing) may leave out its message and answers: keep what is known.
      const same = e.row.sequence === old.sequence && e.row.state === old.state && (e.row.reply_rev ?? old.reply_rev) === old.reply_rev;
      guests[i] = same ? { ...old, ...e.row } : e.row.guest_name === undefined && old.guest_name !== undefined ? { ...e.row, guest_name: old.guest_name } : e.row;
      return { ...view, guests };
    }
    case 'counts':
      return { ...view, counts: e.counts };
    case 'status':
      // A report about an earlier version (closed as `updated`) says nothing about the current one;
      // a cancellation is final.
      if (e.sequence < view.sequence || view.status === 'cancelled') return view;
      return { ...view, status: e.status, revision: Math.max(view.revision, e.revision), sequence: e.sequence };
    case 'summary': {
      const key = summaryKey(e.summary);
      if (view.summaries.some((s) => summaryKey(s) === key)) return view;
      return { ...view, summaries: [...view.summaries, e.summary] };
    }
  }
}

function summaryKey(s: Summary): string {
  return String(s.id ?? `seq:${String(s.sequence)}`);
}

/** What a row shows: its participation state, or `stale` when its reply answered an older version. */
export type RowState = GuestRow['state'] | 'stale';

export function rowState(row: GuestRow): RowState {
  return row.stale ? 'stale' : row.state;
}

export const stateLabels: Record<RowState, string> = {
  needs_action: 'needs action',
  accepted: 'accepted',
  declined: 'declined',
  tentative: 'tentative',
  waitlisted: 'waitlisted',
  removed: 'removed',
  never_asked: 'never asked',
  stale: 'stale',
};

/** Rows in a steady order (by name, then id), so a changing row does not jump around. */
export function sortedRows(rows: readonly GuestRow[]): GuestRow[] {
  return rows.slice().sort((a, b) => (a.guest_name ?? a.guest_id).localeCompare(b.guest_name ?? b.guest_id) || a.guest_id.localeCompare(b.guest_id));
}

/** A summary's aggregate answers as "dietary: vegetarian 2, none 3". */
export function answerLines(summary: Summary): string[] {
  let answers = summary.answers;
  if (typeof answers === 'string') {
    try {
      answers = JSON.parse(answers) as unknown;
    } catch {
      return [];
    }
  }
  if (!answers || typeof answers !== 'object') return [];
  return Object.entries(answers as Record<string, Record<string, number> | null>).map(
    ([question, tally]) =>
      `${question}: ${Object.entries(tally ?? {})
        .sort((a, b) => b[1] - a[1])
        .map(([option, n]) => `${option} ${n}`)
        .join(', ')}`,
  );
}
