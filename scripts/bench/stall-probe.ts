// The Redis stall probe (issue 17, item 4): a client of its own, in a process of its own (so that
// the bench driver's event loop cannot delay it), that PINGs Redis every few milliseconds for the
// whole of a scenario. Redis runs one command at a time: while a script or a big command runs,
// every PING waits, so the longest PING round trip is the longest time any client was kept waiting.
// On a loaded machine a round trip also includes the time the OS did not run the probe or Redis;
// Redis' own latency monitor (the longest single command it executed) is reported next to it.
//
//   node scripts/bench/stall-probe.ts <redis-url> [interval-ms]
// Writes one JSON line (StallReport) to stdout when its stdin closes or on SIGTERM.
import { Redis } from 'ioredis';

export interface StallReport {
  pings: number;
  /** Longest PING round trip (ms): the longest any client waited for Redis. */
  longestMs: number;
  p99Ms: number;
  /** Round trips over 5 ms. */
  over5ms: number;
  /** When the five longest happened (ms since the epoch) and how long each took. */
  worst: { at: number; ms: number }[];
}

if (import.meta.main) {
  const url = process.argv[2];
  const intervalMs = Number(process.argv[3] ?? 2);
  if (!url) {
    process.stderr.write('usage: stall-probe.ts <redis-url> [interval-ms]\n');
    process.exit(2);
  }
  // noDelay: a PING must not sit in Nagle's buffer.
  const client = new Redis(url, { noDelay: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  client.on('error', () => undefined);
  await client.connect();
  const times: number[] = [];
  const worst: { at: number; ms: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      const t0 = performance.now();
      try {
        await client.ping();
      } catch {
        continue;
      }
      const ms = performance.now() - t0;
      times.push(ms);
      if (worst.length < 5 || ms > worst[worst.length - 1]!.ms) {
        worst.push({ at, ms: Math.round(ms * 100) / 100 });
        worst.sort((a, b) => b.ms - a.ms);
        worst.length = Math.min(worst.length, 5);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  const finish = async () => {
    if (!running) return;
    running = false;
    await loop;
    client.disconnect();
    const sorted = times.slice().sort((a, b) => a - b);
    const report: StallReport = {
      pings: times.length,
      longestMs: Math.round((sorted[sorted.length - 1] ?? 0) * 100) / 100,
      p99Ms: Math.round((sorted[Math.floor(sorted.length * 0.99)] ?? 0) * 100) / 100,
      over5ms: times.filter((t) => t > 5).length,
      worst,
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  };
  process.stdin.on('end', () => void finish());
  process.stdin.resume();
  process.on('SIGTERM', () => void finish());
}
