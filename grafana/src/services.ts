// Services: the host, coordinator and guest processes themselves — are they up and ready, how fast
// and how often do they fail, and what do they cost (event loop, memory, CPU).
import { type DashboardSpec, rate, statPanel, timeseriesPanel } from './panels.ts';

const app = 'job="event-planner"';
const requests = 'event_planner_http_request_duration_seconds';
// Probes answer 503 while a process is not ready: that is readiness (below), not an error of the API.
const errors = `${requests}_count{status_code=~"5..", route!~"/healthz|/readyz"}`;

export const services: DashboardSpec = {
  uid: 'event-planner-services',
  title: 'Event planner: services',
  description: 'Per role: processes up and ready, restarts, HTTP rate, errors and latency, event-loop lag, memory and CPU.',
  rows: [
    {
      title: 'Processes',
      panels: [
        statPanel('Coordinators', 'Coordinator processes Prometheus scrapes.', { expr: 'count(event_planner_build_info{role="coordinator"})' }),
        statPanel('Guest agents', 'Guest agent processes Prometheus scrapes.', { expr: 'count(event_planner_build_info{role="guest"})' }),
        statPanel('Hosts', 'Host processes Prometheus scrapes.', { expr: 'count(event_planner_build_info{role="host"})' }),
        statPanel('Not ready', 'Processes whose /readyz fails now (Redis lost, consumer loop down, starting or stopping).', {
          expr: 'sum(1 - event_planner_ready)',
        }),
        statPanel('Restarts (1 h)', 'Process restarts in the last hour, all roles (a container restarted in place; a replaced pod is a new one).', {
          expr: `sum(changes(process_start_time_seconds{${app}}[1h]))`,
        }),
        statPanel('Targets down', 'Scrape targets Prometheus could not reach at its last attempt (app pods and the Redis exporter).', {
          expr: 'count(up == 0) or vector(0)',
        }),
        timeseriesPanel('Ready processes by role', 'Processes answering /readyz with 200, by role, against those scraped.', [
          { expr: 'sum by (role) (event_planner_ready)', legend: '{{role}} ready' },
          { expr: 'count by (role) (event_planner_ready)', legend: '{{role}} running' },
        ], { w: 8, min: 0 }),
        timeseriesPanel('Restarts by role', 'Process restarts per role in the selected range (process_start_time_seconds changed).', [
          { expr: `sum by (role) (changes(process_start_time_seconds{${app}}[$__range]))`, legend: '{{role}}' },
        ], { w: 8, min: 0 }),
        timeseriesPanel('Redis connection by role', 'Processes whose Redis command connection is ready, by role.', [
          { expr: 'sum by (role) (event_planner_redis_up)', legend: '{{role}}' },
        ], { w: 8, min: 0 }),
      ],
    },
    {
      title: 'HTTP',
      panels: [
        timeseriesPanel('Requests per second by role and route', 'Every HTTP request, probes and scrapes included, by route template.', [
          { expr: `sum by (role, route) (${rate(`${requests}_count`)})`, legend: '{{role}} {{route}}' },
        ], { w: 8, unit: 'reqps' }),
        timeseriesPanel('Errors by role', 'Share of requests answered 5xx, probes left out (their 503 is readiness, above).', [
          {
            expr: `(sum by (role) (${rate(errors)}) or 0 * sum by (role) (${rate(`${requests}_count`)})) / sum by (role) (${rate(`${requests}_count`)})`,
            legend: '{{role}}',
          },
        ], { w: 8, unit: 'percentunit', min: 0 }),
        timeseriesPanel('Latency p95 by role', '95th percentile of HTTP request duration, by role.', [
          { expr: `histogram_quantile(0.95, sum by (role, le) (${rate(`${requests}_bucket`)}))`, legend: '{{role}}' },
        ], { w: 8, unit: 's' }),
      ],
    },
    {
      title: 'Node.js runtime',
      panels: [
        timeseriesPanel('Event-loop lag p99 by pod', 'How late the event loop runs timers: above a few tens of ms, every message waits.', [
          { expr: `max by (role, pod) (nodejs_eventloop_lag_p99_seconds{${app}})`, legend: '{{pod}}' },
        ], { w: 12, unit: 's' }),
        timeseriesPanel('CPU by pod', 'CPU seconds per second (1 = one core).', [
          { expr: `sum by (role, pod) (${rate(`process_cpu_seconds_total{${app}}`)})`, legend: '{{pod}}' },
        ], { w: 12, unit: 'short' }),
        timeseriesPanel('Resident memory by pod', 'Resident set size of each process (the chart limits each role to 256 MiB).', [
          { expr: `max by (role, pod) (process_resident_memory_bytes{${app}})`, legend: '{{pod}}' },
        ], { w: 12, unit: 'bytes' }),
        timeseriesPanel('Heap used by role', 'V8 heap in use, summed per role.', [
          { expr: `sum by (role) (nodejs_heap_size_used_bytes{${app}})`, legend: '{{role}}' },
        ], { w: 12, unit: 'bytes' }),
      ],
    },
  ],
};
