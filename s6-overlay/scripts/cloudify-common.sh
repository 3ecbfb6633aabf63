# shellcheck shell=bash
# shellcheck disable=SC2034 # WORKSPACE, RUN_AS, SECRETS_DIR are used by the sourcing scripts
# Shared by the s6-rc scripts of OpenCode Cloudify. Sourced, never executed.
#
# Every path is derived from CLOUDIFY_DATA_DIR (default /data), so scripts/s6-harness.sh can run
# the same scripts outside a container against a temporary directory.
#
# Variables read (besides the SPEC §6 ones: TELEGRAM_TOKEN, DINGTALK_APP_KEY, OPENCODE_URL,
# OPENCODE_SERVER_PASSWORD, OPENCODE_DIRECTORY, RESIDENTIAL_PROXY_URL, CLOUDIFY_HTTP_LISTEN):
#   SVC_USER          account the services run as (image: cloudify; empty = don't drop privileges)
#   TTYD_PORT         web terminal port (default 7681)
#   CONTAINER_WIZARD  auto (default) | off: run `cloudify setup` at first start when a TTY is attached

DATA_DIR="${CLOUDIFY_DATA_DIR:-/data}"
SECRETS_DIR="${DATA_DIR}/secrets"
SVC_USER="${SVC_USER-cloudify}"

export CLOUDIFY_DATA_DIR="${DATA_DIR}"
# OpenCode follows XDG; everything it writes (sessions DB, auth.json, caches) lands under /data.
export HOME="${DATA_DIR}/opencode/home"
export XDG_CONFIG_HOME="${DATA_DIR}/opencode/config"
export XDG_DATA_HOME="${DATA_DIR}/opencode/data"
export XDG_STATE_HOME="${DATA_DIR}/opencode/state"
export XDG_CACHE_HOME="${DATA_DIR}/opencode/cache"
export OPENCODE_DIRECTORY="${OPENCODE_DIRECTORY:-${DATA_DIR}/workspace}"
export OPENCODE_URL="${OPENCODE_URL:-http://127.0.0.1:4096}"
export OPENCODE_DISABLE_AUTOUPDATE="${OPENCODE_DISABLE_AUTOUPDATE:-1}"
WORKSPACE="${OPENCODE_DIRECTORY}"

log() {
  printf '%s: %s\n' "${SVC_NAME:-cloudify}" "$*" >&2
}

# Prefix that drops root privileges for a daemon: `exec "${RUN_AS[@]}" prog args`.
RUN_AS=()
if [[ -n "${SVC_USER}" && "$(id -u)" -eq 0 ]]; then
  RUN_AS=(s6-setuidgid "${SVC_USER}")
fi

# First line of a secret file under /data/secrets, or nothing.
read_secret() {
  local file="${SECRETS_DIR}/$1"
  [[ -r "${file}" ]] || return 0
  head -n 1 "${file}" | tr -d '\r\n'
}

# OPENCODE_SERVER_PASSWORD from the environment wins; otherwise the one init-data generated.
# opencode serve, opencode attach (ttyd) and cloudify all get the same value.
load_opencode_password() {
  if [[ -z "${OPENCODE_SERVER_PASSWORD:-}" ]]; then
    OPENCODE_SERVER_PASSWORD="$(read_secret opencode_password)"
  fi
  if [[ -n "${OPENCODE_SERVER_PASSWORD}" ]]; then
    export OPENCODE_SERVER_PASSWORD
  else
    unset OPENCODE_SERVER_PASSWORD
  fi
}

# host and port of OPENCODE_URL (http://host:port[/...]) -> "host port"
opencode_host_port() {
  local rest="${OPENCODE_URL#*://}"
  rest="${rest%%/*}"
  local host="${rest%:*}" port="${rest##*:}"
  if [[ "${rest}" != *:* || ! "${port}" =~ ^[0-9]+$ ]]; then
    host="${rest}"
    port=4096
  fi
  printf '%s %s\n' "${host}" "${port}"
}

# Proxy for OpenCode's outbound traffic (SPEC §8).
# /data/secrets/proxy.env, written by cloudify (`/proxy set|disable`, wizard), is authoritative when
# it exists: KEY=VALUE lines, only the *_PROXY keys below are honoured; an empty file means "no proxy".
# Without that file, RESIDENTIAL_PROXY_URL from the container environment applies.
apply_proxy_env() {
  local file="${SECRETS_DIR}/proxy.env" key value url=""
  if [[ -f "${file}" ]]; then
    while IFS='=' read -r key value || [[ -n "${key}" ]]; do
      case "${key}" in
        HTTP_PROXY | HTTPS_PROXY | ALL_PROXY | NO_PROXY | http_proxy | https_proxy | all_proxy | no_proxy)
          export "${key}=${value}"
          ;;
        *) ;;
      esac
    done <"${file}"
    if [[ -n "${HTTPS_PROXY:-}${HTTP_PROXY:-}${https_proxy:-}${http_proxy:-}" ]]; then
      url="set"
    fi
  elif [[ -n "${RESIDENTIAL_PROXY_URL:-}" ]]; then
    url="${RESIDENTIAL_PROXY_URL}"
    export HTTP_PROXY="${url}" HTTPS_PROXY="${url}" http_proxy="${url}" https_proxy="${url}"
  fi
  if [[ -n "${url}" ]]; then
    # Never send loopback traffic (OpenCode <-> cloudify, health checks) through the proxy.
    local no="${NO_PROXY:-${no_proxy:-}}"
    no="${no:+${no},}127.0.0.1,localhost,::1"
    export NO_PROXY="${no}" no_proxy="${no}"
    log "outbound proxy enabled for this service"
  fi
}

# Is an IM platform configured? Environment first, then a non-empty telegram.token or
# dingtalk.app_key in config.yaml. A heuristic: `cloudify run` does the real validation.
im_configured() {
  if [[ -n "${TELEGRAM_TOKEN:-}" || -n "${DINGTALK_APP_KEY:-}" ]]; then
    return 0
  fi
  local cfg="${DATA_DIR}/config.yaml"
  [[ -r "${cfg}" ]] || return 1
  grep -Eq "^[[:space:]]+(token|app_key):[[:space:]]*[\"']?[^\"'[:space:]#]" "${cfg}"
}
