import type { EnvReader } from '../shared/config/env.ts';

export interface CoordinatorConfig {
  /** RSVP deadline for invitations that do not carry rsvp_deadline. */
  rsvpDeadlineMs: number;
  /** A guest agent whose heartbeat is older than this is not invited. */
  guestTtlMs: number;
  deadlineSweepIntervalMs: number;
  /** Responses listed in one summary entry at most (the counts are always complete). */
  summaryMaxResponses: number;
  /**
   * Above this many guests a version's summary lists are read in bounded steps (summary-builder.ts)
   * instead of inside the script that closes it, so that no call keeps Redis busy for long.
   */
  summaryStepGuests: number;
  /**
   * Above this many guests a delivery to every guest (a version's requests, details, a
   * cancellation, reminders) is staged and added in bounded steps of this many guests (fan-out.ts)
   * instead of inside one script, so that no call keeps Redis busy for long.
   */
  fanOutStepGuests: number;
  /** How long an event's state and its once-markers are kept after its summary. */
  eventRetentionMs: number;
  /** Agents silent this long are removed from the registry and their inbox deleted. */
  agentGcMs: number;
  /**
   * Test-only: `after-tick:<n>` makes the process SIGKILL itself right after the n-th timer tick
   * that decided something (its effects in the outbox, nothing drained, the timer not moved).
   */
  timerTestCrash: number;
  /** Test-only: `after-step:<n>` makes the process SIGKILL itself after the n-th step of reading summary lists. */
  summaryTestCrash: number;
  /** Test-only: `after-step:<n>` makes the process SIGKILL itself after the n-th step of staging or delivering a fan-out. */
  fanOutTestCrash: number;
}

export function readCoordinatorConfig(env: EnvReader): CoordinatorConfig {
  const config: CoordinatorConfig = {
    rsvpDeadlineMs: env.int('RSVP_DEADLINE_MS', 30_000, { min: 100, max: 365 * 86_400_000 }),
    guestTtlMs: env.int('GUEST_TTL_MS', 10_000, { min: 100, max: 86_400_000 }),
    deadlineSweepIntervalMs: env.int('DEADLINE_SWEEP_INTERVAL_MS', 250, { min: 10, max: 60_000 }),
    summaryMaxResponses: env.int('SUMMARY_MAX_RESPONSES', 10_000, { min: 0, max: 1_000_000 }),
    summaryStepGuests: env.int('SUMMARY_STEP_GUESTS', 500, { min: 1, max: 10_000_000 }),
    fanOutStepGuests: env.int('FANOUT_STEP_GUESTS', 500, { min: 1, max: 10_000_000 }),
    eventRetentionMs: env.int('EVENT_RETENTION_MS', 7 * 86_400_000, { min: 1_000, max: 365 * 86_400_000 }),
    agentGcMs: env.int('AGENT_GC_MS', 3_600_000, { min: 1_000, max: 30 * 86_400_000 }),
    timerTestCrash: 0,
    summaryTestCrash: stepCrash(env, 'SUMMARY_TEST_CRASH'),
    fanOutTestCrash: stepCrash(env, 'FANOUT_TEST_CRASH'),
  };
  const crash = env.string('TIMER_TEST_CRASH', '');
  if (crash !== '') {
    const match = /^after-tick:(\d{1,6})$/.exec(crash);
    if (!match || Number(match[1]) < 1) env.fail('TIMER_TEST_CRASH', crash, 'after-tick:<n> with n >= 1');
    else config.timerTestCrash = Number(match[1]);
  }
  if (config.agentGcMs <= config.guestTtlMs) {
    // The janitor would delete the registration and inbox of agents that still count as live.
    env.problem(`AGENT_GC_MS (${config.agentGcMs}) must be above GUEST_TTL_MS (${config.guestTtlMs})`);
  }
  return config;
}

/** A test-only crash point `after-step:<n>` (crash-point.ts); 0 when unset. */
function stepCrash(env: EnvReader, name: string): number {
  const value = env.string(name, '');
  if (value === '') return 0;
  const match = /^after-step:(\d{1,6})$/.exec(value);
  if (!match || Number(match[1]) < 1) {
    env.fail(name, value, 'after-step:<n> with n >= 1');
    return 0;
  }
  return Number(match[1]);
}
