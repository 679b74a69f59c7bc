#!/usr/bin/env bash
# HA measurements: three Arca nodes on one PostgreSQL database on this machine, under load; a node
# killed, a key disabled on one node and refused on another, the jobs' leader killed; a backup of
# 10,000 keys and 10,000 secrets taken online, restored into a new database and checked; and disaster
# recovery (dr): a primary PostgreSQL with a streaming standby (synchronous, then asynchronous), the
# primary lost under load, the standby promoted, the nodes repointed and unsealed: RTO and RPO.
# Prints the figures (also in $OUT/summary.md). See bench/ha/ha.py for the scenarios and
# bench/README.md for results.
#
#   bench/ha/run.sh                        release build of arca (built if missing or older than the sources)
#   ARCA_BIN=/path/to/arca bench/ha/run.sh use that binary as it is
#   SCENARIOS=kill,disable,leader,backup,dr BACKUP_KEYS=10000 BACKUP_SECRETS=10000 CLIENTS=32 DURATION=20 DISABLE_ROUNDS=20 EXPIRING=20 BASE_PORT=18601
#   PG_URL=postgres://postgres@127.0.0.1:5432 KEEP=0
#   DR_MODES=sync,async DR_PRIMARY_PORT=15440 DR_STANDBY_PORT=15441 DR_BASE_PORT=18604
#   PG_BIN=/usr/lib/postgresql/15/bin DR_PGROOT=/var/tmp/arca-dr-<pid> DR_STALL_S=0 (>0: the primary's
#   WAL sender frozen that long before the primary is lost, a lagging standby)
#
# Needs: PostgreSQL reachable at PG_URL as a role that may create databases, psql, openssl,
# python3; for dr the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup, pg_isready) in
# PG_BIN, run as the postgres user when this runs as root. dr never touches the PostgreSQL at
# PG_URL: its two clusters are its own, on their own ports, stopped and removed at the end.
# Bounded: every phase has a deadline, the whole run 20 minutes; every node and cluster started is
# stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in psql openssl python3; do
  command -v "$tool" >/dev/null || { echo "bench/ha: $tool is needed" >&2; exit 2; }
done
if [ -z "${ARCA_BIN:-}" ]; then
  target="${CARGO_TARGET_DIR:-target}"
  export ARCA_BIN="$target/release/arca"
  if [ ! -x "$ARCA_BIN" ] || [ -n "$(find crates -newer "$ARCA_BIN" -name '*.rs' -print -quit)" ]; then
    cargo build --release -p arca --locked
  fi
fi
exec timeout 1200 python3 bench/ha/ha.py
