# shellcheck shell=bash
# shellcheck disable=SC2034 # WORKSPACE, AS_BOT, AS_AGENT, SECRETS_DIR are used by the sourcing scripts
# Shared by the s6-rc scripts of OpenCode Cloudify. Sourced, never executed.
#
# Every path is derived from CLOUDIFY_DATA_DIR (default /data), so scripts/s6-harness.sh can run
# the same scripts outside a container against a temporary directory.
#
# Two accounts (docs/SECURITY.md): the bot (`cloudify run`) alone reads the database and the
# secrets; OpenCode, the web terminal and code-server run as the agent's account with an
# allow-listed environment (agent_env). Run scripts stay root until they exec the daemon, so
# they read secrets as root and hand each daemon only what it needs.
#
# Variables read (besides the SPEC §6 ones: TELEGRAM_TOKEN, DINGTALK_APP_KEY, OPENCODE_URL,
# OPENCODE_SERVER_PASSWORD, OPENCODE_DIRECTORY, RESIDENTIAL_PROXY_URL, CLOUDIFY_HTTP_LISTEN):
#   BOT_USER            account of `cloudify run` (image: cloudify; empty = don't drop privileges)
#   AGENT_USER          account of opencode, ttyd, code-server (image: opencode; empty = don't drop)
#   OPENCODE_ENV_ALLOW  extra container variables OpenCode and the terminal get: names separated
#                       by spaces or commas, NAME* for a prefix (e.g. "GITHUB_TOKEN NPM_*")
#   TTYD_PORT           web terminal port (default 7681)
#   CONTAINER_WIZARD    auto (default) | off: run `cloudify setup` at first start when a TTY is attached

DATA_DIR="${CLOUDIFY_DATA_DIR:-/data}"
SECRETS_DIR="${DATA_DIR}/secrets"
BOT_USER="${BOT_USER-cloudify}"
AGENT_USER="${AGENT_USER-opencode}"

export CLOUDIFY_DATA_DIR="${DATA_DIR}"
# OpenCode follows XDG; everything it writes (sessions DB, auth.json, caches) lands under
# /data/opencode, which belongs to the agent's account.
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

# Prefixes that drop root privileges: `exec "${AS_BOT[@]}" prog args`. Empty when not root or
# when the account variable is empty (a developer running the tree as themselves).
AS_BOT=()
AS_AGENT=()
if [[ "$(id -u)" -eq 0 ]]; then
  [[ -n "${BOT_USER}" ]] && AS_BOT=(s6-setuidgid "${BOT_USER}")
  [[ -n "${AGENT_USER}" ]] && AS_AGENT=(s6-setuidgid "${AGENT_USER}")
fi

# Variables that never reach the agent, whatever an allow rule says: the bot's credentials and
# settings, the HTTP tokens, the terminal and code-server passwords, s6's own.
agent_denied() {
  case "$1" in
    TELEGRAM_* | DINGTALK_* | CLOUDIFY_* | TTYD_* | CODE_SERVER_* | S6_* | *NOTIFY_TOKEN* \
      | *ADMIN_TOKEN* | PASSWORD | HASHED_PASSWORD | RESIDENTIAL_PROXY_URL | BOT_USER | AGENT_USER)
      return 0
      ;;
    *) return 1 ;;
  esac
}

# Model provider credentials: what OpenCode needs to call a model. OpenCode reads 100+
# providers' keys as <PROVIDER>_API_KEY; the others are the cloud SDKs' standard names.
model_credential() {
  case "$1" in
    *_API_KEY | AWS_ACCESS_KEY_ID | AWS_SECRET_ACCESS_KEY | AWS_SESSION_TOKEN | AWS_REGION \
      | AWS_PROFILE | AWS_BEARER_TOKEN_BEDROCK | GOOGLE_APPLICATION_CREDENTIALS \
      | GOOGLE_CLOUD_PROJECT | GOOGLE_CLOUD_LOCATION | VERTEX_LOCATION | AZURE_RESOURCE_NAME \
      | CLOUDFLARE_API_TOKEN | CLOUDFLARE_ACCOUNT_ID | CLOUDFLARE_GATEWAY_ID)
      return 0
      ;;
    *) return 1 ;;
  esac
}

# May the agent (OpenCode, the web terminal) see this variable of the container?
agent_allowed() {
  local name="$1" extra
  agent_denied "${name}" && return 1
  model_credential "${name}" && return 0
  case "${name}" in
    HOME | PATH | LANG | LANGUAGE | TZ | TERM | COLORTERM | LC_* | XDG_* | OPENCODE_* \
      | HTTP_PROXY | HTTPS_PROXY | ALL_PROXY | NO_PROXY | http_proxy | https_proxy | all_proxy \
      | no_proxy | SSL_CERT_FILE | SSL_CERT_DIR | NODE_EXTRA_CA_CERTS)
      return 0
      ;;
    *) ;;
  esac
  for extra in ${OPENCODE_ENV_ALLOW//,/ }; do
    # shellcheck disable=SC2254 # the operator's NAME* patterns are globs on purpose
    case "${name}" in
      ${extra}) return 0 ;;
      *) ;;
    esac
  done
  return 1
}

# AGENT_ENV: the environment of the agent's daemons, as NAME=VALUE words for `env -i`. Built from
# this shell's exported variables (the container's, via with-contenv, plus what the run script
# added: password, proxy, XDG), filtered by agent_allowed.
agent_env() {
  local name
  AGENT_ENV=()
  while IFS= read -r name; do
    if agent_allowed "${name}"; then
      AGENT_ENV+=("${name}=${!name}")
    fi
  done < <(compgen -e)
  for name in ${OPENCODE_ENV_ALLOW//,/ }; do
    if [[ "${name}" != *"*"* ]] && agent_denied "${name}"; then
      log "OPENCODE_ENV_ALLOW: ${name} is the bot's and never reaches the agent"
    fi
  done
  if [[ ${#AS_AGENT[@]} -gt 0 ]]; then
    AGENT_ENV+=("USER=${AGENT_USER}" "LOGNAME=${AGENT_USER}" "SHELL=/bin/bash")
  fi
}

# The bot talks to models only through OpenCode: it does not carry their keys.
drop_model_credentials() {
  local name
  while IFS= read -r name; do
    if model_credential "${name}"; then
      unset "${name}"
    fi
  done < <(compgen -e)
}

# First line of a secret file under /data/secrets, or nothing (a link is never followed).
read_secret() {
  local file="${SECRETS_DIR}/$1"
  [[ -f "${file}" && ! -L "${file}" && -r "${file}" ]] || return 0
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

# The bot restarts this service with `s6-svc -r` (after /proxy, after rotating the terminal's
# credentials): let the bot's group send it control commands. Run from a run script, whose
# working directory is the service directory. The agent's account is not in that group.
let_bot_control() {
  [[ -n "${BOT_USER}" && "$(id -u)" -eq 0 ]] || return 0
  s6-svperms -G "$(id -gn "${BOT_USER}")" . >/dev/null 2>&1 \
    || log "s6-svperms failed; only root can restart this service"
}
