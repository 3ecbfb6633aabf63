#!/usr/bin/env bash
# Footprint and start-up of `cloudify run` (issue 8, first part): resident memory idle and with
# 10 instances and 100 bound users, and the time from exec to a 200 on GET /healthz. Runs the
# release binary against the s6 harness's Bot API stand-in (tests/s6/fake_bot_api.py) on
# loopback; OpenCode is not started (the bot does not need it to be ready).
#
#
# Then the added latency from an OpenCode event to the Bot API call and the fan-out of one
# turn to 100 users (issue 8, second part): crates/cloudify/benches/relay_latency.rs runs the
# release binary against the real `opencode serve` and the testkit's fake Bot API (~10 min).
#
#   scripts/bench.sh              # builds cloudify in release mode first
#   SKIP_BUILD=1 RUNS=10 scripts/bench.sh
#   LATENCY_RUNS=50 FANOUT_USERS=100 scripts/bench.sh   # fewer latency samples
#   SKIP_LATENCY=1 scripts/bench.sh                      # footprint and start-up only
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${RUNS:-10}"
FIX="${ROOT}/tests/s6"
[[ "${SKIP_BUILD:-0}" == 1 ]] || cargo build --release -p cloudify --manifest-path "${ROOT}/Cargo.toml"
BIN="${ROOT}/target/release/cloudify"

T="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "${p}" 2>/dev/null || true; done
  rm -rf "${T}"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P_TG="$(free_port)"
python3 "${FIX}/fake_bot_api.py" --port "${P_TG}" 2>/dev/null &
PIDS+=($!)
tg() { python3 "${FIX}/tg_client.py" "http://127.0.0.1:${P_TG}" "$@"; }
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:${P_TG}/_test/calls" && break; sleep 0.1; done

# ENVV=(env -i …) for a data dir and port; `"${ENVV[@]}" cmd &` makes $! the command's pid.
envv() {
  ENVV=(env -i PATH="${PATH}" HOME="${T}" CLOUDIFY_DATA_DIR="$1" CLOUDIFY_HTTP_LISTEN="127.0.0.1:$2"
    TELEGRAM_TOKEN=123456789:AAH-bench-token-000000000000000000000
    TELEGRAM_API_URL="http://127.0.0.1:${P_TG}" OPENCODE_URL=http://127.0.0.1:9
    CLOUDIFY_UPDATE_CHECK=false RUST_LOG=warn)
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
now_ns() { date +%s%N; }

# Start-up: exec → GET /healthz 200, RUNS times on a prepared data dir (DB created, bot known).
startup=()
data="${T}/startup"
port="$(free_port)"
envv "${data}" "${port}"
"${ENVV[@]}" "${BIN}" qr >/dev/null 2>&1 || true
for _ in $(seq "${RUNS}"); do
  t0="$(now_ns)"
  "${ENVV[@]}" "${BIN}" run >/dev/null 2>&1 &
  pid=$!
  until curl -s -o /dev/null -m 1 "http://127.0.0.1:${port}/healthz"; do sleep 0.002; done
  startup+=($((($(now_ns) - t0) / 1000000)))
  kill "${pid}"
  wait "${pid}" 2>/dev/null || true
done
sorted="$(printf '%s\n' "${startup[@]}" | sort -n)"
median="$(sed -n "$(((RUNS + 1) / 2))p" <<<"${sorted}")"
worst="$(tail -n 1 <<<"${sorted}")"

# Idle RSS: one default instance, nobody bound, 5 s after ready.
data="${T}/idle"
port="$(free_port)"
envv "${data}" "${port}"
"${ENVV[@]}" "${BIN}" run >/dev/null 2>&1 &
pid=$!
PIDS+=("${pid}")
until curl -s -o /dev/null -m 1 "http://127.0.0.1:${port}/healthz"; do sleep 0.01; done
sleep 5
idle="$(rss_kb "${pid}")"
kill "${pid}"

# Loaded: 10 instances, 100 users bound by deep link (10 per instance), each sent /status.
data="${T}/loaded"
port="$(free_port)"
envv "${data}" "${port}"
for i in $(seq 2 10); do
  "${ENVV[@]}" "${BIN}" instance add "proj${i}" --dir "/srv/proj${i}" >/dev/null
done
"${ENVV[@]}" "${BIN}" run >/dev/null 2>"${T}/loaded.log" &
pid=$!
PIDS+=("${pid}")
until curl -s -o /dev/null -m 1 "http://127.0.0.1:${port}/healthz"; do sleep 0.01; done
mapfile -t names < <("${ENVV[@]}" "${BIN}" instance list | awk 'NR>1 {print $1}')
user=1000
for name in "${names[@]}"; do
  token="$("${ENVV[@]}" "${BIN}" qr --instance "${name}" | grep -oE 'start=[A-Za-z0-9_-]+' | head -n1 | cut -d= -f2)"
  for _ in $(seq 10); do
    user=$((user + 1))
    tg inject "${user}" "/start ${token}" >/dev/null
    tg inject "${user}" "/status" >/dev/null
  done
done
# Every user got the welcome: wait until the bot has answered all of them.
for _ in $(seq 600); do
  [[ "$(tg calls sendMessage)" -ge 300 ]] && break
  sleep 0.1
done
sleep 5
loaded="$(rss_kb "${pid}")"
bound="$(sqlite3 "${data}/cloudify.db" 'select count(*) from bindings' 2>/dev/null || echo '?')"
kill "${pid}"

printf '| measure | result | target |\n|---|---|---|\n'
printf '| start-up to GET /healthz 200 (median / worst of %s) | %s ms / %s ms | ≤ 200 ms |\n' "${RUNS}" "${median}" "${worst}"
printf '| RSS idle (1 instance, nobody bound) | %s MB | ≤ 15 MB |\n' "$(awk -v k="${idle}" 'BEGIN{printf "%.1f", k/1024}')"
printf '| RSS with %s instances, %s bindings, after 200 updates | %s MB | ≤ 40 MB |\n' \
  "${#names[@]}" "${bound}" "$(awk -v k="${loaded}" 'BEGIN{printf "%.1f", k/1024}')"

# Added latency and fan-out. SKIP_BUILD=1 runs the newest bench binary already built.
[[ "${SKIP_LATENCY:-0}" == 1 ]] && exit 0
export FANOUT_USERS="${FANOUT_USERS:-100}"
if [[ "${SKIP_BUILD:-0}" == 1 ]]; then
  bench="$(find "${ROOT}/target/release/deps" -maxdepth 1 -type f -executable -name 'relay_latency-*' \
    -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)"
  [[ -n "${bench}" ]] || { echo "no relay_latency bench built; run without SKIP_BUILD" >&2; exit 1; }
  RUNS="${LATENCY_RUNS:-200}" "${bench}"
else
  RUNS="${LATENCY_RUNS:-200}" cargo bench -p cloudify --bench relay_latency --manifest-path "${ROOT}/Cargo.toml"
fi
