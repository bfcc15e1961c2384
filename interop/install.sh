#!/usr/bin/env bash
# Builds bbolt-tool, Rivet's Go bbolt interop program, and prints its path on the
# last line of output.
#
#   interop/install.sh [OUT_DIR]      (default: target/interop in the repository)
#
# Needs Go and Debian's bbolt sources; when either is missing it installs them
# with apt (golang-go, golang-github-coreos-bbolt-dev: bbolt v1.3.6 and
# golang.org/x/sys under /usr/share/gocode). The build runs in GOPATH mode with
# the module proxy off, so nothing is fetched from the network but apt packages.
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$src/../target/interop}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
gocode=/usr/share/gocode

missing=()
if ! command -v go >/dev/null 2>&1; then
    missing+=(golang-go)
fi
if [ ! -f "$gocode/src/go.etcd.io/bbolt/db.go" ] || [ ! -d "$gocode/src/golang.org/x/sys/unix" ]; then
    missing+=(golang-github-coreos-bbolt-dev)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "install.sh: root or sudo needed to apt-get install ${missing[*]}" >&2; exit 1; }
        as_root=(sudo)
    fi
    echo "install.sh: apt-get install ${missing[*]}" >&2
    "${as_root[@]}" apt-get update >&2
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y "${missing[@]}" >&2
fi

# Go wants a build cache; a bare CI environment may not define a home.
if [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ] && [ -z "${GOCACHE:-}" ]; then
    export GOCACHE="$out/.gocache"
fi
export GO111MODULE=off GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=
export GOPATH="$out/.gopath:$gocode"

(cd "$src/bbolt-tool" && go build -o "$out/bbolt-tool" .) >&2
echo "$out/bbolt-tool"
