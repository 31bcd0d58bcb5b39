#!/usr/bin/env bash
# Builds the real Kubernetes components that Skiff's Kubernetes-mode tests
# run (internal/kubetest): kube-apiserver, etcd and kube-controller-manager
# from the module in test/kube/harness, kwok from the module in
# test/kube/kwok. Everything comes from Go modules; nothing is downloaded
# as a binary.
#
#   test/kube/build.sh [NAME...]    NAME: kube-apiserver etcd kube-controller-manager kwok
#                                   (default: all four)
#
# Binaries go to bin/kube/ under the repository root (or $SKIFF_KUBE_BIN).
# Each one is rebuilt only when missing or stale: its stamp file holds a
# hash of its module's go.mod, go.sum and sources and the Go version, so a
# second run costs a few hashes. (Changing the build flags below does not
# change the hash: delete bin/kube/ after such a change.) Concurrent runs (several `go test`
# packages at once) serialise on a lock file; the one that comes second
# finds the binaries built. What it does goes to stderr; on success it
# prints nothing to stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${SKIFF_KUBE_BIN:-$root/bin/kube}
go=${GO:-go}

all=(kube-apiserver etcd kube-controller-manager kwok)
if [ $# -eq 0 ]; then
	set -- "${all[@]}"
fi

log() { echo "kube/build.sh: $*" >&2; }

# module NAME: the directory of the module that builds NAME.
module() {
	case $1 in
	kube-apiserver | etcd | kube-controller-manager) echo "$here/harness" ;;
	kwok) echo "$here/kwok" ;;
	*)
		log "unknown binary \"$1\" (want one of: ${all[*]})"
		exit 2
		;;
	esac
}

# package NAME: what `go build` builds for NAME inside its module.
package() {
	case $1 in
	kwok) echo sigs.k8s.io/kwok/cmd/kwok ;;
	*) echo "./cmd/$1" ;;
	esac
}

# key NAME: the cache key of NAME's binary.
key() {
	local dir
	dir=$(module "$1")
	{
		"$go" version
		echo "$1"
		(cd "$dir" && find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) | LC_ALL=C sort | xargs sha256sum)
	} | sha256sum | cut -d' ' -f1
}

for name in "$@"; do
	module "$name" >/dev/null
done

mkdir -p "$out"
exec 9>"$out/.lock"
if ! flock -n 9; then
	log "waiting for another build.sh (lock $out/.lock)"
	flock 9
fi

export GOWORK=off
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
for name in "$@"; do
	bin=$out/$name
	stamp=$out/.$name.stamp
	want=$(key "$name")
	if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		log "$name: up to date ($bin)"
		continue
	fi
	if [ -f "$stamp" ]; then
		log "$name: stale (inputs changed: stamp $(cut -c1-12 "$stamp"), now ${want:0:12})"
	fi
	dir=$(module "$name")
	log "$name: building $(package "$name") in ${dir#"$root"/} (first build on a machine takes minutes)"
	start=$(date +%s)
	tmp=$(mktemp "$out/.$name.XXXXXX")
	if ! (cd "$dir" && "$go" build -trimpath -ldflags='-s -w' -o "$tmp" "$(package "$name")"); then
		rm -f "$tmp"
		log "$name: build failed"
		exit 1
	fi
	chmod 0755 "$tmp"
	mv -f "$tmp" "$bin"
	echo "$want" >"$stamp"
	log "$name: built in $(($(date +%s) - start))s ($bin)"
done
