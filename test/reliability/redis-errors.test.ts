import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisRefusal } from '../../services/shared/streams/redis-errors.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.stop();
});

describe('classifying a Redis error', () => {
  it('reads a MULTI cut off by its connection as "not reachable", although ioredis lists that error among its own previousErrors', async () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false });
    client.on('error', () => undefined);
    await client.ping();
    // The socket goes (as when redis-server is killed) with the transaction sent and unanswered:
    // ioredis fails every command of it with one error object, so EXEC's error (that same object)
    // gets previousErrors holding itself. This once overflowed the stack of the coordinator.
    const exec = client.multi().set('k', 'v').xadd('s', '*', 'f', 'v').exec();
    client.stream.destroy();
    const error = (await exec.catch((e: unknown) => e)) as Error & { previousErrors?: unknown[] };
    client.disconnect();
    expect(error.previousErrors).toContain(error);
    expect(redisRefusal(error)).toMatchObject({ code: 'redis_unavailable', retryAfterSeconds: 2 });
  });

  it('finds the refusal inside an EXECABORT (a command refused at the memory limit)', async () => {
    const c = redis.client;
    await c.config('SET', 'maxmemory', '1');
    try {
      const error = (await c.multi().set('k', 'v').exec().catch((e: unknown) => e)) as Error;
      expect(error.message).toMatch(/EXECABORT/);
      expect(redisRefusal(error)).toMatchObject({ code: 'redis_out_of_memory' });
    } finally {
      await c.config('SET', 'maxmemory', '0');
    }
  });

  it('leaves a bug (WRONGTYPE) unclassified: it stays an internal error', async () => {
    const c = redis.client;
    await c.set('str', 'v');
    const error = await c.xadd('str', '*', 'f', 'v').catch((e: unknown) => e);
    expect(redisRefusal(error)).toBeUndefined();
  });
});
