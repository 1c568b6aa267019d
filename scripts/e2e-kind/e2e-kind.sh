#!/usr/bin/env bash
# `npm run e2e:kind`: the real Kubernetes loop. Builds what the registries cannot provide (cached in
# $E2E_CACHE, default /var/cache/event-planner-e2e), starts a kind cluster, `skaffold run`s the
# repository's skaffold.yaml into a namespace enforcing the restricted Pod Security level, runs the
# checks (scripts/e2e-kind/checks.ts, one PASS/FAIL line each), and tears everything down.
#
#   npm run e2e:kind                        everything; exit 0 when every check passed
#   npm run e2e:kind -- --check-prereqs     only say what is missing (exit 2 if anything is)
#   npm run e2e:kind -- --dry-run           prerequisites, the plan and the generated configs; nothing built or started
#   KEEP=1 npm run e2e:kind                 leave the cluster running (kubectl --context kind-event-planner-e2e)
#   E2E_IMAGES=local|registry               force stand-in images built here, or the real images of the
#                                           registries (default: registry when Docker Hub answers)
#
# Idempotent: a second run reuses every build in the cache and replaces a cluster left by KEEP=1.
# Machine-wide changes (only where needed): dockerd started; on a machine whose root lacks
# capabilities, a runtime wrapper that drops them registered as dockerd's default runtime
# (/etc/docker/daemon.json; harmless for containers that ask for capabilities the machine has).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
mode=run
for arg in "$@"; do
  case "$arg" in
    --check-prereqs) mode=prereqs ;;
    --dry-run) mode=dry-run ;;
    -h | --help) sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done
shown_cache=${E2E_CACHE:-/var/cache/event-planner-e2e}
# A dry run writes nothing machine-wide: its cache is a temporary folder.
if [ "$mode" != run ] && [ -z "${E2E_CACHE:-}" ]; then E2E_CACHE="$(mktemp -d)"; trap 'rm -rf "$E2E_CACHE"' EXIT; fi
source "$here/lib.sh"
source "$here/machine.sh"
export PATH="$BIN:$root/.tools/bin:$PATH"
CLUSTER=${E2E_CLUSTER:-event-planner-e2e}
CONTEXT="kind-$CLUSTER"
NAMESPACE=${E2E_NAMESPACE:-event-planner-e2e}
RELEASE=event-planner
export KUBECONFIG="$CACHE/kubeconfig"

# --- which images: the registries' own, or stand-ins built here -----------------------------------
images="${E2E_IMAGES:-auto}"
if [ "$images" = auto ]; then
  # Docker Hub's registry answers 401 to an anonymous /v2/ when it is reachable.
  if [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' https://registry-1.docker.io/v2/ 2>/dev/null)" = 401 ]; then images=registry; else images=local; fi
fi
case "$images" in local | registry) ;; *) die "E2E_IMAGES must be local or registry (got $images)" ;; esac

# --- prerequisites: every missing one named, with how to get it ------------------------------------
missing=()
need() { # need COMMAND HINT
  command -v "$1" >/dev/null 2>&1 || missing+=("$1: $2")
}
need docker "a Docker engine and CLI (Debian: apt-get install docker.io)"
need node "Node.js 24 (scripts/setup.sh installs it into .tools/bin)"
need curl "apt-get install curl"
need helm "Helm 3, for helm test (scripts/setup.sh installs it into .tools/bin)"
if [ "$images" = local ]; then
  need go "Go 1.24 or newer (Debian's golang or https://go.dev/dl): kind, skaffold, Kubernetes, Prometheus are built from the Go module proxy"
  need gcc "apt-get install gcc libc6-dev (the pause container is Kubernetes' own C program)"
  need debootstrap "apt-get install debootstrap (base images, since there is no Docker Hub)"
  need python3 "apt-get install python3 (the runtime wrapper for machines without every capability)"
  [ "$(id -u)" -eq 0 ] || missing+=("root: building base images with debootstrap and registering a Docker runtime need root")
else
  need go "Go 1.24 or newer: kind and skaffold are built from the Go module proxy"
fi
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 24 ]; then
  missing+=("node: version 24 or newer (have $(node --version); scripts/setup.sh installs it)")
