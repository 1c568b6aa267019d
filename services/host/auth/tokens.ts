// API tokens: JWTs signed with HS256 by one key the host and the operators' token CLI share
// (docs/SECURITY-API.md). `jose` does the cryptography and the claim checks; this module fixes
// what this project accepts: one algorithm (so `alg: none` or an RS/HS confusion cannot pass), our
// issuer and audience, an expiry, a subject and one of three roles.
import { type KeyObject, createSecretKey } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';

export const roles = ['admin', 'host', 'viewer'] as const;
export type Role = (typeof roles)[number];

export const TOKEN_ISSUER = 'event-planner';
export const TOKEN_AUDIENCE = 'event-planner-api';
const ALGORITHM = 'HS256';
/** Shorter keys are refused at start: HS256 is only as strong as its key. */
export const MIN_KEY_BYTES = 32;
/** A subject is a person or system account: the id rule of the whole system, so it fits every key. */
export const subjectPattern = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

/** Who is calling: the token's subject and role. */
export interface Principal {
  sub: string;
  role: Role;
}

/**
 * The signing key. Kept in an object whose JSON and inspection say "[redacted]", so logging a
 * configuration object or answering /info can never print it.
 */
export class SigningKey {
  readonly #bytes: Uint8Array;
  /** Made once: verifying with raw bytes would import the key again on every request. */
  readonly #key: KeyObject;

  constructor(secret: string) {
    this.#bytes = new TextEncoder().encode(secret);
    this.#key = createSecretKey(this.#bytes);
  }

  get bytes(): Uint8Array {
    return this.#bytes;
  }

  get keyObject(): KeyObject {
    return this.#key;
  }

  get length(): number {
    return this.#bytes.length;
  }

  toJSON(): string {
    return '[redacted]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'SigningKey([redacted])';
  }
}

export interface MintOptions {
  sub: string;
  role: Role;
  /** Lifetime in seconds. */
  ttlSeconds: number;
}

export async function mintToken(key: SigningKey, opts: MintOptions): Promise<string> {
  if (!subjectPattern.test(opts.sub)) throw new Error(`subject ${JSON.stringify(opts.sub)} must be 1-128 letters, digits or . _ : @ -`);
  if (!roles.includes(opts.role)) throw new Error(`role must be one of ${roles.join(', ')}`);
  return new SignJWT({ role: opts.role })
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
    .setSubject(opts.sub)
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + opts.ttlSeconds)
    .sign(key.keyObject);
}

export type Verified = { ok: true; principal: Principal; expiresAt: number } | { ok: false; reason: string };

/** Checks a token; never throws (a hostile token is an answer, not an error). */
export async function verifyToken(key: SigningKey, token: string): Promise<Verified> {
  // A JWT of any real use is far below this; a megabyte header is refused before any parsing.
  if (token.length > 4_096) return { ok: false, reason: 'token too long' };
  try {
    const { payload } = await jwtVerify(token, key.keyObject, {
      algorithms: [ALGORITHM],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      requiredClaims: ['sub', 'exp'],
      clockTolerance: 30,
    });
    const role = payload.role;
    if (typeof role !== 'string' || !roles.includes(role as Role)) return { ok: false, reason: 'the token has no valid role claim' };
    if (typeof payload.sub !== 'string' || !subjectPattern.test(payload.sub)) return { ok: false, reason: 'the token subject is not a valid id' };
    return { ok: true, principal: { sub: payload.sub, role: role as Role }, expiresAt: (payload.exp ?? 0) * 1000 };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'the token has expired' };
    if (error instanceof joseErrors.JOSEError) return { ok: false, reason: 'the token is not valid' };
    return { ok: false, reason: 'the token is not valid' };
  }
}
