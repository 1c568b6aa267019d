// The live board of one event: a row per invited guest, changing state as the event's stream
// (GET /api/events/{id}/stream) reports replies; counts, headcount, deadline countdown, reminders,
// the summaries as they arrive; update and cancel.
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiProblem, apiCall } from '../api.ts';
import { useConnectivity } from '../connectivity.ts';
import { type BoardEvent, answerLines, applyBoardEvent, rowState, sortedRows } from '../lib/board.ts';
import type { Counts, EventStatus, EventView, GuestRow, Summary } from '../lib/types.ts';
import { countdown } from '../lib/zoned-time.ts';
import { useEventStream } from '../live.ts';
import { Link } from '../navigation.tsx';
import { useCanWrite } from '../session.ts';
import { ErrorNote, Loading, StateBadge, StatusBadge, formatTime } from '../ui.tsx';

export function Board({ id }: { id: string }) {
  const [view, setView] = useState<EventView | null>(null);
  const [error, setError] = useState<unknown>(null);
  // A new generation reopens the stream from the freshly fetched view's feed id.
  const [generation, setGeneration] = useState(0);
  const since = useRef('');
  const { recoveries } = useConnectivity();
  const path = `/api/events/${encodeURIComponent(id)}`;

  const load = useCallback(() => {
    apiCall<EventView>('GET', path).then(
      ({ body }) => {
        since.current = body.feed_id;
        setView(body);
        setError(null);
        setGeneration((g) => g + 1);
      },
      (e: unknown) => setError(e),
    );
  }, [path]);
  useEffect(load, [load, recoveries]);

  const revision = useRef(0);
  revision.current = view?.revision ?? 0;
  const apply = (e: BoardEvent) => setView((v) => (v ? applyBoardEvent(v, e) : v));
  const streamUrl = generation > 0 ? `${path}/stream${since.current ? `?since=${encodeURIComponent(since.current)}` : ''}` : null;
  useEventStream(streamUrl, {
    guest: (d) => apply({ kind: 'guest', row: d as GuestRow }),
    counts: (d) => apply({ kind: 'counts', counts: d as Counts }),
    status: (d) => {
      const s = d as { status: EventStatus; revision: number; sequence: number };
      // A revision this view has not seen (a change made elsewhere): its details come with the event.
      if (s.revision > revision.current) load();
      else apply({ kind: 'status', ...s });
    },
    summary: (d) => apply({ kind: 'summary', summary: d as Summary }),
    reset: () => load(),
  }, { generation });

  if (error instanceof ApiProblem && error.status === 404) {
    return (
      <section>
        <h1>No such event</h1>
        <p>
          There is no event <code>{id}</code>. <Link href="/">See the events</Link>.
        </p>
      </section>
    );
  }
  if (!view) return error ? <ErrorNote error={error} /> : <Loading what="the event" />;

  const d = view.definition;
  const name = String(d.event_name ?? view.id);
  return (
    <section aria-labelledby="board-title" className="board" data-testid="board">
      <div className="title-row">
        <h1 id="board-title">{name}</h1>
        <span aria-live="polite">
          <StatusBadge status={view.status} />
        </span>
      </div>
      <p className="event-facts">
        <span>
          {String(d.event_date ?? '')}
          {d.event_time ? ` ${String(d.event_time)}` : ' (all day)'}
          {d.timezone ? ` ${String(d.timezone)}` : ''}
        </span>
        {d.location ? <span>{String(d.location)}</span> : null}
        <span>
          version {view.sequence} · revision {view.revision}
        </span>
        {d.priority === 'high' ? <span className="badge status-high">high priority</span> : null}
      </p>
      <BoardActions view={view} onChanged={load} />
      <CountsPanel counts={view.counts} deadline={view.rsvp_deadline ?? (typeof d.rsvp_deadline === 'string' ? d.rsvp_deadline : undefined)} status={view.status} />
      <GuestTable rows={view.guests} />
      {view.waitlist.length > 0 && (
        <p>
          <strong>Waitlist:</strong> {view.waitlist.join(', ')}
        </p>
      )}
      <Summaries summaries={view.summaries} />
    </section>
  );
}

function BoardActions({ view, onChanged }: { view: EventView; onChanged: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const reasonRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (confirming) reasonRef.current?.focus();
  }, [confirming]);
  const cancelled = view.status === 'cancelled';

  const cancel = async () => {
    setBusy(true);
    try {
      await apiCall('POST', `/api/events/${encodeURIComponent(view.id)}/cancel`, reason.trim() ? { reason: reason.trim() } : {});
      setConfirming(false);
      setError(null);
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const canWrite = useCanWrite();
  return (
    <div className="board-actions">
      {!cancelled && canWrite && (
        <Link className="button" href={`/events/${encodeURIComponent(view.id)}/edit`}>
          Update event
        </Link>
      )}
      {!cancelled && !confirming && canWrite && (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Cancel event
        </button>
      )}
      <a className="button" href={`/api/events/${encodeURIComponent(view.id)}.ics`} download>
        Calendar file (.ics)
      </a>
      {confirming && (
        <div className="confirm" role="group" aria-label="Confirm the cancellation">
          <label htmlFor="cancel-reason">Reason (optional, sent to the guests)</label>
          <input id="cancel-reason" ref={reasonRef} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} />
          <button type="button" className="danger" disabled={busy} onClick={cancel}>
            Yes, cancel the event
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </div>
      )}
      <ErrorNote error={error} />
    </div>
  );
}

