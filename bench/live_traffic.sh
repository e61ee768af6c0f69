#!/usr/bin/env bash
# Live traffic: what a migration does to an application's queries when one
# session keeps the table busy. On one throwaway PostgreSQL, for strata
# (default settings) and its peers (sqlx-cli, dbmate, Flyway) in turn:
#
#   - a fresh database with `accounts` (ROWS rows, default 1,000,000) and
#     `customers`;
#   - bench/app_load.rs reading and updating random accounts from 4
#     connections, waiting as long as the server makes it (no lock timeout);
#   - a session that reads `accounts` in a transaction held open for
#     HOLD seconds (default 20), as a report or a forgotten console would;
#   - one second in, the tool applies three migrations: a column with a
#     default, a foreign key, an index.
#
# For each tool: the longest any application query waited (the worst
# stall), how many failed, p99, and how long the migration took. strata's
# migration waits at most its lock timeout (5 s) at a time, then rolls back
# and retries, so queries queued behind it go on; the others wait for the
# lock as long as it takes, and every query on the table waits behind them.
#
#   bash bench/live_traffic.sh [ROWS] [HOLD]
#   BENCH_TOOLS="strata flyway" bash bench/live_traffic.sh   (a subset)
#
# Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
HOLD=${2:-20}
CLIENTS=4

# shellcheck source=tests/support/tools.sh
source tests/support/tools.sh
# shellcheck source=tests/support/pg.sh
source tests/support/pg.sh
cargo build --quiet --release --bin migrate --example app_load
target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
strata=$target/release/migrate
load=$target/release/examples/app_load
sqlx=$(install_sqlx)
dbmate=$(install_dbmate)
flyway=$(install_flyway)
work=$(mktemp -d)
cleanup() { pg_stop; rm -rf "$work"; }
trap cleanup EXIT
pg_start
admin=$STRATA_TEST_PG_URL
base=${admin%/postgres}
psql=$(pg_bindir)/psql
userinfo=${admin#postgres://}; userinfo=${userinfo%%@*}
user=${userinfo%%:*}; password=${userinfo#*:}
hostport=${base#*@}

# The three migrations, one file each, in every tool's layout.
M1="ALTER TABLE accounts ADD COLUMN flagged boolean NOT NULL DEFAULT false;"
M2="ALTER TABLE accounts ADD CONSTRAINT accounts_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);"
M3="CREATE INDEX accounts_note ON accounts (note);"
layout() { # tool dir
  local tool=$1 dir=$2 i=0
  mkdir -p "$dir"
  for m in "$M1" "$M2" "$M3"; do
    i=$((i + 1))
    case $tool in
      strata|flyway) echo "$m" > "$dir/V${i}__step_$i.sql" ;;
      sqlx) echo "$m" > "$dir/${i}_step_$i.sql" ;;
      dbmate) printf -- '-- migrate:up\n%s\n\n-- migrate:down\n' "$m" > "$dir/${i}_step_$i.sql" ;;
    esac
  done
}

run_tool() { # tool db dir
  local tool=$1 db=$2 dir=$3 url="$base/$2"
  case $tool in
    strata) "$strata" --database-url "$url" --migrations "$dir" --rollbacks "$dir-none" up ;;
    sqlx) "$sqlx" migrate run --source "$dir" --database-url "$url" ;;
    dbmate) $dbmate --url "$url?sslmode=disable" --migrations-dir "$dir" --no-dump-schema up ;;
    flyway) $flyway "-url=jdbc:postgresql://$hostport/$db" "-user=$user" "-password=$password" \
              "-locations=filesystem:$dir" -baselineOnMigrate=true -baselineVersion=0 migrate ;;
  esac
}

echo "| tool | worst application stall | failed queries | p99 | queries | migration took |"
echo "|---|---|---|---|---|---|"
for tool in ${BENCH_TOOLS:-strata sqlx dbmate flyway}; do
  bin_var=$tool
  case $tool in sqlx) bin_var=$sqlx ;; dbmate) bin_var=$dbmate ;; flyway) bin_var=$flyway ;; *) bin_var=$strata ;; esac
  if [[ "$bin_var" == unavailable* ]]; then
    echo "| $tool | $bin_var | | | | |"
    continue
  fi
  db="live_$tool"
  "$psql" -q -X "$admin" -c "CREATE DATABASE $db" >/dev/null
  "$psql" -q -X "$base/$db" >/dev/null <<SQL
CREATE TABLE customers (id bigint PRIMARY KEY);
INSERT INTO customers SELECT g FROM generate_series(1, 1000) g;
CREATE TABLE accounts (id bigint PRIMARY KEY, customer_id bigint NOT NULL, n int NOT NULL DEFAULT 0, note text);
INSERT INTO accounts SELECT g, 1 + g % 1000, 0, md5(g::text) FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE accounts;
SQL
  dir="$work/$tool"
  layout "$tool" "$dir"
  rm -f "$work/ready" "$work/stop"
  "$load" "$base/$db" "$CLIENTS" "$ROWS" "$work/ready" "$work/stop" > "$work/load.out" &
  load_pid=$!
  until [ -f "$work/ready" ]; do sleep 0.05; done
  sleep 1
  "$psql" -q -X "$base/$db" -c "SET application_name = 'report'" \
    -c "BEGIN; SELECT count(*) FROM accounts WHERE id < 100; SELECT pg_sleep($HOLD); COMMIT;" \
    >/dev/null &
  holder_pid=$!
  sleep 1
  started=$(date +%s.%N)
  if ! run_tool "$tool" "$db" "$dir" > "$work/$tool.log" 2>&1; then
    echo "($tool failed:)" >&2
    tail -n 20 "$work/$tool.log" | sed 's/^/    /' >&2
  fi
  ended=$(date +%s.%N)
  wait "$holder_pid"
  sleep 1
  touch "$work/stop"
  wait "$load_pid"
  read -r ok failed p50 p99 max < "$work/load.out"
  took=$(python3 -c "print(f'{$ended - $started:.1f} s')")
  printf '| %s | %.2f s | %s | %.1f ms | %s | %s |\n' "$tool" \
    "$(python3 -c "print($max / 1e6)")" "$failed" "$(python3 -c "print($p99 / 1e3)")" "$ok" "$took"
  if [ "$tool" = strata ]; then sed -n '1,12p' "$work/$tool.log" | sed 's/^/    /' >&2; fi
done
