import { SpanKind, context, trace } from '@opentelemetry/api';
import { join } from 'node:path';
import type { Metrics } from '../telemetry/metrics.ts';
import { injectTraceFields, tracingEnabled, withoutClientSpans } from '../telemetry/trace-context.ts';
import { RedisUnavailableError, type RedisConnections, isConnectionError } from './connection.ts';
import { onceKey, streamLabel } from './keys.ts';
import { execPipeline, loadLuaScript, queueScript, sharedScriptDir } from './scripts.ts';

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
}

/**
 * Adds entries to streams. Every add gets a `send <stream>` producer span whose context travels in
 * the entry (traceparent), fails fast with RedisUnavailableError while Redis is unreachable, and
 * goes through one pipeline per call however many messages it carries.
 */
export class StreamProducer {
  private readonly connections: RedisConnections;
  private readonly metrics: Metrics | undefined;
  private readonly opts: ProducerOptions;

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
      const items = messages.map((message, i) => ({ message, span: spans?.[i] }));
      // Captured outside: the suppressed context would also stop the propagator from injecting.
      const active = context.active();
      const results = await withoutClientSpans(() =>
        execPipeline(
          client,
          items,
          (pipeline, { message, span }) => {
            let fields = message.fields;
            if (span) {
              fields = [...fields];
              injectTraceFields(fields, trace.setSpan(active, span));
            }
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
      );
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
}
