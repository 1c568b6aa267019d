import type { RedisClient } from '../shared/streams/redis-client.ts';
import type { Logger } from '../shared/logging/logger.ts';
import { type ActivityType, type EventActivity, type GuestChange, activityFields } from '../shared/schema/activity.ts';
import { type DeliveryType, type CancelScope, deliveryFieldsOf } from '../shared/schema/delivery.ts';
import { eventKeys, lanes, streams } from '../shared/streams/keys.ts';
import type { Message, StreamProducer } from '../shared/streams/producer.ts';
import type { CrashPoint } from './crash-point.ts';
import { REPLIES_PER_CALL, type EventStore, type ReplyToRecord, receiptToRecord } from './event-store.ts';
import { type FanOutItem, type FanOutLister, readChunks } from './fan-out.ts';
import { invitedEntries } from './invited-activity.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { HandedLists, SteppedSummary, SummaryBuilder } from './summary-builder.ts';
import type { SummaryPublisher } from './summary-publisher.ts';

/** An item a script put in an event's outbox (includes/event.lua): a delivery, a summary or an activity entry. */
type OutboxItem =
  // `f`: a chunk of a fan-out (set by the drainer, never by a script).
  | { k: 'd'; key: string; t: DeliveryType; a: string; g: string[]; s: number; r: number; dl: number; p: 'normal' | 'high'; rm?: number; sc?: CancelScope; x?: number; f?: true }
  | { k: 's'; key: string; f: string[] }
  | ({ k: 'b' } & SteppedSummary)
  | { k: 'a'; key: string; t: ActivityType; e: EventActivity; g: GuestChange[] | Record<string, never> }
  | FanOutItem;

type Delivery = Extract<OutboxItem, { k: 'd' }>;
type Plain = Exclude<OutboxItem, FanOutItem>;

/**
 * Invited guests a large version's activity names (the first chunks' guests until at least this many),
 * as the opening script names at most ACTIVITY_GUESTS (includes/event.lua) of a smaller one: a host's
 * board lists the others as they answer. Naming all 100,000 of a fan-out cost the hosts ~1.3 s of
 * Redis time and the fan-out's deliveries 1.6 -> 3.4-3.8 s (docs/BENCHMARKS.md).
 */
export const INVITED_NAMED_MAX = 2_000;

/** Rounds of draining at most per call (an expiry recorded while draining can decide a summary). */
const ROUNDS = 3;

/**
 * Moves what the event's scripts decided from its outbox onto the streams: each item is added
 * under its once-key (a delivery key, `summary:<id>:<sequence>`, an activity key) and removed from
 * the outbox only after, so a crash anywhere is healed by draining again, whoever does it. A
 * request found past its event's expires_at is not delivered: its guests are recorded as never
 * asked instead. A fan-out item (a delivery to a large event's guests) is expanded in steps: its
 * chunks are read and added `chunksPerStep` at a time, each under its own once-key, and
 * the item goes only after the last (docs/EVENTS.md, "Large events in steps").
 */
export class OutboxDrainer {
  private readonly redis: RedisClient;
  private readonly producer: StreamProducer;
  private readonly summaries: SummaryPublisher;
  private readonly builder: SummaryBuilder;
  private readonly store: EventStore;
  private readonly lister: FanOutLister;
  private readonly crash: CrashPoint;
  private readonly metrics: CoordinatorMetrics;
  private readonly log: Logger;

  constructor(deps: {
    redis: RedisClient;
    producer: StreamProducer;
    summaries: SummaryPublisher;
    builder: SummaryBuilder;
    store: EventStore;
    lister: FanOutLister;
    crash: CrashPoint;
    metrics: CoordinatorMetrics;
    log: Logger;
  }) {
    this.lister = deps.lister;
    this.crash = deps.crash;
    this.redis = deps.redis;
    this.producer = deps.producer;
    this.summaries = deps.summaries;
    this.builder = deps.builder;
    this.store = deps.store;
    this.metrics = deps.metrics;
    this.log = deps.log;
  }

  /**
   * Drains the event's outbox; `known` is its content as a script just returned it (field, item, …),
   * saving a read; `handed` the material of a small version's summary lists the same script read
   * (the call that closed the version, or any later call that met its summary still waiting), saving
   * the summary's reads.
   */
  async drain(eventId: string, known?: string[], definitions?: ReadonlyMap<number, Record<string, string>>, handed?: HandedLists): Promise<void> {
    for (let round = 0; round < ROUNDS; round += 1) {
      if (!(await this.drainOnce(eventId, round === 0 ? known : undefined, definitions, round === 0 ? handed : undefined))) return;
    }
  }

