#!/usr/bin/env bash
# Fan-out: `migrate up` over many databases of one group, on one throwaway
# PostgreSQL: 1, 10, 100 and 500 databases, applying 20 migrations to fresh
# databases and then a no-op run, with --jobs 1 and --jobs 8; then the same
# behind bench/delay_proxy.rs, which delays every packet by 5 ms each way
# to stand in for a network (1, 10 and 100 databases: at 500 the serial
# runs alone would take many minutes). Prints seconds and ratios.
#
# Beside strata, the floor: PostgreSQL's own pgbench opening the same
# number of connections (`-C`, a new connection per transaction, each
# running SELECT 1, 10 at a time) — what any client pays for one
# connection per database — and a no-op sweep over --jobs 8, 16 and 32
# on 100 databases; over TCP with passwords, behind the delay, and over
# the Unix socket with the cluster's local trust (no TCP, no password
# exchange: what is left is the server starting a backend), there also one
# connection at a time, to show whether clients at once help at all.
#
#   bash bench/fanout.sh [SIZES] [DELAYED_SIZES]   (default "1 10 100 500" "1 10 100")
#
# Then the floor ratio, per size of FLOOR_SIZES (default "100 500"): the
# no-op `up --jobs 8` over N databases against one database's no-op plus
# pgbench -C opening N connections 8 at a time, each running SELECT 1
# (medians of three): (no-op N − no-op 1) / floor N, the goal being at
# most 1.2. STRATA_BENCH_TLS=1 starts the server with TLS on, so strata
# and pgbench both negotiate it (libpq's default sslmode=prefer, strata's
# too); FANOUT_FLOOR_ONLY=1 skips the other tables, e.g.
#
#   FANOUT_FLOOR_ONLY=1 bash bench/fanout.sh "1" ""
#   STRATA_BENCH_TLS=1 FANOUT_FLOOR_ONLY=1 bash bench/fanout.sh "1" ""
#
# Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${1-"1 10 100 500"}
DELAYED=${2-"1 10 100"}
DELAY_MS=5