function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function CountsPanel({ counts, deadline, status }: { counts: Counts; deadline: string | undefined; status: EventStatus }) {
  const now = useNow(1000);
  const deadlineMs = deadline ? Date.parse(deadline) : NaN;
  const items: [string, number, string][] = [
    ['Invited', counts.invited, 'invited'],
    ['Accepted', counts.accepted, 'accepted'],
    ['Declined', counts.declined, 'declined'],
    ['Tentative', counts.tentative, 'tentative'],
    ['Needs action', counts.needs_action, 'needs_action'],
    ['Waitlisted', counts.waitlisted, 'waitlisted'],
    ['Headcount', counts.headcount, 'headcount'],
    ['Reminders sent', counts.reminders_sent, 'reminders_sent'],
  ];
  if (counts.stale) items.push(['Stale replies', counts.stale, 'stale']);
  if (counts.late) items.push(['Late replies', counts.late, 'late']);
  if (counts.rejected) items.push(['Rejected replies', counts.rejected, 'rejected']);
  const showDeadline = !Number.isNaN(deadlineMs) || status === 'open' || status === 'scheduled';
  return (
    <div className="counts-row">
      <dl className="counts" aria-live="polite" aria-label="Replies so far">
        {items.map(([label, n, key]) => (
          <div key={key} className={`count count-${key}`} data-count={key}>
            <dt>{label}</dt>
            <dd>{n}</dd>
          </div>
        ))}
      </dl>
      {showDeadline && (
        <p className="deadline">
          <span className="muted">RSVP deadline</span>{' '}
          {Number.isNaN(deadlineMs) ? (
            '–'
          ) : (
            <>
              <time dateTime={deadline}>{formatTime(deadline)}</time>{' '}
              {status === 'open' && (
                <span role="timer" aria-label="time left to reply">
                  ({countdown(deadlineMs, now)} left)
                </span>
              )}
            </>
          )}
        </p>
      )}
    </div>
  );
}

function GuestTable({ rows }: { rows: GuestRow[] }) {
  if (rows.length === 0) return <p className="muted">No guest invited yet (the coordinator delivers the invitations in a moment).</p>;
  return (
    <div className="table-scroll">
      <table className="guests-board">
        <caption>Guests ({rows.length})</caption>
        <thead>
          <tr>
            <th scope="col">Guest</th>
            <th scope="col">State</th>
            <th scope="col">Plus-ones</th>
            <th scope="col">Answers</th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>
          {sortedRows(rows).map((r) => {
            const state = rowState(r);
            return (
              <tr key={r.guest_id} data-guest={r.guest_id} data-state={state}>
                <th scope="row">
                  {r.guest_name ?? r.guest_id}
                  {r.guest_name ? <span className="muted small"> {r.guest_id}</span> : null}
                </th>
                <td>
                  <StateBadge state={state} />
                  {r.waitlist_position ? <span className="muted small"> #{r.waitlist_position}</span> : null}
                  {r.outcome && r.outcome !== 'counted' ? <span className="muted small"> {r.outcome.replaceAll('_', ' ')}</span> : null}
                </td>
                <td className="num">{r.plus_ones ?? ''}</td>
                <td>{r.answers ? Object.entries(r.answers).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`).join('; ') : ''}</td>
                <td>{r.message ?? ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function Summaries({ summaries }: { summaries: Summary[] }) {
  return (
    <section aria-labelledby="summaries-title" className="summaries">
      <h2 id="summaries-title">Summaries</h2>
      <div aria-live="polite">
        {summaries.length === 0 ? (
          <p className="muted">The summary arrives when the version closes (everyone replied, the deadline passed, or it was cancelled).</p>
        ) : (
          <ol>
            {summaries.map((s, i) => (
              <li key={String(s.id ?? i)} className="summary" data-testid="summary">
                <h3>
                  Version {String(s.sequence ?? i)}: {String(s.reason ?? 'closed').replaceAll('_', ' ')}
                </h3>
                <p>
                  {String(s.total_invited ?? 0)} invited, {String(s.total_responses ?? 0)} replied: {String(s.yes_count ?? 0)} yes, {String(s.no_count ?? 0)} no,{' '}
                  {String(s.maybe_count ?? 0)} maybe; headcount {String(s.headcount ?? 0)}
                  {Number(s.waitlisted_count ?? 0) > 0 ? `, ${String(s.waitlisted_count)} waitlisted` : ''}; reminders sent {String(s.reminders_sent ?? 0)}.
                </p>
                {answerLines(s).map((line) => (
                  <p key={line} className="small">
                    {line}
                  </p>
                ))}
                {s.timestamp ? <p className="muted small">{formatTime(String(s.timestamp))}</p> : null}
              </li>
            ))}
          </ol>
        )}
      </div>
    </section>
  );
}
