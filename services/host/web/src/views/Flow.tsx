// The message flow across the streams, live from GET /api/flow: the latest entries of each hop
// (host -> coordinator -> guest inboxes -> replies -> summaries), and every stream's length, rate,
// lag, pending entries and dead letters (its `rates` events, every 2 s).
import { useEffect, useRef, useState } from 'react';
import { getJson } from '../api.ts';
import { useConnectivity } from '../connectivity.ts';
import { type FlowState, RATE_WINDOW_MS, addFlowEntry, emptyFlow, formatRate, lanes, seenRate, streamLag, streamPending, withStreams } from '../lib/flow.ts';
import type { FlowEntry, StreamStat } from '../lib/types.ts';
import { useEventStream } from '../live.ts';
import { Link } from '../navigation.tsx';

export function Flow() {
  const [flow, setFlow] = useState<FlowState>(emptyFlow);
  const counter = useRef(0);
  const { recoveries } = useConnectivity();

  useEffect(() => {
    getJson<{ streams: StreamStat[] }>('/api/streams').then(
      (b) => setFlow((f) => (f.streams.length ? f : withStreams(f, b.streams))),
      () => undefined,
    );
  }, [recoveries]);

  // The last five minutes first (stream ids share Redis' clock: one id starts every stream), then live.
  const [since] = useState(() => `${Date.now() - 5 * 60_000}-0`);
  const [now, setNow] = useState(() => Date.now());
  useEventStream(`/api/flow?since=${since}`, {
    flow: (d, id) => {
      counter.current += 1;
      const entry = d as FlowEntry;
      setFlow((f) => addFlowEntry(f, { ...entry, key: id ? `${entry.stream}/${id}` : `local-${counter.current}` }, Date.now()));
    },
    rates: (d) => {
      setNow(Date.now());
      setFlow((f) => withStreams(f, (d as { streams: StreamStat[] }).streams ?? []));
    },
  });

  return (
    <section aria-labelledby="flow-title">
      <h1 id="flow-title">Message flow</h1>
      <p className="muted">
        Entries as they cross the Redis streams (the last five minutes, then live), newest first in each lane; rates over the last{' '}
        {RATE_WINDOW_MS / 1000} s.
      </p>
      <ol className="lanes" data-testid="flow-lanes">
        {lanes.map((lane) => (
          <li key={lane.hop} className={`lane lane-${lane.hop}`}>
            <h2>
              {lane.title}
              <span className="lane-route">
                {lane.from} → {lane.to}
              </span>
            </h2>
            <p className="lane-total">
              {flow.totals[lane.hop]} seen · {formatRate(seenRate(flow.seenByHop[lane.hop], now))}
            </p>
            <ul aria-label={`${lane.title}, latest entries`}>
              {flow.byHop[lane.hop].map((e) => (
                <li key={e.key} className="flow-item">
                  <span className="flow-type">{e.type ?? lane.hop}</span>
                  {e.event_id ? (
                    <Link href={`/events/${encodeURIComponent(e.event_id)}`} className="flow-event">
                      {e.event_id.slice(0, 18)}
                    </Link>
                  ) : null}
                  {e.guest_id ? <span className="muted small">{e.guest_id}</span> : null}
                  <time className="muted small" dateTime={new Date(e.at).toISOString()}>
                    {new Date(e.at).toLocaleTimeString()}
                  </time>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ol>
      <h2>Streams</h2>
      <div className="table-scroll">
        <table className="streams" aria-live="polite" aria-atomic="false">
          <caption className="visually-hidden">Every stream with its length, rate, lag, pending entries and dead letters</caption>
          <thead>
            <tr>
              <th scope="col">Stream</th>
              <th scope="col">Length</th>
              <th scope="col">Rate</th>
              <th scope="col">Lag</th>
              <th scope="col">Pending</th>
              <th scope="col">Groups</th>
              <th scope="col">Dead letters</th>
            </tr>
          </thead>
          <tbody>
            {flow.streams.length === 0 ? (
              <tr>
                <td colSpan={7} className="muted">
                  Waiting for the first figures…
                </td>
              </tr>
            ) : (
              flow.streams.map((s) => {
                const lag = streamLag(s);
                return (
                  <tr key={s.stream}>
                    <th scope="row">
                      <code>{s.stream}</code>
                    </th>
                    <td className="num">{s.length}</td>
                    <td className="num">{formatRate(s.rate_per_s ?? seenRate(flow.seenByStream[s.stream], now))}</td>
                    <td className={`num${lag ? ' warn' : ''}`}>{lag}</td>
                    <td className="num">{streamPending(s)}</td>
                    <td>{s.groups.map((g) => `${g.name} (${g.consumers})`).join(', ') || '–'}</td>
                    <td className={`num${s.dead_letters ? ' warn' : ''}`}>{s.dead_letters}</td>
                  </tr>
                );
              })
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
