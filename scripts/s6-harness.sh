#!/usr/bin/env bash
# s6 harness: runs the project's s6-rc.d tree (s6-overlay/) for real, outside a container, with
# Debian's s6 + execline, the real opencode (scripts/install-opencode.sh), the real cloudify binary
# (cargo build -p cloudify) against a fake Telegram Bot API, and a ttyd stand-in.
#
#   scripts/s6-harness.sh                 static checks + runtime test
#   scripts/s6-harness.sh --static-only   static checks of the tree only (< 1 s)
#
# Environment:
#   S6_HARNESS_CLOUDIFY  auto (default) | require | off
#       auto:    build cloudify; run the cloudify checks if `cloudify run` becomes ready
#                (serves GET /healthz), otherwise report them as skipped
#       require: the cloudify checks must pass (use this once `cloudify run` is implemented)
#       off:     don't build cloudify; check that svc-cloudify waits while no IM is configured
#   CLOUDIFY_BIN         use this cloudify binary instead of building one
#                        (tests/s6/fake_cloudify.py is a stand-in to self-test the harness's
#                        cloudify checks; it is not the product)
#   OPENCODE_BIN         use this opencode binary instead of scripts/install-opencode.sh
#   S6_HARNESS_KEEP=1    keep the temp dir (logs, data) after the run
#   S6_HARNESS_TREE      run this s6-overlay/ tree instead of the checkout's (e.g. an older
#                        version's, to see the trust checks fail on it)
#
# Run as root, the services run as two real accounts like the image's (s6h-cloudify for the bot,
# s6h-opencode for OpenCode and ttyd; created once, kept), and the trust-boundary checks
# (scripts/s6-harness-trust.sh) run: what the agent's account can read, what reaches its
# environment, who may restart which service, init-data refusing planted links. Not as root,
# everything runs as the caller and those checks are skipped.
#
# Debian bookworm has s6 and execline but no s6-rc and no s6-overlay, so the harness does what
# s6-rc would do with the compiled tree: oneshots run in dependency order (`execlineb -P up`),
# each longrun becomes an s6 service dir under s6-svscan and is brought up only once its
# dependencies are up and ready. The overlay's own /init, s6-rc-compile and S6_* variables are
# only exercised by a real `docker run` (CI image job).
# shellcheck disable=SC2015 # ok() and bad() always succeed: `A && ok || bad` is an if-then-else here
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TREE="${S6_HARNESS_TREE:-${ROOT}/s6-overlay}"
FIXTURES="${ROOT}/tests/s6"
MODE="${S6_HARNESS_CLOUDIFY:-auto}"
STATIC_ONLY=0
[[ "${1:-}" == "--static-only" ]] && STATIC_ONLY=1
BUILTINS=" base legacy-services legacy-cont-init fix-attrs "

PASS=0
FAIL=0
SKIP=0
T=""
SVSCAN_PID=""
FAKE_PIDS=()
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# since_s T0_MS -> seconds since T0 with two decimals
since_s() { local d=$(($(now_ms) - $1)); printf '%d.%02d' $((d / 1000)) $((d % 1000 / 10)); }
START_TS=$(now_ms)

say() { printf '%s\n' "$*"; }
ok() { PASS=$((PASS + 1)); say "  ok    $*"; }
bad() { FAIL=$((FAIL + 1)); say "  FAIL  $*"; }
skipped() { SKIP=$((SKIP + 1)); say "  skip  $*"; }
elapsed() { since_s "${START_TS}"; }

