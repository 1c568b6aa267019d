// The guest roster by persona group: who is live, and how to change that (one Deployment per
// group: `kubectl scale ...`, which changes who the next event invites).
import { useCallback, useEffect, useState } from 'react';
import { getJson } from '../api.ts';
import { useConnectivity } from '../connectivity.ts';
import type { Roster, RosterGuest } from '../lib/types.ts';
import { useInterval } from '../live.ts';
import { ErrorNote, Loading, formatTime } from '../ui.tsx';

export function Guests() {
  const [roster, setRoster] = useState<Roster | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { recoveries } = useConnectivity();
  const refresh = useCallback(() => {
    getJson<Roster>('/api/guests').then(
      (r) => {
        setRoster(r);
        setError(null);
      },
      (e: unknown) => setError(e),
    );
  }, []);
  useEffect(refresh, [refresh, recoveries]);
  useInterval(refresh, 3_000);

  if (!roster) return error ? <ErrorNote error={error} /> : <Loading what="the guests" />;
  const byGroup = new Map<string, RosterGuest[]>();
  for (const g of roster.guests) byGroup.set(g.group, [...(byGroup.get(g.group) ?? []), g]);
  const live = roster.guests.filter((g) => g.live).length;

  return (
    <section aria-labelledby="guests-title">
      <h1 id="guests-title">Guests</h1>
      <p aria-live="polite">
        {live} of {roster.guests.length} guests live, in {roster.groups.length} persona groups. A new event invites the guests
        live when it is published.
      </p>
      <ErrorNote error={error} />
      {roster.groups.map((group) => (
        <section key={group.group} className="group" aria-labelledby={`group-${group.group}`}>
          <h2 id={`group-${group.group}`}>
            {group.group}{' '}
            <span className="muted small" aria-live="polite">
              {group.live} live of {group.total}
            </span>
          </h2>
          <ScaleHint hint={group.scale_hint} />
          <div className="table-scroll">
            <table>
              <caption className="visually-hidden">Guests of the {group.group} group</caption>
              <thead>
                <tr>
                  <th scope="col">Guest</th>
                  <th scope="col">Persona</th>
                  <th scope="col">Tags</th>
                  <th scope="col">Agent</th>
                  <th scope="col">Liveness</th>
                </tr>
              </thead>
              <tbody>
                {(byGroup.get(group.group) ?? []).map((g) => (
                  <tr key={g.guest_id}>
                    <th scope="row">
                      {g.name} <span className="muted small">{g.guest_id}</span>
                    </th>
                    <td>{g.persona}</td>
                    <td>{g.tags.join(', ')}</td>
                    <td>
                      <code>{g.agent}</code>
                    </td>
                    <td>
                      <span className={`badge ${g.live ? 'live' : 'gone'}`}>{g.live ? 'live' : 'gone'}</span>
                      {g.last_seen ? <span className="muted small"> seen {formatTime(g.last_seen)}</span> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
    </section>
  );
}

function ScaleHint({ hint }: { hint: string }) {
  const [copied, setCopied] = useState(false);
  const copy = () => {
    navigator.clipboard?.writeText(hint).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  };
  return (
    <div className="scale-hint">
      <span className="muted small">To scale this group:</span> <code>{hint}</code>{' '}
      <button type="button" onClick={copy}>
        Copy command
      </button>
      <span className="muted small" aria-live="polite">
        {copied ? ' copied' : ''}
      </span>
    </div>
  );
}
