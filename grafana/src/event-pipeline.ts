// Event pipeline: what the system is doing for people — invitations in, guests invited, replies,
// summaries out — and the state of every stream and consumer group in between.
import { type DashboardSpec, type Panel, barsPanel, rate, statPanel, timeseriesPanel } from './panels.ts';

const roundTrip = (q: number) => ({
  expr: `histogram_quantile(${q}, sum by (le) (${rate('event_planner_invitation_round_trip_seconds_bucket')}))`,
  legend: `p${Math.round(q * 100)}`,
});

/**
 * Panels of the event features of docs/EVENTS.md (updates, cancellations, reminders, scheduling,
 * waitlist, expiry, priority lanes), one entry per feature, shown in the "Event features" row. A
 * feature that adds a metric adds its panel here, e.g.
 *
 *   timeseriesPanel('Reminders sent per second', 'Reminder deliveries ...',
 *     [{ expr: 'sum by (kind) (rate(event_planner_reminders_sent_total[$__rate_interval]))', legend: '{{kind}}' }], { unit: 'ops' }),
 *
 * then runs `npm run dashboards` and describes the panel in docs/OPERATIONS.md. The row is left out
 * while the list is empty; the proof test (test/k8s/observability-proof.test.ts) then requires the
 * new panel to show data under its traffic, so the scenario there drives the feature too.
 */
export const eventFeatures: Panel[] = [
  timeseriesPanel('Revisions per second', 'Invitation entries applied: created (a new event), updated (a later revision), cancelled, scheduled (waits for publish_at), duplicate (replayed), refused (invalid_sequence, cancelled, deadline or start passed) and conflict.', [
    { expr: `sum by (outcome) (${rate('event_planner_invitations_total')})`, legend: '{{outcome}}' },
  ], { w: 8, unit: 'ops' }),
  timeseriesPanel('Deliveries per second by type', 'Guests named in deliveries: request, details (same version), reminder, start_reminder, promoted (off the waitlist), cancel.', [
    { expr: `sum by (type) (${rate('event_planner_deliveries_total')})`, legend: '{{type}}' },
  ], { w: 8, unit: 'ops', stack: true }),
  timeseriesPanel('Timers per second', 'Event timers ticked (publish_at, reminders, deadlines): due, published (a scheduled event went out), failed (retried at the next sweep).', [
    { expr: `sum by (outcome) (${rate('event_planner_timer_ticks_total')})`, legend: '{{outcome}}' },
  ], { w: 8, unit: 'ops' }),
  timeseriesPanel('Expiries per second', 'Guests never asked: requests the coordinator did not deliver after expires_at, and expiry receipts from guest agents.', [
    { expr: `sum(${rate('event_planner_expired_deliveries_total')})`, legend: 'not delivered (coordinator)' },
    { expr: `sum(${rate('event_planner_reply_outcomes_total{outcome="never_asked"}')})`, legend: 'receipts (guests)' },
  ], { w: 8, unit: 'ops' }),
  timeseriesPanel('Attendance changes per second', 'Replies that changed a guest’s answer, stale (older version), late (after it closed), outdated and rejected (answers or plus-ones); live-feed entries by type.', [
    { expr: `sum by (outcome) (${rate('event_planner_reply_outcomes_total{outcome=~"changed|stale|late|outdated|rejected"}')})`, legend: 'reply {{outcome}}' },
    { expr: `sum by (type) (${rate('event_planner_event_activity_total')})`, legend: 'activity {{type}}' },
  ], { w: 8, unit: 'ops' }),
  timeseriesPanel('Priority lane lag', 'Entries of the priority lanes not yet read by their group: a high-priority invitation, reply or delivery waiting.', [
    { expr: 'max by (stream, group) (event_planner_stream_group_lag{stream=~".*:high"})', legend: '{{stream}} {{group}}' },
  ], { w: 8 }),
];

