#!/usr/bin/env bash
# Regenerates Rivet's bbolt fixtures with the real Go bbolt: for every fixture
# NAME.db, its canonical dump NAME.json and its byte-level summary NAME.info.json;
# then checks every file with bbolt-tool and fails if any check fails.
#
#   interop/make-fixtures.sh [OUT_DIR]   (default: tests/fixtures/bbolt)
#
# The dumps come out the same every time; the .db files need not (Go spills
# sibling buckets in map order), so page numbers in .info.json, and the tests
# that name pages of a fixture, may have to follow a regenerated file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../tests/fixtures/bbolt}"
tool="$(bash "$here/install.sh" | tail -n 1)"

mkdir -p "$out"
rm -f "$out"/*.db "$out"/*.json
"$tool" gen "$out"
failed=0
for db in "$out"/*.db; do
    base="${db%.db}"
    "$tool" dump "$db" >"$base.json"
    "$tool" info "$db" >"$base.info.json"
    "$tool" check "$db" || failed=1
done
chmod a-w "$out"/*.db
du -ch "$out" | tail -n 1
exit "$failed"
