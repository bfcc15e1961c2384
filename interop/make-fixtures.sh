#!/usr/bin/env bash
# Regenerates Rivet's bbolt fixtures with the real Go bbolt: for every fixture
# NAME.db, its canonical dump NAME.json and its byte-level summary NAME.info.json;
# then checks every file with bbolt-tool and fails if any check fails.
#
#   interop/make-fixtures.sh [OUT_DIR [NAME...]]   (default: tests/fixtures/bbolt, every fixture)
#
# With NAMEs only those fixtures are rewritten (the others keep their bytes, and so the page
# numbers tests may name); every fixture in OUT_DIR is checked either way.
#
# The dumps come out the same every time; the .db files need not (Go spills
# sibling buckets in map order), so page numbers in .info.json, and the tests
# that name pages of a fixture, may have to follow a regenerated file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../tests/fixtures/bbolt}"
names=("${@:2}")
tool="$(bash "$here/install.sh" | tail -n 1)"

mkdir -p "$out"
if [ "${#names[@]}" -eq 0 ]; then
    rm -f "$out"/*.db "$out"/*.json
    mapfile -t names < <("$tool" list | cut -d ' ' -f 1)
else
    for name in "${names[@]}"; do
        rm -f "$out/$name.db" "$out/$name.json" "$out/$name.info.json"
    done
fi
"$tool" gen "$out" "${names[@]}"
for name in "${names[@]}"; do
    "$tool" dump "$out/$name.db" >"$out/$name.json"
    "$tool" info "$out/$name.db" >"$out/$name.info.json"
    chmod a-w "$out/$name.db"
done
failed=0
for db in "$out"/*.db; do
    "$tool" check "$db" || failed=1
done
du -ch "$out" | tail -n 1
exit "$failed"
