// The events with their status and counts, newest first; refreshed every few seconds.
import { useCallback, useEffect, useState } from 'react';
import { getJson } from '../api.ts';
import { useConnectivity } from '../connectivity.ts';
import { type EventList as EventListBody, type EventListItem, type EventStatus, eventStatuses } from '../lib/types.ts';
import { useInterval } from '../live.ts';
import { Link } from '../navigation.tsx';
import { useCanWrite } from '../session.ts';
import { ErrorNote, Loading, StatusBadge, formatTime } from '../ui.tsx';

export function EventList() {
  const [status, setStatus] = useState<EventStatus | ''>('');
  const canWrite = useCanWrite();
  const [items, setItems] = useState<EventListItem[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { recoveries } = useConnectivity();

  const query = useCallback((after: string | null) => {
    // The host's default page size (50); `cursor` pages on.
    const q = new URLSearchParams();
    if (status) q.set('status', status);
    if (after) q.set('cursor', after);
    return getJson<EventListBody>(`/api/events?${q}`);
  }, [status]);

  const refresh = useCallback(() => {
    query(null)
      .then((page) => {
        setItems(page.items);
        setCursor(page.next_cursor);
        setError(null);
      })
      .catch(setError);
  }, [query]);

  useEffect(refresh, [refresh, recoveries]);
  useInterval(refresh, 5_000);

  const more = () => {
    if (!cursor) return;
    query(cursor)
      .then((page) => {
        setItems((old) => [...(old ?? []), ...page.items]);
        setCursor(page.next_cursor);
      })
      .catch(setError);
  };

  return (
    <section aria-labelledby="events-title">
      <div className="title-row">
        <h1 id="events-title">Events</h1>
        {canWrite && (
          <Link className="button primary" href="/events/new">
            New event
          </Link>
        )}
      </div>
      <div className="filters">
        <label htmlFor="status-filter">Status</label>
        <select id="status-filter" value={status} onChange={(e) => setStatus(e.target.value as EventStatus | '')}>
          <option value="">all</option>
          {eventStatuses.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <ErrorNote error={error} />
      {items === null ? (
        <Loading what="events" />
      ) : items.length === 0 ? (
        <p className="muted">
          No events{status ? ` with status ${status}` : ''} yet.{canWrite && <> <Link href="/events/new">Create one</Link>.</>}
        </p>
      ) : (
        <div className="table-scroll">
          <table className="events">
            <caption className="visually-hidden">Events with their status and replies</caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">When</th>
                <th scope="col">Status</th>
                <th scope="col">Invited</th>
                <th scope="col">Accepted</th>
                <th scope="col">Declined</th>
                <th scope="col">Tentative</th>
                <th scope="col">Headcount</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id}>
                  <th scope="row">
                    <Link href={`/events/${encodeURIComponent(e.id)}`}>{e.event_name}</Link>
                  </th>
                  <td>
                    {e.event_date}
                    {e.event_time ? ` ${e.event_time}` : ''}
                    {e.timezone ? <span className="muted"> {e.timezone}</span> : null}
                  </td>
                  <td>
                    <StatusBadge status={e.status} />
                  </td>
                  <td className="num">{e.counts.invited}</td>
                  <td className="num">{e.counts.accepted}</td>
                  <td className="num">{e.counts.declined}</td>
                  <td className="num">{e.counts.tentative}</td>
                  <td className="num">{e.counts.headcount}</td>
                  <td>{formatTime(e.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && (
        <button type="button" onClick={more}>
          Load more
        </button>
      )}
    </section>
  );
}
