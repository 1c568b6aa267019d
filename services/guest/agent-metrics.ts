import { Counter } from 'prom-client';
import { deliveryTypes } from '../shared/schema/delivery.ts';
import { replyValues } from '../shared/schema/response.ts';
import type { Metrics } from '../shared/telemetry/metrics.ts';

/** Why a guest's pending reply was not sent. */
export const dropReasons = ['cancelled', 'removed', 'new_version'] as const;
export type DropReason = (typeof dropReasons)[number];

/**
 * What a guest agent's guests do, each labelled with the agent's persona group (one query gives the
 * mix per group). Every series starts at 0, so the first increase is one Prometheus sees.
 */
export class AgentMetrics {
  private readonly group: string;
  private readonly replies: Counter<'reply' | 'persona_group'>;
  private readonly received: Counter<'type' | 'persona_group'>;
  private readonly changes: Counter<'cause' | 'persona_group'>;
  private readonly dropped: Counter<'reason' | 'persona_group'>;
  private readonly expired: Counter<'persona_group'>;

  constructor(metrics: Metrics, group: string) {
    this.group = group;
    /** A counter labelled by `label` and persona group, every series of `values` born at 0. */
    const counter = <L extends string>(name: string, help: string, label: L, values: readonly string[]) => {
      const c = new Counter<L | 'persona_group'>({ name, help, labelNames: [label, 'persona_group'], registers: [metrics.registry] });
      for (const value of values) c.inc({ [label]: value, persona_group: group } as Record<L | 'persona_group', string>, 0);
      return c;
    };
    this.replies = counter('event_planner_guest_replies_sent_total', 'Replies sent by this agent’s guests, by value and persona group.', 'reply', replyValues);
    this.received = counter(
      'event_planner_guest_deliveries_received_total',
      'Guests of this agent named by a delivery, by delivery type (request, details, reminder, start_reminder, promoted, cancel).',
      'type',
      deliveryTypes,
    );
    this.changes = counter(
      'event_planner_guest_changes_of_mind_total',
      'Replies that changed a guest’s earlier answer: on its own (own) or a tentative guest firming up when reminded (reminder).',
      'cause',
      ['own', 'reminder'],
    );
    this.dropped = counter(
      'event_planner_guest_replies_dropped_total',
      'Guests that stopped thinking before sending a reply: the event was cancelled, the guest removed, or a new version asked again.',
      'reason',
      dropReasons,
    );
    this.expired = new Counter({
      name: 'event_planner_guest_expired_deliveries_total',
      help: 'Request deliveries read after the invitation expired: not answered, dead-lettered, and an expired receipt sent for each guest.',
      labelNames: ['persona_group'],
      registers: [metrics.registry],
    });
    this.expired.inc({ persona_group: group }, 0);
  }

  repliesSent(counts: Record<string, number>): void {
    for (const [reply, n] of Object.entries(counts)) if (n > 0) this.replies.inc({ reply, persona_group: this.group }, n);
  }

  deliveryReceived(type: string, guests: number): void {
    this.received.inc({ type, persona_group: this.group }, guests);
  }

  changedMind(cause: 'own' | 'reminder', n = 1): void {
    if (n > 0) this.changes.inc({ cause, persona_group: this.group }, n);
  }

  repliesDropped(reason: DropReason, n: number): void {
    if (n > 0) this.dropped.inc({ reason, persona_group: this.group }, n);
  }

  deliveryExpired(): void {
    this.expired.inc({ persona_group: this.group });
  }
}
