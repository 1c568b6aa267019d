import type { Redis } from 'ioredis';
import { type Delivery, type DeliveryTarget, deliveryFields } from '../../services/shared/schema/delivery.ts';
import { type EventDefinition, defaultEventOptions } from '../../services/shared/schema/event-definition.ts';
import { buildGuests } from '../../services/guest/guests.ts';
import { parsePersonas, presets } from '../../services/guest/personas.ts';
import { type Reply, type ResponseEntry, parseResponse } from '../../services/shared/schema/response.ts';
import { lanes, streams } from '../../services/shared/streams/keys.ts';
import { infoObject } from '../../services/shared/streams/stream-ids.ts';
import { readAll } from '../helpers/streams.ts';

// Building the deliveries a coordinator would put in an agent's inbox (with the shared schema, as
// the coordinator does), and reading back what the guests sent.

export function eventDefinition(overrides: Partial<EventDefinition> = {}): EventDefinition {
  return {
    ...defaultEventOptions,
    eventName: 'Summer Party',
    eventDate: '',
    eventTime: '',
    location: 'Garden',
    description: '',
    hostName: 'Sarah Johnson',
    hostId: 'host-1',
    ...overrides,
  };
}

export type TargetSpec = Partial<DeliveryTarget> & Pick<DeliveryTarget, 'invitationId' | 'guestIds'>;

/** A whole target with the defaults a coordinator would fill in (a deadline a minute ahead, a key per type). */
export function target(spec: TargetSpec): DeliveryTarget {
  const type = spec.type ?? 'request';
  const sequence = spec.sequence ?? 0;
  return {
    type,
    sequence,
    revision: 1,
    rsvpDeadline: Date.now() + 60_000,
    deliveryKey: `${spec.invitationId}:${sequence}:${type}:${spec.reminder ?? ''}:${spec.scope ?? ''}`,
    ...spec,
  };
}

/** The parsed delivery (what an agent reads), for unit tests of plans. */
export function delivery(spec: TargetSpec, event: Partial<EventDefinition> = {}): Delivery {
  const def = eventDefinition(event);
  const t = target(spec);
  return { ...def, ...t };
}

/** XADDs a delivery to the agent's inbox of the event's priority; returns the entry id. */
export async function deliver(redis: Redis, agentId: string, spec: TargetSpec, event: Partial<EventDefinition> = {}): Promise<string> {
  const def = eventDefinition(event);
  return (await redis.xadd(lanes.inbox(agentId, def.priority), '*', ...deliveryFields(def, target(spec))))!;
}

export interface Sent {
  id: string;
  stream: string;
  entry: ResponseEntry;
}

/** Every reply and receipt on both lanes of guest_responses, parsed. */
export async function sentResponses(redis: Redis): Promise<Sent[]> {
  const out: Sent[] = [];
  for (const stream of [streams.responses, streams.responsesHigh]) {
    for (const e of await readAll(redis, stream)) {
      const parsed = parseResponse(e.fields);
      if (!parsed.ok) throw new Error(`${stream} ${e.id} does not parse: ${parsed.reason}`);
      out.push({ id: e.id, stream, entry: parsed.value });
    }
  }
  return out;
}

/** Replies only, as (guest, sequence, rev, response) rows. */
export async function sentReplies(redis: Redis, eventId?: string) {
  return (await sentResponses(redis))
    .filter((s): s is Sent & { entry: { kind: 'reply' } } => s.entry.kind === 'reply')
    .map((s) => ({ ...s.entry.reply, stream: s.stream, entryId: s.id }))
    .filter((r) => eventId === undefined || r.invitationId === eventId);
}

/** True once the agents' group has read `entryId` from `stream` and nothing is pending any more. */
export async function settled(redis: Redis, stream: string, entryId: string): Promise<boolean> {
  let groups: unknown[][];
  try {
    groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  } catch {
    return false;
  }
  const group = groups.map(infoObject).find((g) => g.name === 'guests');
  if (!group) return false;
  const [ms, seq] = String(group['last-delivered-id']).split('-').map(Number);
  const [wantMs, wantSeq] = entryId.split('-').map(Number);
  const read = ms! > wantMs! || (ms === wantMs && seq! >= wantSeq!);
  return read && Number(group.pending) === 0;
}

/** What one agent's guests are, as the agent builds them (same id, count, personas, seed, group). */
export function agentGuests(env: { GUEST_AGENT_ID: string; GUESTS_PER_AGENT: string; PERSONAS: string; GUEST_SEED: string; PERSONA_GROUP?: string }) {
  const group = env.PERSONA_GROUP ?? (presets[env.PERSONAS] ? env.PERSONAS : 'custom');
  return buildGuests(env.GUEST_AGENT_ID, Number(env.GUESTS_PER_AGENT), parsePersonas(env.PERSONAS), env.GUEST_SEED, group);
}

/** A reply as the coordinator reads it, without the send time: what must be the same on a redelivery. */
export function content(r: Reply): string {
  const { id, invitationId, guestName, guestId, response, message, sequence, replyRev, plusOnes, answers } = r;
  return JSON.stringify({ id, invitationId, guestName, guestId, response, message, sequence, replyRev, plusOnes, answers });
}
