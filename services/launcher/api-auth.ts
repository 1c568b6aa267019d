// The API's authentication on a local run (docs/SECURITY-API.md, "npm start"). The host requires
// tokens unless API_AUTH=off; the launcher gives it a signing key of its own (random for this run,
// unless API_JWT_SECRET or API_JWT_SECRET_FILE is set, so tokens minted with `npm run token` work)
// and mints an admin token for the person at the terminal: the page's sign-in link and a curl line.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { SigningKey, mintToken } from '../host/auth/tokens.ts';

export interface LocalApiAuth {
  /** Added to the host's environment. */
  env: Record<string, string>;
  /** What to print: how to sign in (or that the API is open). */
  lines: (hostUrl: string) => string[];
}

export async function localApiAuth(): Promise<LocalApiAuth> {
  if (process.env.API_AUTH?.trim() === 'off') {
    return { env: {}, lines: () => ['⚠️  API_AUTH=off: the API and the page are open to anyone who can reach the port, with every right'] };
  }
  const file = process.env.API_JWT_SECRET_FILE?.trim();
  let given = process.env.API_JWT_SECRET?.trim() || undefined;
  try {
    given ??= file ? readFileSync(file, 'utf8').trim() : undefined;
  } catch {
    // An unreadable file: the host's own start reports it by name and exits 2.
    return { env: {}, lines: () => [] };
  }
  // Not a given key: one for this run only (base64url of 32 random bytes: 43 characters).
  const secret = given ?? randomBytes(32).toString('base64url');
  let token: string;
  try {
    token = await mintToken(new SigningKey(secret), { role: 'admin', sub: localUser(), ttlSeconds: 12 * 3_600 });
  } catch {
    // A key the host will refuse (too short): the host's own start reports it by name and exits 2.
    return { env: {}, lines: () => [] };
  }
  return {
    env: given ? {} : { API_JWT_SECRET: secret },
    lines: (hostUrl) => [
      `sign in to the page: ${hostUrl}/#token=${token}`,
      `or call the API: curl -H "authorization: Bearer ${token}" ${hostUrl}/api/events   (an admin token for 12 h; npm run token mints others with ${given ? 'your API_JWT_SECRET' : 'API_JWT_SECRET set before npm start'})`,
    ],
  };
}

/** The login name as the token's subject when it is a valid id (it owns the events created with it). */
function localUser(): string {
  try {
    const name = userInfo().username;
    return /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(name) ? name : 'local-admin';
  } catch {
    return 'local-admin';
  }
}
