import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Metric names share the prefix event_planner_. Labels stay low-cardinality: stream names collapse
// per-agent inboxes (streamLabel), outcomes and reasons are small fixed sets.

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const endToEndBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600];

/** The metrics every role registers; role-specific ones are created by the role from `registry`. */
export class Metrics {
  readonly registry: Registry;
  readonly produced: Counter<'stream' | 'outcome'>;
  readonly consumed: Counter<'stream' | 'group' | 'outcome'>;
  readonly waitSeconds: Histogram<'stream' | 'group'>;
  readonly processingSeconds: Histogram<'stream' | 'group'>;
  readonly reclaimed: Counter<'stream' | 'group'>;
  readonly deletedWhilePending: Counter<'stream' | 'group'>;
  readonly retries: Counter<'stream' | 'group'>;
  readonly suspects: Counter<'stream' | 'group'>;
  readonly deadLetters: Counter<'stream' | 'reason'>;
  readonly readErrors: Counter<'stream' | 'group'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly readLoops: { labels: StreamLabels; healthy: () => boolean }[] = [];

  constructor(role: string, version: string) {
    this.registry = new Registry();
    this.registry.setDefaultLabels({ role });
    // Unprefixed, as every Node.js dashboard and alert expects (process_*, nodejs_*).
    collectDefaultMetrics({ register: this.registry });
    // prom-client's `*_total` gauges break the naming rule `promtool check metrics` enforces (only
    // counters end in _total); the same numbers are the sums of the per-type series it also exports.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
    const r = [this.registry];
    new Gauge({ name: 'event_planner_build_info', help: 'Constant 1, labelled with the running version.', labelNames: ['version'], registers: r }).set(
      { version },
      1,
    );
    this.produced = new Counter({
      name: 'event_planner_stream_messages_produced_total',
      help: 'Entries published to a stream, by outcome (added, or duplicate: skipped because its once-key was used before).',
      labelNames: ['stream', 'outcome'],
      registers: r,
    });
    this.consumed = new Counter({
      name: 'event_planner_stream_messages_consumed_total',
      help: 'Entries a consumer finished, by outcome (acked, retried, dead_lettered).',
      labelNames: ['stream', 'group', 'outcome'],
      registers: r,
    });
    this.waitSeconds = new Histogram({
      name: 'event_planner_stream_wait_seconds',
      help: 'Time from an entry being added (its id) to a consumer receiving it.',
      labelNames: ['stream', 'group'],
      buckets: latencyBuckets,
      registers: r,
    });
    this.processingSeconds = new Histogram({
      name: 'event_planner_stream_processing_seconds',
      help: 'Time a consumer spent handling a batch of entries.',
      labelNames: ['stream', 'group'],
      buckets: latencyBuckets,
      registers: r,
    });
    this.reclaimed = new Counter({
      name: 'event_planner_stream_reclaimed_total',
      help: 'Entries taken over from a consumer that stopped handling them (idle past the claim timeout).',
      labelNames: ['stream', 'group'],
      registers: r,
    });
    this.deletedWhilePending = new Counter({
      name: 'event_planner_stream_deleted_pending_total',
      help: 'Pending entries found deleted or trimmed from the stream, dropped from the pending list.',
      labelNames: ['stream', 'group'],
      registers: r,
    });
    this.retries = new Counter({
      name: 'event_planner_stream_retries_total',
      help: 'Handler failures retried after a backoff.',
      labelNames: ['stream', 'group'],
      registers: r,
    });
    this.suspects = new Counter({
      name: 'event_planner_stream_suspects_total',
      help: 'Handler starts of suspects: entries redelivered often enough to be handled one at a time, in case they crash their consumer.',
      labelNames: ['stream', 'group'],
      registers: r,
    });
    this.deadLetters = new Counter({
      name: 'event_planner_dead_letters_total',
      help: 'Entries moved to a dead-letter stream, by reason code.',
      labelNames: ['stream', 'reason'],
      registers: r,
    });
    this.readErrors = new Counter({
      name: 'event_planner_stream_read_errors_total',
      help: 'Failed XREADGROUP calls (connection loss, missing group).',
      labelNames: ['stream', 'group'],
      registers: r,
    });
    this.httpDuration = new Histogram({
      name: 'event_planner_http_request_duration_seconds',
      help: 'HTTP request duration by route.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: latencyBuckets,
      registers: r,
    });
    const readLoops = this.readLoops;
    new Gauge({
      name: 'event_planner_stream_consumers_active',
      help: 'Read loops of this process running on a live connection, by stream and group (0 while reconnecting or stopped).',
      labelNames: ['stream', 'group'],
      registers: r,
      collect() {
        this.reset();
        for (const { labels, healthy } of readLoops) this.inc(labels, healthy() ? 1 : 0);
      },
    });
  }

  /**
   * Called once per stream consumer. Its counters start at 0, so the first retry, reclaim or dead
   * letter is an increase Prometheus sees (a series born at 1 shows no increase), and its read loop
   * counts in event_planner_stream_consumers_active: a group is served when some process reports a
   * healthy loop, which the consumer count Redis keeps (idle consumers stay registered) cannot say.
   */
  trackConsumer(labels: StreamLabels, healthy: () => boolean): void {
    for (const outcome of ['acked', 'retried', 'dead_lettered']) this.consumed.inc({ ...labels, outcome }, 0);
    for (const counter of [this.retries, this.reclaimed, this.readErrors, this.deletedWhilePending]) counter.inc(labels, 0);
    this.readLoops.push({ labels, healthy });
  }
}

type StreamLabels = { stream: string; group: string };

export { endToEndBuckets, latencyBuckets };
