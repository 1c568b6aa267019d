// Redis as redis_exporter sees it (the exporter runs beside Redis in its pod; job="redis").
import { type DashboardSpec, rate, statPanel, timeseriesPanel } from './panels.ts';

const redis = 'job="redis"';

export const redisDashboard: DashboardSpec = {
  uid: 'event-planner-redis',
  title: 'Event planner: Redis',
  description: 'Redis from redis_exporter: memory against its limit, clients, commands, keyspace, append-only file, replication.',
  rows: [
    {
      title: 'Health',
      panels: [
        statPanel('Redis up', '1 when the exporter reaches Redis and it answers.', { expr: `max(redis_up{${redis}})` }),
        statPanel('Uptime', 'Time since Redis started (a restart replays the append-only file).', { expr: `max(redis_uptime_in_seconds{${redis}})` }, { unit: 's' }),
        statPanel('Memory used', 'Memory Redis allocated for data and overhead.', { expr: `max(redis_memory_used_bytes{${redis}})` }, { unit: 'bytes' }),
        statPanel('Memory of its limit', 'Memory used against event_planner:redis_memory_limit_bytes (maxmemory when set, else the container limit).', {
          expr: `max(redis_memory_used_bytes{${redis}}) / max(event_planner:redis_memory_limit_bytes)`,
        }, { unit: 'percentunit' }),
        statPanel('Clients', 'Client connections (each role process holds a few; blocking readers have one each).', {
          expr: `max(redis_connected_clients{${redis}})`,
        }),
        statPanel('Commands / s', 'Commands processed per second.', { expr: `sum(${rate(`redis_commands_processed_total{${redis}}`)})` }, { unit: 'ops' }),
      ],
    },
    {
      title: 'Memory',
      panels: [
        timeseriesPanel('Memory and its limit', 'Used, resident (RSS) and the limit the RedisMemoryNearLimit alert compares with.', [
          { expr: `max(redis_memory_used_bytes{${redis}})`, legend: 'used' },
          { expr: `max(redis_memory_used_rss_bytes{${redis}})`, legend: 'resident' },
          { expr: 'max(event_planner:redis_memory_limit_bytes)', legend: 'limit' },
        ], { unit: 'bytes', min: 0 }),
        timeseriesPanel('Memory by use', 'Dataset (keys and values) against overhead (clients, replication and AOF buffers) and Lua scripts.', [
          { expr: `max(redis_memory_used_dataset_bytes{${redis}})`, legend: 'dataset' },
          { expr: `max(redis_memory_used_overhead_bytes{${redis}})`, legend: 'overhead' },
          { expr: `max(redis_memory_used_lua_bytes{${redis}})`, legend: 'lua' },
        ], { unit: 'bytes', stack: true }),
      ],
    },
    {
      title: 'Clients and commands',
      panels: [
        timeseriesPanel('Clients', 'Connected clients and those blocked in a blocking command (the consumers\' XREADGROUP BLOCK).', [
          { expr: `max(redis_connected_clients{${redis}})`, legend: 'connected' },
          { expr: `max(redis_blocked_clients{${redis}})`, legend: 'blocked' },
          { expr: `sum(${rate(`redis_rejected_connections_total{${redis}}`)})`, legend: 'rejected / s' },
        ], { w: 8 }),
        timeseriesPanel('Commands per second by command', 'The ten busiest commands.', [
          { expr: `topk(10, sum by (cmd) (${rate(`redis_commands_total{${redis}}`)}))`, legend: '{{cmd}}' },
        ], { w: 8, unit: 'ops' }),
        timeseriesPanel('Time per command', 'Average time Redis spends in each of the ten busiest commands.', [
          {
            expr: `topk(10, sum by (cmd) (${rate(`redis_commands_duration_seconds_total{${redis}}`)}) / sum by (cmd) (${rate(`redis_commands_total{${redis}}`)}))`,
            legend: '{{cmd}}',
          },
        ], { w: 8, unit: 's' }),
        timeseriesPanel('Keyspace', 'Keys in all databases, and those with a time to live (every key the services write has a bounded life).', [
          { expr: `sum(redis_db_keys{${redis}})`, legend: 'keys' },
          { expr: `sum(redis_db_keys_expiring{${redis}})`, legend: 'with a time to live' },
        ], { w: 8 }),
        timeseriesPanel('Expired and evicted keys per second', 'Keys removed by their TTL, and keys evicted under maxmemory (should stay 0: streams must not be evicted).', [
          { expr: `sum(${rate(`redis_expired_keys_total{${redis}}`)})`, legend: 'expired' },
          { expr: `sum(${rate(`redis_evicted_keys_total{${redis}}`)})`, legend: 'evicted' },
        ], { w: 8, unit: 'ops' }),
        timeseriesPanel('Network', 'Bytes received and sent per second.', [
          { expr: `sum(${rate(`redis_net_input_bytes_total{${redis}}`)})`, legend: 'in' },
          { expr: `sum(${rate(`redis_net_output_bytes_total{${redis}}`)})`, legend: 'out' },
        ], { w: 8, unit: 'Bps' }),
      ],
    },
    {
      title: 'Persistence and replication',
      panels: [
        timeseriesPanel('Append-only file', 'AOF on, last write and last rewrite succeeded (1 = yes), rewrite in progress.', [
          { expr: `max(redis_aof_enabled{${redis}})`, legend: 'enabled' },
          { expr: `min(redis_aof_last_write_status{${redis}})`, legend: 'last write ok' },
          { expr: `min(redis_aof_last_bgrewrite_status{${redis}})`, legend: 'last rewrite ok' },
          { expr: `max(redis_aof_rewrite_in_progress{${redis}})`, legend: 'rewriting' },
        ], { w: 8, min: 0 }),
        timeseriesPanel('Append-only file size', 'Current size against its size after the last rewrite (Redis rewrites it when it doubles).', [
          { expr: `max(redis_aof_current_size_bytes{${redis}})`, legend: 'current' },
          { expr: `max(redis_aof_base_size_bytes{${redis}})`, legend: 'after last rewrite' },
        ], { w: 8, unit: 'bytes' }),
        timeseriesPanel('Last AOF rewrite duration', 'How long the last rewrite took (-1: none since start), and the delayed fsyncs (the disk is slower than the writes).', [
          { expr: `max(redis_aof_last_rewrite_duration_sec{${redis}})`, legend: 'last rewrite' },
          { expr: `max(redis_aof_delayed_fsync{${redis}})`, legend: 'delayed fsyncs' },
        ], { w: 8 }),
        timeseriesPanel('Replication', 'Connected replicas and the replication offset (the chart runs one primary and no replica: 0).', [
          { expr: `max(redis_connected_slaves{${redis}})`, legend: 'replicas' },
          { expr: `max(redis_master_repl_offset{${redis}})`, legend: 'offset' },
        ], { w: 12 }),
        timeseriesPanel('Slow log', 'Entries in the slow log (commands over slowlog-log-slower-than).', [
          { expr: `max(redis_slowlog_length{${redis}})`, legend: 'entries' },
        ], { w: 12 }),
      ],
    },
  ],
};
