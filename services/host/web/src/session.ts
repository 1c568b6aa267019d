// Signing the page in (docs/SECURITY-API.md, "The web page"). A person pastes a token (from
// `npm run token`, or the link `npm start` prints: /#token=…). The page keeps it in sessionStorage
// (gone when the tab closes) and sends it as `Authorization: Bearer` on every call; POST
// /api/session also sets it as an HttpOnly cookie for the live streams, because EventSource cannot
// send headers. A 401 from any call signs the page out with the API's reason.
import { useSyncExternalStore } from 'react';

export interface Signed {
  sub: string;
  role: 'admin' | 'host' | 'viewer';
  /** false when the host runs with API_AUTH=off. */
  auth: boolean;
}

export type SessionState = { kind: 'checking' } | { kind: 'signed_out'; reason: string } | ({ kind: 'signed_in' } & Signed);

const STORAGE_KEY = 'event-planner-token';
let state: SessionState = { kind: 'checking' };
const listeners = new Set<() => void>();

function set(next: SessionState): void {
  state = next;
  for (const l of listeners) l();
}

export function useSession(): SessionState {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => state,
  );
}

/** Whether the signed-in role changes events (a viewer does not; a host sees only its own, which it may change). */
export function useCanWrite(): boolean {
  const s = useSession();
  return s.kind === 'signed_in' && s.role !== 'viewer';
}

export function currentToken(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** The Authorization header of the signed-in token (none without one). */
export function authHeader(): Record<string, string> {
  const token = currentToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** A call answered 401: the token expired or was never good. */
export function signedOutBy(reason: string): void {
  if (state.kind === 'signed_out') return;
  sessionStorage.removeItem(STORAGE_KEY);
  set({ kind: 'signed_out', reason });
}

async function ask(method: 'GET' | 'POST', token: string | null): Promise<{ ok: true; body: Signed } | { ok: false; reason: string }> {
  let res: Response;
  try {
    res = await fetch('/api/session', { method, headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, cache: 'no-store' });
  } catch {
    return { ok: false, reason: 'The host does not answer.' };
  }
  const body = (await res.json().catch(() => ({}))) as Signed & { error?: string; signed_in?: boolean; reason?: string };
  if (res.ok && body.signed_in) return { ok: true, body };
  if (res.ok) return { ok: false, reason: body.reason ? `${body.reason}.` : '' };
  return { ok: false, reason: res.status === 401 ? `${body.error ?? 'Not signed in'}.` : `The host answered ${res.status}.` };
}

/** Signs in with a token: the host checks it and sets the cookie the live streams carry. */
export async function signIn(token: string): Promise<string | undefined> {
  const trimmed = token.trim().replace(/^Bearer\s+/i, '');
  if (trimmed === '') return 'Paste a token first.';
  const answer = await ask('POST', trimmed);
  if (!answer.ok) return answer.reason;
  sessionStorage.setItem(STORAGE_KEY, trimmed);
  set({ kind: 'signed_in', ...answer.body });
  return undefined;
}

export async function signOut(): Promise<void> {
  sessionStorage.removeItem(STORAGE_KEY);
  await fetch('/api/session', { method: 'DELETE' }).catch(() => undefined);
  set({ kind: 'signed_out', reason: 'Signed out.' });
}

/**
 * At load: a token in the address (#token=…, the link `npm start` prints) is taken and removed
 * from the address bar and history; then the host says whether the page is signed in (a host with
 * API_AUTH=off answers for everyone).
 */
export async function restoreSession(): Promise<void> {
  const fromLink = /^#token=([\w.-]+)$/.exec(window.location.hash)?.[1];
  if (fromLink) {
    history.replaceState(history.state, '', window.location.pathname + window.location.search);
    const problem = await signIn(fromLink);
    if (problem) set({ kind: 'signed_out', reason: problem });
    return;
  }
  const token = currentToken();
  // With a stored token, POST again: the cookie may have been dropped (a new host, a restarted browser tab).
  const answer = await ask(token ? 'POST' : 'GET', token);
  if (answer.ok) set({ kind: 'signed_in', ...answer.body });
  else {
    if (token) sessionStorage.removeItem(STORAGE_KEY);
    set({ kind: 'signed_out', reason: token ? answer.reason : '' });
  }
}
