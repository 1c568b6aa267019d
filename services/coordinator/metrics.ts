import { Counter, Histogram } from 'prom-client';
import { activityTypes } from '../shared/schema/activity.ts';
import { deliveryTypes } from '../shared/schema/delivery.ts';
import { replyValues } from '../shared/schema/response.ts';
import { summaryReasons } from '../shared/schema/summary.ts';
import type { Metrics } from '../shared/telemetry/metrics.ts';

// Every label value (the schema's list of reasons) is created at 0, so the first summary of a reason
// is an increase that rate() and the NoSummaries alert see.

/** What only the coordinator measures. */
export class CoordinatorMetrics {
  readonly invitations: Counter<'outcome'>;
  readonly deliveries: Counter<'type'>;
  readonly expiredDeliveries: Counter;
  readonly activity: Counter<'type'>;
  readonly timerTicks: Counter<'outcome'>;
  readonly replies: Counter<'reply'>;
  readonly replyOutcomes: Counter<'outcome'>;
  readonly summaries: Counter<'reason'>;
  readonly fanOutSeconds: Histogram;
  readonly registryWaits: Counter;

  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.invitations = new Counter({
      name: 'event_planner_invitations_total',
      help: 'Invitation entries (revisions) processed: created (a new event), updated (a later revision), cancelled, scheduled (waits for publish_at), duplicate (a revision applied before), conflict (id used by another host application or for other content), refused (invalid_sequence, cancelled, deadline or start passed; dead-lettered).',
      labelNames: ['outcome'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'event_planner_deliveries_total',
      help: 'Guests named in deliveries added to agent inboxes, by type (request, details, reminder, start_reminder, promoted, cancel).',
      labelNames: ['type'],
      registers,
    });
    this.expiredDeliveries = new Counter({
      name: 'event_planner_expired_deliveries_total',
      help: 'Guests whose request was not delivered because the event’s expires_at had passed (recorded as never asked).',
      registers,
    });
    this.activity = new Counter({
      name: 'event_planner_event_activity_total',
      help: 'event_activity entries added, by type (version, replies, reminder, promoted, never_asked, cancelled, closed).',
      labelNames: ['type'],
      registers,
    });
    this.timerTicks = new Counter({
      name: 'event_planner_timer_ticks_total',
      help: 'Event timers handled by this coordinator: due (the tick script ran), published (a scheduled event published), failed.',
      labelNames: ['outcome'],
      registers,
    });
    this.replies = new Counter({ name: 'event_planner_replies_total', help: 'Replies counted, by value (yes, no, maybe).', labelNames: ['reply'], registers });
    this.replyOutcomes = new Counter({
      name: 'event_planner_reply_outcomes_total',
      help: 'Replies handled by outcome: counted, changed (a newer reply replaced one), duplicate, outdated (older reply_rev), stale (older sequence), late (after the version closed), rejected (answers or plus-ones do not fit; or dead-lettered), never_asked (expiry receipts), ignored.',
      labelNames: ['outcome'],
      registers,
    });
    this.summaries = new Counter({
      name: 'event_planner_summaries_total',
      help: 'Summaries published (one per event version), by reason (all_replied, deadline, no_guests, updated, cancelled, expired).',
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
    for (const outcome of ['created', 'updated', 'cancelled', 'duplicate']) this.invitations.inc({ outcome }, 0);
    for (const type of deliveryTypes) this.deliveries.inc({ type }, 0);
    // Every outcome starts at 0, so a panel of a rare one (never_asked) shows 0 rather than no data.
    for (const outcome of ['counted', 'changed', 'duplicate', 'outdated', 'stale', 'late', 'rejected', 'never_asked', 'ignored']) this.replyOutcomes.inc({ outcome }, 0);
    for (const type of activityTypes) this.activity.inc({ type }, 0);
    for (const outcome of ['due', 'published']) this.timerTicks.inc({ outcome }, 0);
  }
}
