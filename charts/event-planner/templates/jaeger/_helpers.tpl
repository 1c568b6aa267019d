{{- define "event-planner.jaeger.fullname" -}}
{{- printf "%s-jaeger" (include "event-planner.fullname" .) }}
{{- end }}

{{/* The roles' OTEL_EXPORTER_OTLP_ENDPOINT: app.otlpEndpoint, else the chart's Jaeger (OTLP over HTTP), else none. */}}
{{- define "event-planner.otlpEndpoint" -}}
{{- if .Values.app.otlpEndpoint }}
{{- .Values.app.otlpEndpoint }}
{{- else if .Values.jaeger.enabled }}
{{- printf "http://%s:4318" (include "event-planner.jaeger.fullname" .) }}
{{- end }}
{{- end }}
