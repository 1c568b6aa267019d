// The page's one way to call the host API: JSON in and out, errors as ApiProblem (the field the
// API names, so a form shows the message beside it), reachability reported to connectivity.ts.
import { markDown, markUp } from './connectivity.ts';
import { authHeader, signedOutBy } from './session.ts';

export class ApiProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.name = 'ApiProblem';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

interface ErrorBody {
  error?: string;
  code?: string;
  message?: string;
  field?: string;
}

export interface ApiResult<T> {
  body: T;
  etag: string | null;
}

export async function apiCall<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResult<T>> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: { accept: 'application/json', ...authHeader(), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      cache: 'no-store',
    });
  } catch {
    markDown('the host does not answer');
    throw new ApiProblem(0, 'unreachable', 'The host does not answer; retrying.');
  }
  if (res.status >= 502 && res.status <= 504) {
    markDown(res.status === 503 ? 'the host cannot reach Redis' : `the host answers ${res.status}`);
  } else {
    markUp();
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON (a proxy's error page): the status and text say what happened.
  }
  if (!res.ok) {
    // The contract's shape is {error: code, message, field}; the shared one {error: text, code, field}.
    const e = (parsed ?? {}) as ErrorBody;
    const code = e.code ?? e.error ?? `http_${res.status}`;
    const message = e.message ?? (e.code ? e.error : undefined) ?? (text || res.statusText);
    // The token expired (or the host's key changed): back to the sign-in form, saying why.
    if (res.status === 401) signedOutBy(`Signed out: ${message ?? 'the token is no longer accepted'}.`);
    throw new ApiProblem(res.status, code, message ?? `HTTP ${res.status}`, e.field);
  }
  return { body: parsed as T, etag: res.headers.get('etag') };
}

export const getJson = async <T>(path: string): Promise<T> => (await apiCall<T>('GET', path)).body;
