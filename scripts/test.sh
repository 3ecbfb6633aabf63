#!/usr/bin/env bash
# The project's one test command (README, .ci/run). Installs what the tests need
# (idempotent), then: format, lints, every test (real opencode, fake LLM, fake IM servers),
# packaging lint and the s6 harness. Works on a fresh Debian 12 machine as root.
#
#   scripts/test.sh            everything
#   scripts/test.sh --quick    fmt + clippy + tests (no packaging lint, no s6 harness)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
[[ "${1:-}" == "--quick" ]] && quick=true

stage() { printf '\n==> %s (%s)\n' "$1" "$(date +%T)"; }

stage "tools"
command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest
OPENCODE_BIN="$(scripts/install-opencode.sh | tail -n 1)"
export CLOUDIFY_OPENCODE_BIN="${OPENCODE_BIN}"
echo "opencode: ${OPENCODE_BIN}"

stage "cargo fmt --check"
cargo fmt --all -- --check

stage "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

stage "cargo nextest (unit, property, end-to-end)"
cargo nextest run --workspace --profile ci

if ! ${quick}; then
  stage "packaging lint"
  scripts/lint-packaging.sh

  stage "s6 harness"
  cargo build -p cloudify
  CLOUDIFY_BIN="$(pwd)/target/debug/cloudify" OPENCODE_BIN="${OPENCODE_BIN}" \
    S6_HARNESS_CLOUDIFY="${S6_HARNESS_CLOUDIFY:-require}" scripts/s6-harness.sh
fi

stage "done"
