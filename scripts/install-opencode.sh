#!/usr/bin/env bash
# Install the pinned opencode-ai from npm into a cache dir outside the repo.
# Idempotent: when the binary is already there and runs `--version`, nothing is downloaded.
# The last line on stdout is the absolute path of the opencode binary.
#
# Env: CLOUDIFY_TOOLS_DIR (default ~/.cache/cloudify-tools), OPENCODE_VERSION (default 1.18.33).
set -euo pipefail

version="${OPENCODE_VERSION:-1.18.33}"
tools_dir="${CLOUDIFY_TOOLS_DIR:-${HOME}/.cache/cloudify-tools}"
prefix="${tools_dir}/opencode-${version}"

# Running opencode, even `--version`, writes under HOME/XDG: keep that out of the real home.
sandbox="$(mktemp -d)"
trap 'rm -rf "${sandbox}"' EXIT

find_binary() {
  local candidate
  for candidate in \
    "${prefix}/node_modules/opencode-linux-x64/bin/opencode" \
    "${prefix}/node_modules/opencode-linux-arm64/bin/opencode" \
    "${prefix}/node_modules/opencode-linux-x64-baseline/bin/opencode" \
    "${prefix}/node_modules/opencode-linux-x64-musl/bin/opencode" \
    "${prefix}/node_modules/opencode-linux-arm64-musl/bin/opencode" \
    "${prefix}/node_modules/opencode-darwin-arm64/bin/opencode" \
    "${prefix}/node_modules/opencode-darwin-x64/bin/opencode" \
    "${prefix}/node_modules/opencode-ai/bin/opencode.exe"; do
    if [[ -x "${candidate}" ]]; then
      printf '%s\n' "${candidate}"
      return 0
    fi
  done
  return 1
}

runs() {
  local got
  got="$(HOME="${sandbox}/home" \
    XDG_CONFIG_HOME="${sandbox}/config" \
    XDG_DATA_HOME="${sandbox}/data" \
    XDG_CACHE_HOME="${sandbox}/cache" \
    XDG_STATE_HOME="${sandbox}/state" \
    OPENCODE_DISABLE_AUTOUPDATE=1 \
    OPENCODE_DISABLE_MODELS_FETCH=1 \
    timeout 60 "$1" --version 2>/dev/null)" || return 1
  [[ "${got}" == *"${version}"* ]]
}

if bin="$(find_binary)" && runs "${bin}"; then
  touch "${prefix}/.verified"
  printf '%s\n' "${bin}"
  exit 0
fi

command -v npm >/dev/null || { echo "install-opencode: npm is required" >&2; exit 1; }
mkdir -p "${prefix}"
# A private package.json keeps npm from walking up into some other project.
if [[ ! -f "${prefix}/package.json" ]]; then
  printf '{"name":"cloudify-opencode-tools","private":true}\n' >"${prefix}/package.json"
fi
echo "install-opencode: installing opencode-ai@${version} into ${prefix}" >&2
# Concurrent callers (parallel test binaries) serialise on a lock file.
(
  flock 9
  if ! { b="$(find_binary)" && runs "${b}"; }; then
    npm install --prefix "${prefix}" --no-audit --no-fund --loglevel=error \
      "opencode-ai@${version}" >&2
  fi
) 9>"${prefix}/.install.lock"

bin="$(find_binary)" || { echo "install-opencode: binary not found after install" >&2; exit 1; }
runs "${bin}" || { echo "install-opencode: ${bin} --version failed" >&2; exit 1; }
# Marker read by cloudify-testkit to skip the 2 s `--version` check on every test process.
touch "${prefix}/.verified"
printf '%s\n' "${bin}"
