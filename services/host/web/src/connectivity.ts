// Whether the page can reach the API. Any request that fails (network error, 502-504) marks it
// down; while down, /readyz is probed until it answers, then `recoveries` goes up and every view
// that depends on it refetches: the page recovers without a reload.
import { useSyncExternalStore } from 'react';

export interface Connectivity {
  up: boolean;
  reason: string;
  /** Counts the recoveries: views use it as a dependency to refetch. */
  recoveries: number;
}

let state: Connectivity = { up: true, reason: '', recoveries: 0 };
const listeners = new Set<() => void>();
let probe: ReturnType<typeof setTimeout> | undefined;
const PROBE_MS = 1500;

function set(next: Connectivity): void {
  state = next;
  for (const l of listeners) l();
}

export function markUp(): void {
  if (state.up) return;
  if (probe) clearTimeout(probe);
  probe = undefined;
  set({ up: true, reason: '', recoveries: state.recoveries + 1 });
}

export function markDown(reason: string): void {
  if (state.up || state.reason !== reason) set({ ...state, up: false, reason });
  if (!probe) probe = setTimeout(runProbe, PROBE_MS);
}

/** Something looked wrong (a live stream dropped): find out without raising the banner yet. */
export function suspect(): void {
  if (!probe) probe = setTimeout(runProbe, 300);
}

async function runProbe(): Promise<void> {
  try {
    const res = await fetch('/readyz', { cache: 'no-store' });
    probe = undefined;
    if (res.ok) return markUp();
    markDown(res.status === 503 ? 'the host is up but cannot reach Redis' : `the host answers ${res.status}`);
  } catch {
    probe = undefined;
    markDown('the host does not answer');
  }
}

function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function useConnectivity(): Connectivity {
  return useSyncExternalStore(subscribe, () => state);
}
