# Shared helpers of scripts/e2e-kind/*.sh (sourced, not run).
# Versions: every pinned version of the e2e run, in one place.
K8S_VERSION=${K8S_VERSION:-v1.34.4}
KIND_VERSION=v0.33.0
# skaffold v2.16.1 is in the Go checksum database (v2.19.0 is served by the proxy but not there);
# it reads configs up to skaffold/v4beta13, which is why skaffold.yaml is at v4beta13.
SKAFFOLD_VERSION=v2.16.1
ETCD_VERSION=v3.6.5
COREDNS_VERSION=v1.12.1
CRICTL_VERSION=v1.34.0
LOCAL_PATH_VERSION=v0.0.30
# Prometheus 3.5.0 is Go module v0.305.0 (the chart's prometheus.image.tag is v3.5.0).
PROMETHEUS_MODULE_VERSION=v0.305.0
# Jaeger 2.12.0 is Go module v1.75.0 (the chart's jaeger.image.tag, as scripts/setup.sh builds it).
JAEGER_MODULE_VERSION=v1.75.0
DEBIAN_SUITE=bookworm
NODE_MAJOR=24

CACHE=${E2E_CACHE:-/var/cache/event-planner-e2e}
BIN="$CACHE/bin"
STAMPS="$CACHE/stamps"
mkdir -p "$BIN" "$STAMPS" "$CACHE/logs"

_e2e_t0=${_e2e_t0:-$(date +%s)}
export _e2e_t0
elapsed() { local s=$(( $(date +%s) - _e2e_t0 )); printf '%02d:%02d' $((s / 60)) $((s % 60)); }
log() { printf '[e2e-kind %s] %s\n' "$(elapsed)" "$*"; }
die() { printf '[e2e-kind %s] ERROR: %s\n' "$(elapsed)" "$*" >&2; exit 1; }

# step NAME CMD...: runs CMD with its output in $CACHE/logs/NAME.log, prints how long it took, and
# on failure the log's tail.
step() {
  local name="$1"; shift
  local t=$(date +%s) logf="$CACHE/logs/$name.log"
  log "$name ..."
  # In the background and then waited for: a function called as an `if` condition would run with
  # `set -e` switched off, and a failed build would pass for a finished one.
  "$@" >"$logf" 2>&1 &
  if wait $!; then
    log "$name done in $(( $(date +%s) - t )) s"
  else
    local rc=$?
    tail -n 40 "$logf" >&2
    die "$name failed (exit $rc); full log: $logf"
  fi
}

# stamp NAME: true when a build step with this name (and version) already completed.
have_stamp() { [ -e "$STAMPS/$1" ]; }
set_stamp() { touch "$STAMPS/$1"; }