  /**
   * One pass; true when it recorded expiries (their effects may have put new items in the outbox).
   * `definitions`: revisions' definitions the caller holds (the one it just applied), saving a read.
   */
  private async drainOnce(eventId: string, known: string[] | undefined, definitions: ReadonlyMap<number, Record<string, string>> | undefined, handed?: HandedLists): Promise<boolean> {
    const keys = eventKeys(eventId);
    const raw: Record<string, string> = known ? {} : await this.redis.hgetall(keys.outbox);
    if (known) for (let i = 0; i + 1 < known.length; i += 2) raw[known[i]!] = known[i + 1]!;
    const fields = Object.keys(raw).sort();
    if (fields.length === 0) return false;
    let expired = false;
    // In the outbox's order: runs of plain items together, each fan-out on its own in steps.
    let run: { field: string; item: Plain }[] = [];
    const flush = async () => {
      if (run.length === 0) return;
      const items = run.map((r) => r.item);
      expired = (await this.addItems(eventId, items, definitions, handed)) || expired;
      const done = run.map((r) => r.field);
      if (items.some((i) => i.k === 'b')) {
        // The version's keys may change again once its summary is out (apply-revision stops answering busy).
        await this.redis.multi().hdel(keys.outbox, ...done).hdel(keys.event, 'sb').exec();
      } else {
        await this.redis.hdel(keys.outbox, ...done);
      }
      run = [];
    };
    for (const field of fields) {
      const item = JSON.parse(raw[field]!) as OutboxItem;
      if (item.k !== 'f') {
        run.push({ field, item });
        continue;
      }
      await flush();
      expired = (await this.fanOut(eventId, field, item, definitions)) || expired;
    }
    await flush();
    return expired;
  }

  /** Delivers a fan-out's chunks in steps, then removes the item (and the keys it owns). */
  private async fanOut(eventId: string, field: string, item: FanOutItem, definitions: ReadonlyMap<number, Record<string, string>> | undefined): Promise<boolean> {
    const keys = eventKeys(eventId);
    const src = await this.lister.chunksOf(eventId, item);
    const count = Number((await this.redis.hget(src, 'n')) ?? 0);
    let expired = false;
    // Guests named as invited so far: the chunks are read in the same order on every drain, so a
    // re-drain names the same chunks' guests (under the same once-keys).
    let named = 0;
    for (let first = 0; first < count; first += this.lister.chunksPerStep) {
      const chunks = await readChunks(this.redis, src, first, Math.min(this.lister.chunksPerStep, count - first));
      const items: Delivery[] = [];
      chunks.forEach((c, i) => {
        if (!c) return;
        const listed = named < INVITED_NAMED_MAX;
        if (listed) named += c.g.length;
        items.push({ k: 'd', key: `${item.key}:c${first + i}`, t: item.t as DeliveryType, a: c.a, g: c.g, s: item.s, r: item.r, dl: item.dl, p: item.p, rm: item.rm, sc: item.sc as CancelScope | undefined, x: item.x, ...(listed ? { f: true as const } : {}) });
      });
      if (items.length > 0) expired = (await this.addItems(eventId, items, definitions)) || expired;
      this.crash.step('fan-out');
    }
    const done = this.redis.multi().hdel(keys.outbox, field).unlink(src);
    if (item.drop && item.from) done.unlink(item.from);
    await done.exec();
    this.log.debug({ eventId, type: item.t, chunks: count }, 'fan-out delivered in steps');
    return expired;
  }

