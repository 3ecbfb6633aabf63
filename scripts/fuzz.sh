#!/usr/bin/env bash
# The long fuzz run (docs/TESTING.md, "Fuzzing"): every fuzz-style property test with many
# more cases than CI, optimized. CI runs the same tests with their small defaults through
# scripts/test.sh.
#
#   scripts/fuzz.sh                        20,000 cases per property
#   PROPTEST_CASES=100000 scripts/fuzz.sh  longer
set -euo pipefail
cd "$(dirname "$0")/.."

export PROPTEST_CASES="${PROPTEST_CASES:-20000}"
command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest

# Fuzz tests are named fuzz_* (or live in *_fuzz / *_prop files); the junk-input socket
# tests (junk_*) come along, they are quick.
filter='test(/fuzz/) | binary(/fuzz|prop|junk/)'

echo "==> fuzz: PROPTEST_CASES=${PROPTEST_CASES} ($(date +%T))"
start=$(date +%s)
# The fuzz tests live in the library crates; the binary crate's e2e suites are not built.
cargo nextest run --release --no-fail-fast \
  -p cloudify-core -p cloudify-opencode -p cloudify-telegram -p cloudify-dingtalk \
  -E "${filter}" "$@"
echo "==> fuzz: done in $(($(date +%s) - start)) s"
