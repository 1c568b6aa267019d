import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { RedisClient } from '../shared/streams/redis-client.ts';
import { eventKeys } from '../shared/streams/keys.ts';
import { loadLuaScript, runScript } from '../shared/streams/scripts.ts';
import type { CrashPoint } from './crash-point.ts';
import { hashPages } from '../shared/streams/hash-pages.ts';
import { writeHashInSteps } from '../shared/streams/hash-steps.ts';
import { twoReplies } from './two-replies.ts';

const commitScript = loadLuaScript(join(import.meta.dirname, 'lua', 'commit-fanout.lua'));

/** One delivery's guests: an agent and up to 500 of its guests (includes/event.lua, deliver). */
export interface Chunk {
  a: string;
  g: string[];
}

/** A fan-out item of an event's outbox (includes/event.lua, fan_out). */
export interface FanOutItem {
  k: 'f';
  key: string;
  t: string;
  s: number;
  r: number;
  dl: number;
  p: 'normal' | 'high';
  rm?: number;
  sc?: string;
  x?: number;
  /** The chunk hash, when it existed before the item (staged requests). */
  src?: string;
  /** The hash the guests are listed from, and which of them. */
  from?: string;
  only?: 'all' | 'remind' | 'remind_tentative' | 'start';
  /** 1: `from` was set aside for this fan-out and goes with it. */
  drop?: number;
}

/** A staging key set aside for an aborted call lives this long at most. */
export const STAGE_TTL_MS = 3_600_000;

const index = (i: number): string => String(i).padStart(9, '0');

/**
 * Splits guests into deliveries as deliver() in includes/event.lua does: agents in sorted order,
 * each agent's guests in the order given, a chunk closed at 500 guests or 8,000 bytes of JSON.
 */
export function chunkByAgent(guests: Iterable<{ id: string; agent: string }>): Chunk[] {
  const byAgent = new Map<string, string[]>();
  for (const { id, agent } of guests) {
    const list = byAgent.get(agent);
    if (list) list.push(id);
    else byAgent.set(agent, [id]);
  }
  // Byte order, as Lua's table.sort compares strings.
  const agents = [...byAgent.keys()].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  const chunks: Chunk[] = [];
  for (const a of agents) {
    let g: string[] = [];
    let length = 2;
    for (const id of byAgent.get(a)!) {
      const size = Buffer.byteLength(id) + 3;
      if (g.length >= 500 || length + size > 8_000) {
        chunks.push({ a, g });
        g = [];
        length = 2;
      }
      g.push(id);
      length += size;
    }
    if (g.length > 0) chunks.push({ a, g });
  }
  return chunks;
}

/** Bounded HSET calls sent per round trip: each is short, and Redis serves other clients between round trips. */
const CALLS_PER_ROUND_TRIP = 8;

/**
 * Writes a hash in the calls given (field, value, … each), CALLS_PER_ROUND_TRIP per round trip,
 * each call renewing the key's bounded life and counted as a fan-out step by the crash point.
 */
export async function writeInSteps(redis: RedisClient, key: string, calls: Iterable<readonly string[]>, ttlMs: number, crash?: CrashPoint): Promise<void> {
  await writeHashInSteps(redis, key, calls, { ttlMs, stepsPerRound: CALLS_PER_ROUND_TRIP, afterStep: () => crash?.step('fan-out') });
}

/**
 * Writes chunks into a chunk hash (field n: their number, %09d: each chunk as JSON), about `step`
 * guests per call (at least one chunk).
 */
export async function writeChunks(redis: RedisClient, key: string, chunks: Chunk[], step: number, ttlMs: number, crash?: CrashPoint): Promise<void> {
  const calls: string[][] = [];
  let fields: string[] = ['n', String(chunks.length)];
  let guests = 0;
  for (const [i, chunk] of chunks.entries()) {
    if (guests > 0 && guests + chunk.g.length > step) {
      calls.push(fields);
      fields = [];
      guests = 0;
    }
    fields.push(index(i), JSON.stringify(chunk));
    guests += chunk.g.length;
  }
  calls.push(fields);
  await writeInSteps(redis, key, calls, ttlMs, crash);
}

/** Reads chunks [first, first + count) of a chunk hash; a missing one (the hash gone) is null. */
export async function readChunks(redis: RedisClient, key: string, first: number, count: number): Promise<(Chunk | null)[]> {
  const fields = Array.from({ length: count }, (_, i) => index(first + i));
  const raw = await redis.hmget(key, ...fields);
  return raw.map((r) => (r ? (JSON.parse(r) as Chunk) : null));
}

