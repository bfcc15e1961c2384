#!/usr/bin/env bash
# Runs rivet-bench (issue 6) after making sure Go and Debian's bbolt source package are
# installed, so that Go bbolt takes part:
#
#   bench/run.sh [--n N] [--runs R] [--only a,b] [--json FILE] [--cap SECS] [--dir DIR]
#
# Without --json the results go to target/rivet-bench/results.json (under $CARGO_TARGET_DIR when
# set), with their charts beside them (results-kv.svg, results-typed.svg).
#
# Go bbolt is built in GOPATH mode from /usr/share/gocode (golang-github-coreos-bbolt-dev),
# with the module proxy off, by the benchmark itself. Where the packages cannot be installed
# (no root, no apt), the benchmark still runs and says that bbolt was skipped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

need=()
command -v go >/dev/null 2>&1 || [ -x /usr/lib/go/bin/go ] || need+=(golang-go)
if [ ! -f /usr/share/gocode/src/go.etcd.io/bbolt/db.go ] || [ ! -d /usr/share/gocode/src/golang.org/x/sys/unix ]; then
    need+=(golang-github-coreos-bbolt-dev)
fi
if [ "${#need[@]}" -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
    if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; then
        echo "bench/run.sh: installing ${need[*]} with apt" >&2
        if ! { $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${need[@]}"; }; then
            echo "bench/run.sh: could not install ${need[*]}; bbolt will be skipped" >&2
        fi
    else
        echo "bench/run.sh: ${need[*]} missing and apt (as root) unavailable; bbolt will be skipped" >&2
    fi
fi

cd "$here/.."
json=()
case " $* " in
    *" --json "* | *" --json="* | *" --chart "* | *" --help "* | *" -h "*) ;;
    *)
        out="${CARGO_TARGET_DIR:-target}/rivet-bench"
        mkdir -p "$out"
        json=(--json "$out/results.json")
        ;;
esac
exec cargo run --release -p rivet-bench -- "$@" "${json[@]}"
