// Server-Sent Events with recovery: the browser's EventSource reconnects by itself (with
// Last-Event-ID) after a dropped connection, but gives up for good when a reconnect gets an error
// status; then the stream is opened again here, resuming from the last id seen (?since=).
import { useEffect, useRef } from 'react';
import { markUp, suspect } from './connectivity.ts';

export type Handlers = Record<string, (data: unknown, id: string) => void>;

/** `generation`: a new value reopens the stream even when the url is the same. */
export function useEventStream(url: string | null, handlers: Handlers, opts: { sinceParam?: string; generation?: number } = {}): void {
  const handlersRef = useRef(handlers);
  handlersRef.current = handlers;
  const sinceParam = opts.sinceParam ?? 'since';
  const generation = opts.generation ?? 0;

  useEffect(() => {
    if (!url) return;
    let closed = false;
    let source: EventSource | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let lastId = '';
    let backoffMs = 500;

    const open = () => {
      const u = new URL(url, window.location.href);
      if (lastId) u.searchParams.set(sinceParam, lastId);
      const es = new EventSource(u.pathname + u.search);
      source = es;
      es.onopen = () => {
        backoffMs = 500;
        markUp();
      };
      es.onerror = () => {
        suspect();
        if (es.readyState === EventSource.CLOSED && !closed) {
          es.close();
          retry = setTimeout(open, backoffMs);
          backoffMs = Math.min(backoffMs * 2, 8_000);
        }
      };
      for (const name of Object.keys(handlersRef.current)) {
        es.addEventListener(name, (ev) => {
          const m = ev as MessageEvent<string>;
          if (m.lastEventId) lastId = m.lastEventId;
          let data: unknown;
          try {
            data = m.data ? JSON.parse(m.data) : undefined;
          } catch {
            return;
          }
          handlersRef.current[name]?.(data, m.lastEventId);
        });
      }
    };
    open();
    return () => {
      closed = true;
      if (retry) clearTimeout(retry);
      source?.close();
    };
    // The handler names are fixed per call site; a new url or generation opens a new stream.
  }, [url, sinceParam, generation]);
}

/** Calls `fn` every `ms` while the page is visible. */
export function useInterval(fn: () => void, ms: number): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') ref.current();
    }, ms);
    return () => clearInterval(t);
  }, [ms]);
}
