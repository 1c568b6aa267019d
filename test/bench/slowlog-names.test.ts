import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resetSlowlog, slowlog } from '../../scripts/bench/redis-info.ts';
import { loadLuaScript, runScript } from '../../services/shared/streams/scripts.ts';
import { timersKey } from '../../services/shared/streams/keys.ts';
import { startTestRedis } from '../helpers/redis.ts';

// The bench's stall rows name the slowest call of a scenario from Redis' slow log: a script call
// must come out under its file's name, not as a SHA1 nobody can read.
describe('the bench slow log', () => {
  it('names a project script by its file and keeps a plain command as it is', async () => {
    const redis = await startTestRedis();
    try {
      const script = loadLuaScript(join(import.meta.dirname, '../../services/coordinator/lua/reschedule-timer.lua'));
      await resetSlowlog(redis.client, 0);
      await runScript(redis.client, script, [timersKey], ['no-such-event', 1, 2]);
      await redis.client.set('plain', 'x');
      const logged = await slowlog(redis.client, 100);
      const call = logged.find((e) => e.command.toLowerCase().startsWith('evalsha'));
      expect(call?.command).toMatch(/^evalsha reschedule-timer 1 /i);
      expect(logged.some((e) => e.command === 'set plain x')).toBe(true);
    } finally {
      await redis.stop();
    }
  });
});