  /** Adds plain items' messages under their once-keys; true when it recorded expiries. */
  private async addItems(eventId: string, items: Plain[], definitions: ReadonlyMap<number, Record<string, string>> | undefined, handed?: HandedLists): Promise<boolean> {
    const keys = eventKeys(eventId);
    const defs = new Map<number, Record<string, string>>();
    const revisions = [...new Set(items.flatMap((i) => (i.k === 'd' ? [i.r] : [])))].filter((r) => {
      const held = definitions?.get(r);
      if (held) defs.set(r, held);
      return !held;
    });
    if (revisions.length > 0) {
      const stored = await this.redis.hmget(keys.event, ...revisions.map((r) => `def:${r}`));
      revisions.forEach((r, i) => defs.set(r, stored[i] ? (JSON.parse(stored[i]) as Record<string, string>) : {}));
    }

    const now = Date.now();
    const messages: Message[] = [];
    // Per message, what it counts for in the metrics once added.
    const counts: ({ delivery: DeliveryType; guests: number } | { activity: ActivityType })[] = [];
    const expired: ReplyToRecord[] = [];
    const summaries: { fields: string[]; key: string }[] = [];
    const stepped: SteppedSummary[] = [];
    for (const item of items) {
      if (item.k === 'd') {
        if (item.t === 'request' && item.x !== undefined && item.x <= now) {
          for (const guestId of item.g) {
            expired.push(receiptToRecord({ guestId, sequence: item.s, id: `expired:${eventId}:${item.s}:${guestId}` }, 0));
          }
          continue;
        }
        const target = { type: item.t, invitationId: eventId, sequence: item.s, revision: item.r, rsvpDeadline: item.dl, guestIds: item.g, deliveryKey: item.key, reminder: item.rm, scope: item.sc };
        messages.push({ stream: lanes.inbox(item.a, item.p), fields: deliveryFieldsOf(defs.get(item.r) ?? {}, target, now), onceKey: item.key });
        counts.push({ delivery: item.t, guests: item.g.length });
      } else if (item.k === 'a') {
        const event: EventActivity = { ...item.e, guests: Array.isArray(item.g) ? item.g : [] };
        messages.push({ stream: streams.activity, fields: activityFields({ type: item.t, at: now, events: [event] }), onceKey: `activity:${item.key}` });
        counts.push({ activity: item.t });
      } else if (item.k === 'b') {
        // A small version's summary whose lists' material came back with the script call goes out
        // with the rest; any other (a large one, or a drain with no script call before it) is built
        // in steps from the version's keys, which have not changed since (`sb`).
        const built = this.builder.fromHanded(item, handed);
        if (built) summaries.push({ fields: built, key: item.key });
        else stepped.push(item);
      } else {
        summaries.push({ fields: item.f, key: item.key });
      }
    }

    if (expired.length > 0) {
      // Recorded before the items go: a crash in between records them again, once each.
      const calls = [];
      for (let i = 0; i < expired.length; i += REPLIES_PER_CALL) calls.push({ eventId, replies: expired.slice(i, i + REPLIES_PER_CALL) });
      for (const result of await this.store.recordReplies(calls)) if (result.error) throw result.error;
      this.metrics.expiredDeliveries.inc(expired.length);
      this.log.info({ eventId, guests: expired.length }, 'request not delivered: past the event’s expires_at; guests recorded as never asked');
    }
    // What was delivered, for the hosts' live boards: per type, the guests named (one entry per pass).
    const deliveredGuests = new Map<string, { type: DeliveryType; sequence: number; revision: number; guests: GuestChange[] }>();
    for (const item of items) {
      if (item.k !== 'd' || (item.t === 'request' && item.x !== undefined && item.x <= now)) continue;
      const key = `${item.t}:${item.s}:${item.r}`;
      const entry = deliveredGuests.get(key) ?? { type: item.t, sequence: item.s, revision: item.r, guests: [] };
      // An event's cancellation is its status (the `cancelled` activity), not a change of each guest: they keep their answers.
      // A request's guests are listed, as `invited`, by the `version` activity of the script that
      // opened the version (apply-revision, open_version): naming them again made every host apply
      // and feed each invited guest's row twice (a quarter of the host read model's Redis time for a
      // 100-guest event). The entry still says that the request went out. A large version's
      // `version` entry names none: each of its fan-out's request chunks has entries of its own.
      if (item.t === 'request' && item.f) {
        const hostId = defs.get(item.r)?.host_id ?? '';
        for (const m of invitedEntries({ eventId, hostId, sequence: item.s, revision: item.r, key: item.key, guests: item.g }, now)) {
          messages.push(m);
          counts.push({ activity: 'delivered' });
        }
        continue;
      }
      if ((item.t === 'cancel' && item.sc === 'event') || item.t === 'request') {
        deliveredGuests.set(key, entry);
        continue;
      }
      for (const guestId of item.g) if (entry.guests.length < 2_000) entry.guests.push({ guest_id: guestId, outcome: item.t === 'reminder' || item.t === 'start_reminder' ? 'reminded' : item.t === 'promoted' ? 'promoted' : item.t === 'cancel' ? 'removed' : 'invited', state: item.t === 'promoted' || item.t === 'start_reminder' ? 'accepted' : 'needs_action' });
      deliveredGuests.set(key, entry);
    }
    if (deliveredGuests.size > 0) {
      const first = items.find((i) => i.k === 'd')!;
      const events: EventActivity[] = [...deliveredGuests.values()].map((d) => ({
        invitation_id: eventId,
        host_id: defs.get(d.revision)?.host_id ?? '',
        sequence: d.sequence,
        revision: d.revision,
        delivery: d.type,
        guests: d.guests.slice(0, 100),
      }));
      messages.push({ stream: streams.activity, fields: activityFields({ type: 'delivered', at: now, events }), onceKey: `delivered:${first.key}` });
      counts.push({ activity: 'delivered' });
    }
    // The summaries go out with the deliveries and activity (one round trip, not two in a row),
    // written first: a summary is what the host waits for.
    const [, ids] = await Promise.all([Promise.all(summaries.map((s) => this.summaries.publish(eventId, s.fields, s.key))), this.producer.addMany(messages)]);
    for (const s of stepped) {
      const started = performance.now();
      await this.summaries.publish(eventId, await this.builder.build(eventId, s), s.key);
      this.log.debug({ eventId, ms: Math.round(performance.now() - started) }, 'summary lists read in steps');
    }
    counts.forEach((c, i) => {
      if (ids[i] === null) return;
      if ('delivery' in c) this.metrics.deliveries.inc({ type: c.delivery }, c.guests);
      else this.metrics.activity.inc({ type: c.activity });
    });
    return expired.length > 0;
  }
}