/**
 * Lists the guests of a fan-out whose chunks do not exist yet (`from` + `only`), `step` guests per
 * call, into a temporary key, then commits them as the fan-out's chunk hash (commit-fanout.lua):
 * the first list committed is the one every drainer delivers, so a crash while listing only
 * leaves a temporary key that expires, and a crash after is healed by delivering the same chunks.
 * The event answers busy to new revisions until then, so `from` holds the version's guests.
 */
export class FanOutLister {
  private readonly redis: RedisClient;
  private readonly step: number;
  private readonly crash: CrashPoint;
  /**
   * Chunks (one XADD of up to 500 guests each) added per step of delivering: 20 at the default
   * step of 500 guests, one at 25 or fewer.
   */
  readonly chunksPerStep: number;

  constructor(redis: RedisClient, opts: { step: number; crash: CrashPoint }) {
    this.redis = redis;
    this.step = opts.step;
    this.crash = opts.crash;
    this.chunksPerStep = Math.max(1, Math.floor(opts.step / 25));
  }

  /** The fan-out's chunk hash, listed and committed first when need be. */
  async chunksOf(eventId: string, item: FanOutItem): Promise<string> {
    if (item.src) return item.src;
    const keys = eventKeys(eventId);
    const fx = item.key.slice(item.key.lastIndexOf(':') + 1);
    const target = keys.fanout(fx);
    if ((await this.redis.exists(target)) === 1) return target;
    const guests = await this.list(eventId, item);
    const tmp = keys.stage(`${fx}.${randomUUID()}`);
    await writeChunks(this.redis, tmp, chunkByAgent(guests), this.step, STAGE_TTL_MS, this.crash);
    const counted = item.t === 'reminder' ? guests.length : 0;
    await runScript(this.redis, commitScript, [tmp, target, keys.event], [`fo:${fx}`, counted]);
    return target;
  }

  private async list(eventId: string, item: FanOutItem): Promise<{ id: string; agent: string }[]> {
    const keys = eventKeys(eventId);
    const out: { id: string; agent: string }[] = [];
    for await (const { ids, values } of hashPages(this.redis, item.from!, this.step)) {
      if (ids.length > 0) out.push(...(await this.select(keys, item, ids, values)));
      this.crash.step('fan-out');
    }
    return out;
  }

  /** The guests of one page the fan-out goes to, with their agents (invited: "<agent>\t<name>"). */
  private async select(keys: ReturnType<typeof eventKeys>, item: FanOutItem, ids: string[], values: string[]): Promise<{ id: string; agent: string }[]> {
    const agentOf = (home: string | null | undefined) => (home ? home.slice(0, home.indexOf('\t')) : undefined);
    const picked: { id: string; agent: string }[] = [];
    if (item.only === 'all') {
      ids.forEach((id, i) => picked.push({ id, agent: agentOf(values[i])! }));
    } else if (item.only === 'remind' || item.only === 'remind_tentative') {
      // Those at NEEDS-ACTION (and TENTATIVE when asked), not recorded as never asked (tick-event.lua).
      const [recs, never] = twoReplies(await this.redis.pipeline().hmget(keys.replies, ...ids).hmget(keys.never, ...ids).exec(), 'fan-out listing');
      ids.forEach((id, i) => {
        if (never[i]) return;
        const rec = recs[i];
        if (!rec || (item.only === 'remind_tentative' && (JSON.parse(rec) as { response: string }).response === 'maybe')) picked.push({ id, agent: agentOf(values[i])! });
      });
    } else {
      // Start reminders: the confirmed guests (an acceptance not on the waitlist).
      const yes = ids.filter((_, i) => (JSON.parse(values[i]!) as { response: string }).response === 'yes');
      if (yes.length === 0) return picked;
      const [waiting, homes] = twoReplies(await this.redis.pipeline().zmscore(keys.waitlist, ...yes).hmget(keys.invited, ...yes).exec(), 'fan-out listing');
      yes.forEach((id, i) => {
        const agent = agentOf(homes[i]);
        if (waiting[i] === null && agent !== undefined) picked.push({ id, agent });
      });
    }
    return picked;
  }

  static scripts() {
    return [commitScript];
  }
}
