import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisServerProcess } from './services/launcher/redis-server.ts';
import { restatedRows } from './services/host/read-model/restated-rows.ts';
const server = await new RedisServerProcess({ dir: mkdtempSync(join(tmpdir(), 'probe-')) }).start();
const r = new Redis(server.url);
const n = 500;
const rows = Array.from({ length: n }, (_, i) => ({ guest_id: `guest-${i}.ev-0-1@bench-agent-1`, guest_name: `Guest Number ${i}`, state: 'accepted' as const, final: true, sequence: 0, plus_ones: 0, ...(i % 5 === 0 ? { answers: { dietary: 'vegan', arrival: ['friday', 'saturday'] } } : {}), message: 'Count me in!', updated_at: Date.now() }));
const stored = rows.map((x) => { const { final: _f, ...rest } = x; return JSON.stringify({ ...rest, reply_rev: 0, outcome: 'counted', message_sequence: 0 }).slice(0, -1) + ',"src":"1764000000000-12"}'; });
await r.hset('{e}g', ...rows.flatMap((x, i) => [x.guest_id, stored[i]!]));
const { restated } = restatedRows(rows, stored);
console.log('restated', restated.length);
const summary = 'x'.repeat(160_000);
const base = readFileSync('services/host/read-model/lua/apply-changes.lua', 'utf8');
const variants: Record<string, string> = {
  returnAtStart: base.replace(/^local src = ARGV\[1\]/m, 'do return 0 end\nlocal src = ARGV[1]'),
  afterHmget: base.replace("  if marks > 0 then\n", "  if marks > 0 then do return 0 end\n"),
  beforeHset: base.replace("  if #order > 0 then\n", "  do return 0 end\n  if #order > 0 then\n"),
  noSummaryFull: base,
  compareOnly: base.replace("    local mark = ',\"src\":' .. cjson.encode(src) .. ',\"final\":true}'\n", "    do return 0 end\n"),
  noSubConcat: base.replace("string.sub(ARGV[4 + 3 * i], 1, tonumber(ARGV[5 + 3 * i])) .. mark", "ARGV[4 + 3 * i]"),
  subOnly: base.replace("string.sub(ARGV[4 + 3 * i], 1, tonumber(ARGV[5 + 3 * i])) .. mark", "string.sub(ARGV[4 + 3 * i], 1, tonumber(ARGV[5 + 3 * i]))"),
};
for (const [name, body] of Object.entries(variants)) {
  let total = 0;
  for (let k = 0; k < 20; k++) {
    await r.hset('{e}g', ...rows.flatMap((x, i) => [x.guest_id, stored[i]!]));
    await r.del('{e}v', '{e}f');
    await r.config('RESETSTAT');
    const res = await r.eval(body, 3, '{e}g', '{e}v', '{e}f', '1764000000001-0', JSON.stringify({ sequence: 0, revision: 1, guests: [], counts: { invited: 1 }, status: 'closed' }), 100, 60000, name !== 'returnAtStart' ? '' : summary, ...restated.flatMap((m) => [m.guestId, m.text, m.cut]));
    if (Number(res) < 0) throw new Error('mismatch');
    const info = await r.info('commandstats');
    total += Number(/cmdstat_eval:calls=\d+,usec=(\d+)/.exec(info)?.[1]);
  }
  console.log(name, (total / 20).toFixed(0), 'µs per call', (total / 20 / n).toFixed(2), 'per row');
}
r.disconnect(); await server.stop();
