import type { Redis } from 'ioredis';
import { GuestRegistry, type GuestProfile } from '../../services/shared/registry/guest-registry.ts';
import { type Activity, parseActivity } from '../../services/shared/schema/activity.ts';
import { type Delivery, parseDelivery } from '../../services/shared/schema/delivery.ts';
import type { EventDefinition } from '../../services/shared/schema/event-definition.ts';
import { type Invitation, invitationFields } from '../../services/shared/schema/invitation.ts';
import { type Reply, receiptFields, replyFields } from '../../services/shared/schema/response.ts';
import { type Summary, parseSummary } from '../../services/shared/schema/summary.ts';
import { lanes, streams } from '../../services/shared/streams/keys.ts';
import { eventDefinition } from '../guests/support.ts';
import { readAll } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';

// The test plays the host (it adds invitation entries, one per revision, built with the shared
// schema) and the guests (a registered agent whose inbox the test reads, replies it adds), around
// real coordinator processes on a real redis-server.

/** Coordinators that take registrations without heartbeats for the test's length. */
export const coordinatorEnv = { GUEST_TTL_MS: '600000', AGENT_GC_MS: '3600000', DEADLINE_SWEEP_INTERVAL_MS: '50' };

export interface FakeGuest extends GuestProfile {
  agentId: string;
}

/** Registers an agent hosting `n` guests (ids `<agent>.<i>`), tagged with `tags(i)`. */
export async function registerAgent(redis: Redis, agentId: string, n: number, tags: (i: number) => string[] = () => ['friends']): Promise<FakeGuest[]> {
  const guests = Array.from({ length: n }, (_, i) => ({ id: `${agentId}.${i}`, name: `Guest ${agentId} ${i}`, persona: 'test', tags: tags(i) }));
  await new GuestRegistry(redis).register({ agentId, group: 'test', guests });
  return guests.map((g) => ({ ...g, agentId }));
}

let revisions = new Map<string, number>();
export function resetRevisions(): void {
  revisions = new Map();
}

/** Adds a revision of an event (the next revision number unless given); returns the invitation. */
export async function publish(redis: Redis, id: string, def: Partial<Invitation> = {}): Promise<Invitation> {
  const revision = def.revision ?? (revisions.get(id) ?? 0) + 1;
  revisions.set(id, Math.max(revision, revisions.get(id) ?? 0));
  const inv: Invitation = {
    ...eventDefinition({ rsvpDeadline: Date.now() + 600_000 }),
    id,
    method: 'REQUEST',
    sequence: 0,
    timestamp: new Date().toISOString(),
    legacy: false,
    ...def,
    revision,
  };
  const lane = lanes.invitations(inv.priority);
  await redis.xadd(lane, '*', ...invitationFields(inv));
  return inv;
}

export function reply(eventId: string, guest: FakeGuest, response: Reply['response'], more: Partial<Reply> = {}): Reply {
  const sequence = more.sequence ?? 0;
  const rev = more.replyRev ?? 0;
  return {
    id: `reply:${eventId}:${sequence}:${guest.id}${rev === 0 ? '' : `:${rev}`}`,
    invitationId: eventId,
    guestName: guest.name,
    guestId: guest.id,
    response,
    message: '',
    timestamp: new Date().toISOString(),
    sequence,
    replyRev: rev,
    plusOnes: 0,
    answers: {},
    ...more,
  };
}

/** Adds replies in one pipeline, in order (their entry ids give the arrival order). */
export async function send(redis: Redis, replies: Reply[], lane: 'normal' | 'high' = 'normal'): Promise<string[]> {
  const p = redis.pipeline();
  for (const r of replies) p.xadd(lanes.responses(lane), '*', ...replyFields(r));
  return ((await p.exec()) ?? []).map(([, id]) => String(id));
}

export async function sendReceipt(redis: Redis, eventId: string, guest: FakeGuest, sequence = 0): Promise<void> {
  await redis.xadd(streams.responses, '*', ...receiptFields({ id: `receipt:${eventId}:${sequence}:${guest.id}`, invitationId: eventId, guestId: guest.id, guestName: guest.name, sequence, receipt: 'expired', timestamp: new Date().toISOString() }));
}

export async function summaries(redis: Redis, eventId?: string): Promise<Summary[]> {
  return (await readAll(redis, streams.summaries))
    .map((e) => {
      const parsed = parseSummary(e.fields);
      if (!parsed.ok) throw new Error(`summary ${e.id} does not parse: ${parsed.reason}`);
      return parsed.value;
    })
    .filter((s) => eventId === undefined || s.invitationId === eventId);
}

export function summaryOf(redis: Redis, eventId: string, sequence: number, timeoutMs = 20_000): Promise<Summary> {
  return eventually(async () => (await summaries(redis, eventId)).find((s) => s.sequence === sequence), timeoutMs, `summary of ${eventId} sequence ${sequence}`);
}

/** Deliveries in an agent's inbox (both lanes), parsed, for one event. */
export async function inbox(redis: Redis, agentId: string, eventId?: string): Promise<(Delivery & { entryId: string; lane: string })[]> {
  const out: (Delivery & { entryId: string; lane: string })[] = [];
  for (const lane of [streams.inbox(agentId), streams.inboxHigh(agentId)]) {
    for (const e of await readAll(redis, lane)) {
      const parsed = parseDelivery(e.fields);
      if (!parsed.ok) throw new Error(`delivery ${e.id} does not parse: ${parsed.reason}`);
      if (eventId === undefined || parsed.value.invitationId === eventId) out.push({ ...parsed.value, entryId: e.id, lane });
    }
  }
  return out;
}

/** Guests named by deliveries of a type (with repeats). */
export async function named(redis: Redis, agentId: string, eventId: string, type: Delivery['type'], sequence?: number): Promise<string[]> {
  return (await inbox(redis, agentId, eventId)).filter((d) => d.type === type && (sequence === undefined || d.sequence === sequence)).flatMap((d) => d.guestIds);
}

export async function activity(redis: Redis): Promise<Activity[]> {
  return (await readAll(redis, streams.activity)).map((e) => {
    const parsed = parseActivity(e.fields);
    if (!parsed.ok) throw new Error(`activity ${e.id} does not parse: ${parsed.reason}`);
    return parsed.value;
  });
}

export type { EventDefinition };
