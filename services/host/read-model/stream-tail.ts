import { type RedisClient, isCluster } from '../../shared/streams/redis-client.ts';
import { slotOf } from '../../shared/streams/slots.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import type { RedisConnections } from '../../shared/streams/connection.ts';
import { type RawEntry, toFields } from '../../shared/streams/entry.ts';
import { sleep } from '../../shared/util/time.ts';

export interface TailEntry {
  stream: string;
  id: string;
  fields: Record<string, string>;
}

type Listener = (entry: TailEntry) => void;

/** How often a tail on a Redis Cluster looks again when nothing came (it cannot BLOCK, see readBySlot). */
const clusterPollMs = 100;

/** "ms-n" ids in order (string order would put 9-0 after 10-0). */
export function compareIds(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('-').map(Number);
  const [bm = 0, bn = 0] = b.split('-').map(Number);
  return am - bm || an - bn;
}

/**
 * Follows a changing set of streams with plain XREAD (no group: every host replica sees every
 * entry) on one blocking connection of its own, however many SSE clients watch. Each listener says
 * from which id it wants entries; the tail reads each stream from the earliest id any listener
 * wants, and each listener is handed only entries after its own.
 */
export class StreamTail {
  private readonly connections: RedisConnections;
  private readonly log: Logger;
  private readonly blockMs: number;
  private readonly purpose: string;
  private readonly cursors = new Map<string, string>();
  private readonly listeners = new Map<string, Map<Listener, { last: string }>>();
  private readonly stop = new AbortController();
  private blocking: RedisClient | undefined;
  private loop: Promise<void> | undefined;

  constructor(connections: RedisConnections, log: Logger, purpose: string, blockMs = 1_000) {
    this.connections = connections;
    this.log = log;
    this.purpose = purpose;
    this.blockMs = blockMs;
  }

  /** Hands `listener` every entry of `stream` after `after`; returns the function that stops it. */
  watch(stream: string, after: string, listener: Listener): () => void {
    let set = this.listeners.get(stream);
    if (!set) this.listeners.set(stream, (set = new Map()));
    set.set(listener, { last: after });
    const cursor = this.cursors.get(stream);
    if (cursor === undefined || compareIds(after, cursor) < 0) this.cursors.set(stream, after);
    this.loop ??= this.run();
    return () => {
      set.delete(listener);
      if (set.size === 0) {
        this.listeners.delete(stream);
        this.cursors.delete(stream);
      }
    };
  }

  async close(): Promise<void> {
    this.stop.abort();
    if (this.blocking) await this.connections.releaseBlocking(this.blocking);
    await this.loop;
  }

  private async run(): Promise<void> {
    this.blocking = this.connections.createBlocking(`tail:${this.purpose}`, this.blockMs + 5_000);
    let failures = 0;
    while (!this.stop.signal.aborted) {
      const streams = [...this.cursors.keys()];
      if (streams.length === 0 || this.blocking.status !== 'ready') {
        await sleep(200, this.stop.signal);
        continue;
      }
      try {
        const reply = isCluster(this.blocking)
          ? await this.readBySlot(this.blocking, streams)
          : ((await this.blocking.xread('COUNT', 500, 'BLOCK', this.blockMs, 'STREAMS', ...streams, ...streams.map((s) => this.cursors.get(s)!))) as [string, RawEntry[]][] | null);
        failures = 0;
        // Entries of every stream in one order (ids share Redis' clock), so a client resuming after
        // one id misses nothing that came before it on another stream of the same read.
        const all: TailEntry[] = [];
        for (const [stream, entries] of reply ?? []) {
          for (const [id, flat] of entries) {
            if (this.cursors.has(stream)) this.cursors.set(stream, id);
            if (flat) all.push({ stream, id, fields: toFields(flat) });
          }
        }
        all.sort((a, b) => compareIds(a.id, b.id) || (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
        for (const entry of all) {
          for (const [listener, state] of this.listeners.get(entry.stream) ?? []) {
            if (compareIds(entry.id, state.last) <= 0) continue;
            state.last = entry.id;
            listener(entry);
          }
        }
      } catch (error) {
        if (this.stop.signal.aborted) break;
        failures += 1;
        if (failures === 1) this.log.warn({ err: String(error) }, `${this.purpose}: stream tail read failed; retrying`);
        await sleep(Math.min(3_000, 100 * 2 ** failures), this.stop.signal);
      }
    }
  }

  /**
   * On a Redis Cluster one XREAD may name only streams of one slot, and a BLOCK on a node's
   * connection would hold up the reads of the other slots on that node: one XREAD per slot, without
   * BLOCK, in parallel, and a short pause when none had anything.
   */
  private async readBySlot(client: RedisClient, streams: string[]): Promise<[string, RawEntry[]][]> {
    const bySlot = new Map<number, string[]>();
    for (const stream of streams) {
      const slot = slotOf(stream);
      bySlot.set(slot, [...(bySlot.get(slot) ?? []), stream]);
    }
    const replies = await Promise.all(
      [...bySlot.values()].map(async (group) => (await client.xread('COUNT', 500, 'STREAMS', ...group, ...group.map((s) => this.cursors.get(s)!))) as [string, RawEntry[]][] | null),
    );
    const all = replies.flatMap((r) => r ?? []);
    if (all.length === 0) await sleep(clusterPollMs, this.stop.signal);
    return all;
  }
}
