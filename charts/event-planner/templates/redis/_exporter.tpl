{{/*
oliver006/redis_exporter beside Redis in its pod: it reaches Redis on the pod's loopback with the
same password (from the Secret, never on a command line) and serves Redis' INFO as Prometheus metrics
on the port named "metrics", which the chart's Prometheus scrapes as job "redis".
*/}}
{{- define "event-planner.redis.exporterContainer" -}}
{{- $values := .Values.redis.exporter -}}
- name: redis-exporter
  image: {{ include "event-planner.thirdPartyImage" $values.image | quote }}
  imagePullPolicy: {{ $values.image.pullPolicy }}
  env:
    - name: REDIS_ADDR
      value: {{ printf "redis://127.0.0.1:%d" (int .Values.redis.port) | quote }}
    - name: REDIS_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ include "event-planner.redis.secretName" . }}
          key: {{ include "event-planner.redis.secretKey" . }}
    - name: REDIS_EXPORTER_WEB_LISTEN_ADDRESS
      value: {{ printf ":%d" (int $values.port) | quote }}
    # The Go runtime's own metrics are the exporter's business, not Redis'.
    - name: REDIS_EXPORTER_REDIS_ONLY_METRICS
      value: "true"
  ports:
    - name: metrics
      containerPort: {{ $values.port }}
      protocol: TCP
  livenessProbe:
    httpGet:
      path: /health
      port: metrics
    periodSeconds: 15
  readinessProbe:
    httpGet:
      path: /health
      port: metrics
    periodSeconds: 10
  {{- with $values.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.redis.containerSecurityContext | nindent 4 }}
{{- end }}

{{/* The Prometheus job that scrapes the exporter of this release's Redis pod. */}}
{{- define "event-planner.prometheus.redisScrapeJob" -}}
# Redis through its exporter (the container port named "metrics" of the Redis pod).
- job_name: redis
  kubernetes_sd_configs:
    - role: pod
      namespaces:
        names: [{{ .Release.Namespace | quote }}]
  relabel_configs:
    - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_instance]
      regex: {{ .Release.Name | quote }}
      action: keep
    - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
      regex: redis
      action: keep
    - source_labels: [__meta_kubernetes_pod_container_port_name]
      regex: metrics
      action: keep
    - source_labels: [__meta_kubernetes_namespace]
      target_label: namespace
      action: replace
    - source_labels: [__meta_kubernetes_pod_name]
      target_label: pod
      action: replace
{{- end }}
