# shellcheck shell=bash
# shellcheck disable=SC2015 # ok() and bad() always succeed: `A && ok || bad` is an if-then-else here
# The trust-boundary checks of scripts/s6-harness.sh (issue 13), sourced by it. They run only as
# root, with the two accounts the harness creates (BOT_ACCOUNT for `cloudify run`, AGENT_ACCOUNT
# for opencode and ttyd), and use the harness's T, SVC_ENV, ok/bad/skipped, svpid, svdir and
# wait_ready. Each check asks the running system, not the scripts: the uid of the real opencode
# process, what that uid can open, what /proc/<pid>/environ holds.

# Values given to the container that belong to the bot. None may reach the agent.
S6H_TG_TOKEN="123456789:AAH-s6-harness-fake-token-000000000"
S6H_DINGTALK_SECRET="s6hDingTalkAppSecret-Vq7c2Lm0"
S6H_CANARY="s6h-cloudify-variable-Jf83kq"
S6H_NOT_ALLOWED="s6h-nobody-allowed-this-Lm20"
S6H_OLD_NOTIFY="s6holdnotifytoken0123456789abcdef"
# A model key: it must reach OpenCode, and not the bot.
S6H_MODEL_KEY="sk-ant-s6h-model-key-0000-Zx9"

ids_of() { # ids_of PID -> "uid:gid" (real ids)
  printf '%s:%s\n' "$(awk '/^Uid:/ {print $2}' "/proc/$1/status")" \
    "$(awk '/^Gid:/ {print $2}' "/proc/$1/status")"
}
as_ids_of() { # as_ids_of PID CMD...: run CMD with the uid and gid of process PID, no other groups
  local ids
  ids="$(ids_of "$1")"
  shift
  s6-setuidgid "${ids}" "$@"
}
owner_mode() { stat -c '%U %a' "$1"; }

# expect_owner_mode PATH "OWNER MODE": one ok/bad line per path.
expect_owner_mode() {
  local got
  got="$(owner_mode "$1" 2>/dev/null || echo missing)"
  [[ "${got}" == "$2" ]] && ok "${1#"${T}"/}: $2" || bad "${1#"${T}"/}: ${got} (want $2)"
}

# An older version's /data: one account for everything (uid of today's agent account), world-
# readable files, and a link in the workspace to a file only root may change.
trust_seed_old_layout() {
  local d="${T}/data"
  mkdir -p "${d}/secrets" "${d}/qr" "${d}/cache/rendered" "${d}/opencode/home" "${d}/workspace"
  printf '%s\n' "${S6H_OLD_NOTIFY}" >"${d}/secrets/notify_token"
  : >"${d}/cloudify.db"
  printf 'png' >"${d}/qr/old.png"
  printf 'png' >"${d}/cache/rendered/page.png"
  printf '# project\n' >"${d}/workspace/README.md"
  printf 'root only\n' >"${T}/outside"
  chmod 0644 "${T}/outside"
  ln -s "${T}/outside" "${d}/workspace/link-out"
  find "${d}" -type d -exec chmod 0755 {} +
  find "${d}" -type f -exec chmod 0644 {} +
  chown -R -h "${AGENT_ACCOUNT}:${AGENT_ACCOUNT}" "${d}"
  ok "seeded: bot files and agent files owned by one account, 0644 in 0755; workspace/link-out -> a root file"
}

