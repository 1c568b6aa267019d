import { hostname } from 'node:os';
import type { EnvReader } from '../shared/config/env.ts';
import { guestAgentIdPrefix, identifierPattern } from '../shared/streams/keys.ts';
import { randomSeed } from '../shared/util/random.ts';
import { type Persona, parsePersonas, presets } from './personas.ts';

export interface GuestConfig {
  /** Identity of this agent: its inbox, its consumer name, the prefix-free suffix of its guests' ids. */
  agentId: string;
  guestsPerAgent: number;
  personas: Persona[];
  /** Persona group label (one per guest Deployment in Kubernetes). */
  personaGroup: string;
  seed: string;
  heartbeatIntervalMs: number;
  /** Multiplies every persona's reply delay (0 = reply at once). */
  replyDelayScale: number;
}

export function readGuestConfig(env: EnvReader): GuestConfig {
  const personasText = env.string('PERSONAS', 'original');
  let personas: Persona[] = presets.original!;
  try {
    personas = parsePersonas(personasText);
  } catch (error) {
    env.fail('PERSONAS', personasText, (error as Error).message);
  }
  const personaGroup = env.string('PERSONA_GROUP', presets[personasText] ? personasText : 'custom', {
    pattern: /^[A-Za-z0-9_-]{1,40}$/,
    patternHint: '1-40 letters, digits, _ or -',
  });
  // The default id starts with the group's prefix, so that the group's Redis user (one per persona
  // group, security/acl.ts) may reach this agent's inbox and registration.
  const fallbackId = `${guestAgentIdPrefix(personaGroup)}${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._:@-]/g, '-').slice(0, 64);
  return {
    agentId: env.string('GUEST_AGENT_ID', fallbackId, {
      maxLength: 64,
      pattern: identifierPattern,
      patternHint: 'letters, digits or . _ : @ - (starting with a letter or digit)',
    }),
    guestsPerAgent: env.int('GUESTS_PER_AGENT', 1, { min: 1, max: 200_000 }),
    personas,
    personaGroup,
    seed: env.string('GUEST_SEED', randomSeed(), { maxLength: 200 }),
    heartbeatIntervalMs: env.int('HEARTBEAT_INTERVAL_MS', 2_000, { min: 50, max: 600_000 }),
    replyDelayScale: env.number('REPLY_DELAY_SCALE', 1, { min: 0, max: 1_000 }),
  };
}
