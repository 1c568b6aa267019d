import type { EnvReader } from '../shared/config/env.ts';
import { textRules } from '../shared/schema/invitation.ts';
import { identifierPattern } from '../shared/streams/keys.ts';

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
  };
  if (config.exitAfterSummary && !config.publishSample) {
    // Only the sample's summary ends the process: without the sample it would wait for nothing.
    env.problem('EXIT_AFTER_SUMMARY=true needs PUBLISH_SAMPLE_EVENT=true (it waits for the sample invitation\'s summary)');
  }
  return config;
}
