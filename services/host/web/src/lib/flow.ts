// The message-flow view's state: the latest entries seen on /api/flow, grouped by hop, and the
// streams' figures from its `rates` events. Pure.
import type { FlowEntry, Hop, StreamStat } from './types.ts';

export interface FlowLane {
  hop: Hop;
  title: string;
  from: string;
  to: string;
}

/** The hops in the order a message travels them (host -> coordinator -> guests -> coordinator -> host). */
export const lanes: readonly FlowLane[] = [
  { hop: 'invitation', title: 'Invitations', from: 'host', to: 'coordinator' },
  { hop: 'delivery', title: 'Guest inboxes', from: 'coordinator', to: 'guest' },
  { hop: 'reply', title: 'Replies', from: 'guest', to: 'coordinator' },
  { hop: 'activity', title: 'Activity', from: 'coordinator', to: 'host' },
  { hop: 'summary', title: 'Summaries', from: 'coordinator', to: 'host' },
  { hop: 'dead_letter', title: 'Dead letters', from: 'any', to: 'operator' },
];

export interface FlowItem extends FlowEntry {
  /** Unique within the view (the SSE id, or a counter). */
  key: string;
}

export interface FlowState {
  /** Newest first, at most `keep` per hop. */
  byHop: Record<Hop, FlowItem[]>;
  /** Entries seen per hop since the view opened. */
  totals: Record<Hop, number>;
  /** When the entries were written (ms), per hop and per stream, within the rate window. */
  seenByHop: Record<Hop, number[]>;
  seenByStream: Record<string, number[]>;
  streams: StreamStat[];
}

/** Rates are entries per second over this window. */
export const RATE_WINDOW_MS = 10_000;

const hops = lanes.map((l) => l.hop);

export function emptyFlow(): FlowState {
  return {
    byHop: Object.fromEntries(hops.map((h) => [h, []])) as unknown as Record<Hop, FlowItem[]>,
    totals: Object.fromEntries(hops.map((h) => [h, 0])) as unknown as Record<Hop, number>,
    seenByHop: Object.fromEntries(hops.map((h) => [h, []])) as unknown as Record<Hop, number[]>,
    seenByStream: {},
    streams: [],
  };
}

const recent = (times: readonly number[] | undefined, now: number) => (times ?? []).filter((t) => t > now - RATE_WINDOW_MS);

export function addFlowEntry(state: FlowState, item: FlowItem, now: number, keep = 8): FlowState {
  const hop: Hop = hops.includes(item.hop) ? item.hop : 'activity';
  if (state.byHop[hop].some((i) => i.key === item.key)) return state;
  // Counted when the entry was written (its stream id's time), so replayed history is not a burst now.
  const at = Number.isFinite(item.at) && item.at > 0 ? Math.min(item.at, now) : now;
  return {
    ...state,
    byHop: { ...state.byHop, [hop]: [item, ...state.byHop[hop]].slice(0, keep) },
    totals: { ...state.totals, [hop]: state.totals[hop] + 1 },
    seenByHop: { ...state.seenByHop, [hop]: [...recent(state.seenByHop[hop], now), at].filter((t) => t > now - RATE_WINDOW_MS) },
    seenByStream: { ...state.seenByStream, [item.stream]: [...recent(state.seenByStream[item.stream], now), at].filter((t) => t > now - RATE_WINDOW_MS) },
  };
}

/** Entries per second seen on a hop or a stream over the last RATE_WINDOW_MS. */
export function seenRate(times: readonly number[] | undefined, now: number): number {
  return recent(times, now).length / (RATE_WINDOW_MS / 1000);
}

export function withStreams(state: FlowState, streams: StreamStat[]): FlowState {
  return { ...state, streams };
}

/** A stream's lag: the largest of its groups' (entries not yet delivered to the group). */
export function streamLag(s: StreamStat): number {
  return s.groups.reduce((lag, g) => Math.max(lag, g.lag), 0);
}

export function streamPending(s: StreamStat): number {
  return s.groups.reduce((n, g) => n + g.pending, 0);
}

/** "12.5/s", "0.3/s", "–" */
export function formatRate(rate: number | undefined): string {
  if (rate === undefined || !Number.isFinite(rate)) return '–';
  return `${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)}/s`;
}
