import { SpanKind, context, trace } from '@opentelemetry/api';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import type { Metrics } from '../telemetry/metrics.ts';
import { injectTraceFields, tracingEnabled, withoutClientSpans } from '../telemetry/trace-context.ts';
import { RedisUnavailableError, type RedisClient, type RedisConnections, isConnectionError } from './connection.ts';
import { onceKey, streamLabel } from './keys.ts';
import { type PipelineResult, execPipeline, loadLuaScript, queueScript, sharedScriptDir } from './scripts.ts';

const tracer = trace.getTracer('event-planner/streams');
const xaddOnceScript = loadLuaScript(join(sharedScriptDir, 'xadd-once.lua'));

export interface Message {
  stream: string;
  /** Flat field list: name, value, name, value ... */
  fields: string[];
  /**
   * Business key that makes the add happen once (for `onceTtlMs`): a retried publish or a replayed
   * step cannot create a second entry.
   */
  onceKey?: string;
  /**
   * Stored in the once-marker (default "1"); when the key was used before, `addOnce` hands back the
   * value stored then, so the caller can tell a retry of the same thing from a clash.
   */
  onceValue?: string;
  /**
   * The once-marker holds the new entry's id instead of `onceValue`: a later add of the same key
   * (`addManyOnce`) or a reader of the marker learns which entry the first add made.
   */
  markerHoldsId?: boolean;
}

/** The outcome of `addOnce`: the new entry's id, or the marker value stored by the first add. */
export type OnceResult = { added: true; id: string } | { added: false; marker: string };

export interface ProducerOptions {
  /** Lifetime of once-markers; at least the stream retention so a late replay is still caught. */
  onceTtlMs: number;
  /** Approximate MAXLEN cap applied on add, 0 for none (retention is otherwise time-based). */
  maxLen?: number;
  /**
   * An add under a once-key whose field values are longer than this (characters) goes as a WATCH
   * transaction of plain commands instead of through xadd-once.lua (`addWatched`). Default
   * `watchedAddChars`; 0 sends every add through the script.
   */
  watchedAddChars?: number;
  /** For tests: runs in a watched add after it read the marker and before its EXEC. */
  beforeWatchedExec?: () => Promise<void>;
}

/**
 * Above this, an add under a once-key is a transaction of plain commands: a value written by
 * `redis.call` inside a script costs Redis ~3-4 times what the same plain command does (~1.1-1.3 ms
 * against ~0.3 ms per 400 KB, docs/BENCHMARKS.md), and a 100,000-guest summary (its lists capped by
 * SUMMARY_MAX_RESPONSES) held Redis for ~11 ms in xadd-once.lua. Small adds stay in the script:
 * one round trip, pipelined with the others, where the transaction takes three.
 */
export const watchedAddChars = 256 * 1024;

/** The characters of a message's fields and values. */
function charsOf(fields: readonly string[]): number {
  let n = 0;
  for (const f of fields) n += f.length;
  return n;
}

/** Tries of a watched add whose once-marker changed between its WATCH and its EXEC. */
const watchedTries = 5;

/** How long a watched add waits for its connection the first time, before it takes the script instead. */
const dedicatedReadyMs = 2_000;

/**
 * Adds entries to streams. Every add gets a `send <stream>` producer span whose context travels in
 * the entry (traceparent), fails fast with RedisUnavailableError while Redis is unreachable, and
 * goes through one pipeline per call however many messages it carries.
 */
export class StreamProducer {
  private readonly connections: RedisConnections;
  private readonly metrics: Metrics | undefined;
  private readonly opts: ProducerOptions;
  /** The connection of watched adds (created on the first), used by one add at a time (`watchedChain`). */
  private dedicated: RedisClient | undefined;
  private watchedChain: Promise<unknown> = Promise.resolve();

  constructor(connections: RedisConnections, opts: ProducerOptions, metrics?: Metrics) {
    this.connections = connections;
    this.opts = opts;
    this.metrics = metrics;
  }

  /** Adds one entry; returns its id, or null when its once-key was already used. */
  async add(message: Message): Promise<string | null> {
    const [id] = await this.addMany([message]);
    return id ?? null;
  }

  /** Adds entries in one round trip; ids in order (null where the once-key was already used). */
  async addMany(messages: Message[]): Promise<(string | null)[]> {
    return (await this.send(messages)).map((result) => (typeof result === 'string' ? result : null));
  }

  /** Adds one entry under its once-key; when the key was used before, returns the marker value stored then. */
  async addOnce(message: Message & { onceKey: string }): Promise<OnceResult> {
    return (await this.addManyOnce([message]))[0]!;
  }

  /** `addOnce` for many entries in one round trip, results in order. */
  async addManyOnce(messages: (Message & { onceKey: string })[]): Promise<OnceResult[]> {
    return (await this.send(messages)).map((result) => (typeof result === 'string' ? { added: true, id: result } : { added: false, marker: result.marker }));
  }