export const eventPipeline: DashboardSpec = {
  uid: 'event-planner-pipeline',
  title: 'Event planner: event pipeline',
  description: 'Invitations, deliveries, replies and summaries; live guests by persona group; lag, pending and dead letters per stream and group.',
  rows: [
    {
      title: 'Now',
      panels: [
        statPanel('Live guests', 'Guests with a live heartbeat, all persona groups.', { expr: 'sum(max by (persona_group) (event_planner_guests_live))' }),
        statPanel('Open events', 'Events waiting for replies or their deadline.', { expr: 'max(event_planner_events_open)' }),
        statPanel('Invitations / s', 'New invitations the coordinators recorded per second.', {
          expr: `sum(${rate('event_planner_invitations_total{outcome="created"}')})`,
        }, { unit: 'ops' }),
        statPanel('Replies / s', 'Replies counted per second (each guest once per event).', { expr: `sum(${rate('event_planner_replies_total')})` }, { unit: 'ops' }),
        statPanel('Summaries (1 h)', 'Summaries published in the last hour.', { expr: 'sum(increase(event_planner_summaries_total[1h]))' }),
        statPanel('Dead letters (1 h)', 'Entries moved to a dead-letter stream in the last hour, all streams.', {
          expr: 'sum(increase(event_planner_stream_messages_consumed_total{outcome="dead_lettered"}[1h]))',
        }),
      ],
    },
    {
      title: 'Flow',
      panels: [
        timeseriesPanel(
          'Invitations and deliveries per second',
          'Invitations recorded (created; duplicate = an id seen before) and guests they were delivered to.',
          [
            { expr: `sum by (outcome) (${rate('event_planner_invitations_total')})`, legend: 'invitations {{outcome}}' },
            { expr: `sum(${rate('event_planner_deliveries_total')})`, legend: 'guests invited' },
          ],
          { unit: 'ops' },
        ),
        timeseriesPanel('Replies per second by value', 'Replies counted per second, yes / no / maybe.', [
          { expr: `sum by (reply) (${rate('event_planner_replies_total')})`, legend: '{{reply}}' },
        ], { unit: 'ops', stack: true }),
        timeseriesPanel('Summaries per second by reason', 'Summaries published: all_replied, deadline (some guests never answered), no_guests.', [
          { expr: `sum by (reason) (${rate('event_planner_summaries_total')})`, legend: '{{reason}}' },
        ], { unit: 'ops', stack: true }),
        timeseriesPanel('Invitation to summary', 'From the invitation entry being added to its summary reaching the host (p50, p95, p99).', [
          roundTrip(0.5),
          roundTrip(0.95),
          roundTrip(0.99),
        ], { unit: 's' }),
        timeseriesPanel('Reply outcomes per second', 'Every reply handled: counted, duplicate (asked twice), late (after the summary), rejected (invalid).', [
          { expr: `sum by (outcome) (${rate('event_planner_reply_outcomes_total')})`, legend: '{{outcome}}' },
        ], { unit: 'ops' }),
        timeseriesPanel('Produced per stream', 'Entries added per stream, and entries skipped because their once-key was used before (duplicate).', [
          { expr: `sum by (stream, outcome) (${rate('event_planner_stream_messages_produced_total')})`, legend: '{{stream}} {{outcome}}' },
        ], { unit: 'ops' }),
      ],
    },
    {
      title: 'Guests',
      panels: [
        timeseriesPanel(
          'Live guests by persona group',
          'Guests with a live heartbeat per persona group: moves when a guest Deployment is scaled (a group scaled to 0 leaves the legend).',
          [{ expr: 'max by (persona_group) (event_planner_guests_live)', legend: '{{persona_group}}' }],
          { stack: true, min: 0 },
        ),
        barsPanel('RSVP mix per persona group', 'Replies sent by each persona group in the selected time range, by value.', [
          { expr: 'sum by (persona_group, reply) (increase(event_planner_guest_replies_sent_total[$__range]))', legend: '{{persona_group}} {{reply}}' },
        ]),
      ],
    },
    {
      title: 'Streams and consumer groups',
      panels: [
        timeseriesPanel('Lag: entries not yet read', 'Entries added to a stream that its group has not read yet.', [
          { expr: 'max by (stream, group) (event_planner_stream_group_lag)', legend: '{{stream}} {{group}}' },
        ], { w: 8 }),
        timeseriesPanel('Pending: read, not acknowledged', 'Entries a consumer read and has not acknowledged (in flight, or abandoned by a dead consumer until reclaimed).', [
          { expr: 'max by (stream, group) (event_planner_stream_group_pending)', legend: '{{stream}} {{group}}' },
        ], { w: 8 }),
        timeseriesPanel('Oldest pending entry', 'Age of the oldest unacknowledged entry per group (inboxes: the oldest of all agents).', [
          { expr: 'max by (stream, group) (event_planner_stream_group_oldest_pending_age_seconds)', legend: '{{stream}} {{group}}' },
        ], { w: 8, unit: 's' }),
        timeseriesPanel('Consumers: active and registered', 'Read loops running now (active) against consumers Redis keeps in the group (registered; an idle one stays until the janitor removes it).', [
          { expr: 'sum by (stream, group) (event_planner_stream_consumers_active)', legend: '{{stream}} {{group}} active' },
          { expr: 'max by (stream, group) (event_planner_stream_group_consumers)', legend: '{{stream}} {{group}} registered' },
        ], { w: 8 }),
        timeseriesPanel('Acknowledged per second', 'Entries consumers finished per stream and group.', [
          { expr: `sum by (stream, group) (${rate('event_planner_stream_messages_consumed_total{outcome="acked"}')})`, legend: '{{stream}} {{group}}' },
        ], { w: 8, unit: 'ops' }),
        timeseriesPanel('Wait before a consumer gets an entry (p95)', 'From an entry being added to a consumer receiving it.', [
          { expr: `histogram_quantile(0.95, sum by (le, stream) (${rate('event_planner_stream_wait_seconds_bucket')}))`, legend: '{{stream}}' },
        ], { w: 8, unit: 's' }),
      ],
    },
    {
      title: 'Trouble',
      panels: [
        timeseriesPanel('Dead letters per second', 'Entries moved to a dead-letter stream (poison, invalid, or failed too many times).', [
          { expr: `sum by (stream, group) (${rate('event_planner_stream_messages_consumed_total{outcome="dead_lettered"}')})`, legend: '{{stream}} {{group}}' },
        ], { w: 8, unit: 'ops' }),
        barsPanel('Dead letters by reason', 'Dead letters by stream and reason code since each process started (the reason is in every dead-letter entry).', [
          { expr: 'sum by (stream, reason) (event_planner_dead_letters_total)', legend: '{{stream}} {{reason}}' },
        ], { w: 8 }),
        timeseriesPanel('Dead-letter streams', 'Entries kept in the dead-letter streams of event_invitations, guest_responses and event_summaries.', [
          { expr: 'max by (stream) (event_planner_stream_length{stream=~"dead_letters.*"})', legend: '{{stream}}' },
        ], { w: 8 }),
        timeseriesPanel('Reclaims and retries per second', 'Reclaims: entries taken over from a consumer that stopped. Retries: handler failures retried after a backoff.', [
          { expr: `sum by (stream, group) (${rate('event_planner_stream_reclaimed_total')})`, legend: 'reclaimed {{stream}} {{group}}' },
          { expr: `sum by (stream, group) (${rate('event_planner_stream_retries_total')})`, legend: 'retried {{stream}} {{group}}' },
        ], { w: 12, unit: 'ops' }),
        timeseriesPanel('Read errors per second', 'Failed XREADGROUP calls (connection lost, group missing).', [
          { expr: `sum by (stream, group) (${rate('event_planner_stream_read_errors_total')})`, legend: '{{stream}} {{group}}' },
        ], { w: 12, unit: 'ops' }),
      ],
    },
    { title: 'Event features', panels: eventFeatures },
  ],
};
