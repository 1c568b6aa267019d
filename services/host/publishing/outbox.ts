import { join } from 'node:path';
import type { RedisClient } from '../../shared/streams/redis-client.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import { hostKeys, onceKey } from '../../shared/streams/keys.ts';
import type { StreamProducer } from '../../shared/streams/producer.ts';
import { loadLuaScript, runScript } from '../../shared/streams/scripts.ts';
import { Periodic } from '../../shared/util/periodic.ts';
import type { HostMetrics } from '../metrics.ts';
import type { OutboxItem } from './revisions.ts';

const forgetDrainedScript = loadLuaScript(join(import.meta.dirname, 'lua', 'forget-drained.lua'));

/** Longer than any save takes between its index update and its script. */
const SAVE_MARGIN_MS = 30_000;

/** Events drained per round trip. */
const CHUNK = 500;

/** The once-marker of a revision: it reaches its stream once, however often it is drained. */
export const revisionOnceKey = (eventId: string, revision: number | string): string => `${eventId}:r${revision}`;

/** A revision the API saved, and the stream its invitation goes to (the once-marker lives beside it). */
export interface SavedRevision {
  id: string;
  revision: number;
  stream: string;
}

/** A once-marker's value as an entry id (markers written before they held ids hold "1"). */
const entryIdIn = (marker: string | null): string | undefined => (marker !== null && /^\d+-\d+$/.test(marker) ? marker : undefined);

export interface OutboxOptions {
  redis: RedisClient;
  producer: StreamProducer;
  hostId: string;
  metrics: HostMetrics;
  log: Logger;
  intervalMs: number;
  /** Trim the list index of events older than this (their keys have expired by then). */
  retentionMs: number;
}

/**
 * Moves saved revisions from each event's outbox to their invitation stream: right after the API
 * saved them (the caller drains its own events) and, for revisions a crash left behind, at start and
 * every `intervalMs` from the outbox index. Each XADD is guarded by the once-marker
 * `<id>:r<revision>`, and an item is removed only after its XADD (or after finding the marker),
 * so a crash at any point leads to one entry per revision.
 */
export class OutboxDrainer {
  private readonly o: OutboxOptions;
  private readonly periodic: Periodic;

  constructor(opts: OutboxOptions) {
    this.o = opts;
    this.periodic = new Periodic(opts.intervalMs, () => this.sweep(), (error) => opts.log.warn({ err: String(error) }, 'outbox sweep failed; trying again'), 0.2);
  }

  start(): void {
    this.periodic.start(0);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /**
   * Publishes what the outboxes of these events hold. Per revision found (by `<id>:r<revision>`):
   * its entry id, whether this drain added it or another drain had (the once-marker names the entry),
   * and whether this drain added it.
   */
  async drain(ids: readonly string[]): Promise<Map<string, { entryId: string | undefined; added: boolean }>> {
    const drained = new Map<string, { entryId: string | undefined; added: boolean }>();
    for (let start = 0; start < ids.length; start += CHUNK) {
      const chunk = ids.slice(start, start + CHUNK);
      const read = this.o.redis.pipeline();
      for (const id of chunk) read.hgetall(hostKeys.event(id).outbox);
      const outboxes = (await read.exec()) ?? [];
      const items: { id: string; revision: number; item: OutboxItem }[] = [];
      outboxes.forEach(([error, raw], i) => {
        if (error) throw error;
        for (const [revision, json] of Object.entries(raw as Record<string, string>)) {
          items.push({ id: chunk[i]!, revision: Number(revision), item: JSON.parse(json) as OutboxItem });
        }
      });
      if (items.length === 0) continue;
      // Oldest revision first: the coordinator applies any order, but in order is the common case.
      items.sort((a, b) => a.revision - b.revision);
      const results = await this.o.producer.addManyOnce(
        items.map(({ id, revision, item }) => ({ stream: item.stream, fields: item.fields, onceKey: revisionOnceKey(id, revision), markerHoldsId: true })),
      );
      const remove = this.o.redis.pipeline();
      items.forEach(({ id, revision }, i) => {
        remove.hdel(hostKeys.event(id).outbox, String(revision));
        const result = results[i]!;
        drained.set(revisionOnceKey(id, revision), result.added ? { entryId: result.id, added: true } : { entryId: entryIdIn(result.marker), added: false });
        // A marker found means an earlier drain added it (and counted it).
        if (result.added) this.o.metrics.published.inc({ outcome: 'published' });
      });
      for (const [error] of (await remove.exec()) ?? []) if (error) throw error;
    }
    return drained;
  }

  /**
   * Publishes saved revisions and answers the entry id of each, whoever added it: this drain, or the
   * periodic one that moved it first (then the outbox no longer holds it and its once-marker, which
   * names the entry, is read). Undefined only for a marker older than entry ids in markers.
   */
  async publish(saved: readonly SavedRevision[]): Promise<(string | undefined)[]> {
    const drained = await this.drain([...new Set(saved.map((s) => s.id))]);
    const entryIds = saved.map((s) => drained.get(revisionOnceKey(s.id, s.revision))?.entryId);
    const missing = saved.flatMap((s, i) => (drained.has(revisionOnceKey(s.id, s.revision)) ? [] : [i]));
    if (missing.length > 0) {
      const read = this.o.redis.pipeline();
      for (const i of missing) read.get(onceKey(saved[i]!.stream, revisionOnceKey(saved[i]!.id, saved[i]!.revision)));
      const markers = (await read.exec()) ?? [];
      missing.forEach((i, k) => {
        const [error, marker] = markers[k]!;
        if (error) throw error;
        entryIds[i] = entryIdIn(marker as string | null);
      });
    }
    return entryIds;
  }

  /**
   * Drains every event of the outbox index, then forgets those whose outbox is empty and that were
   * not saved again meanwhile (forget-drained.lua). Also trims the list index.
   */
  async sweep(now = Date.now()): Promise<void> {
    const index = hostKeys.outboxIndex(this.o.hostId);
    for (let offset = 0; ; offset += CHUNK) {
      const ids = await this.o.redis.zrange(index, offset, offset + CHUNK - 1);
      if (ids.length === 0) break;
      const added = [...(await this.drain(ids)).values()].filter((d) => d.added).length;
      if (added > 0) this.o.log.info({ revisions: added }, 'outbox: published revisions left behind by an interrupted save');
      // A save adds its member a round trip before its script runs: members younger than this margin
      // may belong to a save still under way, whose outbox looks empty yet.
      const checkedAt = Date.now() - SAVE_MARGIN_MS;
      const check = this.o.redis.pipeline();
      for (const id of ids) check.hlen(hostKeys.event(id).outbox);
      const lengths = (await check.exec()) ?? [];
      const done = ids.filter((_, i) => lengths[i]![1] === 0);
      if (done.length > 0) offset -= await runScript<number>(this.o.redis, forgetDrainedScript, [index], [checkedAt, ...done]);
      if (ids.length < CHUNK) break;
    }
    await this.o.redis.zremrangebyscore(hostKeys.events(this.o.hostId), '-inf', now - this.o.retentionMs);
  }
}