  /** One pipeline; per message the new id, or the existing once-marker's value. */
  private async send(messages: Message[]): Promise<(string | { marker: string })[]> {
    if (messages.length === 0) return [];
    if (!this.connections.isReady()) throw new RedisUnavailableError();
    const client = this.connections.command;
    // No span work at all while tracing is off: this is the path every message takes.
    const spans = tracingEnabled()
      ? messages.map((m) =>
          tracer.startSpan(`send ${streamLabel(m.stream)}`, {
            kind: SpanKind.PRODUCER,
            attributes: { 'messaging.system': 'redis', 'messaging.operation.type': 'send', 'messaging.destination.name': streamLabel(m.stream) },
          }),
        )
      : undefined;
    try {
      const maxLen = this.opts.maxLen ?? 0;
      // Captured outside: the suppressed context would also stop the propagator from injecting.
      const active = context.active();
      const items = messages.map((message, i) => {
        const span = spans?.[i];
        let fields = message.fields;
        if (span) {
          fields = [...fields];
          injectTraceFields(fields, trace.setSpan(active, span));
        }
        return { message, fields, i };
      });
      // A large add under a once-key goes as a watched transaction (addWatched), the rest in one
      // pipeline. Not on a cluster: there the transaction would need the connection the Cluster
      // client keeps to the key's node for itself alone; a cluster shares the work among its masters.
      const limit = this.opts.watchedAddChars ?? watchedAddChars;
      const watchable = limit > 0 && !(client instanceof Cluster);
      const isWatched = items.map(({ message }) => watchable && message.onceKey !== undefined && !message.markerHoldsId && charsOf(message.fields) > limit);
      const anyLarge = isWatched.includes(true);
      const piped = anyLarge ? items.filter((_, n) => !isWatched[n]) : items;
      const large = anyLarge ? items.filter((_, n) => isWatched[n]) : [];
      const [pipedResults, largeResults] = await Promise.all([
        piped.length === 0
          ? []
          : withoutClientSpans(() =>
              execPipeline(
                client,
                piped,
                (pipeline, { message, fields }) => {
                  if (message.onceKey !== undefined) {
                    const key = onceKey(message.stream, message.onceKey);
                    queueScript(pipeline, xaddOnceScript, [message.stream, key], [this.opts.onceTtlMs, maxLen, message.markerHoldsId ? '' : (message.onceValue ?? '1'), ...fields]);
                  } else if (maxLen > 0) {
                    pipeline.xadd(message.stream, 'MAXLEN', '~', maxLen, '*', ...fields);
                  } else {
                    pipeline.xadd(message.stream, '*', ...fields);
                  }
                },
                [xaddOnceScript],
              ),
            ),
        Promise.all(large.map(({ message, fields }) => withoutClientSpans(() => this.addWatched(message.stream, onceKey(message.stream, message.onceKey!), message.onceValue ?? '1', fields)))),
      ]);
      const results = new Array<PipelineResult>(messages.length);
      piped.forEach(({ i }, n) => (results[i] = pipedResults[n]!));
      large.forEach(({ i }, n) => (results[i] = largeResults[n]!));
      return results.map(([error, result], i) => {
        if (error) {
          spans?.[i]!.recordException(error);
          throw error;
        }
        const added = typeof result === 'string';
        if (added) spans?.[i]!.setAttribute('messaging.message.id', result);
        this.metrics?.produced.inc({ stream: streamLabel(messages[i]!.stream), outcome: added ? 'added' : 'duplicate' });
        // The script answers {marker value} for a key used before (older markers hold "1").
        return added ? result : { marker: String((result as unknown[] | null)?.[0] ?? '1') };
      });
    } catch (error) {
      throw isConnectionError(error) ? new RedisUnavailableError(error) : error;
    } finally {
      for (const span of spans ?? []) span.end();
    }
  }

  /**
   * A large add under a once-key as a transaction of plain commands, on a connection of its own:
   * WATCH the marker, GET it (set: the key was added before, its value is the answer), else MULTI
   * SET marker, XADD, EXEC. EXEC runs nothing if the marker changed after the WATCH (another
   * producer added the key meanwhile): read it again. The same once-only rule as xadd-once.lua (the
   * marker and the entry are written together, or neither), with each value written by a plain
   * command. Adds of one process go one at a time (the WATCH is the connection's). Answers as the
   * script's call would in a pipeline: [error, id] or [error, [marker value]]. Until its connection
   * is ready (the first add waits up to `dedicatedReadyMs`), an add goes through the script.
   */
  private addWatched(stream: string, key: string, value: string, fields: string[]): Promise<PipelineResult> {
    const run = async (): Promise<PipelineResult> => {
      const client = await this.dedicatedClient();
      const maxLen = this.opts.maxLen ?? 0;
      const trim = maxLen > 0 ? ['MAXLEN', '~', maxLen] : [];
      if (!client) {
        const [result] = await execPipeline(this.connections.command, [0], (pipeline) => queueScript(pipeline, xaddOnceScript, [stream, key], [this.opts.onceTtlMs, maxLen, value, ...fields]), [xaddOnceScript]);
        return result!;
      }
      try {
        for (let attempt = 0; attempt < watchedTries; attempt += 1) {
          await client.watch(key);
          const existing = await client.get(key);
          if (existing !== null) {
            await client.unwatch();
            return [null, [existing]];
          }
          await this.opts.beforeWatchedExec?.();
          const done = await client.multi().set(key, value, 'PX', this.opts.onceTtlMs).xadd(stream, ...trim, '*', ...fields).exec();
          if (done === null) continue;
          const [error, id] = done[1] ?? [new Error('no reply to XADD')];
          return [error, id];
        }
        return [new Error(`the once-marker ${key} changed under each of ${watchedTries} tries to add to ${stream}`), null];
      } catch (error) {
        return [error as Error, null];
      }
    };
    const next = this.watchedChain.then(run, run);
    this.watchedChain = next.catch(() => undefined);
    return next;
  }

  /** The watched adds' connection once ready, or undefined (the add takes the script) while it is not. */
  private async dedicatedClient(): Promise<RedisClient | undefined> {
    const first = this.dedicated === undefined;
    this.dedicated ??= this.connections.createDedicated('once');
    const client = this.dedicated;
    if (client.status === 'ready') return client;
    if (!first) return undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, dedicatedReadyMs);
      client.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // Read again: the 'ready' listener may have run meanwhile (TypeScript narrowed it above).
    return (client.status as string) === 'ready' ? client : undefined;
  }
}
