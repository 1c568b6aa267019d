// API tokens for tests (docs/SECURITY-API.md): hosts started with `withAuth` verify tokens signed
// with this key; every other test host runs with API_AUTH=off, explicitly (processes.ts).
import { type Role, SigningKey, mintToken } from '../../services/host/auth/tokens.ts';

export const TEST_JWT_SECRET = 'test-only-signing-key-0123456789-abcdefghij';
export const testKey = new SigningKey(TEST_JWT_SECRET);

/** The environment of a host that requires tokens. */
export const withAuth: Record<string, string> = { API_AUTH: 'on', API_JWT_SECRET: TEST_JWT_SECRET };

export const tokenFor = (role: Role, sub: string, ttlSeconds = 3_600): Promise<string> => mintToken(testKey, { role, sub, ttlSeconds });

/** An Authorization header for a role and subject. */
export const bearer = async (role: Role, sub = `${role}-1`): Promise<Record<string, string>> => ({ authorization: `Bearer ${await tokenFor(role, sub)}` });
