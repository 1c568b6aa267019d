import { Counter, Histogram } from 'prom-client';
import { type Metrics, endToEndBuckets } from '../shared/telemetry/metrics.ts';

export class HostMetrics {
  readonly published: Counter<'outcome'>;
  readonly summaries: Counter<'owner'>;
  readonly endToEnd: Histogram<'reason'>;

  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.published = new Counter({
      name: 'event_planner_host_invitations_published_total',
      help: 'Invitations this host was asked to publish, by outcome: published, duplicate (a retry), in_use (id owned by another host application), conflict (id used before for other content), invalid.',
      labelNames: ['outcome'],
      registers,
    });
    this.summaries = new Counter({
      name: 'event_planner_host_summaries_received_total',
      help: 'Summaries read from event_summaries: for this host (own) or for another host (other).',
      labelNames: ['owner'],
      registers,
    });
    this.endToEnd = new Histogram({
      // Not "invitation_to_summary": promtool rejects a metric name containing the type name "_summary_".
      name: 'event_planner_invitation_round_trip_seconds',
      help: 'From the invitation entry being added to its summary arriving at the host, by summary reason.',
      labelNames: ['reason'],
      buckets: endToEndBuckets,
      registers,
    });
  }
}
