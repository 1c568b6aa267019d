// Where Redis' time goes per event (issue 17, item 1): Redis runs one command at a time, so every
// microsecond one script spends is a microsecond every other client's command waits. SLOWLOG with a
// threshold of 0 records each command's execution time; a few extra events are run with it on, after
// the measured ones (logging every command costs time of its own), and the times are grouped by
// top-level command, scripts by name (their SHA1 matched against the project's Lua files).
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { loadLuaScript } from '../../services/shared/streams/scripts.ts';

export interface RedisTimeRow {
  /** `script <name>` or the command name. */
  command: string;
  /** Microseconds of Redis time per unit (the script's inner commands included). */
  usPerUnit: number;
  callsPerUnit: number;
}

export interface RedisTimeBreakdown {
  /** What the times are per: events (latency) or RSVPs (throughput). */
  unit: string;
  units: number;
  usPerUnit: number;
  rows: RedisTimeRow[];
}

/** SHA1 -> script name for every Lua script the services load (includes expanded as they are). */
export function scriptNamesBySha(root = resolve(import.meta.dirname, '../../services')): Map<string, string> {
  const names = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'includes' && name !== 'node_modules') walk(path);
      } else if (name.endsWith('.lua')) {
        const script = loadLuaScript(path);
        names.set(script.sha, script.name);
      }
    }
  };
  walk(root);
  return names;
}

type SlowlogEntry = [number, number, number, string[], string?, string?];

/** Runs `work` (which returns how many units — events, RSVPs — it did) with every command logged, and groups the log. */
export async function redisTimePer(unit: string, client: Redis, work: () => Promise<number>): Promise<RedisTimeBreakdown> {
  const [, threshold] = (await client.config('GET', 'slowlog-log-slower-than')) as [string, string];
  const [, maxLen] = (await client.config('GET', 'slowlog-max-len')) as [string, string];
  await client.config('SET', 'slowlog-max-len', '500000');
  await client.call('SLOWLOG', 'RESET');
  await client.config('SET', 'slowlog-log-slower-than', '0');
  let units: number;
  let log: SlowlogEntry[];
  try {
    units = await work();
  } finally {
    await client.config('SET', 'slowlog-log-slower-than', threshold);
    log = (await client.call('SLOWLOG', 'GET', '-1')) as SlowlogEntry[];
    await client.call('SLOWLOG', 'RESET');
    await client.config('SET', 'slowlog-max-len', maxLen);
  }
  const names = scriptNamesBySha();
  const by = new Map<string, { us: number; calls: number }>();
  for (const [, , us, args] of log) {
    const command = args[0] ?? '';
    // Commands a script runs are logged too, upper case as the project's scripts write them; the
    // script's own entry already includes their time. Clients (ioredis) send lower case.
    if (command !== command.toLowerCase()) continue;
    if (command === 'slowlog' || command === 'config') continue;
    const key = command === 'evalsha' || command === 'eval' ? `script ${names.get(args[1] ?? '') ?? (args[1] ?? '?').slice(0, 8)}` : command;
    const row = by.get(key) ?? { us: 0, calls: 0 };
    row.us += us;
    row.calls += 1;
    by.set(key, row);
  }
  const per = (x: number) => Math.round((x / Math.max(1, units)) * 100) / 100;
  const rows = [...by]
    .map(([command, r]) => ({ command, usPerUnit: Math.round(r.us / Math.max(1, units)), callsPerUnit: per(r.calls) }))
    .sort((a, b) => b.usPerUnit - a.usPerUnit);
  return { unit, units, usPerUnit: rows.reduce((s, r) => s + r.usPerUnit, 0), rows };
}
