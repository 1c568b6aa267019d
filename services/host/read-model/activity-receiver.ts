import { SpanKind, trace } from '@opentelemetry/api';
import type { Activity } from '../../shared/schema/activity.ts';
import { parseActivity } from '../../shared/schema/activity.ts';
import { type EntryOutcome, type StreamEntry, ack, dead, retry } from '../../shared/streams/entry.ts';
import type { ReadModel } from './read-model.ts';

const tracer = trace.getTracer('event-planner/host');

/**
 * Reads `event_activity` in this host application's group (each replica a share) and applies the
 * changes to the events of this host to the shared read model; changes for other hosts' events are
 * skipped. A batch at a time: the entries about one event are applied in the same script calls
 * (read-model.ts), not a call per entry and event. One outcome per entry: a malformed entry is
 * dead-lettered alone, an entry whose event failed to apply (a Redis error) is retried, the
 * others are acknowledged. Applying is idempotent, so a redelivery after a crash is harmless.
 *
 * Traces: the batch's `process event_activity` span is a root of its own (a batch mixes events), so
 * each entry gets an `apply activity` span in its own trace, child of the entry's `send` (as the
 * coordinator's `count replies`): an event's trace still shows the host applying what it reported.
 */
export function activityBatchHandler(readModel: ReadModel, hostId: string): (entries: StreamEntry[]) => Promise<EntryOutcome[]> {
  return async (entries) => {
    const outcomes: EntryOutcome[] = new Array<EntryOutcome>(entries.length);
    const valid: { index: number; id: string; activity: Activity }[] = [];
    entries.forEach((entry, index) => {
      const parsed = parseActivity(entry.fields);
      if (parsed.ok) valid.push({ index, id: entry.id, activity: parsed.value });
      else outcomes[index] = dead(parsed.reason);
    });
    if (valid.length === 0) return outcomes;
    const spans = valid.map(({ index }) => {
      const entry = entries[index]!;
      if (!entry.traceContext) return undefined;
      return tracer.startSpan('apply activity', { kind: SpanKind.INTERNAL, attributes: { 'messaging.message.id': entry.id } }, entry.traceContext);
    });
    try {
      const { failed } = await readModel.applyActivities(valid, hostId);
      for (const { index, id } of valid) outcomes[index] = failed.has(id) ? retry(failed.get(id)) : ack;
    } catch (error) {
      for (const { index } of valid) outcomes[index] = retry(error);
    } finally {
      spans.forEach((span, i) => {
        const outcome = outcomes[valid[i]!.index];
        if (outcome?.type === 'retry') span?.recordException(outcome.error as Error);
        span?.end();
      });
    }
    return outcomes;
  };
}