# After init-data: who owns what (docs/SECURITY.md "Accounts and files").
trust_check_layout() {
  local d="${T}/data" f
  expect_owner_mode "${d}" "${BOT_ACCOUNT} 711"
  for f in secrets qr cache cache/rendered; do
    expect_owner_mode "${d}/${f}" "${BOT_ACCOUNT} 700"
  done
  for f in "${d}"/secrets/* "${d}/cloudify.db" "${d}/qr/old.png" "${d}/cache/rendered/page.png"; do
    expect_owner_mode "${f}" "${BOT_ACCOUNT} 600"
  done
  expect_owner_mode "${d}/opencode" "${AGENT_ACCOUNT} 700"
  for f in opencode/home opencode/config workspace workspace/README.md; do
    [[ "$(stat -c %U "${d}/${f}")" == "${AGENT_ACCOUNT}" ]] \
      && ok "${f}: the agent's" || bad "${f}: owned by $(stat -c %U "${d}/${f}")"
  done
  [[ "$(owner_mode "${T}/outside")" == "root 644" ]] \
    && ok "workspace/link-out: the link was re-owned, not the root file it points to" \
    || bad "init-data followed workspace/link-out: its target is now $(owner_mode "${T}/outside")"
  [[ "$(head -n 1 "${d}/secrets/notify_token")" == "${S6H_OLD_NOTIFY}" ]] \
    && ok "secrets/notify_token: the existing token is kept" || bad "secrets/notify_token was replaced"
}

# init-data refuses a link where the bot keeps its files, and changes nothing through it.
trust_check_planted_links() {
  local planted d rc before
  mkdir -p "${T}/outside-dir"
  before="$(owner_mode "${T}/outside") $(cat "${T}/outside")"
  for planted in secrets/notify_token secrets cloudify.db qr; do
    d="${T}/planted-${planted//\//-}/data"
    mkdir -p "$(dirname "${d}/${planted}")"
    if [[ "${planted}" == */* || "${planted}" == *.db ]]; then
      ln -s "${T}/outside" "${d}/${planted}"
    else
      ln -s "${T}/outside-dir" "${d}/${planted}"
    fi
    rc=0
    env -i "${SVC_ENV[@]}" "CLOUDIFY_DATA_DIR=${d}" \
      execlineb -P "${T}/etc/s6-overlay/s6-rc.d/init-data/up" </dev/null >"${d}.log" 2>&1 || rc=$?
    if [[ ${rc} -ne 0 ]] && grep -q 'symbolic link' "${d}.log" \
      && [[ "$(owner_mode "${T}/outside") $(cat "${T}/outside")" == "${before}" ]] \
      && [[ "$(owner_mode "${T}/outside-dir")" == "root 755" && -z "$(ls -A "${T}/outside-dir")" ]]; then
      ok "init-data refuses a planted link ${planted} -> outside (exit ${rc}, target untouched)"
    else
      bad "init-data with a planted link ${planted}: exit ${rc}, target $(owner_mode "${T}/outside"), log: $(tail -n 2 "${d}.log" | tr '\n' ' ')"
    fi
  done
}

# The binding link is not in the container log at every start: init-data prints none.
trust_check_no_link_in_log() {
  if grep -Eq 'start=|/bind |t\.me/' "${T}/init-data.log"; then
    bad "init-data printed a binding link/code to the log: $(grep -Em 1 'start=|/bind ' "${T}/init-data.log")"
  else
    ok "init-data printed no binding link or code"
  fi
}

