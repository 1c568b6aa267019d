{{/*
oliver006/redis_exporter beside Redis in its pod: it reaches Redis on the pod's loopback with the
its own ACL user, event-planner-metrics (server statistics, no keys; its password in a file the
init container writes from the Secret, never on a command line nor in the environment) and serves Redis' INFO as Prometheus metrics
on the port named "metrics", which the chart's Prometheus scrapes as job "redis".
*/}}
{{/* Where the exporter reaches Redis; also the key of its password file (acl.sh writes it). */}}
{{- define "event-planner.redis.exporterAddr" -}}
{{- printf "%s://127.0.0.1:%d" (ternary "rediss" "redis" .Values.redis.tls.enabled) (int .Values.redis.port) }}
{{- end }}

{{- define "event-planner.redis.exporterContainer" -}}
{{- $values := .Values.redis.exporter -}}
- name: redis-exporter
  image: {{ include "event-planner.thirdPartyImage" $values.image | quote }}
  imagePullPolicy: {{ $values.image.pullPolicy }}
  env:
    - name: REDIS_ADDR
      value: {{ include "event-planner.redis.exporterAddr" . | quote }}
    - name: REDIS_USER
      value: {{ include "event-planner.redis.username" "metrics" | quote }}
    # --redis.password-file: a JSON map of address to password, which the init container writes
    # into an in-memory volume from the Secret (the image has no shell to read a plain file).
    - name: REDIS_PASSWORD_FILE
      value: /run/redis-exporter/password.json
    {{- if .Values.redis.tls.enabled }}
    - name: REDIS_EXPORTER_TLS_CA_CERT_FILE
      value: /etc/redis-tls/ca.crt
    # It reaches Redis on the pod's own loopback (never the network), a name the certificate does not carry.
    - name: REDIS_EXPORTER_SKIP_TLS_VERIFICATION
      value: "true"
    {{- end }}
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
  volumeMounts:
    - name: exporter-auth
      mountPath: /run/redis-exporter
      readOnly: true
    {{- if .Values.redis.tls.enabled }}
    - name: tls
      mountPath: /etc/redis-tls
      readOnly: true
    {{- end }}
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
