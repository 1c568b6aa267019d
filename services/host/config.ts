import { readFileSync } from 'node:fs';
import { IANAZone } from 'luxon';
import type { EnvReader } from '../shared/config/env.ts';
import { textRules } from '../shared/schema/invitation.ts';
import { identifierPattern } from '../shared/streams/keys.ts';
import { MIN_KEY_BYTES, SigningKey } from './auth/tokens.ts';

export interface HostConfig {
  /** This host application's id: its events carry it, it reads summaries in group host:<id>. */
  hostId: string;
  hostName: string;
  /** Publish the original demo's sample invitation at start. */
  publishSample: boolean;
  /** Exit (0) once the summary of the sample invitation arrived; exit 1 after summaryTimeoutMs. */
  exitAfterSummary: boolean;
  summaryTimeoutMs: number;
  /** RSVP deadline for invitations published by this host (ms from now; 0 = coordinator default). */
  rsvpWindowMs: number;
  /** IANA zone filled in for events created without a `timezone`. */
  defaultTimezone: string;
  /** How long the host keeps an event (definition, outbox, read model) after its last change. */
  eventRetentionMs: number;
  /** How often the outbox drainer looks for revisions saved but not yet published (and trims the indexes). */
  outboxDrainIntervalMs: number;
  /** Largest accepted request body (a 10,000-event batch needs several MB). */
  bodyLimitBytes: number;
  /** Entries kept per event feed stream (the SSE resume window). */
  feedMaxLen: number;
  /** Interval of the SSE heartbeat comment. */
  sseHeartbeatMs: number;
  /** A guest agent counts as live this long after its last heartbeat (as the coordinator's GUEST_TTL_MS). */
  guestTtlMs: number;
  /** The Helm release, for the roster's `kubectl scale deployment/<release>-guest-<group>` hint. */
  releaseName: string;
  /** API authentication (docs/SECURITY-API.md): on unless API_AUTH=off; the key verifies tokens. */
  auth: { enabled: true; key: SigningKey } | { enabled: false };
  /** Origins allowed to call the API from a browser page of another origin (none by default). */
  corsOrigins: string[];
  /** Requests per minute per client address (0: no limit). */
  rateLimitPerMinute: number;
  /** Test-only: SIGKILL right after the n-th saved revision, before it is published (`after-save:<n>`). */
  testCrashAfterSave: number;
  /** Test-only: SIGKILL right after the n-th read-model step (script round trip), before the next (`after-apply-step:<n>`). */
  testCrashAfterApplyStep: number;
  /** Test-only: the outbox drainer runs after each save, before the API publishes it (HOST_TEST_DRAIN_FIRST). */
  testDrainFirst: boolean;
}