fi
[ -d "$root/node_modules/ioredis" ] || missing+=("node_modules: run npm ci (the checks use the project's own readers)")
if ((${#missing[@]})); then
  for m in "${missing[@]}"; do log "MISSING $m"; done
  die "${#missing[@]} prerequisite(s) missing"
fi
log "prerequisites present; images: $images$([ "$images" = local ] && echo " (Docker Hub unreachable: stand-ins built from Debian packages and the Go module proxy, cached in $shown_cache)")"
[ "$mode" = prereqs ] && exit 0

# --- the cluster's configuration -----------------------------------------------------------------------
NODE_IMAGE=""
[ "$images" = local ] && NODE_IMAGE="event-planner-e2e/kind-node:$K8S_VERSION"
kind_config="$CACHE/kind-config.yaml"
{
  echo "kind: Cluster"
  echo "apiVersion: kind.x-k8s.io/v1alpha4"
  if [ "$images" = local ]; then
    echo "networking:"
    echo "  # One node: the node image's static bridge CNI is the whole network (no kindnetd image here)."
    echo "  disableDefaultCNI: true"
    echo "  podSubnet: 10.244.0.0/16"
    # Kubernetes 1.35 and later refuse cgroup v1 unless told otherwise.
    if [ ! -f /sys/fs/cgroup/cgroup.controllers ] && [ "$(echo "$K8S_VERSION" | cut -d. -f2)" -ge 35 ]; then
      echo "kubeadmConfigPatches:"
      echo "  - |"
      echo "    kind: KubeletConfiguration"
      echo "    failCgroupV1: false"
    fi
  fi
} >"$kind_config"
profiles=()
[ "$images" = local ] && profiles=(-p no-grafana)
# No update check or survey prompt: both reach out to the internet, and nobody answers a prompt here.
export SKAFFOLD_UPDATE_CHECK=false SKAFFOLD_INTERACTIVE=false
skaffold_run=(skaffold run --kube-context "$CONTEXT" --namespace "$NAMESPACE" "${profiles[@]}" --status-check=true)

if [ "$mode" = dry-run ]; then
  log "plan:"
  if [ "$images" = local ]; then
    log "  machine: start dockerd if needed; register the runtime wrapper only if docker run --privileged fails"
    log "  build-go.sh: kind $KIND_VERSION, skaffold $SKAFFOLD_VERSION, Kubernetes $K8S_VERSION, etcd, CoreDNS, crictl, local-path, Prometheus, Jaeger"
    log "  build-images.sh: Debian $DEBIAN_SUITE base, node:$NODE_MAJOR, stand-ins for the chart's images, control plane, kind node image"
  fi
  log "  kind create cluster --name $CLUSTER ${NODE_IMAGE:+--image <node image>} --config $kind_config"
  log "  ${skaffold_run[*]}"
  log "  checks.ts; a second skaffold run (Redis and Prometheus stay); helm test; teardown unless KEEP=1"
  log "kind config:"; sed 's/^/    /' "$kind_config"
  # The checks load (their imports resolve) without a cluster.
  log "checks:"; node scripts/e2e-kind/checks.ts --list | sed 's/^/    /'
  exit 0
fi

# --- build ---------------------------------------------------------------------------------------------
ensure_dockerd
if [ "$images" = local ]; then
  "$here/build-go.sh"
  "$here/build-images.sh" base
  ensure_privileged event-planner-e2e/debian:$DEBIAN_SUITE
  "$here/build-images.sh"
else
  "$here/build-go.sh" kind skaffold
fi

# --- cluster -------------------------------------------------------------------------------------------
timings=()
timed() { # timed NAME CMD...: like step, and remembers the duration for the summary
  local t=$(date +%s)
  step "$@"
  timings+=("$1=$(( $(date +%s) - t ))s")
}
teardown() {
  if [ "${KEEP:-0}" = 1 ]; then
    log "KEEP=1: cluster $CLUSTER left running (KUBECONFIG=$KUBECONFIG kubectl --context $CONTEXT -n $NAMESPACE get pods)"
    return
  fi
  log "teardown: deleting cluster $CLUSTER and the images this run tagged"
  kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  # The app images skaffold built, and the stand-ins' public names (their cached copies stay).
  docker images -q --filter "label=org.event-planner.built-by=skaffold" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
  [ "$images" = local ] && "$here/build-images.sh" untag >/dev/null 2>&1 || true
}
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "a cluster $CLUSTER exists (KEEP=1 of an earlier run): deleting it first"
  kind delete cluster --name "$CLUSTER" >/dev/null
fi
trap teardown EXIT
timed kind-create kind create cluster --name "$CLUSTER" ${NODE_IMAGE:+--image "$NODE_IMAGE"} --config "$kind_config" --wait 120s
if [ "$images" = local ]; then
  # skaffold loads only the image it builds; the chart's other images come from the registry elsewhere.
  timed kind-load kind load docker-image --name "$CLUSTER" $("$here/build-images.sh" list-third-party)
  log "Grafana is left out (profile no-grafana: grafana.enabled=false): its image cannot be had here"
fi
kubectl --context "$CONTEXT" create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl --context "$CONTEXT" apply -f - >/dev/null
kubectl --context "$CONTEXT" label --overwrite namespace "$NAMESPACE" pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest >/dev/null
timed skaffold-run "${skaffold_run[@]}"

# --- checks --------------------------------------------------------------------------------------------
status=0
log "checks (scripts/e2e-kind/checks.ts) ..."
t=$(date +%s)
(E2E_CONTEXT="$CONTEXT" E2E_NAMESPACE="$NAMESPACE" E2E_RELEASE="$RELEASE" KUBECTL="$(command -v kubectl)" node scripts/e2e-kind/checks.ts) || status=1
timings+=("checks=$(( $(date +%s) - t ))s")

pod_uids() { kubectl --context "$CONTEXT" -n "$NAMESPACE" get pods -l "app.kubernetes.io/component in (redis,prometheus)" -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid} {end}'; }
before="$(pod_uids)"
timed skaffold-rerun "${skaffold_run[@]}"
after="$(pod_uids)"
if [ -n "$before" ] && [ "$before" = "$after" ]; then
  log "PASS a second skaffold run leaves Redis and Prometheus running (same pods: $after)"
else
  log "FAIL a second skaffold run restarted stateful pods: before [$before] after [$after]"; status=1
fi
if t=$(date +%s); helm test "$RELEASE" --kube-context "$CONTEXT" -n "$NAMESPACE" --timeout 120s >"$CACHE/logs/helm-test.log" 2>&1; then
  log "PASS helm test ($(( $(date +%s) - t )) s): $(grep -E '^(TEST SUITE|Phase)' "$CACHE/logs/helm-test.log" | tr -s ' ' | paste -sd' ')"
else
  log "FAIL helm test: $(tail -5 "$CACHE/logs/helm-test.log" | paste -sd' ')"; status=1
fi
log "timings: ${timings[*]}"
if [ $status -eq 0 ]; then log "e2e:kind PASSED"; else log "e2e:kind FAILED"; fi
exit $status
