{{/* Chart name, for app.kubernetes.io/name. */}}
{{- define "event-planner.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every object name: the release name, so `helm install demo` makes demo-coordinator,
demo-guest-enthusiasts... Capped at 40 characters because the longest suffix (-guest-<group>,
-redis-headless) must still fit a 63-character DNS label.
*/}}
{{- define "event-planner.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- end }}

{{/* name-version, for helm.sh/chart. */}}
{{- define "event-planner.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select a release's pods; never change them (selectors are immutable). */}}
{{- define "event-planner.selectorLabels" -}}
app.kubernetes.io/name: {{ include "event-planner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "event-planner.labels" -}}
helm.sh/chart: {{ include "event-planner.chart" . }}
{{ include "event-planner.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: event-planner
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels of one component's objects. Call with (dict "ctx" $ "component" "host").
*/}}
{{- define "event-planner.componentLabels" -}}
{{ include "event-planner.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector of one component's pods. Call with (dict "ctx" $ "component" "host"). */}}
{{- define "event-planner.componentSelector" -}}
{{ include "event-planner.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector of one guest group's pods: the group label keeps the groups' Deployments apart. */}}
{{- define "event-planner.guestSelector" -}}
{{ include "event-planner.componentSelector" (dict "ctx" .ctx "component" "guest") }}
event-planner.io/persona-group: {{ .group }}
{{- end }}

{{/* Name of the ServiceAccount the app pods run as. */}}
{{- define "event-planner.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "event-planner.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The app image: repository:tag, or repository@digest when a digest is given. */}}
{{- define "event-planner.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/* Image reference of a third-party component: call with its values block (repository, tag). */}}
{{- define "event-planner.thirdPartyImage" -}}
{{- printf "%s:%s" .repository (.tag | toString) }}
{{- end }}

{{/* Names of the Redis objects. */}}
{{- define "event-planner.redis.fullname" -}}
{{- printf "%s-redis" (include "event-planner.fullname" .) }}
{{- end }}

{{- define "event-planner.redis.headlessName" -}}
{{- printf "%s-redis-headless" (include "event-planner.fullname" .) }}
{{- end }}

{{/* The Secret holding the Redis passwords (one key per ACL user): an existing one, or the chart's own. */}}
{{- define "event-planner.redis.secretName" -}}
{{- default (include "event-planner.redis.fullname" .) .Values.redis.auth.existingSecret }}
{{- end }}

{{/* The persona groups with a Deployment (a group set to null is removed), sorted. */}}
{{- define "event-planner.guestGroups" -}}
{{- $groups := list -}}
{{- range $group := keys .Values.guests.groups | sortAlpha }}
{{- if index $.Values.guests.groups $group }}
{{- $groups = append $groups $group -}}
{{- end }}
{{- end }}
{{- $groups | toJson }}
{{- end }}

{{/*
What the id of a guest agent of a group starts with: its pod name is <Deployment name>-<hash>-<hash>
(keys.ts' guestAgentIdPrefix with the scope <fullname>-). Call with (dict "ctx" $ "group" "sceptics").
*/}}
{{- define "event-planner.guestAgentIdPrefix" -}}
{{- printf "%s-guest-%s-" (include "event-planner.fullname" .ctx) .group }}
{{- end }}

{{/*
The Redis ACL users by password key (services/shared/security/acl.ts; their rules are
files/redis-acl.conf, which `npm run acl` writes): guest-<group> for each persona group, one per
other role, one for redis_exporter and the probes, one for people.
*/}}
{{- define "event-planner.redis.aclRoles" -}}
{{- $keys := list -}}
{{- range $group := include "event-planner.guestGroups" . | fromJsonArray }}
{{- $keys = append $keys (printf "guest-%s" $group) -}}
{{- end }}
{{- concat $keys (list "host" "coordinator" "metrics" "admin") | toJson }}
{{- end }}

{{/*
The rules of the ACL users: files/redis-acl.conf with its guest block (the lines naming @GROUP@)
repeated for each persona group, the placeholders filled in. test/security/acl-chart.test.ts
checks that this is acl.ts' renderChartRules for the same groups.
*/}}
{{- define "event-planner.redis.aclRules" -}}
{{- $lines := splitList "\n" (.Files.Get "files/redis-acl.conf" | trimSuffix "\n") -}}
{{- $out := list -}}
{{- $expanded := false -}}
{{- range $line := $lines }}
{{- if contains "@GROUP@" $line }}
{{- if not $expanded }}
{{- range $group := include "event-planner.guestGroups" $ | fromJsonArray }}
{{- $prefix := include "event-planner.guestAgentIdPrefix" (dict "ctx" $ "group" $group) }}
{{- range $guestLine := $lines }}
{{- if contains "@GROUP@" $guestLine }}
{{- $out = append $out ($guestLine | replace "@AGENT_ID_PREFIX@" $prefix | replace "@GROUP@" $group) -}}
{{- end }}
{{- end }}
{{- end }}
{{- $expanded = true -}}
{{- end }}
{{- else }}
{{- $out = append $out $line -}}
{{- end }}
{{- end }}
{{- join "\n" $out }}
{{- end }}

{{/* A Redis user's name. Call with its password key (a role, or guest-<group>). */}}
{{- define "event-planner.redis.username" -}}
{{- printf "event-planner-%s" . }}
{{- end }}

{{/* The Secret key holding a user's password. Call with its password key (a role, or guest-<group>). */}}
{{- define "event-planner.redis.secretKey" -}}
{{- printf "%s-password" . }}
{{- end }}

{{/*
A role's Redis password in the chart's own Secret: the value given, else the one the Secret already
has in the cluster (so an upgrade never changes it), else a new random one (first install).
Call with (dict "ctx" $ "role" "guest").
*/}}
{{- define "event-planner.redis.password" -}}
{{- $ctx := .ctx -}}
{{- $key := include "event-planner.redis.secretKey" .role -}}
{{- $given := index ($ctx.Values.redis.auth.passwords | default dict) .role | default "" -}}
{{- if $given }}
{{- $given }}
{{- else }}
{{- $existing := lookup "v1" "Secret" $ctx.Release.Namespace (include "event-planner.redis.fullname" $ctx) }}
{{- if and $existing (index ($existing.data | default dict) $key) }}
{{- index $existing.data $key | b64dec }}
{{- else }}
{{- randAlphaNum 32 }}
{{- end }}
{{- end }}
{{- end }}

{{/* The address every role connects to: the client Service (no credentials: they come from the Secret). */}}
{{- define "event-planner.redis.url" -}}
{{- printf "%s://%s:%d/0" (ternary "rediss" "redis" .Values.redis.tls.enabled) (include "event-planner.redis.fullname" .) (int .Values.redis.port) }}
{{- end }}

{{/*
What rolls the pods that use Redis when its credentials change. The generated passwords are stable
(looked up), so only the settings that can change them are hashed, never a fresh random value.
*/}}
{{- define "event-planner.redis.secretChecksum" -}}
{{- printf "%s|%s|%s" .Values.redis.auth.existingSecret (toJson .Values.redis.auth.passwords) (include "event-planner.redis.aclRules" .) | sha256sum }}
{{- end }}

{{- define "event-planner.prometheus.fullname" -}}
{{- printf "%s-prometheus" (include "event-planner.fullname" .) }}
{{- end }}

{{- define "event-planner.grafana.fullname" -}}
{{- printf "%s-grafana" (include "event-planner.fullname" .) }}
{{- end }}

{{- define "event-planner.grafana.secretName" -}}
{{- default (include "event-planner.grafana.fullname" .) .Values.grafana.admin.existingSecret }}
{{- end }}

{{/* Same rule as the Redis password: given, else kept from the cluster, else new. */}}
{{- define "event-planner.grafana.password" -}}
{{- if .Values.grafana.admin.password }}
{{- .Values.grafana.admin.password }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "event-planner.grafana.fullname" .) }}
{{- if and $existing (index ($existing.data | default dict) "admin-password") }}
{{- index $existing.data "admin-password" | b64dec }}
{{- else }}
{{- randAlphaNum 24 }}
{{- end }}
{{- end }}
{{- end }}

{{/* Where Grafana's datasource points: the chart's Prometheus unless a URL is given. */}}
{{- define "event-planner.grafana.prometheusUrl" -}}
{{- if .Values.grafana.prometheusUrl }}
{{- .Values.grafana.prometheusUrl }}
{{- else }}
{{- printf "http://%s:%d" (include "event-planner.prometheus.fullname" .) (int .Values.prometheus.service.port) }}
{{- end }}
{{- end }}

{{/*
Pod annotations of an app role: the Prometheus scrape hints and the checksums that roll the pods
when the shared environment or the Redis credentials change.
*/}}
{{- define "event-planner.appPodAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap-env.yaml") . | sha256sum }}
checksum/redis-secret: {{ include "event-planner.redis.secretChecksum" . }}
prometheus.io/scrape: "true"
prometheus.io/path: /metrics
{{- end }}

{{/*
The container of an app role. Call with (dict "ctx" $ "role" "guest" "port" 8082 "env" $envDict
"values" $componentValues). `env` holds the plain NAME: value pairs; they are rendered sorted so a
re-render never reorders them (which would roll the pods for nothing).
*/}}
{{- define "event-planner.appContainer" -}}
{{- $ctx := .ctx -}}
- name: {{ .role }}
  image: {{ include "event-planner.image" $ctx | quote }}
  imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
  args: [{{ .role | quote }}]
  ports:
    - name: http
      containerPort: {{ .port }}
      protocol: TCP
  envFrom:
    - configMapRef:
        name: {{ include "event-planner.fullname" $ctx }}-env
  env:
    # The role's own Redis ACL user (docs/SECURITY.md) and its password from the Secret.
    - name: REDIS_USERNAME
      value: {{ include "event-planner.redis.username" (.redisUser | default .role) | quote }}
    # A file from the Secret (only this role's key), not an environment variable.
    - name: REDIS_PASSWORD_FILE
      value: /run/secrets/redis/password
    # The pod name is unique and survives a container restart, so a restarted process resumes its
    # own pending stream entries.
    - name: CONSUMER_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- if eq .role "guest" }}
    - name: GUEST_AGENT_ID
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- end }}
    {{- if .apiAuth }}
    # The host's token signing key, a file from its Secret (docs/SECURITY-API.md).
    - name: API_JWT_SECRET_FILE
      value: /run/secrets/api-auth/key
    {{- end }}
    {{- if $ctx.Values.redis.tls.enabled }}
    - name: REDIS_TLS_CA_FILE
      value: /etc/redis-tls/ca.crt
    {{- end }}
    {{- $env := .env }}
    {{- range $name := keys $env | sortAlpha }}
    - name: {{ $name }}
      value: {{ index $env $name | toString | quote }}
    {{- end }}
  startupProbe:
    httpGet:
      path: /healthz
      port: http
    periodSeconds: 2
    failureThreshold: 30
  livenessProbe:
    httpGet:
      path: /healthz
      port: http
    periodSeconds: 10
    timeoutSeconds: 3
    failureThreshold: 3
  readinessProbe:
    httpGet:
      path: /readyz
      port: http
    periodSeconds: 5
    timeoutSeconds: 3
    failureThreshold: 2
  {{- with .values.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $ctx.Values.app.containerSecurityContext | nindent 4 }}
  volumeMounts:
    # Read-only root filesystem: anything that wants a scratch file gets this.
    - name: tmp
      mountPath: /tmp
    - name: redis-password
      mountPath: /run/secrets/redis
      readOnly: true
    {{- if .apiAuth }}
    - name: api-auth
      mountPath: /run/secrets/api-auth
      readOnly: true
    {{- end }}
    {{- if $ctx.Values.redis.tls.enabled }}
    - name: redis-ca
      mountPath: /etc/redis-tls
      readOnly: true
    {{- end }}
{{- end }}

{{/* Pod-level settings shared by the app roles. Call with (dict "ctx" $ "role" "guest" "values" $componentValues). */}}
{{- define "event-planner.appPodSpec" -}}
{{- $ctx := .ctx -}}
serviceAccountName: {{ include "event-planner.serviceAccountName" $ctx }}
automountServiceAccountToken: false
# Kubernetes would otherwise inject <SERVICE>_PORT=tcp://... for every Service in the namespace; a
# Service named "redis" would set REDIS_PORT to a URL and stop every role at start.
enableServiceLinks: false
terminationGracePeriodSeconds: {{ $ctx.Values.app.terminationGracePeriodSeconds }}
securityContext:
  {{- toYaml $ctx.Values.app.podSecurityContext | nindent 2 }}
{{- with $ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
  # The role's own Redis password, and no other role's.
  - name: redis-password
    secret:
      secretName: {{ include "event-planner.redis.secretName" $ctx }}
      defaultMode: 0440
      items:
        - key: {{ include "event-planner.redis.secretKey" (.redisUser | default .role) }}
          path: password
  {{- with .apiAuth }}
  - name: api-auth
    secret:
      secretName: {{ .secretName }}
      defaultMode: 0440
      items:
        - key: {{ .key }}
          path: key
  {{- end }}
  {{- if $ctx.Values.redis.tls.enabled }}
  # Only the CA from the TLS Secret: the server's key stays in the Redis pod.
  - name: redis-ca
    secret:
      secretName: {{ $ctx.Values.redis.tls.existingSecret }}
      items:
        - key: ca.crt
          path: ca.crt
  {{- end }}
{{- end }}

{{/*
Every problem with the values, reported together (one failed install shows all of them).
*/}}
{{- define "event-planner.validateValues" -}}
{{- $messages := list -}}
{{- $grace := int .Values.app.shutdownGraceMs -}}
{{- $period := int .Values.app.terminationGracePeriodSeconds -}}
{{- /* The app exits on its own at shutdownGraceMs + 5 s; the kubelet must not SIGKILL before. */ -}}
{{- if le (mul $period 1000) (add $grace 5000) -}}
{{- $messages = append $messages (printf "app.terminationGracePeriodSeconds (%d) must exceed app.shutdownGraceMs/1000 + 5 (%d s): the app needs that long to finish in-flight work after SIGTERM" $period (div (add $grace 5000) 1000)) -}}
{{- end -}}
{{- if and .Values.grafana.enabled (not .Values.prometheus.enabled) (not .Values.grafana.prometheusUrl) -}}
{{- $messages = append $messages "grafana.enabled needs prometheus.enabled or grafana.prometheusUrl: the dashboards need a Prometheus to read" -}}
{{- end -}}
{{- $reserved := list "REDIS_USERNAME" "REDIS_PASSWORD" "REDIS_PASSWORD_FILE" "REDIS_TLS_CA_FILE" "CONSUMER_NAME" "GUEST_AGENT_ID" "ROLE" -}}
{{- $envBlocks := dict "app.env" .Values.app.env "coordinator.env" .Values.coordinator.env "host.env" .Values.host.env "guests.env" .Values.guests.env -}}
{{- range $group, $g := .Values.guests.groups }}
{{- if $g }}
{{- $_ := set $envBlocks (printf "guests.groups.%s.env" $group) ($g.env | default dict) -}}
{{- end }}
{{- end }}
{{- range $where, $env := $envBlocks }}
{{- range $name := $reserved }}
{{- if hasKey ($env | default dict) $name -}}
{{- $messages = append $messages (printf "%s.%s is set by the chart (from the pod name, the Secret or the container's argument) and cannot be overridden" $where $name) -}}
{{- end }}
{{- end }}
{{- end }}
{{- $fullname := include "event-planner.fullname" . -}}
{{- $groups := include "event-planner.guestGroups" . | fromJsonArray -}}
{{- range $group := $groups }}
{{- /* Kubernetes cuts a generated pod name's base to 58 characters: <Deployment>- must fit, or the pod name (the agent id) would lose the group its Redis user is scoped to. */ -}}
{{- if gt (len (printf "%s-guest-%s" $fullname $group)) 57 -}}
{{- $messages = append $messages (printf "guests.groups.%s: the Deployment name %s-guest-%s is longer than 57 characters, so its pod names would not start with it (the group's Redis user reaches only those agent ids); use a shorter group name or fullnameOverride" $group $fullname $group) -}}
{{- end }}
{{- range $other := $groups }}
{{- if hasPrefix (printf "%s-" $group) $other -}}
{{- $messages = append $messages (printf "guests.groups.%s and %s: the pod names of %s start with those of %s, whose Redis user would reach their inboxes; rename one" $group $other $other $group) -}}
{{- end }}
{{- end }}
{{- end }}
{{- range $role, $_ := .Values.redis.auth.passwords | default dict }}
{{- if not (has $role (include "event-planner.redis.aclRoles" $ | fromJsonArray)) -}}
{{- $messages = append $messages (printf "redis.auth.passwords.%s: no such Redis user; the users are %s" $role (include "event-planner.redis.aclRoles" $ | fromJsonArray | join ", ")) -}}
{{- end }}
{{- end }}
{{- if and .Values.redis.tls.enabled (not .Values.redis.tls.existingSecret) -}}
{{- $messages = append $messages "redis.tls.enabled needs redis.tls.existingSecret: a Secret with tls.crt, tls.key and ca.crt (e.g. from cert-manager)" -}}
{{- end -}}
{{- if $messages -}}
{{- fail (printf "\n\nInvalid values for event-planner:\n  - %s\n" (join "\n  - " $messages)) -}}
{{- end -}}
{{- end }}
