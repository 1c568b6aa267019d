// `npm run token -- --role admin --sub alice [--ttl 12h]`: mints an API token for an operator
// (docs/SECURITY-API.md). The key is the host's: API_JWT_SECRET, or the file API_JWT_SECRET_FILE
// names (in a cluster: kubectl get secret <release>-api-auth -o jsonpath='{.data.jwt-secret}' | base64 -d).
// The token alone goes to stdout, so `TOKEN=$(npm -s run token -- --role viewer --sub bob)` works.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MIN_KEY_BYTES, type Role, SigningKey, mintToken, roles } from '../services/host/auth/tokens.ts';

const usage = `usage: npm run token -- --role ${roles.join('|')} --sub <subject> [--ttl 12h]
  --role  admin: everything; host: creates events and manages only its own; viewer: reads only
  --sub   who the token is for (1-128 letters, digits or . _ : @ -); a host's events are owned by it
  --ttl   lifetime: <n>s, <n>m, <n>h or <n>d (default 12h, at most 365d)
  the key: API_JWT_SECRET, or API_JWT_SECRET_FILE (the same as the host's)`;

/** "90s", "30m", "12h", "7d" in seconds; undefined when not one of those. */
export function parseTtl(text: string): number | undefined {
  const match = /^([1-9]\d{0,6})([smhd])$/.exec(text);
  if (!match) return undefined;
  const seconds = Number(match[1]) * { s: 1, m: 60, h: 3_600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return seconds <= 365 * 86_400 ? seconds : undefined;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

function readKey(): SigningKey {
  const inline = process.env.API_JWT_SECRET?.trim();
  const file = process.env.API_JWT_SECRET_FILE?.trim();
  if (inline && file) fail('set only one of API_JWT_SECRET and API_JWT_SECRET_FILE');
  let secret = inline;
  if (file) {
    try {
      secret = readFileSync(file, 'utf8').trim();
    } catch (error) {
      fail(`API_JWT_SECRET_FILE=${file} cannot be read: ${(error as Error).message}`);
    }
  }
  if (!secret) fail('API_JWT_SECRET (or API_JWT_SECRET_FILE) is not set: the token must be signed with the host\'s key');
  const key = new SigningKey(secret);
  if (key.length < MIN_KEY_BYTES) fail(`the key has ${key.length} bytes; the host refuses keys under ${MIN_KEY_BYTES}`);
  return key;
}

async function main(): Promise<void> {
  let values: { role?: string; sub?: string; ttl?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ options: { role: { type: 'string' }, sub: { type: 'string' }, ttl: { type: 'string', default: '12h' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  if (!values.role || !roles.includes(values.role as Role)) fail(`--role must be one of ${roles.join(', ')}`);
  if (!values.sub) fail('--sub is required');
  const ttlSeconds = parseTtl(values.ttl ?? '12h');
  if (ttlSeconds === undefined) fail(`--ttl ${values.ttl} is not valid`);
  const key = readKey();
  try {
    process.stdout.write(`${await mintToken(key, { sub: values.sub, role: values.role as Role, ttlSeconds })}\n`);
  } catch (error) {
    fail((error as Error).message);
  }
}

await main();
