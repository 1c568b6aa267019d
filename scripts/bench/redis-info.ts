import type { Redis } from 'ioredis';
import { scriptNamesBySha } from './redis-time.ts';

/** INFO <section> as name -> value. */
export async function info(client: Redis, section: string): Promise<Record<string, string>> {
  const text = await client.info(section);
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) out[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return out;
}

/** Calls and microseconds per command (lower-case names, subcommands as `config|get`). */
export type CommandStats = Record<string, { calls: number; usec: number }>;

/**
 * INFO commandstats. Redis counts commands run inside EVAL/EVALSHA as calls of their own, so these
 * totals are every command Redis executed, not only those sent over the wire.
 */
export async function commandStats(client: Redis): Promise<CommandStats> {
  const raw = await info(client, 'commandstats');
  const out: CommandStats = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!key.startsWith('cmdstat_')) continue;
    const calls = Number(/calls=(\d+)/.exec(value)?.[1] ?? 0);
    const usec = Number(/usec=(\d+)/.exec(value)?.[1] ?? 0);
    out[key.slice('cmdstat_'.length)] = { calls, usec };
  }
  return out;
}

/** What happened between two snapshots, without the commands the benchmark itself sends. */
export function diffStats(before: CommandStats, after: CommandStats): CommandStats {
  const out: CommandStats = {};
  for (const [name, a] of Object.entries(after)) {
    if (name === 'info' || name.startsWith('config|') || name.startsWith('slowlog|') || name === 'ping') continue;
    const b = before[name] ?? { calls: 0, usec: 0 };
    const calls = a.calls - b.calls;
    if (calls > 0) out[name] = { calls, usec: a.usec - b.usec };
  }
  return out;
}

export function totalCalls(stats: CommandStats): number {
  return Object.values(stats).reduce((sum, s) => sum + s.calls, 0);
}

export interface SlowEntry {
  durationUs: number;
  command: string;
}

/**
 * The slowest commands logged since the last reset (SLOWLOG GET, slowest first), arguments cut
 * short; a script call named by its file (`evalsha apply-changes ...`), so a stall row says whose
 * call it was without matching SHA1s by hand.
 */
export async function slowlog(client: Redis, count = 10): Promise<SlowEntry[]> {
  const rows = (await client.call('SLOWLOG', 'GET', '-1')) as [number, number, number, string[]][];
  const names = scriptNamesBySha();
  return rows
    .sort((a, b) => Number(b[2]) - Number(a[2]))
    .slice(0, count)
    .map(([, , durationUs, args]) => ({
      durationUs: Number(durationUs),
      command: args
        .slice(0, 4)
        .map((a, i) => (i === 1 && /^evalsha$/i.test(args[0] ?? '') ? (names.get(a) ?? a) : a))
        .map((a) => (a.length > 40 ? `${a.slice(0, 37)}...` : a))
        .join(' '),
    }));
}

export async function resetSlowlog(client: Redis, thresholdUs = 2_000): Promise<void> {
  await client.config('SET', 'slowlog-log-slower-than', String(thresholdUs));
  // Long enough to keep every slow command of a scenario: the slowest, not the last, are reported.
  await client.config('SET', 'slowlog-max-len', '100000');
  await client.call('SLOWLOG', 'RESET');
}
