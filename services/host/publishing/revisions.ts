import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { RedisClient } from '../../shared/streams/redis-client.ts';
import { type EventBody, eventBodyFields, bodyToFields, fieldsToBody } from '../../shared/schema/event-body.ts';
import { DEFAULT_DURATION_MINUTES, definitionFields, openingProblem, sequenceChanges } from '../../shared/schema/event-definition.ts';
import { type Invitation, type Method, invitationFields, parseInvitation } from '../../shared/schema/invitation.ts';
import { SCHEMA_VERSION } from '../../shared/schema/validation.ts';
import { hostKeys, lanes } from '../../shared/streams/keys.ts';
import { type PipelineResult, execPipeline, loadLuaScript, queueScript } from '../../shared/streams/scripts.ts';

export const saveRevisionScript = loadLuaScript(join(import.meta.dirname, 'lua', 'save-revision.lua'));

/** Where an event is in its life as its organizer knows it (the read model adds `closed`). */
export type HostStatus = 'scheduled' | 'open' | 'cancelled';

/** One event as the host keeps it (host:event:{<id>}). */
export interface SavedEvent {
  id: string;
  hostId: string;
  /** The subject of the token that created it ('' before tokens, or for the sample event). */
  owner: string;
  revision: number;
  sequence: number;
  status: HostStatus;
  /** The body as stored: canonical values, every option filled in with its default. */
  definition: EventBody;
  createdAt: number;
  updatedAt: number;
}

/** The invitation entry of one revision, as the outbox keeps it until the drainer adds it. */
export interface OutboxItem {
  stream: string;
  fields: string[];
}

export type Invalid = { kind: 'invalid'; reason: string; field: string | undefined };
export type CreateResult =
  | { kind: 'saved'; id: string; revision: number; sequence: number; status: HostStatus; stream: string }
  | { kind: 'duplicate'; id: string; revision: number; sequence: number; status: HostStatus }
  | { kind: 'in_use'; id: string; owner: string }
  | { kind: 'conflict'; id: string }
  | Invalid;
export type ChangeResult =
  | { kind: 'saved'; id: string; revision: number; sequence: number; status: HostStatus; bumped: boolean; stream: string }
  | { kind: 'duplicate'; id: string; revision: number; sequence: number; status: HostStatus; bumped: false }
  | { kind: 'not_found' }
  | { kind: 'in_use'; owner: string }
  | { kind: 'cancelled'; revision: number }
  | { kind: 'precondition_failed'; revision: number }
  | Invalid;

/** Every option at its default, as GET shows a definition (the wire entry leaves defaults out). */
const defaultBody: EventBody = {
  status: 'confirmed',
  duration_minutes: DEFAULT_DURATION_MINUTES,
  reminders: [],
  remind_tentative: false,
  start_reminders: [],
  capacity: 0,
  plus_ones_max: 0,
  questions: [],
  target_tags: [],
  target_guests: [],
  exclude_guests: [],
  priority: 'normal',
};

export interface RevisionDefaults {
  hostId: string;
  hostName: string;
  timezone: string;
  /** RSVP deadline filled in for a new event without one (ms from now; 0: none). */
  rsvpWindowMs: number;
  retentionMs: number;
  /** STREAM_PARTITIONS: an event's invitations go to its partition of event_invitations. */
  partitions?: number;
}

