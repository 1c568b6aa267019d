// The peers scenario (issue 17, item 3): the throughput and latency scenarios run with BullMQ
// flows and with plain Redis Pub/Sub, each on a private redis-server of its own (AOF everysec, as
// ours), with our process layout: one coordinator-like process, `agents` guest-like processes, one
// driver (this process). Every summary is checked (one per event, counts equal to the guests'
// deterministic answers); a run with a wrong or missing summary fails the scenario.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as hdr from 'hdr-histogram-js';
import { FlowProducer, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { type RunContext, fmt, round } from '../scenarios.ts';
import { BenchStack, cpuSecondsOf } from '../stack.ts';
import { agentQueue, eventsQueue } from './bullmq-peer.ts';
import { type PeerEvent, type PeerSummary, answerOf, guestIds, redisOptions } from './common.ts';
import { channels } from './pubsub-peer.ts';

export type PeerName = 'bullmq' | 'pubsub';

export interface PeerResult {
  system: PeerName;
  rsvpPerSecond: number;
  eventsSummarized: number;
  /** CPU of Redis and the peer's processes per RSVP during the throughput part, µs. */
  cpuPerRsvpUs: number;
  latency: { events: number; p50: number; p99: number; max: number };
  /** What the system keeps of our guarantees (written next to its figures). */
  guarantees: string;
}

export const guaranteesOf: Record<PeerName | 'event-planner', string> = {
  'event-planner':
    'durable (AOF, streams); exactly one summary per event version through kill -9 and Redis restarts (once-keys, outbox, Lua); crash recovery by pending-entry reclaim; backpressure by bounded in-flight reads',
  bullmq:
    'durable (jobs in Redis); a summary per completed parent, but a crashed worker\'s job is retried after its lock expires and its processor runs again (at-least-once: the summary can be produced twice if it had side effects); crash recovery by stalled-job checks; backpressure by worker concurrency',
  pubsub: 'none: nothing stored, a message to a process that is down or slow is lost; a crash loses every event in flight; no backpressure (output buffers grow until Redis drops the client)',
};

const peerFile = (system: PeerName) => join(import.meta.dirname, system === 'bullmq' ? 'bullmq-peer.ts' : 'pubsub-peer.ts');

/** Starts one peer process and waits for its "ready" line. */
function startPeer(system: PeerName, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [peerFile(system), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${system} ${args[0]} not ready after 30 s`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`${system} ${args[0]} exited (${code}) before it was ready`)));
  });
}

/** Publishes events and resolves each when its summary arrives; checks every summary. */
interface PeerClient {
  publish(event: PeerEvent): Promise<void>;
  close(): Promise<void>;
}

async function bullmqClient(url: string, onSummary: (s: PeerSummary) => void): Promise<PeerClient> {
  const connection = { ...redisOptions(url), maxRetriesPerRequest: null };
  const flows = new FlowProducer({ connection });
  const events = new QueueEvents(eventsQueue, { connection });
  await events.waitUntilReady();
  events.on('completed', ({ returnvalue }) => onSummary((typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as PeerSummary));
  return {
    publish: async (event) => {
      const invited = Object.values(event.guests).reduce((n, g) => n + g.length, 0);
      await flows.add({
        name: 'event',
        queueName: eventsQueue,
        data: { eventId: event.eventId, invited },
        opts: { jobId: event.eventId, removeOnComplete: true },
        children: Object.entries(event.guests).flatMap(([agent, guests]) =>
          guests.map((guestId) => ({ name: 'rsvp', queueName: agentQueue(agent), data: { eventId: event.eventId, guestId }, opts: { removeOnComplete: true } })),
        ),
      });
    },
    close: async () => {
      await events.close();
      await flows.close();
    },
  };
}

async function pubsubClient(url: string, onSummary: (s: PeerSummary) => void): Promise<PeerClient> {
  const sub = new Redis(url);
  const pub = new Redis(url);
  await sub.subscribe(channels.summaries);
  sub.on('message', (_channel: string, text: string) => onSummary(JSON.parse(text) as PeerSummary));
  return {
    publish: async (event) => {
      await pub.publish(channels.invitations, JSON.stringify(event));
    },
    close: async () => {
      sub.disconnect();
      pub.disconnect();
    },
  };
}

export async function peerScenario(ctx: RunContext, system: PeerName): Promise<PeerResult> {
  const { agents, eventGuests, window, durationS, warmupS, latencyEvents, latencyRate, latencyGuests } = ctx.opts;
  ctx.progress.begin(`peers: ${system}, ${agents} agents, ${eventGuests}-guest events, then ${latencyEvents} ${latencyGuests}-guest events at ${latencyRate}/s`, durationS + warmupS + latencyEvents / latencyRate + 8);
  const stack = await BenchStack.start({}, ctx.opts.aof);
  stack.scenario = `peers: ${system}`;
  const children: ChildProcess[] = [];
  const agentIds = Array.from({ length: agents }, (_, i) => `peer-agent-${i + 1}`);
  const perAgent = Math.ceil(eventGuests / agents);
  const guestsOf = Object.fromEntries(agentIds.map((a) => [a, guestIds(a, perAgent)]));
  const waiting = new Map<string, { expected: PeerSummary; publishedAt: number; resolve: (ms: number) => void; reject: (e: Error) => void }>();
  const seen = new Set<string>();
  const problems: string[] = [];
  const onSummary = (s: PeerSummary) => {
    const w = waiting.get(s.eventId);
    if (seen.has(s.eventId)) problems.push(`${system}: a second summary for ${s.eventId}`);
    seen.add(s.eventId);
    if (!w) return;
    waiting.delete(s.eventId);
    const e = w.expected;
    if (s.invited !== e.invited || s.yes !== e.yes || s.no !== e.no || s.maybe !== e.maybe) {
      w.reject(new Error(`${system}: summary of ${s.eventId} is ${JSON.stringify(s)}, expected ${JSON.stringify(e)}`));
    } else w.resolve(performance.now() - w.publishedAt);
  };
  let client: PeerClient | undefined;
  try {
    children.push(await startPeer(system, ['coordinator', stack.url]));
    for (const a of agentIds) children.push(await startPeer(system, ['agent', stack.url, a]));
    client = system === 'bullmq' ? await bullmqClient(stack.url, onSummary) : await pubsubClient(stack.url, onSummary);
    const run = (event: PeerEvent, timeoutMs: number): Promise<number> => {
      const expected: PeerSummary = { eventId: event.eventId, invited: 0, yes: 0, no: 0, maybe: 0 };
      for (const guests of Object.values(event.guests)) {
        for (const g of guests) {
          expected.invited += 1;
          expected[answerOf(event.eventId, g)] += 1;
        }
      }
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${system}: no summary for ${event.eventId} within ${timeoutMs} ms`)), timeoutMs);
        waiting.set(event.eventId, {
          expected,
          publishedAt: performance.now(),
          resolve: (ms) => (clearTimeout(timer), resolve(ms)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
        client!.publish(event).catch(reject);
      });
    };

    // Throughput: a closed loop keeps `window` events in flight; RSVPs of the events summarized
    // after the warm-up, per second.
    const pids = [stack.redis.pid, ...children.map((c) => c.pid)];
    const cpuNow = (): number => pids.reduce<number>((sum, pid) => sum + cpuSecondsOf(pid), 0);
    let counted = 0;
    let measuring = false;
    let n = 0;
    const started = performance.now();
    const endAt = started + (durationS + warmupS) * 1000;
    let cpuAtStart = 0;
    let measureStart = 0;
    setTimeout(() => {
      measuring = true;
      cpuAtStart = cpuNow();
      measureStart = performance.now();
    }, warmupS * 1000);
    const loop = async () => {
      while (performance.now() < endAt) {
        const id = `${ctx.runId}-${system}-t${n++}`;
        await run({ eventId: id, guests: guestsOf }, 120_000);
        if (measuring && performance.now() <= endAt) counted += eventGuests;
        ctx.progress.update(`${fmt(counted)} RSVPs summarized`);
      }
    };
    await Promise.all(Array.from({ length: window }, loop));
    const measuredS = (performance.now() - measureStart) / 1000;
    const cpuUsed = cpuNow() - cpuAtStart;
    const rsvpPerSecond = Math.round(counted / Math.max(0.001, measuredS));

    // Latency: events of `latencyGuests` guests of the first agent at `latencyRate` per second.
    const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
    const small = { [agentIds[0]!]: guestsOf[agentIds[0]!]!.slice(0, latencyGuests) };
    for (let i = 0; i < 5; i += 1) await run({ eventId: `${ctx.runId}-${system}-warm${i}`, guests: small }, 30_000);
    const waits: Promise<void>[] = [];
    const t0 = Date.now();
    for (let i = 0; i < latencyEvents; i += 1) {
      const wait = t0 + (i * 1000) / latencyRate - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      waits.push(run({ eventId: `${ctx.runId}-${system}-l${i}`, guests: small }, 60_000).then((ms) => void histogram.recordValue(Math.max(1, Math.round(ms)))));
    }
    await Promise.all(waits);
    if (problems.length > 0) throw new Error(problems.slice(0, 3).join('; '));
    const result: PeerResult = {
      system,
      rsvpPerSecond,
      eventsSummarized: n,
      cpuPerRsvpUs: round((cpuUsed * 1e6) / Math.max(1, counted), 2),
      latency: { events: histogram.totalCount, p50: histogram.getValueAtPercentile(50), p99: histogram.getValueAtPercentile(99), max: histogram.maxValue },
      guarantees: guaranteesOf[system],
    };
    ctx.progress.note(`peers ${system}: ${fmt(result.rsvpPerSecond)} RSVP/s, latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`);
    return result;
  } finally {
    await client?.close().catch(() => undefined);
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    await stack.stop();
  }
}