export function readHostConfig(env: EnvReader): HostConfig {
  const idHint = '1-128 letters, digits or . _ : @ - (starting with a letter or digit)';
  const config: HostConfig = {
    hostId: env.string('HOST_ID', 'host-1', { pattern: identifierPattern, patternHint: idHint }),
    // It becomes the host_name of invitations sent without one: the same rule as that field.
    hostName: env.string('HOST_NAME', 'Sarah Johnson', {
      maxLength: textRules.host_name.maxLength,
      pattern: /^[^\p{Cc}]*$/u,
      patternHint: 'a name without control characters (tabs, line breaks)',
    }),
    publishSample: env.bool('PUBLISH_SAMPLE_EVENT', false),
    exitAfterSummary: env.bool('EXIT_AFTER_SUMMARY', false),
    summaryTimeoutMs: env.int('SUMMARY_TIMEOUT_MS', 120_000, { min: 100, max: 86_400_000 }),
    rsvpWindowMs: env.int('RSVP_WINDOW_MS', 0, { min: 0, max: 365 * 86_400_000 }),
    defaultTimezone: env.string('DEFAULT_TIMEZONE', 'UTC'),
    eventRetentionMs: env.int('HOST_EVENT_RETENTION_MS', 30 * 86_400_000, { min: 1_000, max: 3 * 365 * 86_400_000 }),
    outboxDrainIntervalMs: env.int('OUTBOX_DRAIN_INTERVAL_MS', 5_000, { min: 50, max: 3_600_000 }),
    bodyLimitBytes: env.int('API_BODY_LIMIT_BYTES', 32 * 1024 * 1024, { min: 1_024, max: 256 * 1024 * 1024 }),
    feedMaxLen: env.int('HOST_FEED_MAXLEN', 2_000, { min: 10, max: 1_000_000 }),
    sseHeartbeatMs: env.int('SSE_HEARTBEAT_MS', 15_000, { min: 100, max: 300_000 }),
    guestTtlMs: env.int('GUEST_TTL_MS', 10_000, { min: 100, max: 86_400_000 }),
    testCrashAfterSave: 0,
    testCrashAfterApplyStep: 0,
    testDrainFirst: env.bool('HOST_TEST_DRAIN_FIRST', false),
    auth: readAuth(env),
    corsOrigins: readOrigins(env),
    rateLimitPerMinute: env.int('API_RATE_LIMIT_PER_MINUTE', 1_200, { min: 0, max: 10_000_000 }),
    releaseName: env.string('RELEASE_NAME', 'event-planner', { pattern: /^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$/, patternHint: 'a Helm release name (lower-case letters, digits and -)' }),
  };
  const crash = env.string('HOST_TEST_CRASH', '');
  const crashMatch = /^(after-save|after-apply-step):([1-9]\d{0,5})$/.exec(crash);
  if (crash !== '' && !crashMatch) env.fail('HOST_TEST_CRASH', crash, 'after-save:<n> or after-apply-step:<n> with n >= 1 (test-only), or unset');
  config.testCrashAfterSave = crashMatch?.[1] === 'after-save' ? Number(crashMatch[2]) : 0;
  config.testCrashAfterApplyStep = crashMatch?.[1] === 'after-apply-step' ? Number(crashMatch[2]) : 0;
  if (!IANAZone.isValidZone(config.defaultTimezone)) env.fail('DEFAULT_TIMEZONE', config.defaultTimezone, 'an IANA time zone name such as UTC or Europe/Paris');
  if (config.exitAfterSummary && !config.publishSample) {
    // Only the sample's summary ends the process: without the sample it would wait for nothing.
    env.problem('EXIT_AFTER_SUMMARY=true needs PUBLISH_SAMPLE_EVENT=true (it waits for the sample invitation\'s summary)');
  }
  return config;
}

/** The token signing key from API_JWT_SECRET or the file API_JWT_SECRET_FILE names (a mounted Secret). */
function readAuth(env: EnvReader): HostConfig['auth'] {
  const mode = env.oneOf('API_AUTH', ['on', 'off'] as const, 'on');
  const inline = env.optionalString('API_JWT_SECRET');
  const file = env.optionalString('API_JWT_SECRET_FILE');
  if (mode === 'off') return { enabled: false };
  if (inline !== undefined && file !== undefined) {
    env.problem('API_JWT_SECRET_FILE: set only one of API_JWT_SECRET and API_JWT_SECRET_FILE');
    return { enabled: false };
  }
  let secret = inline;
  if (file !== undefined) {
    try {
      secret = readFileSync(file, 'utf8').trim();
    } catch (error) {
      env.fail('API_JWT_SECRET_FILE', file, `a readable file holding the token signing key (${(error as Error).message})`);
      return { enabled: false };
    }
  }
  if (secret === undefined) {
    env.problem(`API_JWT_SECRET (or API_JWT_SECRET_FILE) is required while API_AUTH=on: a random key of at least ${MIN_KEY_BYTES} bytes (openssl rand -base64 48); API_AUTH=off opens the API to anyone who reaches it`);
    return { enabled: false };
  }
  const key = new SigningKey(secret);
  if (key.length < MIN_KEY_BYTES) {
    // The value itself is never echoed: only its length.
    env.problem(`${file !== undefined ? 'API_JWT_SECRET_FILE' : 'API_JWT_SECRET'}: the token signing key has ${key.length} bytes; at least ${MIN_KEY_BYTES} are needed (openssl rand -base64 48)`);
  }
  return { enabled: true, key };
}

/** API_CORS_ORIGINS: comma-separated origins (https://planner.example.com); empty: no cross-origin caller. */
function readOrigins(env: EnvReader): string[] {
  const raw = env.optionalString('API_CORS_ORIGINS');
  if (raw === undefined) return [];
  const origins = raw.split(',').map((o) => o.trim()).filter((o) => o !== '');
  for (const origin of origins) {
    if (!isOrigin(origin)) env.fail('API_CORS_ORIGINS', origin, 'comma-separated origins such as https://planner.example.com (scheme, host and port only)');
  }
  return origins;
}

function isOrigin(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === text;
  } catch {
    return false;
  }
}