/** What a client asked for, so that a retry is recognised whatever the host fills in itself. */
export function bodyFingerprint(body: EventBody): string {
  const canonical = eventBodyFields.map((name) => body[name] ?? null);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

const statusFor = (inv: Invitation, now: number): HostStatus => (inv.method === 'CANCEL' ? 'cancelled' : inv.publishAt !== undefined && inv.publishAt > now ? 'scheduled' : 'open');

/**
 * The host as organizer (docs/EVENTS.md, "Identity and versions"): it validates each change with
 * the reader the coordinator runs, decides revision (+1 per accepted change) and SEQUENCE (+1 when
 * a change makes answers meaningless, and on cancellation), and saves the revision together with
 * its invitation entry in the event's outbox (save-revision.lua). Publishing is the drainer's job.
 */
export class Revisions {
  private readonly redis: RedisClient;
  private readonly d: RevisionDefaults;

  constructor(redis: RedisClient, defaults: RevisionDefaults) {
    this.redis = redis;
    this.d = defaults;
  }

  async get(id: string): Promise<SavedEvent | undefined> {
    return this.getMany([id]).then(([e]) => e);
  }

  /** Several events in one round trip (undefined where unknown). */
  async getMany(ids: string[]): Promise<(SavedEvent | undefined)[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(hostKeys.event(id).definition);
    const results = (await pipeline.exec()) ?? [];
    const now = Date.now();
    return results.map(([error, raw], i) => {
      if (error) throw error;
      const h = raw as Record<string, string>;
      if (!h.host_id || !h.definition) return undefined;
      const definition = JSON.parse(h.definition) as EventBody;
      let status = h.status as HostStatus;
      // A scheduled event is open once its publish_at passed (the coordinator publishes it then).
      if (status === 'scheduled' && typeof definition.publish_at === 'string' && Date.parse(definition.publish_at) <= now) status = 'open';
      return {
        id: ids[i]!,
        hostId: h.host_id,
        owner: h.owner ?? '',
        revision: Number(h.revision),
        sequence: Number(h.sequence),
        status,
        definition,
        createdAt: Number(h.created_at),
        updatedAt: Number(h.updated_at),
      };
    });
  }

  /** Validates a new event: the invitation of its revision 1, or why not. */
  private prepareCreate(body: EventBody & { id?: string }, now: number): { id: string; inv: Invitation; fingerprint: string } | Invalid {
    const { id: requested, ...rest } = body;
    const filled: EventBody = {
      host_name: this.d.hostName,
      timezone: this.d.timezone,
      ...(this.d.rsvpWindowMs > 0 ? { rsvp_deadline: new Date(now + this.d.rsvpWindowMs).toISOString() } : {}),
      ...rest,
    };
    const id = requested ?? randomUUID();
    const parsed = this.parse(id, filled, 'REQUEST', 1, 0, now);
    if (parsed.kind === 'invalid') return parsed;
    return { id, inv: parsed.inv, fingerprint: bodyFingerprint(rest) };
  }

  private parse(id: string, body: EventBody, method: Method, revision: number, sequence: number, now: number): { kind: 'ok'; inv: Invitation } | Invalid {
    const fields: Record<string, string> = {
      ...bodyToFields(body),
      id,
      host_id: this.d.hostId,
      timestamp: new Date(now).toISOString(),
      v: SCHEMA_VERSION,
      method,
      revision: String(revision),
      sequence: String(sequence),
    };
    // The coordinator judges times by the entry id's time, a moment later: no allowance here.
    const parsed = parseInvitation(fields, { publishedAt: now, clockAllowanceMs: 0, defaultZone: this.d.timezone });
    if (!parsed.ok) return { kind: 'invalid', reason: parsed.reason, field: parsed.field };
    return { kind: 'ok', inv: parsed.value };
  }

  /** The stored form of an invitation's definition: canonical values, defaults filled in. */
  private stored(inv: Invitation): EventBody {
    const fields = Object.fromEntries(Object.entries(definitionFields(inv)).filter((e): e is [string, string] => e[1] !== undefined));
    return { ...defaultBody, ...fieldsToBody(fields) };
  }

  /** The stream a revision's invitation goes to (saved results name it: its once-marker lives beside it). */
  private streamOf(inv: Invitation): string {
    return lanes.invitations(inv.priority, inv.id, this.d.partitions);
  }

  private outboxItem(inv: Invitation): string {
    return JSON.stringify({ stream: this.streamOf(inv), fields: invitationFields(inv) } satisfies OutboxItem);
  }

  /** Creates events; one pipeline for all of them (the batch route sends thousands). */
  async createMany(bodies: (EventBody & { id?: string })[], owner = ''): Promise<CreateResult[]> {
    const now = Date.now();
    const prepared = bodies.map((b) => this.prepareCreate(b, now));
    const valid = prepared.filter((p): p is Exclude<typeof p, Invalid> => !('kind' in p));
    // Indexes first, in a round trip of their own: a crash after them leaves an index member
    // without an event (skipped when read), never an event the list or the drainer cannot find.
    const indexes = this.redis.pipeline();
    for (const p of valid) {
      indexes.zadd(hostKeys.events(this.d.hostId), 'NX', now, p.id);
      indexes.zadd(hostKeys.outboxIndex(this.d.hostId), now, p.id);
    }
    // The indexes outlive every event they name: each save extends them as it extends its event.
    indexes.pexpire(hostKeys.events(this.d.hostId), this.d.retentionMs);
    indexes.pexpire(hostKeys.outboxIndex(this.d.hostId), this.d.retentionMs);
    if (valid.length > 0) throwFirst(await indexes.exec());
    const results = await execPipeline(
      this.redis,
      valid,
      (pipeline, p) => {
        const keys = hostKeys.event(p.id);
        queueScript(pipeline, saveRevisionScript, [keys.definition, keys.outbox], [
          'create', this.d.hostId, 0, 0, statusFor(p.inv, now), JSON.stringify(this.stored(p.inv)), this.outboxItem(p.inv), p.fingerprint, now, this.d.retentionMs, owner,
        ]);
      },
      [saveRevisionScript],
    );
    let k = 0;
    return prepared.map((p) => {
      if ('kind' in p) return p;
      const result = scriptResult(results[k++]!);
      return createOutcome(p.id, p.inv, this.streamOf(p.inv), result, now);
    });
  }

  /** `owner`: the token subject that creates it (docs/SECURITY-API.md); it never changes. */
  async create(body: EventBody & { id?: string }, owner = ''): Promise<CreateResult> {
    return (await this.createMany([body], owner))[0]!;
  }

  /** Changes an event (any subset of the body); `ifMatch` is the revision the client saw. */
  async update(id: string, patch: EventBody, ifMatch?: number): Promise<ChangeResult> {
    return this.change(id, ifMatch, (event, now) => {
      const body = { ...event.definition, ...patch };
      const parsed = this.parse(id, body, 'REQUEST', event.revision + 1, event.sequence, now);
      if (parsed.kind === 'invalid') return parsed;
      const before = this.parse(id, event.definition, 'REQUEST', event.revision, event.sequence, now);
      const changed = before.kind === 'ok' ? sequenceChanges(before.inv, parsed.inv) : ['definition'];
      const bumped = changed.length > 0;
      const inv: Invitation = { ...parsed.inv, sequence: event.sequence + (bumped ? 1 : 0) };
      // A new version opens again: its deadline, start and expiry must lie ahead (as for a new event).
      const deadlineMoved = before.kind === 'ok' && before.inv.rsvpDeadline !== inv.rsvpDeadline;
      if (bumped || deadlineMoved) {
        const opening = openingProblem(inv, false, { publishedAt: now, clockAllowanceMs: 0, defaultZone: this.d.timezone });
        if (!opening.ok) return { kind: 'invalid', reason: opening.reason, field: opening.field };
      }
      return { inv, bumped, unchanged: JSON.stringify(this.stored(inv)) === JSON.stringify(event.definition) };
    });
  }

  /** Cancels an event: a CANCEL revision, SEQUENCE + 1 (RFC 5546). Cancelling a cancelled event changes nothing. */
  async cancel(id: string, ifMatch?: number): Promise<ChangeResult> {
    const result = await this.change(id, ifMatch, (event, now) => {
      const parsed = this.parse(id, event.definition, 'CANCEL', event.revision + 1, event.sequence + 1, now);
      if (parsed.kind === 'invalid') return parsed;
      return { inv: parsed.inv, bumped: true, unchanged: false };
    });
    if (result.kind === 'cancelled') {
      const event = (await this.get(id))!;
      return { kind: 'duplicate', id, revision: event.revision, sequence: event.sequence, status: 'cancelled', bumped: false };
    }
    return result;
  }

  /**
   * Read, decide, compare-and-set: the script saves only if the revision is still the one read, so
   * two concurrent changes cannot both build on the same revision. A lost race is tried again, unless
   * the client named the revision it expects (If-Match), which the other change made stale.
   */
  private async change(
    id: string,
    ifMatch: number | undefined,
    decide: (event: SavedEvent, now: number) => { inv: Invitation; bumped: boolean; unchanged: boolean } | Invalid,
  ): Promise<ChangeResult> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const event = await this.get(id);
      if (!event) return { kind: 'not_found' };
      if (event.hostId !== this.d.hostId) return { kind: 'in_use', owner: event.hostId };
      if (event.status === 'cancelled') return { kind: 'cancelled', revision: event.revision };
      if (ifMatch !== undefined && ifMatch !== event.revision) return { kind: 'precondition_failed', revision: event.revision };
      const now = Date.now();
      const decided = decide(event, now);
      if ('kind' in decided) return decided;
      const { inv, bumped } = decided;
      // Nothing changed: no revision to publish (a retried PATCH is not a new change).
      if (decided.unchanged) return { kind: 'duplicate', id, revision: event.revision, sequence: event.sequence, status: event.status, bumped: false };
      const keys = hostKeys.event(id);
      const status = statusFor(inv, now);
      // The index member and its key's lifetime change together; the list index is another key
      // (another cluster slot), extended beside it.
      await Promise.all([
        this.redis.multi().zadd(hostKeys.outboxIndex(this.d.hostId), now, id).pexpire(hostKeys.outboxIndex(this.d.hostId), this.d.retentionMs).exec(),
        this.redis.pexpire(hostKeys.events(this.d.hostId), this.d.retentionMs),
      ]);
      const [result] = await execPipeline(
        this.redis,
        [0],
        (pipeline) => {
          queueScript(pipeline, saveRevisionScript, [keys.definition, keys.outbox], [
            inv.method === 'CANCEL' ? 'cancel' : 'update', this.d.hostId, event.revision, inv.sequence, status,
            JSON.stringify(this.stored(inv)), this.outboxItem(inv), '', now, this.d.retentionMs,
          ]);
        },
        [saveRevisionScript],
      );
      const [outcome, a] = scriptResult(result!);
      switch (outcome) {
        case 'saved':
          return { kind: 'saved', id, revision: Number(a), sequence: inv.sequence, status, bumped, stream: this.streamOf(inv) };
        case 'not_found':
          return { kind: 'not_found' };
        case 'in_use':
          return { kind: 'in_use', owner: a! };
        case 'cancelled':
          return { kind: 'cancelled', revision: Number(a) };
        case 'stale':
          if (ifMatch !== undefined) return { kind: 'precondition_failed', revision: Number(a) };
          continue;
        default:
          throw new Error(`save-revision answered ${String(outcome)}`);
      }
    }
    throw new Error(`event ${id} changed under every one of 5 attempts`);
  }
}

function throwFirst(results: PipelineResult[] | null): void {
  for (const [error] of results ?? []) if (error) throw error;
}

/** The script's answer as strings. */
function scriptResult([error, value]: PipelineResult): string[] {
  if (error) throw error;
  return (value as unknown[]).map((v) => String(v));
}

function createOutcome(id: string, inv: Invitation, stream: string, result: string[], now: number): CreateResult {
  const [outcome, a, b, c] = result;
  switch (outcome) {
    case 'saved':
      return { kind: 'saved', id, revision: 1, sequence: 0, status: statusFor(inv, now), stream };
    case 'duplicate':
      return { kind: 'duplicate', id, revision: Number(a), sequence: Number(b), status: c as HostStatus };
    case 'in_use':
      return { kind: 'in_use', id, owner: a! };
    case 'conflict':
      return { kind: 'conflict', id };
    default:
      throw new Error(`save-revision answered ${String(outcome)}`);
  }
}
