import { Counter, Histogram } from 'prom-client';
import { replyValues } from '../shared/schema/response.ts';
import { summaryReasons } from '../shared/schema/summary.ts';
import type { Metrics } from '../shared/telemetry/metrics.ts';

// Every label value (the schema's list of reasons) is created at 0, so the first summary of a reason
// is an increase that rate() and the NoSummaries alert see.

/** What only the coordinator measures. */
export class CoordinatorMetrics {
  readonly invitations: Counter<'outcome'>;
  readonly deliveries: Counter;
  readonly replies: Counter<'reply'>;
  readonly replyOutcomes: Counter<'outcome'>;
  readonly summaries: Counter<'reason'>;
  readonly fanOutSeconds: Histogram;
  readonly registryWaits: Counter;

  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.invitations = new Counter({
      name: 'event_planner_invitations_total',
      help: 'Invitations processed: created, duplicate (same id and content seen before), or conflict (id already used by another host application or for other content; dead-lettered).',
      labelNames: ['outcome'],
      registers,
    });
    this.deliveries = new Counter({ name: 'event_planner_deliveries_total', help: 'Guests an invitation was delivered to.', registers });
    this.replies = new Counter({ name: 'event_planner_replies_total', help: 'Replies counted, by value (yes, no, maybe).', labelNames: ['reply'], registers });
    this.replyOutcomes = new Counter({
      name: 'event_planner_reply_outcomes_total',
      help: 'Replies handled by outcome: counted, duplicate, late (after the summary), rejected.',
      labelNames: ['outcome'],
      registers,
    });
    this.summaries = new Counter({
      name: 'event_planner_summaries_total',
      help: 'Summaries published, by reason (all_replied, deadline, no_guests).',
      labelNames: ['reason'],
      registers,
    });
    this.registryWaits = new Counter({
      name: 'event_planner_registry_rebuild_waits_total',
      help: 'Invitation batches that found no guest while the guest registry was rebuilding (Redis came back empty, or just started) and waited for agents to register again.',
      registers,
    });
    this.fanOutSeconds = new Histogram({
      name: 'event_planner_fan_out_seconds',
      help: 'Time to record an event and deliver its invitation to every guest.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    for (const reason of summaryReasons) this.summaries.inc({ reason }, 0);
    for (const reply of replyValues) this.replies.inc({ reply }, 0);
    for (const outcome of ['created', 'duplicate']) this.invitations.inc({ outcome }, 0);
  }
}