# ---------------------------------------------------------------------------------------------
# Static checks of an s6-rc source tree: types, files per type, run bits, dependencies, cycles,
# the user bundle. Prints problems; returns non-zero when there is one. Also used on broken
# copies of the tree to prove that each check catches what it should.
# ---------------------------------------------------------------------------------------------
static_check() {
  local tree="$1" src="$1/s6-rc.d" errs=0 svc dir t dep member first edges="" f
  err() { say "        $*"; errs=$((errs + 1)); }
  [[ -d "${src}" ]] || { err "no ${src}"; return 1; }
  local -a all=()
  for dir in "${src}"/*/; do all+=("$(basename "${dir}")"); done
  local names=" ${all[*]} "
  for svc in "${all[@]}"; do
    dir="${src}/${svc}"
    if [[ ! -f "${dir}/type" ]]; then
      err "${svc}: no type file"
      continue
    fi
    t="$(tr -d ' \n' <"${dir}/type")"
    case "${t}" in
      longrun)
        [[ -f "${dir}/run" ]] || err "${svc}: longrun without run"
        [[ -f "${dir}/run" && ! -x "${dir}/run" ]] && err "${svc}: run is not executable"
        [[ -f "${dir}/finish" && ! -x "${dir}/finish" ]] && err "${svc}: finish is not executable"
        [[ -e "${dir}/up" ]] && err "${svc}: longrun with an up file"
        if [[ -f "${dir}/notification-fd" ]]; then
          grep -Eqx '[0-9]+' "${dir}/notification-fd" || err "${svc}: notification-fd is not a number"
          if grep -q 's6-notifyoncheck' "${dir}/run" 2>/dev/null && [[ ! -x "${dir}/data/check" ]] \
            && ! grep -q 's6-notifyoncheck.* -c ' "${dir}/run"; then
            err "${svc}: s6-notifyoncheck without -c needs an executable data/check"
          fi
        fi
        ;;
      oneshot)
        if [[ ! -s "${dir}/up" ]]; then
          err "${svc}: oneshot without a non-empty up"
        else
          first="$(grep -v '^[[:space:]]*#' "${dir}/up" | awk 'NF {print $1; exit}')"
          if [[ "${first}" == /etc/s6-overlay/* ]]; then
            f="${tree}/${first#/etc/s6-overlay/}"
            [[ -f "${f}" ]] || err "${svc}: up runs ${first}, not in the tree"
            [[ -f "${f}" && ! -x "${f}" ]] && err "${svc}: ${first} is not executable"
          fi
        fi
        [[ -e "${dir}/run" ]] && err "${svc}: oneshot with a run file (s6-rc ignores it)"
        ;;
      bundle)
        local n=0
        for member in "${dir}/contents.d"/*; do
          [[ -e "${member}" ]] || continue
          n=$((n + 1))
          [[ "${names}" == *" $(basename "${member}") "* ]] \
            || err "${svc}: bundle member $(basename "${member}") does not exist"
        done
        [[ ${n} -gt 0 ]] || err "${svc}: empty bundle"
        ;;
      *) err "${svc}: bad type '${t}'" ;;
    esac
    for dep in "${dir}/dependencies.d"/*; do
      [[ -e "${dep}" ]] || continue
      dep="$(basename "${dep}")"
      if [[ "${names}" != *" ${dep} "* && "${BUILTINS}" != *" ${dep} "* ]]; then
        err "${svc} depends on unknown service ${dep}"
      fi
      edges+="${dep} ${svc}"$'\n'
    done
    edges+="${svc} ${svc}"$'\n'
    # the agent's daemons start from an empty environment plus the allow-list, as its account
    # (docs/SECURITY.md): never with the container's environment that with-contenv imports
    # shellcheck disable=SC2016 # the pattern is the literal script text
    if [[ -f "${dir}/run" ]] && grep -Eq '(^|[[:space:]])(opencode serve|ttyd|code-server)([[:space:]]|$)' "${dir}/run" \
      && ! grep -q 'env -i "${AGENT_ENV\[@\]}".*"${AS_AGENT\[@\]}"' "${dir}/run"; then
      err "${svc}: runs an agent daemon without 'env -i \"\${AGENT_ENV[@]}\" ... \"\${AS_AGENT[@]}\"'"
    fi
    # scripts with a with-contenv shebang need a shellcheck shell directive (PACKAGING F4)
    for f in "${dir}/run" "${dir}/finish"; do
      if [[ -f "${f}" ]] && head -n 1 "${f}" | grep -q '^#!/command/' \
        && ! grep -q '^# shellcheck shell=' "${f}"; then
        err "${svc}: $(basename "${f}") has a /command shebang but no '# shellcheck shell=' line"
      fi
    done
  done
  # every service must be started by the user bundle
  if [[ -d "${src}/user/contents.d" ]]; then
    for svc in "${all[@]}"; do
      [[ "${svc}" == "user" ]] && continue
      [[ -e "${src}/user/contents.d/${svc}" ]] || err "${svc} is not in the user bundle"
    done
  else
    err "no user bundle (s6-rc.d/user/contents.d)"
  fi
  if ! printf '%s' "${edges}" | tsort >/dev/null 2>"${TMPDIR:-/tmp}/s6h-tsort.$$"; then
    err "dependency cycle: $(head -n 3 "${TMPDIR:-/tmp}/s6h-tsort.$$" | tr '\n' ' ')"
  fi
  rm -f "${TMPDIR:-/tmp}/s6h-tsort.$$"
  return $((errs > 0))
}

# Services of the tree in dependency order (builtins left out), one per line.
service_order() {
  local src="$1/s6-rc.d" dir svc dep edges=""
  for dir in "${src}"/*/; do
    svc="$(basename "${dir}")"
    edges+="${svc} ${svc}"$'\n'
    for dep in "${dir}/dependencies.d"/*; do
      [[ -e "${dep}" ]] && edges+="$(basename "${dep}") ${svc}"$'\n'
    done
  done
  printf '%s' "${edges}" | tsort | while read -r svc; do
    [[ "${BUILTINS}" == *" ${svc} "* ]] || printf '%s\n' "${svc}"
  done
}

svc_type() { tr -d ' \n' <"${TREE}/s6-rc.d/$1/type"; }

# Each static check must catch a broken tree, not only pass on the good one.
negative_static_checks() {
  local scratch name
  scratch="$(mktemp -d)"
  for name in cycle unknown-dep no-run-bit no-type not-in-bundle agent-full-env; do
    rm -rf "${scratch:?}/${name}"
    cp -a "${TREE}" "${scratch}/${name}"
    local s="${scratch}/${name}/s6-rc.d"
    case "${name}" in
      cycle) touch "${s}/init-data/dependencies.d/svc-opencode" ;;
      unknown-dep) touch "${s}/svc-ttyd/dependencies.d/svc-missing" ;;
      no-run-bit) chmod -x "${s}/svc-opencode/run" ;;
      no-type) rm "${s}/svc-cloudify/type" ;;
      not-in-bundle) rm "${s}/user/contents.d/svc-ttyd" ;;
      agent-full-env) # shellcheck disable=SC2016 # the literal script text
        sed -i 's/env -i "${AGENT_ENV\[@\]}" //' "${s}/svc-opencode/run" ;;
    esac
    if static_check "${scratch}/${name}" >/dev/null 2>&1; then
      bad "static checks miss a broken tree (${name})"
    else
      ok "static checks catch a broken tree (${name})"
    fi
  done
  rm -rf "${scratch}"
}

# ---------------------------------------------------------------------------------------------
# Runtime helpers
# ---------------------------------------------------------------------------------------------
cleanup() {
  local rc=$?
  set +e
  if [[ -n "${SVSCAN_PID}" ]] && kill -0 "${SVSCAN_PID}" 2>/dev/null; then
    s6-svscanctl -t "${T}/scan" 2>/dev/null
    for _ in $(seq 50); do kill -0 "${SVSCAN_PID}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${SVSCAN_PID}" 2>/dev/null
  fi
  for pid in "${FAKE_PIDS[@]}"; do kill "${pid}" 2>/dev/null; done
  if [[ -n "${T}" ]]; then
    # anything still carrying this run's data dir in its environment is ours
    for pid in $(leftover_pids); do kill -9 "${pid}" 2>/dev/null; done
    if [[ ${FAIL} -gt 0 || ${rc} -ne 0 ]]; then
      say "---- s6-svscan log (last 60 lines): ${T}/svscan.log"
      tail -n 60 "${T}/svscan.log" 2>/dev/null
    fi
    if [[ "${S6_HARNESS_KEEP:-0}" == "1" ]]; then
      say "kept ${T}"
    else
      rm -rf "${T}"
    fi
  fi
  say "s6-harness: ${PASS} passed, ${FAIL} failed, ${SKIP} skipped ($(elapsed) s)"
  if [[ ${FAIL} -gt 0 && ${rc} -eq 0 ]]; then rc=1; fi
  exit "${rc}"
}

leftover_pids() {
  local p
  for p in /proc/[0-9]*; do
    [[ "${p#/proc/}" == "$$" ]] && continue
    # the agent's services get a scrubbed environment, but their HOME is under this run's data
    if grep -qaz -e "^CLOUDIFY_DATA_DIR=${T}/data$" -e "^HOME=${T}/data/" "${p}/environ" 2>/dev/null; then
      printf '%s\n' "${p#/proc/}"
    fi
  done
}

abort() {
  bad "$*"
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

ensure_packages() {
  local -a need=()
  command -v s6-svscan >/dev/null || need+=(s6)
  [[ -x /usr/lib/execline/bin/cd ]] || command -v execlineb >/dev/null || need+=(execline)
  command -v curl >/dev/null || need+=(curl)
  command -v python3 >/dev/null || need+=(python3)
  if [[ ${#need[@]} -gt 0 ]]; then
    [[ "$(id -u)" -eq 0 ]] || { say "s6-harness: need ${need[*]} (apt-get install as root)"; exit 1; }
    say "s6-harness: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

svdir() { printf '%s/scan/%s' "${T}" "$1"; }
svpid() { s6-svstat -o pid "$(svdir "$1")"; }

# wait_ready SVC SECONDS: up and ready (s6-svstat), polled
wait_ready() {
  local dir deadline
  dir="$(svdir "$1")"
  deadline=$(($(date +%s) + $2))
  while [[ $(date +%s) -lt ${deadline} ]]; do
    [[ "$(s6-svstat -o up,ready "${dir}" 2>/dev/null)" == "true true" ]] && return 0
    sleep 0.2
  done
  return 1
}

# crash SVC SECONDS: SIGKILL the daemon, expect a new pid, readiness again, a finish record.
crash() {
  local svc="$1" limit="$2" pid0 pid1="" t0 deadline
  pid0="$(svpid "${svc}")"
  t0=$(now_ms)
  kill -9 "${pid0}"
  deadline=$(($(date +%s) + 15))
  while [[ $(date +%s) -lt ${deadline} ]]; do
    pid1="$(svpid "${svc}")"
    [[ "${pid1}" != "${pid0}" && "${pid1}" != "-1" ]] && break
    sleep 0.05
  done
  if [[ "${pid1}" == "${pid0}" || "${pid1}" == "-1" ]]; then
    bad "${svc}: not restarted after SIGKILL"
    return 1
  fi
  local t_restart
  t_restart="$(since_s "${t0}")"
  if ! wait_ready "${svc}" "${limit}"; then
    bad "${svc}: restarted (pid ${pid0} -> ${pid1}) but not ready again within ${limit} s"
    return 1
  fi
  ok "${svc}: SIGKILL -> restarted in ${t_restart} s, ready again after $(since_s "${t0}") s"
  if grep -q "^${svc}: .*exited (code=256 signal=9)" "${T}/svscan.log"; then
    ok "${svc}: finish saw the death (code=256 signal=9)"
  else
    bad "${svc}: no finish record for the SIGKILL in the log"
  fi
}

oc_curl() {
  local pw
  pw="$(head -n 1 "${T}/data/secrets/opencode_password")"
  printf 'user = "opencode:%s"\n' "${pw}" | curl -fsS -m 5 -K - "$@"
}

tg() { python3 "${FIXTURES}/tg_client.py" "http://127.0.0.1:${P_TG}" "$@"; }

# shellcheck source=scripts/s6-harness-trust.sh
. "${ROOT}/scripts/s6-harness-trust.sh"

# ---------------------------------------------------------------------------------------------
say "== static checks of ${TREE#"${ROOT}"/}/s6-rc.d"
if out="$(static_check "${TREE}")"; then
  ok "tree: types, run bits, dependencies, user bundle, no cycle"
else
  printf '%s\n' "${out}"
  bad "tree has problems (above)"
fi
command -v tsort >/dev/null || abort "tsort (coreutils) missing"
if [[ -d "${TREE}/full/s6-rc.d" ]]; then
  # the full image adds s6-overlay/full/s6-rc.d on top of the base tree
  merged="$(mktemp -d)"
  cp -a "${TREE}/." "${merged}/"
  cp -a "${TREE}/full/s6-rc.d/." "${merged}/s6-rc.d/"
  if out="$(static_check "${merged}")"; then
    ok "full image tree (base + full/): types, run bits, dependencies, user bundle, no cycle"
  else
    printf '%s\n' "${out}"
    bad "full image tree has problems (above)"
  fi
  rm -rf "${merged}"
fi
negative_static_checks
say "   start order: $(service_order "${TREE}" | grep -vx user | tr '\n' ' ')"
if [[ ${STATIC_ONLY} -eq 1 ]]; then
  say "s6-harness: ${PASS} passed, ${FAIL} failed, ${SKIP} skipped ($(elapsed) s)"
  [[ ${FAIL} -eq 0 ]]
  exit
fi

trap cleanup EXIT
ensure_packages
export PATH="/usr/lib/execline/bin:${PATH}"

say "== binaries"
OPENCODE="${OPENCODE_BIN:-$(bash "${ROOT}/scripts/install-opencode.sh" | tail -n 1)}"
[[ -x "${OPENCODE}" ]] || abort "no opencode binary (${OPENCODE})"
OC_VERSION="$("${OPENCODE}" --version 2>/dev/null | tail -n 1 || true)"
ok "opencode ${OC_VERSION}: ${OPENCODE}"

CLOUDIFY=""
if [[ "${MODE}" != "off" ]]; then
  if [[ -n "${CLOUDIFY_BIN:-}" ]]; then
    CLOUDIFY="${CLOUDIFY_BIN}"
  elif (cd "${ROOT}" && cargo build -q -p cloudify) >"${TMPDIR:-/tmp}/s6h-cargo.$$" 2>&1; then
    CLOUDIFY="$(cd "${ROOT}" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/cloudify"
  else
    tail -n 20 "${TMPDIR:-/tmp}/s6h-cargo.$$"
    [[ "${MODE}" == "require" ]] && abort "cargo build -p cloudify failed"
    skipped "cargo build -p cloudify failed: cloudify checks skipped"
    MODE=off
  fi
  rm -f "${TMPDIR:-/tmp}/s6h-cargo.$$"
  if [[ -n "${CLOUDIFY}" ]]; then
    [[ -x "${CLOUDIFY}" ]] || abort "no cloudify binary at ${CLOUDIFY}"
    ok "cloudify: ${CLOUDIFY}"
  fi
fi

# ---------------------------------------------------------------------------------------------
say "== tree under test"
T="$(mktemp -d /tmp/s6-harness.XXXXXX)"
# Both accounts must pass through (as through the image's /), and find their programs in T/bin.
chmod 0711 "${T}"
mkdir "${T}/etc" "${T}/command" "${T}/bin" "${T}/scan" "${T}/data"
chmod 0755 "${T}/etc" "${T}/command" "${T}/bin" "${T}/scan" "${T}/data"
cp -a "${TREE}" "${T}/etc/s6-overlay"
# Paths of the image -> paths of this run: the with-contenv shebang (s6-overlay's /command) and the
# /etc/s6-overlay prefix (up files, sourced helpers).
while IFS= read -r -d '' f; do
  sed -i -e "1s|^#!/command/with-contenv|#!${T}/command/with-contenv|" \
    -e "s|/etc/s6-overlay/|${T}/etc/s6-overlay/|g" "${f}"
done < <(find "${T}/etc/s6-overlay" -type f -print0)
# with-contenv re-imports the container environment; here the environment given to s6-svscan
# already is the "container environment".
printf '#!/bin/sh\nexec "$@"\n' >"${T}/command/with-contenv"
chmod +x "${T}/command/with-contenv"
# Programs are copied (hard links when possible): the accounts may not reach the originals
# (opencode lives under root's home).
install_bin() { ln -f "$1" "${T}/bin/$2" 2>/dev/null || cp "$1" "${T}/bin/$2"; chmod 0755 "${T}/bin/$2"; }
install_bin "${OPENCODE}" opencode
install_bin "${FIXTURES}/fake_ttyd.py" ttyd
# cloudify goes through the image's wrapper (docker/rootfs/usr/local/bin/cloudify), as in the image
if [[ -n "${CLOUDIFY}" ]]; then
  install_bin "${CLOUDIFY}" cloudify-real
  install_bin "${ROOT}/docker/rootfs/usr/local/bin/cloudify" cloudify
fi

# The image's two accounts (docs/SECURITY.md), when we can make them.
BOT_ACCOUNT=""
AGENT_ACCOUNT=""
if [[ "$(id -u)" -eq 0 ]]; then
  ensure_account() {
    id "$1" >/dev/null 2>&1 && return 0
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$1" 2>/dev/null || id "$1" >/dev/null 2>&1 # a parallel run won
  }
  if ensure_account s6h-cloudify && ensure_account s6h-opencode; then
    BOT_ACCOUNT=s6h-cloudify
    AGENT_ACCOUNT=s6h-opencode
  else
    bad "could not create the accounts s6h-cloudify and s6h-opencode (useradd)"
  fi
fi

P_OC="$(free_port)"
P_CF="$(free_port)"
P_TT="$(free_port)"
P_TG="$(free_port)"
python3 "${FIXTURES}/fake_bot_api.py" --port "${P_TG}" >>"${T}/fake-bot-api.log" 2>&1 &
FAKE_PIDS+=($!)

# The container environment of this run (the Dockerfile's ENV + docker run -e).
SVC_ENV=(
  "PATH=${T}/bin:/usr/lib/execline/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
  "CLOUDIFY_DATA_DIR=${T}/data"
  "BOT_USER=${BOT_ACCOUNT}"
  "AGENT_USER=${AGENT_ACCOUNT}"
  # the one account of older trees (S6_HARNESS_TREE): the bot's
  "SVC_USER=${BOT_ACCOUNT}"
  "CONTAINER_WIZARD=off"
  "OPENCODE_URL=http://127.0.0.1:${P_OC}"
  "CLOUDIFY_HTTP_LISTEN=127.0.0.1:${P_CF}"
  "TTYD_PORT=${P_TT}"
  "TELEGRAM_API_URL=http://127.0.0.1:${P_TG}"
  "CLOUDIFY_UPDATE_CHECK=false"
  "CLOUDIFY_S6_SERVICES=${T}/scan"
  "OPENCODE_DISABLE_MODELS_FETCH=1"
  "OPENCODE_DISABLE_AUTOUPDATE=1"
  "RUST_LOG=info"
  "LANG=C.UTF-8"
  # Secrets of the bot given to the container: they must never reach the agent. DingTalk points
  # at a closed port (the bot keeps retrying it; the checks only need the secret in the env).
  "DINGTALK_APP_KEY=dingS6hAppKey01"
  "DINGTALK_APP_SECRET=${S6H_DINGTALK_SECRET}"
  "DINGTALK_API_URL=http://127.0.0.1:9"
  "DINGTALK_OAPI_URL=http://127.0.0.1:9"
  "CLOUDIFY_S6H_CANARY=${S6H_CANARY}"
  # A model key: it must reach OpenCode (and the terminal), not the bot. One variable the
  # operator allows, one nobody allows.
  "ANTHROPIC_API_KEY=${S6H_MODEL_KEY}"
  "OPENCODE_ENV_ALLOW=S6H_ALLOWED_*"
  "S6H_ALLOWED_VAR=allowed-by-the-operator"
  "S6H_NOT_ALLOWED=${S6H_NOT_ALLOWED}"
)
if [[ "${MODE}" != "off" ]]; then
  SVC_ENV+=("CLOUDIFY_REAL_BIN=${T}/bin/cloudify-real")
  SVC_ENV+=("TELEGRAM_TOKEN=${S6H_TG_TOKEN}")
fi
say "   ${T}: opencode :${P_OC}, cloudify :${P_CF}, ttyd :${P_TT}, fake Bot API :${P_TG}"

mapfile -t ORDER < <(service_order "${TREE}")
LONGRUNS=()
for svc in "${ORDER[@]}"; do
  [[ "$(svc_type "${svc}")" == "longrun" ]] && LONGRUNS+=("${svc}")
done

# ---------------------------------------------------------------------------------------------
if [[ -n "${AGENT_ACCOUNT}" ]]; then
  say "== /data as an older version left it (one account, 0644 files)"
  trust_seed_old_layout
fi

say "== oneshots (s6-rc: execlineb -P up, in dependency order)"
for svc in "${ORDER[@]}"; do
  [[ "$(svc_type "${svc}")" == "oneshot" ]] || continue
  t0=$(now_ms)
  if env -i "${SVC_ENV[@]}" execlineb -P "${T}/etc/s6-overlay/s6-rc.d/${svc}/up" \
    </dev/null >"${T}/${svc}.log" 2>&1; then
    cat "${T}/${svc}.log" >>"${T}/svscan.log"
    ok "${svc}: up exited 0 in $(since_s "${t0}") s"
  else
    cat "${T}/${svc}.log" >>"${T}/svscan.log"
    abort "${svc}: up failed (a stage-2 failure: the container would stop)"
  fi
done

say "== /data layout and secrets"
for d in cache/rendered qr secrets opencode/config opencode/data opencode/state opencode/cache \
  opencode/home workspace; do
  [[ -d "${T}/data/${d}" ]] || bad "missing ${d}/"
done
ok "layout: cache/rendered qr secrets opencode/{home,config,data,state,cache} workspace"
[[ "$(stat -c %a "${T}/data/secrets")" == "700" ]] && ok "secrets/ is 0700" || bad "secrets/ is $(stat -c %a "${T}/data/secrets")"
for s in ttyd_user ttyd_password notify_token admin_token opencode_password; do
  f="${T}/data/secrets/${s}"
  if [[ -s "${f}" && "$(stat -c %a "${f}")" == "600" ]]; then ok "secrets/${s}: present, 0600"; else bad "secrets/${s}: missing or not 0600"; fi
done
before="$(cat "${T}/data/secrets/ttyd_password")"
env -i "${SVC_ENV[@]}" execlineb -P "${T}/etc/s6-overlay/s6-rc.d/init-data/up" </dev/null >>"${T}/svscan.log" 2>&1 \
  && [[ "$(cat "${T}/data/secrets/ttyd_password")" == "${before}" ]] \
  && ok "init-data is idempotent (second run keeps the secrets)" \
  || bad "init-data second run changed or failed"
trust_check_no_link_in_log
if [[ -n "${AGENT_ACCOUNT}" ]]; then
  say "== who owns what after init-data (two accounts; an older version's files fixed)"
  trust_check_layout
  trust_check_planted_links
else
  skipped "accounts, modes and planted links (run as root to check them)"
fi

# ---------------------------------------------------------------------------------------------
say "== longruns under s6-svscan"
for svc in "${LONGRUNS[@]}"; do
  src="${T}/etc/s6-overlay/s6-rc.d/${svc}"
  dst="$(svdir "${svc}")"
  mkdir -p "${dst}"
  for f in run finish notification-fd timeout-kill timeout-finish down-signal max-death-tally; do
    [[ -e "${src}/${f}" ]] && cp -a "${src}/${f}" "${dst}/"
  done
  [[ -d "${src}/data" ]] && cp -a "${src}/data" "${dst}/"
  touch "${dst}/down" # s6-rc decides when it starts, not s6-svscan
done
t_up=$(now_ms)
env -i "${SVC_ENV[@]}" s6-svscan "${T}/scan" >>"${T}/svscan.log" 2>&1 &
SVSCAN_PID=$!
for svc in "${LONGRUNS[@]}"; do
  for _ in $(seq 100); do s6-svok "$(svdir "${svc}")" 2>/dev/null && break; sleep 0.05; done
  s6-svok "$(svdir "${svc}")" || abort "${svc}: s6-supervise did not start"
  # s6-rc semantics: a longrun starts once its longrun dependencies are up and ready
  for dep in "${TREE}/s6-rc.d/${svc}/dependencies.d"/*; do
    dep="$(basename "${dep}")"
    if [[ -d "$(svdir "${dep}")" ]]; then
      wait_ready "${dep}" 120 || abort "${svc}: dependency ${dep} never became ready"
    fi
  done
  s6-svc -u "$(svdir "${svc}")"
done

CORE=(svc-opencode svc-ttyd)
for svc in "${CORE[@]}"; do
  if wait_ready "${svc}" 120; then
    ok "${svc}: up and ready after $(since_s "${t_up}") s ($(s6-svstat "$(svdir "${svc}")"))"
  else
    abort "${svc}: not ready within 120 s ($(s6-svstat "$(svdir "${svc}")"))"
  fi
done

CLOUDIFY_ON=0
if [[ "${MODE}" == "off" ]]; then
  sleep 1
  pid0="$(svpid svc-cloudify)"
  sleep 1.5
  if [[ "$(s6-svstat -o up,ready "$(svdir svc-cloudify)")" == "true true" && "$(svpid svc-cloudify)" == "${pid0}" ]] \
    && grep -q 'svc-cloudify: waiting for a configuration' "${T}/svscan.log"; then
    ok "svc-cloudify: no IM configured -> waits, reported ready, no restart loop"
  else
    bad "svc-cloudify: expected to wait without an IM configuration ($(s6-svstat "$(svdir svc-cloudify)"))"
  fi
elif wait_ready svc-cloudify 30; then
  CLOUDIFY_ON=1
  ok "svc-cloudify: up and ready ($(s6-svstat "$(svdir svc-cloudify)"))"
elif [[ "${MODE}" == "require" ]]; then
  abort "svc-cloudify: not ready within 30 s (GET /healthz on ${P_CF}): $(s6-svstat "$(svdir svc-cloudify)")"
else
  skipped "svc-cloudify: 'cloudify run' did not serve GET /healthz within 30 s; cloudify checks skipped (S6_HARNESS_CLOUDIFY=require makes this a failure)"
  s6-svc -wD -d -T 5000 "$(svdir svc-cloudify)" 2>/dev/null || s6-svc -d "$(svdir svc-cloudify)"
fi

# ---------------------------------------------------------------------------------------------
say "== services answer"
if oc_curl "http://127.0.0.1:${P_OC}/global/health" | grep -q '"healthy":true'; then
  ok "opencode: GET /global/health with the generated password -> healthy"
else
  bad "opencode: /global/health failed"
fi
code="$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${P_OC}/global/health")"
[[ "${code}" == "401" ]] && ok "opencode: without the password -> 401" || bad "opencode: without the password -> ${code} (want 401)"
[[ "$(readlink "/proc/$(svpid svc-opencode)/cwd")" == "${T}/data/workspace" ]] \
  && ok "opencode: runs in the workspace" || bad "opencode: cwd is $(readlink "/proc/$(svpid svc-opencode)/cwd")"
if tr '\0' '\n' <"/proc/$(svpid svc-opencode)/environ" | grep -qx "XDG_DATA_HOME=${T}/data/opencode/data" \
  && [[ -n "$(find "${T}/data/opencode" -name 'opencode.db*' -print -quit)" ]]; then
  ok "opencode: XDG dirs under /data/opencode (opencode.db there)"
else
  bad "opencode: XDG dirs / opencode.db not under /data/opencode"
fi
TTYD_CRED="$(head -n 1 "${T}/data/secrets/ttyd_user"):$(head -n 1 "${T}/data/secrets/ttyd_password")"
code="$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${P_TT}/")"
[[ "${code}" == "401" ]] && ok "ttyd: without credentials -> 401" || bad "ttyd: without credentials -> ${code}"
code="$(curl -s -m 5 -o /dev/null -w '%{http_code}' -u "${TTYD_CRED}" "http://127.0.0.1:${P_TT}/")"
[[ "${code}" == "200" ]] && ok "ttyd: with secrets/ttyd_user+ttyd_password -> 200" || bad "ttyd: with credentials -> ${code}"
if tr '\0' '\n' <"/proc/$(svpid svc-ttyd)/cmdline" | grep -qx -- '--writable' \
  && tr '\0' '\n' <"/proc/$(svpid svc-ttyd)/cmdline" | grep -qx -- '--check-origin' \
  && tr '\0' '\n' <"/proc/$(svpid svc-ttyd)/cmdline" | grep -q 'terminal-session$'; then
  ok "ttyd: --writable --check-origin, runs terminal-session (opencode attach)"
else
  bad "ttyd: flags: $(tr '\0' ' ' <"/proc/$(svpid svc-ttyd)/cmdline")"
fi


# proxy_round USER URL: `/proxy set URL` (or `/proxy disable` when URL is empty) from a bound
# user; cloudify must write secrets/proxy.env, restart svc-opencode through s6 (whose new
# process then carries or lacks HTTPS_PROXY) and restart itself. The fake Bot API also serves
# absolute-form requests, so pointing the proxy at it keeps the bot's own traffic working.
proxy_round() {
  local user="$1" url="$2" since old pid deadline cmd want
  old="$(svpid svc-opencode)"
  if [[ -n "${url}" ]]; then cmd="/proxy set ${url}"; want="HTTPS_PROXY=${url}"; else cmd="/proxy disable"; want=""; fi
  since="$(tg inject "${user}" "${cmd}")"
  if tg wait "${user}" "${since}" 20 --contains "OpenCode was restarted" >/dev/null; then
    ok "${cmd}: answered (OpenCode restarted through s6)"
  else
    bad "${cmd}: no confirmation from cloudify"
  fi
  if [[ -n "${want}" ]] && grep -qx "${want}" "${T}/data/secrets/proxy.env"; then
    ok "${cmd}: secrets/proxy.env holds the proxy"
  elif [[ -z "${want}" && ! -s "${T}/data/secrets/proxy.env" ]]; then
    ok "${cmd}: secrets/proxy.env is empty (no proxy)"
  else
    bad "${cmd}: unexpected secrets/proxy.env"
  fi
  deadline=$(($(date +%s) + 30))
  while [[ "$(svpid svc-opencode)" == "${old}" && $(date +%s) -lt ${deadline} ]]; do sleep 0.2; done
  wait_ready svc-opencode 90 || true
  # The run script execs through s6-notifyoncheck and env: poll until the pid is opencode's.
  local matched=0
  deadline=$(($(date +%s) + 15))
  while [[ ${matched} -eq 0 && $(date +%s) -lt ${deadline} ]]; do
    pid="$(svpid svc-opencode)"
    if [[ -n "${want}" ]]; then
      tr '\0' '\n' <"/proc/${pid}/environ" 2>/dev/null | grep -qx "${want}" && matched=1
    else
      grep -qa opencode "/proc/${pid}/cmdline" 2>/dev/null \
        && ! tr '\0' '\n' <"/proc/${pid}/environ" 2>/dev/null | grep -q '^HTTPS_PROXY=' && matched=1
    fi
    [[ ${matched} -eq 1 ]] || sleep 0.3
  done
  if [[ ${matched} -eq 1 ]]; then
    ok "${cmd}: the restarted opencode (pid ${pid}) has ${want:-no HTTPS_PROXY}"
  else
    bad "${cmd}: opencode's environment does not match (pid ${pid}: $(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | cut -c1-80))"
  fi
  # cloudify restarts itself to apply the proxy to its own clients: wait until it answers again.
  sleep 4
  wait_ready svc-cloudify 60 || true
  if status_of "${user}" 30 "${OC_VERSION}" >/dev/null; then
    ok "${cmd}: cloudify back and serving after its own restart"
  else
    bad "${cmd}: cloudify not serving after the proxy change"
  fi
}

# ---------------------------------------------------------------------------------------------
# Checks that depend on `cloudify run` (enabled when it serves /healthz; see the header).
BOUND_REPLY=""
UNBOUND_REPLY=""
status_of() { # status_of USER -> reply text to /status
  local since
  since="$(tg inject "$1" /status)"
  tg wait "$1" "${since}" "${2:-20}" ${3:+--contains "$3"}
}
if [[ ${CLOUDIFY_ON} -eq 1 ]]; then
  say "== cloudify (${CLOUDIFY}, fake Bot API)"
  [[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${P_CF}/healthz")" == "200" ]] \
    && ok "cloudify: GET /healthz -> 200" || bad "cloudify: /healthz"
  if [[ "$(tg calls getMe)" -ge 1 && "$(tg calls getUpdates)" -ge 1 ]]; then
    ok "cloudify: called getMe and polls getUpdates on TELEGRAM_API_URL"
  else
    bad "cloudify: no getMe/getUpdates on the fake Bot API"
  fi
  qr_out="$(env -i "${SVC_ENV[@]}" timeout 30 cloudify qr 2>&1 || true)"
  token="$(grep -oE 'start=[A-Za-z0-9_-]{1,64}' <<<"${qr_out}" | head -n 1 | cut -d= -f2 || true)"
  if [[ -z "${token}" ]]; then
    bad "cloudify qr: no t.me deep link with ?start=<token> in its output"
  else
    ok "cloudify qr: deep link token (${#token} chars)"
    since="$(tg inject 4242 "/start ${token}")"
    if tg wait 4242 "${since}" 20 >/dev/null; then ok "bind: /start <token> from user 4242 answered"; else bad "bind: no answer to /start <token>"; fi
    UNBOUND_REPLY="$(status_of 4343 20 || true)"
    BOUND_REPLY="$(status_of 4242 30 "${OC_VERSION}" || true)"
    if [[ -n "${BOUND_REPLY}" && "${BOUND_REPLY}" != "${UNBOUND_REPLY}" ]]; then
      ok "/status: bound user gets the status with OpenCode ${OC_VERSION}; unbound user gets another reply"
    else
      bad "/status: bound reply missing the OpenCode version or same as unbound (bound='${BOUND_REPLY:0:120}')"
    fi
  fi
fi

# ---------------------------------------------------------------------------------------------
if [[ -n "${AGENT_ACCOUNT}" ]]; then
  say "== trust boundary (as the agent's account; /proc/<pid>/environ)"
  trust_check_boundary
  trust_check_restart_rights
else
  skipped "trust boundary checks (run as root: they need two accounts)"
fi

# ---------------------------------------------------------------------------------------------
say "== crash and restart"
crash svc-opencode 120 || true
if oc_curl "http://127.0.0.1:${P_OC}/global/health" | grep -q '"healthy":true'; then
  ok "opencode: healthy again after the restart"
else
  bad "opencode: not healthy after the restart"
fi
if [[ ${CLOUDIFY_ON} -eq 1 && -n "${BOUND_REPLY}" ]]; then
  if status_of 4242 60 "${OC_VERSION}" >/dev/null; then
    ok "cloudify: after the OpenCode restart /status still reports OpenCode ${OC_VERSION} (reconnected)"
  else
    bad "cloudify: no /status with OpenCode ${OC_VERSION} within 60 s of the OpenCode restart"
  fi
fi
crash svc-ttyd 30 || true
if [[ ${CLOUDIFY_ON} -eq 1 ]]; then
  crash svc-cloudify 60 || true
  if [[ -n "${BOUND_REPLY}" ]]; then
    if reply="$(status_of 4242 30 "${OC_VERSION}")" && [[ "${reply}" != "${UNBOUND_REPLY}" ]]; then
      ok "cloudify: after its restart user 4242 is still bound (/status answered as bound)"
    else
      bad "cloudify: binding lost after the restart"
    fi
  fi
  if [[ -n "${BOUND_REPLY}" ]]; then
    proxy_round 4242 "http://127.0.0.1:${P_TG}"
    proxy_round 4242 ""
  fi
else
  skipped "svc-cloudify crash/restart and binding checks (cloudify checks not enabled)"
fi

# ---------------------------------------------------------------------------------------------
say "== clean stop (reverse dependency order)"
t0=$(now_ms)
for ((i = ${#LONGRUNS[@]} - 1; i >= 0; i--)); do
  svc="${LONGRUNS[i]}"
  s6-svc -wD -d -T 10000 "$(svdir "${svc}")" 2>/dev/null || s6-svc -d "$(svdir "${svc}")"
  [[ "$(s6-svstat -o up "$(svdir "${svc}")")" == "false" ]] || bad "${svc}: still up after s6-svc -d"
done
s6-svscanctl -t "${T}/scan"
for _ in $(seq 100); do kill -0 "${SVSCAN_PID}" 2>/dev/null || break; sleep 0.05; done
if kill -0 "${SVSCAN_PID}" 2>/dev/null; then
  bad "s6-svscan still running after s6-svscanctl -t"
else
  wait "${SVSCAN_PID}" 2>/dev/null || true
  SVSCAN_PID=""
  ok "all services down and s6-svscan gone in $(since_s "${t0}") s"
fi
sleep 0.3
left="$(leftover_pids | tr '\n' ' ')"
if [[ -z "${left// /}" ]]; then
  ok "no process of the tree left"
else
  bad "processes left after the stop: ${left} ($(for p in ${left}; do tr '\0' ' ' <"/proc/${p}/cmdline" 2>/dev/null; echo; done))"
fi
