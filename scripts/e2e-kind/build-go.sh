#!/usr/bin/env bash
# Builds, from the Go module proxy, the binaries a normal machine would pull as images or release
# downloads: kind, skaffold, the Kubernetes binaries of $K8S_VERSION, etcd, CoreDNS, crictl,
# local-path-provisioner, Prometheus and Jaeger. Each lands in $CACHE/bin, once (a stamp per
# version); a later run does nothing. Usage: build-go.sh [what...] (default: everything).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
command -v go >/dev/null || die "go not found: install Go 1.24 or newer (https://go.dev/dl or Debian's golang package)"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

# gobuild NAME VERSION-STAMP MODULE@VERSION PACKAGE... : a throwaway module requiring MODULE, so that
# modules whose go.mod has replace directives (which `go install m@v` refuses) build too; the
# module's own versioned replaces are copied (as a dependency they would be ignored), its local ones
# (./staging, ../api) are not needed: the published versions stand in for them. OUT names the binary.
gobuild() {
  local name="$1" stampname="$2" req="$3"; shift 3
  have_stamp "$stampname" && return 0
  local ws="$CACHE/src/$name" gomod
  rm -rf "$ws"; mkdir -p "$ws"
  gomod="$(go mod download -json "$req" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')" || return 1
  {
    printf 'module event-planner-e2e/%s\n\ngo 1.24\n\n' "$name"
    grep -E '^replace [^ ]+ => [^ .][^ ]* v[^ ]+$' "$gomod" || true
  } >"$ws/go.mod"
  (cd "$ws" && go get "$req" && go build -trimpath -ldflags "-s -w" -o "${OUT:-$BIN/}" "$@") || return 1
  set_stamp "$stampname"
}

build_kind() { gobuild kind "kind-$KIND_VERSION" "sigs.k8s.io/kind@$KIND_VERSION" sigs.k8s.io/kind; }
build_skaffold() {
  gobuild skaffold "skaffold-$SKAFFOLD_VERSION" "github.com/GoogleContainerTools/skaffold/v2@$SKAFFOLD_VERSION" \
    github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold
}
# etcd's main package is the module go.etcd.io/etcd/server/v3 itself (go would name it "server").
build_etcd() { OUT="$BIN/etcd" gobuild etcd "etcd-$ETCD_VERSION" "go.etcd.io/etcd/server/v3@$ETCD_VERSION" go.etcd.io/etcd/server/v3; }
build_coredns() { gobuild coredns "coredns-$COREDNS_VERSION" "github.com/coredns/coredns@$COREDNS_VERSION" github.com/coredns/coredns; }
build_crictl() { gobuild crictl "crictl-$CRICTL_VERSION" "sigs.k8s.io/cri-tools@$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl; }
build_local_path() {
  gobuild local-path "local-path-$LOCAL_PATH_VERSION" "github.com/rancher/local-path-provisioner@$LOCAL_PATH_VERSION" github.com/rancher/local-path-provisioner
}
build_prometheus() {
  gobuild prometheus "prometheus-$PROMETHEUS_MODULE_VERSION" "github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION" \
    github.com/prometheus/prometheus/cmd/prometheus
}
build_jaeger() {
  have_stamp "jaeger-$JAEGER_MODULE_VERSION" && return 0
  # scripts/setup.sh builds the same version for the trace test: reuse it when it is there.
  local tools; tools="$(cd "$here/../.." && pwd)/.tools/bin/jaeger-$JAEGER_MODULE_VERSION"
  if [ -x "$tools" ]; then cp "$tools" "$BIN/jaeger"; set_stamp "jaeger-$JAEGER_MODULE_VERSION"; return 0; fi
  gobuild jaeger "jaeger-$JAEGER_MODULE_VERSION" "github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION" github.com/jaegertracing/jaeger/cmd/jaeger
}

# Kubernetes: k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
# ./staging/...; as a dependency those replaces are ignored, so ours points each at its release.
build_kubernetes() {
  have_stamp "kubernetes-$K8S_VERSION" && return 0
  local ws="$CACHE/src/kubernetes" minor
  rm -rf "$ws"; mkdir -p "$ws"
  local gomod; gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  local staging="v0${K8S_VERSION#v1}"
  {
    printf 'module event-planner-e2e/kubernetes\n\ngo 1.24\n\nrequire k8s.io/kubernetes %s\n\n' "$K8S_VERSION"
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$staging"'#p' "$gomod"
  } >"$ws/go.mod"
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  local v=k8s.io/component-base/version
  (cd "$ws" && go mod tidy -e >/dev/null 2>&1; go get "k8s.io/kubernetes@$K8S_VERSION" \
    && go build -trimpath -ldflags "-s -w -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z" \
      -o "$BIN/" k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy)
  # Kubernetes' own pause container, for the sandbox image (static C, no Go).
  local moddir; moddir="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  cp "$moddir/build/pause/linux/pause.c" "$ws/pause.c"
  gcc -Os -static -DVERSION="$K8S_VERSION" -o "$BIN/pause" "$ws/pause.c"
  set_stamp "kubernetes-$K8S_VERSION"
}

what=("$@")
[ ${#what[@]} -gt 0 ] || what=(kind skaffold kubernetes etcd coredns crictl local_path prometheus jaeger)
for w in "${what[@]}"; do
  step "go-$w" "build_$w"
done
