{{/*
The alert rules Prometheus loads (alert-rules.yml in the Prometheus ConfigMap). What each alert means
and what to do about it: docs/OPERATIONS.md. Unit tests: test/k8s/alert-rules.test.yml (promtool test
rules, run by test/k8s/alert-rules.test.ts). Thresholds and `for:` durations come from
prometheus.alerts; Prometheus' own {{ $labels }} and {{ $value }} are kept out of Helm with {{` `}}.
*/}}

{{/* The `for:` of an alert: prometheus.alerts.for.<name>, else the default given. */}}
{{- define "event-planner.alertFor" -}}
{{- $for := .ctx.Values.prometheus.alerts.for | default dict -}}
{{- index $for .alert | default .default -}}
{{- end }}

{{/* A Kubernetes memory quantity (512Mi, 1Gi, 500M, 1073741824) in bytes. */}}
{{- define "event-planner.bytes" -}}
{{- $q := toString . -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $q -}}
{{- $unit := trimPrefix $number $q -}}
{{- $factors := dict "" 1 "k" 1000 "K" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 -}}
{{- if or (not $number) (not (hasKey $factors $unit)) -}}
{{- fail (printf "redis.resources.limits.memory: %q is not a memory quantity (e.g. 512Mi)" $q) -}}
{{- end -}}
{{- mulf $number (get $factors $unit) | int64 -}}
{{- end }}

