import { ROOT_CONTEXT, SpanKind, context, trace, type Link, type Span } from '@opentelemetry/api';
import { extractTraceContext, tracingEnabled } from '../telemetry/trace-context.ts';
import { type ConsumerScope, errorText } from './consumer-scope.ts';
import type { EntryOutcome, StreamEntry } from './entry.ts';
import type { InFlight } from './in-flight.ts';
import type { Settler } from './settler.ts';

const tracer = trace.getTracer('event-planner/streams');

export type BatchHandler = (entries: StreamEntry[]) => Promise<EntryOutcome[]>;
export type EntryHandler = (entry: StreamEntry) => Promise<EntryOutcome>;

/**
 * Runs the role's handler over entries, inside a `process` span, and hands the outcomes to the
 * settler. An entry delivered more than `maxDeliveries` times is not run at all: one that keeps
 * killing its consumer never reaches a handler error, so it is stopped here.
 */
export class HandlerRunner {
  private readonly scope: ConsumerScope;
  private readonly inFlight: InFlight;
  private readonly settler: Settler;
  private readonly handleBatch: BatchHandler | undefined;
  private readonly handleEntry: EntryHandler | undefined;
  /** Test-only crash point: called after a batch was handled, before it is settled. */
  private readonly afterHandled: (entries: StreamEntry[]) => void;

  constructor(deps: {
    scope: ConsumerScope;
    inFlight: InFlight;
    settler: Settler;
    handleBatch?: BatchHandler;
    handleEntry?: EntryHandler;
    afterHandled: (entries: StreamEntry[]) => void;
  }) {
    this.scope = deps.scope;
    this.inFlight = deps.inFlight;
    this.settler = deps.settler;
    this.handleBatch = deps.handleBatch;
    this.handleEntry = deps.handleEntry;
    this.afterHandled = deps.afterHandled;
  }

  /** True when the handler takes one entry per call (else one call per batch). */
  get perEntry(): boolean {
    return this.handleEntry !== undefined;
  }

  /** Handles entries and settles them. Never rejects: on an unexpected error they stay pending. */
  async process(entries: StreamEntry[]): Promise<void> {
    try {
      await this.handleAndSettle(entries);
    } catch (error) {
      this.scope.log.error({ err: errorText(error), count: entries.length }, 'unexpected error while handling entries; they stay pending and are taken up again');
      this.inFlight.release(entries.map((entry) => entry.id));
    }
  }

  private async handleAndSettle(entries: StreamEntry[]): Promise<void> {
    const { settings, metrics, labels } = this.scope;
    const started = performance.now();
    const runnable: StreamEntry[] = [];
    const outcomes = new Map<StreamEntry, EntryOutcome>();
    for (const entry of entries) {
      if (entry.deliveries > settings.maxDeliveries) {
        outcomes.set(entry, { type: 'dead', reason: `max_deliveries: delivered ${entry.deliveries} times without completing` });
      } else {
        runnable.push(entry);
      }
    }
    if (runnable.length > 0) {
      const span = tracingEnabled() ? this.processSpan(runnable) : undefined;
      const run = async (): Promise<EntryOutcome[]> => {
        if (this.handleEntry) return [await this.handleEntry(runnable[0]!)];
        return this.handleBatch!(runnable);
      };
      try {
        const results = await (span ? context.with(trace.setSpan(context.active(), span), run) : run());
        runnable.forEach((entry, i) => outcomes.set(entry, results[i] ?? { type: 'retry', error: new Error('handler returned no outcome') }));
      } catch (error) {
        span?.recordException(error as Error);
        for (const entry of runnable) outcomes.set(entry, { type: 'retry', error });
      } finally {
        span?.end();
      }
    }
    metrics?.processingSeconds.observe(labels, (performance.now() - started) / 1000);
    this.afterHandled(entries);
    await this.settler.settle(entries, outcomes);
  }

  /**
   * The `process <stream>` span (OTel messaging conventions): it links every message it handles.
   * A batch span is a root of its own (one batch mixes many traces); a span for a single message
   * is also the child of the message's `send` span, so an entry handler's work (a guest's replies,
   * the host's receipt) stays in the event's trace. Only called while tracing is on.
   */
  private processSpan(runnable: StreamEntry[]): Span {
    const links: Link[] = [];
    for (const entry of runnable) {
      entry.traceContext = extractTraceContext(entry.fields);
      const spanContext = trace.getSpanContext(entry.traceContext);
      if (spanContext) links.push({ context: spanContext });
    }
    const single = this.perEntry;
    const { stream } = this.scope.labels;
    return tracer.startSpan(
      `process ${stream}`,
      {
        kind: SpanKind.CONSUMER,
        links,
        attributes: {
          'messaging.system': 'redis',
          'messaging.operation.type': 'process',
          'messaging.destination.name': stream,
          'messaging.consumer.group.name': this.scope.group,
          ...(single ? { 'messaging.message.id': runnable[0]!.id } : { 'messaging.batch.message_count': runnable.length }),
        },
      },
      single ? runnable[0]!.traceContext : ROOT_CONTEXT,
    );
  }
}
