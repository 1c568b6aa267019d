import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisConnections } from '../../services/shared/streams/connection.ts';
import { onceKey } from '../../services/shared/streams/keys.ts';
import { StreamProducer, watchedAddChars } from '../../services/shared/streams/producer.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { readAll } from '../helpers/streams.ts';
import { connectionsFor, memoryLogger } from './support.ts';

let redis: TestRedis;
const open: RedisConnections[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await redis.stop();
});

/** A producer on connections of its own, as a process has (each its own command connection). */
async function producer(opts: { watchedAddChars?: number; beforeWatchedExec?: () => Promise<void> } = {}): Promise<StreamProducer> {
  const connections = await connectionsFor(redis.url, memoryLogger('error').log);
  open.push(connections);
  return new StreamProducer(connections, { onceTtlMs: 60_000, ...opts });
}

/** A summary-sized entry: one list field longer than the threshold. */
const large = (tag: string): string[] => ['id', tag, 'responses', JSON.stringify(Array.from({ length: 900 }, (_, i) => ({ guest_id: `g${i}@agent`, note: 'x'.repeat(300) })))];

async function commandCalls(command: string): Promise<number> {
  const info = await redis.client.info('commandstats');
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
}

describe('an add under a once-key larger than watchedAddChars', () => {
  it('is a transaction of plain commands: added once, the marker set with its lifetime, a second add answered with the marker', async () => {
    const p = await producer();
    const fields = large('one');
    expect(fields.join('').length).toBeGreaterThan(watchedAddChars);
    await redis.client.config('RESETSTAT');
    const first = await p.addOnce({ stream: 'big-one', fields, onceKey: 'summary:one:0' });
    expect(first.added).toBe(true);
    // Plain XADD in MULTI/EXEC, no script carrying the value.
    expect(await commandCalls('exec')).toBe(1);
    expect(await commandCalls('xadd')).toBe(1);
    expect(await commandCalls('evalsha')).toBe(0);
    const again = await p.addOnce({ stream: 'big-one', fields, onceKey: 'summary:one:0' });
    expect(again).toEqual({ added: false, marker: '1' });
    const entries = await readAll(redis.client, 'big-one');
    expect(entries.map((e) => e.id)).toEqual([(first as { id: string }).id]);
    expect(entries[0]!.fields).toEqual({ id: fields[1], responses: fields[3] });
    const ttl = await redis.client.pttl(onceKey('big-one', 'summary:one:0'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('is added once when producers race on the same key, whichever way each adds (transaction or script)', async () => {
    const producers = [await producer(), await producer(), await producer({ watchedAddChars: 0 })];
    for (let round = 0; round < 10; round += 1) {
      const key = `summary:race:${round}`;
      const results = await Promise.all(producers.flatMap((p) => [0, 1].map(() => p.addOnce({ stream: 'big-race', fields: large(`r${round}`), onceKey: key }))));
      expect(results.filter((r) => r.added)).toHaveLength(1);
      expect(results.filter((r) => !r.added).every((r) => (r as { marker: string }).marker === '1')).toBe(true);
    }
    expect(await redis.client.xlen('big-race')).toBe(10);
  });

  it('adds nothing when another producer adds the key between its read of the marker and its EXEC', async () => {
    const other = await producer({ watchedAddChars: 0 });
    let interleaved = 0;
    const p = await producer({
      beforeWatchedExec: async () => {
        // Once: the other producer (through the script) takes the key in the gap.
        if ((interleaved += 1) === 1) expect((await other.addOnce({ stream: 'big-gap', fields: large('other'), onceKey: 'gap' })).added).toBe(true);
      },
    });
    expect(await p.addOnce({ stream: 'big-gap', fields: large('mine'), onceKey: 'gap' })).toEqual({ added: false, marker: '1' });
    expect(interleaved).toBe(1);
    expect((await readAll(redis.client, 'big-gap')).map((e) => e.fields.id)).toEqual(['other']);
  });

  it('goes on after its connection was cut, and small adds in the same call stay in the pipeline', async () => {
    const p = await producer();
    expect((await p.addOnce({ stream: 'big-cut', fields: large('a'), onceKey: 'a' })).added).toBe(true);
    await redis.client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    const added = await (async () => {
      for (let attempt = 0; ; attempt += 1) {
        try {
          return await p.addManyOnce([
            { stream: 'big-cut', fields: ['id', 'small'], onceKey: 'small' },
            { stream: 'big-cut', fields: large('b'), onceKey: 'b' },
            { stream: 'big-cut', fields: large('a'), onceKey: 'a' },
          ]);
        } catch (error) {
          // The connections reconnect; the caller retries, as the outbox drainer does.
          if (attempt > 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    })();
    // The large `a` was added before the cut: answered with its marker, whatever attempt got through.
    expect(added[2]).toEqual({ added: false, marker: '1' });
    // Each key once (the small add and the large one go side by side, in no set order).
    expect((await readAll(redis.client, 'big-cut')).map((e) => e.fields.id).sort()).toEqual(['a', 'b', 'small']);
  });
});