# shellcheck source=tests/support/pg.sh
source tests/support/pg.sh
cargo build --quiet --release --bin migrate --example delay_proxy
target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
migrate=$target/release/migrate
proxy=$target/release/examples/delay_proxy
pgbench=$(pg_bindir)/pgbench
work=$(mktemp -d)
proxy_pid=
cleanup() { [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null; pg_stop; rm -rf "$work"; }
trap cleanup EXIT
if [ "${STRATA_BENCH_TLS:-0}" = 1 ]; then
  # shellcheck source=tests/support/certs.sh
  source tests/support/certs.sh
  certs_make "$work/certs"
fi
pg_start
admin=$STRATA_TEST_PG_URL
base=${admin%/postgres}
port=${base##*:}
rest=${base%:*}

mkdir -p "$work/migrations/tenants"
for i in $(seq 1 20); do
  echo "CREATE TABLE t$i (id bigint PRIMARY KEY, note text); CREATE INDEX t${i}_note ON t$i (note);" \
    > "$work/migrations/tenants/V${i}__table_$i.sql"
done
printf '[groups.tenants]\nkind = "postgres"\nurls_file = "tenants.txt"\n' > "$work/migrate.toml"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
proxy_port=$(free_port)
"$proxy" "$proxy_port" "127.0.0.1:$port" "$DELAY_MS" > "$work/proxy.out" &
proxy_pid=$!
for _ in $(seq 1 100); do grep -q ready "$work/proxy.out" 2>/dev/null && break; sleep 0.05; done

round=0
# Fresh databases f<round>_<i>, listed in tenants.txt through `host:port`,
# or through the server's Unix socket when that is `socket`.
fresh() { # n hostport|socket
  round=$((round + 1))
  : > "$work/tenants.txt"
  for i in $(seq 1 "$1"); do
    psql -q -X "$admin" -c "CREATE DATABASE f${round}_$i" >/dev/null
    if [ "$2" = socket ]; then
      echo "postgres://strata@localhost/f${round}_$i?host=$PG_TMP&port=$port"
    else
      echo "${rest%%@*}@$2/f${round}_$i"
    fi >> "$work/tenants.txt"
  done
}

timed() { # args... -> seconds
  local started ended
  started=$(date +%s.%N)
  (cd "$work" && "$migrate" "$@" >/dev/null)
  ended=$(date +%s.%N)
  awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.3f", b - a }'
}

hostport() { local h=${rest#*@}; echo "${h#*//}:$1"; }

printf '%-9s %6s %9s %12s %12s %12s %12s\n' network dbs "" "apply -j1" "apply -j8" "no-op -j1" "no-op -j8"
declare -A noop8
measure() { # label sizes port
  local label=$1 sizes=$2 p=$3
  for n in $sizes; do
    fresh "$n" "$(hostport "$p")"
    local a1 n1 a8 n8
    a1=$(timed --jobs 1 up); n1=$(timed --jobs 1 up)
    fresh "$n" "$(hostport "$p")"
    a8=$(timed --jobs 8 up); n8=$(timed --jobs 8 up)
    printf '%-9s %6s %9s %12s %12s %12s %12s\n' "$label" "$n" "seconds" "$a1" "$a8" "$n1" "$n8"
    noop8[$label,$n]=$n8
    awk -v a1="$a1" -v a8="$a8" -v n1="$n1" -v n8="$n8" -v lbl="$label" -v n="$n" \
      'BEGIN { printf "%-9s %6s %9s %12s %12.1fx %12s %12.1fx\n", lbl, n, "-j1/-j8", "", a1/a8, "", n1/n8 }'
  done
}
measure local "$SIZES" "$port"
measure "${DELAY_MS}ms" "$DELAYED" "$proxy_port"
echo
for label in local "${DELAY_MS}ms"; do
  if [ -n "${noop8[$label,1]:-}" ] && [ -n "${noop8[$label,100]:-}" ]; then
    awk -v a="${noop8[$label,100]}" -v b="${noop8[$label,1]}" -v l="$label" \
      'BEGIN { printf "%s: no-op --jobs 8 over 100 databases takes %.1f times one database (goal: at most 10)\n", l, a/b }'
  fi
done

median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

# The floor ratio (see the top): no-op over N against one and pgbench -C.
floor_ratio() {
  local n one many floor
  fresh 1 "$(hostport "$port")"; timed up >/dev/null
  one=$(median3 "$(timed --jobs 8 up)" "$(timed --jobs 8 up)" "$(timed --jobs 8 up)")
  for n in ${FLOOR_SIZES:-100 500}; do
    fresh "$n" "$(hostport "$port")"; timed --jobs 8 up >/dev/null
    many=$(median3 "$(timed --jobs 8 up)" "$(timed --jobs 8 up)" "$(timed --jobs 8 up)")
    floor=$(median3 "$(pgbench_seconds "$n" "$port" 8)" "$(pgbench_seconds "$n" "$port" 8)" \
      "$(pgbench_seconds "$n" "$port" 8)")
    awk -v n="$n" -v one="$one" -v many="$many" -v floor="$floor" -v tls="${STRATA_BENCH_TLS:-0}" 'BEGIN {
      printf "floor (TLS %s): %4d dbs: no-op --jobs 8 %6.3f s, one db %6.3f s, pgbench -C 8 at a time %6.3f s: ratio %.2f (goal <= 1.2)\n",
        (tls == 1 ? "on" : "off"), n, many, one, floor, (many - one) / floor }'
  done
}

# The floor: pgbench -C opening n connections (10 at a time) through port,
# or through the Unix socket (no TCP, and the cluster trusts local users:
# no password exchange either).
pgbench_seconds() { # n port|socket [clients, default 10]
  local at_once=${3:-10}
  local c=$(( $1 < at_once ? $1 : at_once )) started ended target="${rest}:$2/postgres"
  [ "$2" = socket ] && target="host=$PG_TMP port=$port user=strata dbname=postgres"
  echo 'SELECT 1;' > "$work/select1.sql"
  started=$(date +%s.%N)
  "$pgbench" -n -C -c "$c" -j "$c" -t $(( $1 / c )) -f "$work/select1.sql" \
    "$target" >/dev/null 2>&1
  ended=$(date +%s.%N)
  awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.3f", b - a }'
}

echo
floor_ratio
[ "${FANOUT_FLOOR_ONLY:-0}" = 1 ] && exit 0
echo
printf '%-9s %-44s %9s %9s %7s\n' network "100 connections vs 1" "1" "100" ratio
for net in "local $port" "${DELAY_MS}ms $proxy_port" "socket socket"; do
  read -r label p <<< "$net"
  where=socket
  [ "$p" = socket ] || where=$(hostport "$p")
  fresh 1 "$where"; timed up >/dev/null
  one=$(timed --jobs 10 up)
  fresh 100 "$where"; timed --jobs 32 up >/dev/null
  hundred=$(timed --jobs 10 up)
  p1=$(pgbench_seconds 1 "$p"); p100=$(pgbench_seconds 100 "$p")
  awk -v l="$label" -v a="$one" -v b="$hundred" -v c="$p1" -v d="$p100" 'BEGIN {
    printf "%-9s %-44s %9s %9s %6.1fx\n", l, "strata no-op up, --jobs 10", a, b, b/a
    printf "%-9s %-44s %9s %9s %6.1fx\n", l, "pgbench -C SELECT 1, 10 at a time (floor)", c, d, d/c }'
  if [ "$p" = socket ]; then
    # One at a time: the postmaster starts backends one after another, so
    # if this is as fast as ten at a time, that start is the floor.
    awk -v l="$label" -v c="$(pgbench_seconds 1 "$p" 1)" -v d="$(pgbench_seconds 100 "$p" 1)" 'BEGIN {
      printf "%-9s %-44s %9s %9s %6.1fx\n", l, "pgbench -C SELECT 1, one at a time", c, d, d/c }'
  fi
  for j in 8 16 32; do
    printf '%-9s %-44s %9s %9s\n' "$label" "strata no-op up, --jobs $j" "" "$(timed --jobs "$j" up)"
  done
done
