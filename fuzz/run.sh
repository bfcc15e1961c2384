#!/usr/bin/env bash
# Bounded fuzzing runs (cargo-fuzz on stable Rust, no sanitizer) of open_walk, model_ops and
# craft_walk:
#   fuzz/run.sh [SECONDS_PER_TARGET]     (default 60)
# For a long run: cd fuzz && cargo fuzz run --sanitizer none open_walk -- -max_total_time=3600
# Any crash libFuzzer finds is saved under fuzz/artifacts/; turn it into a regression test in
# tests/tests/ (the damage or model suite) before fixing it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# Seed corpus for open_walk: the small Go-written fixtures of tests/fixtures/bbolt.
corpus=corpus/open_walk
mkdir -p "$corpus"
for f in ../tests/fixtures/bbolt/*.db; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 65536 ] && cp -f "$f" "$corpus/"
done
cargo fuzz run --sanitizer none open_walk "$corpus" -- -max_len=65536 -max_total_time="$secs" -timeout=20
cargo fuzz run --sanitizer none model_ops -- -max_total_time="$secs" -timeout=20
# Files built page by page from arbitrary shapes (tests/src/craft): valid metas, so the trees get
# exercised; inputs whose pages are reachable along more than 4096 paths are skipped (issue 18).
cargo fuzz run --sanitizer none craft_walk -- -max_total_time="$secs" -timeout=20