{{- define "event-planner.prometheus.alertRules" -}}
{{- $a := .Values.prometheus.alerts -}}
groups:
  - name: event-planner-streams
    rules:
      - alert: StreamLagHigh
        expr: max by (stream, group) (event_planner_stream_group_lag) > {{ $a.streamLag }}
        for: {{ include "event-planner.alertFor" (dict "ctx" . "alert" "StreamLagHigh" "default" "5m") }}
        labels:
          severity: warning
        annotations:
          summary: {{`'{{ $labels.group }} is {{ $value }} entries behind on {{ $labels.stream }}'`}}
          description: Entries are added to the stream faster than the group reads them, or its consumers stopped reading.
          runbook: docs/OPERATIONS.md#streamlaghigh
      - alert: StreamPendingHigh
        expr: max by (stream, group) (event_planner_stream_group_pending) > {{ $a.streamPending }}
        for: {{ include "event-planner.alertFor" (dict "ctx" . "alert" "StreamPendingHigh" "default" "5m") }}
        labels:
          severity: warning
        annotations:
          summary: {{`'{{ $value }} entries of {{ $labels.stream }} read by {{ $labels.group }} and not acknowledged'`}}
          description: Consumers read entries and do not finish them (slow or failing handlers, or a dead consumer whose entries wait to be reclaimed).
          runbook: docs/OPERATIONS.md#streampendinghigh
      - alert: OldestPendingTooOld
        expr: max by (stream, group) (event_planner_stream_group_oldest_pending_age_seconds) > {{ $a.oldestPendingSeconds }}
        for: {{ include "event-planner.alertFor" (dict "ctx" . "alert" "OldestPendingTooOld" "default" "2m") }}
        labels:
          severity: warning
        annotations:
          summary: {{`'The oldest unacknowledged entry of {{ $labels.stream }} in {{ $labels.group }} is {{ $value | humanizeDuration }} old'`}}
          description: An entry stays pending longer than any handler should take; reclaiming or retrying it is not working.
          runbook: docs/OPERATIONS.md#oldestpendingtooold
      - alert: DeadLettersIncreasing
        expr: sum by (stream, group) (increase(event_planner_stream_messages_consumed_total{outcome="dead_lettered"}[5m])) > 0
        for: {{ include "event-planner.alertFor" (dict "ctx" . "alert" "DeadLettersIncreasing" "default" "0m") }}
        labels:
          severity: warning
        annotations:
          summary: {{`'Dead letters on {{ $labels.stream }} (group {{ $labels.group }}): {{ $value | humanize }} in the last 5 minutes'`}}
          description: Entries were invalid, or failed on every delivery; each is kept with its reason in <stream>:dead_letters.
          runbook: docs/OPERATIONS.md#deadlettersincreasing
      - alert: NoActiveConsumer
        # Redis keeps a consumer registered after it stopped (until the janitor removes it), so the
        # groups Redis knows are compared with the read loops the running processes report.
        expr: |-
          max by (stream, group) (event_planner_stream_group_consumers)
            unless on (stream, group)
          (sum by (stream, group) (event_planner_stream_consumers_active) > 0)
        for: {{ include "event-planner.alertFor" (dict "ctx" . "alert" "NoActiveConsumer" "default" "2m") }}
        labels:
          severity: critical
        annotations:
          summary: {{`'Nobody reads {{ $labels.stream }} for group {{ $labels.group }}'`}}
          description: No running process has a live read loop on this stream and group; its entries wait.
          runbook: docs/OPERATIONS.md#noactiveconsumer
      - alert: NoLiveGuests
        # Only the coordinator holding the janitor lease reports the registry (events_open is always
        # among its series): no report at all is CoordinatorDown, not this.
        expr: |-
          (sum(event_planner_guests_live) or vector(0)) == 0
            and on ()
          count(event_planner_events_open) > 0
        for: {{ include "event-planner.alertFor" (dict "ctx" . "alert" "NoLiveGuests" "default" "2m") }}
        labels:
          severity: warning
        annotations:
          summary: No guest agent is registered with a live heartbeat
          description: New events are delivered to nobody and close at once with reason no_guests.
          runbook: docs/OPERATIONS.md#noliveguests
      - alert: InvitationsWithoutSummaries
        expr: |-
          sum(increase(event_planner_invitations_total{outcome="created"}[{{ $a.summaryWindow }}])) > 0
            and on ()
          sum(increase(event_planner_summaries_total[{{ $a.summaryWindow }}])) == 0
        for: {{ include "event-planner.alertFor" (dict "ctx" . "alert" "InvitationsWithoutSummaries" "default" "5m") }}
        labels:
          severity: critical
        annotations:
          summary: {{ printf "Invitations arrive but no summary was published in %s" $a.summaryWindow }}
          description: Events open and never close (replies not counted, deadlines not swept, or summaries not published).
          runbook: docs/OPERATIONS.md#invitationswithoutsummaries
  - name: event-planner-services
    rules:
      - alert: CoordinatorDown
        expr: absent(event_planner_build_info{job="event-planner", role="coordinator"})
        for: {{ include "event-planner.alertFor" (dict "ctx" . "alert" "CoordinatorDown" "default" "1m") }}
        labels:
          severity: critical
        annotations:
          summary: No coordinator answers Prometheus
          description: Without a coordinator nothing is delivered, counted or summarized; entries wait in the streams.
          runbook: docs/OPERATIONS.md#coordinatordown
{{- if .Values.redis.exporter.enabled }}
  - name: event-planner-redis
    rules:
      # What RedisMemoryNearLimit and the Redis dashboard compare memory with: maxmemory when it is
      # set (Redis refuses writes there), else the container's memory limit (the kernel kills it there).
      - record: event_planner:redis_memory_limit_bytes
        {{- with .Values.redis.resources.limits.memory }}
        expr: max(redis_memory_max_bytes{job="redis"} > 0) or vector({{ include "event-planner.bytes" . }})
        {{- else }}
        expr: max(redis_memory_max_bytes{job="redis"} > 0)
        {{- end }}
      - alert: RedisDown
        expr: max(redis_up{job="redis"}) == 0 or absent(redis_up{job="redis"})
        for: {{ include "event-planner.alertFor" (dict "ctx" . "alert" "RedisDown" "default" "1m") }}
        labels:
          severity: critical
        annotations:
          summary: Redis does not answer its exporter
          description: Every role is unready without Redis; nothing moves until it is back (the append-only file keeps what was written).
          runbook: docs/OPERATIONS.md#redisdown
      - alert: RedisMemoryNearLimit
        expr: max(redis_memory_used_bytes{job="redis"}) / max(event_planner:redis_memory_limit_bytes) > {{ $a.redisMemoryRatio }}
        for: {{ include "event-planner.alertFor" (dict "ctx" . "alert" "RedisMemoryNearLimit" "default" "5m") }}
        labels:
          severity: warning
        annotations:
          summary: {{`'Redis uses {{ $value | humanizePercentage }} of its memory limit'`}}
          description: At maxmemory Redis refuses writes; at the container limit the kernel kills it and it replays its append-only file.
          runbook: docs/OPERATIONS.md#redismemorynearlimit
      - alert: RedisAofFailing
        expr: |-
          max(redis_aof_enabled{job="redis"}) == 0
            or min(redis_aof_last_write_status{job="redis"}) == 0
            or min(redis_aof_last_bgrewrite_status{job="redis"}) == 0
        for: {{ include "event-planner.alertFor" (dict "ctx" . "alert" "RedisAofFailing" "default" "1m") }}
        labels:
          severity: critical
        annotations:
          summary: Redis' append-only file is off, or its last write or rewrite failed
          description: Writes are no longer made durable; a Redis restart now would lose data (and Redis refuses writes while the AOF write fails).
          runbook: docs/OPERATIONS.md#redisaoffailing
{{- end }}
{{- end }}