# Boundary at run time: accounts of the daemons, what the agent's account can read, environments.
trust_check_boundary() {
  local oc tt cf env_of leaks n f d="${T}/data"
  oc="$(svpid svc-opencode)"
  tt="$(svpid svc-ttyd)"
  [[ "$(ids_of "${oc}")" == "$(id -u "${AGENT_ACCOUNT}"):$(id -g "${AGENT_ACCOUNT}")" ]] \
    && ok "opencode serve (pid ${oc}) runs as ${AGENT_ACCOUNT}" \
    || bad "opencode serve (pid ${oc}) runs as uid:gid $(ids_of "${oc}"), not ${AGENT_ACCOUNT}"
  [[ "$(ids_of "${tt}")" == "$(ids_of "${oc}")" ]] \
    && ok "ttyd (pid ${tt}) runs as the agent's account" || bad "ttyd runs as $(ids_of "${tt}")"
  if [[ ${CLOUDIFY_ON} -eq 1 ]]; then
    cf="$(svpid svc-cloudify)"
    [[ "$(ids_of "${cf}")" == "$(id -u "${BOT_ACCOUNT}"):$(id -g "${BOT_ACCOUNT}")" ]] \
      && ok "cloudify run (pid ${cf}) runs as ${BOT_ACCOUNT}" || bad "cloudify run runs as $(ids_of "${cf}")"
  fi

  # What a prompt-injected agent would try: cat each secret, the database, the QR images.
  leaks=0
  n=0
  for f in "${d}"/secrets/* "${d}"/cloudify.db* "${d}/config.yaml" "${d}"/qr/*; do
    [[ -f "${f}" ]] || continue
    n=$((n + 1))
    if as_ids_of "${oc}" cat "${f}" >/dev/null 2>&1; then
      bad "the agent's account reads ${f#"${T}"/}"
      leaks=$((leaks + 1))
    fi
  done
  if [[ ${n} -lt 6 ]]; then
    bad "only ${n} bot files found to try"
  elif [[ ${leaks} -eq 0 ]]; then
    ok "as opencode's account: none of ${n} bot files (secrets/*, cloudify.db*, qr/*) can be read"
  fi
  as_ids_of "${oc}" ls "${d}/secrets" >/dev/null 2>&1 && bad "the agent's account lists secrets/" \
    || ok "as opencode's account: secrets/ cannot be listed"
  as_ids_of "${oc}" touch "${d}/planted-by-agent" 2>/dev/null && bad "the agent's account writes into /data" \
    || ok "as opencode's account: nothing can be created in /data itself"
  as_ids_of "${oc}" cat "${d}/workspace/README.md" >/dev/null 2>&1 \
    && ok "as opencode's account: the workspace is readable (the account works)" \
    || bad "the agent's account cannot read its own workspace"

  # Environments: none of the bot's secrets; the model key and the operator's variable do arrive.
  local -a secrets=("${S6H_TG_TOKEN}" "${S6H_TG_TOKEN#*:}" "${S6H_DINGTALK_SECRET}" "${S6H_CANARY}"
    "${S6H_NOT_ALLOWED}" "$(head -n 1 "${d}/secrets/notify_token")" "$(head -n 1 "${d}/secrets/admin_token")")
  local pid name v found
  for pid in "${oc}" "${tt}"; do
    name="$(tr '\0' ' ' <"/proc/${pid}/cmdline" | cut -c1-40)"
    env_of="$(tr '\0' '\n' <"/proc/${pid}/environ")"
    found=""
    for v in "${secrets[@]}"; do
      [[ -n "${v}" ]] && grep -qF -- "${v}" <<<"${env_of}" && found+=" ${v:0:12}…"
    done
    found+="$(grep -Eo '^(TELEGRAM|DINGTALK|CLOUDIFY)_[A-Z_]*' <<<"${env_of}" | tr '\n' ' ' || true)"
    [[ -z "${found// /}" ]] && ok "environ of ${name}: none of ${#secrets[@]} bot secrets, no TELEGRAM_/DINGTALK_/CLOUDIFY_ variable" \
      || bad "environ of ${name} holds:${found}"
    grep -qx "ANTHROPIC_API_KEY=${S6H_MODEL_KEY}" <<<"${env_of}" \
      && grep -qx 'S6H_ALLOWED_VAR=allowed-by-the-operator' <<<"${env_of}" \
      && ok "environ of ${name}: the model key and the operator-allowed variable arrive" \
      || bad "environ of ${name}: ANTHROPIC_API_KEY or S6H_ALLOWED_VAR missing"
  done
  if [[ ${CLOUDIFY_ON} -eq 1 ]]; then
    env_of="$(tr '\0' '\n' <"/proc/${cf}/environ")"
    ! grep -qF -- "${S6H_MODEL_KEY}" <<<"${env_of}" && grep -q '^TELEGRAM_TOKEN=' <<<"${env_of}" \
      && ok "environ of cloudify run: its token, no model key" || bad "environ of cloudify run: model key present or token missing"
  fi
}

# The bot rotates the terminal's credentials and restarts svc-ttyd; the agent may restart nothing.
trust_check_restart_rights() {
  local oc old new pw deadline code
  oc="$(svpid svc-opencode)"
  for svc in svc-ttyd svc-opencode; do
    as_ids_of "${oc}" s6-svc -r "$(svdir "${svc}")" 2>/dev/null \
      && bad "the agent's account may restart ${svc}" || ok "the agent's account may not restart ${svc}"
  done
  old="$(head -n 1 "${T}/data/secrets/ttyd_user"):$(head -n 1 "${T}/data/secrets/ttyd_password")"
  pw="rotated$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  new="$(head -n 1 "${T}/data/secrets/ttyd_user"):${pw}"
  # What the bot does when it rotates: write the file as itself, then s6-svc -r svc-ttyd.
  # shellcheck disable=SC2016 # expanded by that sh
  s6-setuidgid "${BOT_ACCOUNT}" sh -c 'umask 077; printf "%s\n" "$1" >"$2.new" && mv -f "$2.new" "$2"' \
    _ "${pw}" "${T}/data/secrets/ttyd_password" || bad "the bot's account cannot write secrets/ttyd_password"
  local pid0
  pid0="$(svpid svc-ttyd)"
  if s6-setuidgid "${BOT_ACCOUNT}" s6-svc -r "$(svdir svc-ttyd)"; then
    ok "the bot's account restarts svc-ttyd (s6-svperms)"
  else
    bad "the bot's account may not restart svc-ttyd"
    return
  fi
  deadline=$(($(date +%s) + 15))
  while [[ "$(svpid svc-ttyd)" == "${pid0}" && $(date +%s) -lt ${deadline} ]]; do sleep 0.1; done
  wait_ready svc-ttyd 30 || true
  code="$(curl -s -m 5 -o /dev/null -w '%{http_code}' -u "${old}" "http://127.0.0.1:${P_TT}/")"
  [[ "${code}" == "401" ]] && ok "ttyd after rotation: the old credentials -> 401" || bad "ttyd after rotation: old credentials -> ${code}"
  code="$(curl -s -m 5 -o /dev/null -w '%{http_code}' -u "${new}" "http://127.0.0.1:${P_TT}/")"
  [[ "${code}" == "200" ]] && ok "ttyd after rotation: the new credentials -> 200" || bad "ttyd after rotation: new credentials -> ${code}"
  [[ "$(ids_of "$(svpid svc-ttyd)")" == "$(ids_of "${oc}")" ]] \
    && ok "the restarted ttyd runs as the agent's account" || bad "the restarted ttyd runs as $(ids_of "$(svpid svc-ttyd)")"
}
