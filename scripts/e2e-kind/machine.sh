#!/usr/bin/env bash
# Machine-wide preparation, idempotent and harmless: a running Docker engine, and, only where
# `docker run --privileged` fails for want of capabilities, the runtime wrapper runc-caps.py as
# dockerd's default runtime. Sourced by e2e-kind.sh (functions only).

docker_up() { docker info >/dev/null 2>&1; }

ensure_dockerd() {
  docker_up && return 0
  command -v dockerd >/dev/null || die "no Docker engine: install one (Debian: apt-get install docker.io) or start yours"
  [ "$(id -u)" -eq 0 ] || die "the Docker engine is not running and starting it needs root: start it (e.g. sudo systemctl start docker)"
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    systemctl start docker
  else
    log "starting dockerd (no systemd here; log: $CACHE/logs/dockerd.log)"
    setsid nohup dockerd >>"$CACHE/logs/dockerd.log" 2>&1 </dev/null &
  fi
  for _ in $(seq 60); do docker_up && return 0; sleep 1; done
  die "dockerd did not come up in 60 s: see $CACHE/logs/dockerd.log"
}

# ensure_privileged IMAGE: kind's node container runs --privileged; where this machine's root lacks
# capabilities, register the wrapper (a copy in $CACHE, so the checkout can move) as default runtime.
ensure_privileged() {
  local image="$1" out
  # Registered by an earlier run: keep the copy in the cache up to date with the checkout's.
  if [ -f /etc/docker/daemon.json ] && grep -q '"e2e-runc-caps"' /etc/docker/daemon.json; then
    install -m 0755 "$(dirname "${BASH_SOURCE[0]}")/runc-caps.py" "$BIN/runc-caps"
  fi
  out="$(docker run --rm --privileged --net=none "$image" true 2>&1)" && return 0
  case "$out" in *"apply caps"*|*"operation not permitted"*) ;; *) die "docker run --privileged fails: $out" ;; esac
  [ -f /etc/docker/daemon.json ] && grep -q '"e2e-runc-caps"' /etc/docker/daemon.json && die "docker run --privileged fails even with the runtime wrapper: $out"
  log "root lacks capabilities for --privileged: registering the runtime wrapper $BIN/runc-caps as dockerd's default runtime"
  install -m 0755 "$(dirname "${BASH_SOURCE[0]}")/runc-caps.py" "$BIN/runc-caps"
  python3 - "$BIN/runc-caps" <<'PY'
import json, os, sys
path = "/etc/docker/daemon.json"
conf = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
conf.setdefault("runtimes", {})["e2e-runc-caps"] = {"path": sys.argv[1]}
conf["default-runtime"] = "e2e-runc-caps"
os.makedirs("/etc/docker", exist_ok=True)
json.dump(conf, open(path, "w"), indent=2)
PY
  # dockerd re-reads runtimes on SIGHUP; the containers it runs keep going.
  kill -HUP "$(pidof dockerd)"
  sleep 2
  docker run --rm --privileged --net=none "$image" true || die "docker run --privileged still fails with the wrapper"
}
