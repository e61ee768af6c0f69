#!/usr/bin/env bash
# Partition maintenance: strata vs pg_partman's run_maintenance(), side by
# side on one throwaway PostgreSQL, each while an insert load runs.
#
#   bash bench/partitions.sh [TABLES] [MONTHS] [RUNS]    (default 50 24 3)
#
# For each tool and run: a fresh database with TABLES monthly-partitioned
# tables holding only the current month (plus what pg_partman's create_parent
# makes), then one maintenance pass that creates MONTHS future partitions
# per table, timed, while bench/insert_load.rs inserts into random tables;
# then the same pass again with nothing left to do (the steady state).
# Prints medians and the ratio. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
TABLES=${1:-50}
MONTHS=${2:-24}
RUNS=${3:-3}

# shellcheck source=tests/support/pg.sh
source tests/support/pg.sh
major=$( (pg_install && basename "$(dirname "$(pg_bindir)")") )
if [ ! -f "/usr/share/postgresql/$major/extension/pg_partman.control" ]; then
  echo "installing pg_partman (postgresql-$major-partman) from Debian's packages" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "postgresql-$major-partman" >&2 \
    || { echo "pg_partman: could not be installed; only strata will be measured" >&2; }
fi
have_partman=0
[ -f "/usr/share/postgresql/$major/extension/pg_partman.control" ] && have_partman=1

cargo build --quiet --release --bin migrate --example insert_load
migrate=target/release/migrate
load=target/release/examples/insert_load

trap pg_stop EXIT
pg_start
admin=$STRATA_TEST_PG_URL
base=${admin%/postgres}
work=$(mktemp -d)
trap 'pg_stop; rm -rf "$work"' EXIT

create_tables() { # db
  {
    for i in $(seq 1 "$TABLES"); do
      echo "CREATE TABLE t$i (id bigserial, payload text, created_at timestamptz NOT NULL DEFAULT now(),"
      echo "  PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at);"
      echo "CREATE INDEX t${i}_created_idx ON t$i (created_at);"
    done
  } | psql -q -X "$base/$1" >/dev/null
}

children() { # db
  psql -X -tA "$base/$1" -c "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relkind = 'r'"
}

strata_config() { # db premake
  {
    printf '[databases.b]\nkind = "postgres"\nurl = "%s"\nmigrations = "%s"\n' "$base/$1" "$work"
    for i in $(seq 1 "$TABLES"); do
      printf '[[partitions]]\ndatabase = "b"\ntable = "t%s"\npremake = %s\n' "$i" "$2"
    done
  } > "$work/migrate.toml"
}

# Runs "$@" while the insert load runs; prints "seconds max_rss_kb ok failed p50 p99 max".
under_load() { # db cmd...
  local db=$1; shift
  rm -f "$work/ready" "$work/stop"
  "$load" "$base/$db" "$TABLES" "$work/ready" "$work/stop" > "$work/load.out" &
  local pid=$!
  for _ in $(seq 1 600); do [ -f "$work/ready" ] && break; sleep 0.05; done
  [ -f "$work/ready" ] || { echo "the insert load never started" >&2; exit 1; }
  /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >/dev/null
  touch "$work/stop"
  wait "$pid"
  echo "$(cat "$work/time.out") $(cat "$work/load.out")"
}

run_strata() { # run -> line
  local db="s$1"
  psql -q -X "$admin" -c "CREATE DATABASE $db"
  create_tables "$db"
  strata_config "$db" 0
  "$migrate" --config "$work/migrate.toml" partitions run >/dev/null
  local before; before=$(children "$db")
  strata_config "$db" "$MONTHS"
  local line; line=$(under_load "$db" "$migrate" --config "$work/migrate.toml" partitions run)
  echo "$line $(( $(children "$db") - before )) $(idle "$migrate" --config "$work/migrate.toml" partitions run)"
}

run_partman() { # run -> line
  local db="p$1"
  psql -q -X "$admin" -c "CREATE DATABASE $db"
  create_tables "$db"
  psql -q -X "$base/$db" -c "CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman" >/dev/null
  for i in $(seq 1 "$TABLES"); do
    echo "SELECT partman.create_parent('public.t$i', 'created_at', 'native', 'monthly', p_premake := 1);"
  done | psql -q -X "$base/$db" >/dev/null
  psql -q -X "$base/$db" -c "UPDATE partman.part_config SET premake = $MONTHS" >/dev/null
  local before; before=$(children "$db")
  local line; line=$(under_load "$db" psql -q -X "$base/$db" -c "SELECT partman.run_maintenance(p_analyze := false)")
  echo "$line $(( $(children "$db") - before )) $(idle psql -q -X "$base/$db" -c "SELECT partman.run_maintenance(p_analyze := false)")"
}

# The steady state: the same pass again, with nothing left to do (the
# daemon's every cycle). Prints its seconds.
idle() { # cmd...
  /usr/bin/time -f "%e" -o "$work/idle.out" "$@" >/dev/null
  cat "$work/idle.out"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A results
for tool in strata partman; do
  [ "$tool" = partman ] && [ "$have_partman" = 0 ] && continue
  : > "$work/$tool.lines"
  for r in $(seq 1 "$RUNS"); do
    "run_$tool" "$r" >> "$work/$tool.lines"
  done
  # columns: seconds rss ok failed p50 p99 max created idle-seconds
  for c in 1 2 3 4 5 6 7 8 9; do
    results[$tool,$c]=$(awk -v c=$c '{print $c}' "$work/$tool.lines" | median)
  done
done

echo
echo "Partition maintenance: $TABLES tables, $MONTHS months ahead each, median of $RUNS runs, PostgreSQL $major"
printf '%-10s %9s %9s %11s %9s %9s %9s %9s %9s %9s\n' tool seconds created "max RSS kB" inserts failed "p50 µs" "p99 µs" "max µs" "idle s"
for tool in strata partman; do
  if [ "$tool" = partman ] && [ "$have_partman" = 0 ]; then
    echo "partman    not installed (postgresql-$major-partman unavailable)"; continue
  fi
  if ! [[ ${results[$tool,2]} =~ ^[0-9]+$ ]]; then
    # /usr/bin/time's "Command exited with non-zero status" took the line.
    echo "$tool    failed after ${results[$tool,1]} s (its error is above)"; failed_tool=1; continue
  fi
  printf '%-10s %9s %9s %11s %9s %9s %9s %9s %9s %9s\n' "$tool" "${results[$tool,1]}" "${results[$tool,8]}" \
    "${results[$tool,2]}" "${results[$tool,3]}" "${results[$tool,4]}" "${results[$tool,5]}" "${results[$tool,6]}" "${results[$tool,7]}" \
    "${results[$tool,9]}"
done
if [ "$have_partman" = 1 ] && [ -z "${failed_tool:-}" ]; then
  awk -v s="${results[strata,1]}" -v p="${results[partman,1]}" -v s99="${results[strata,6]}" -v p99="${results[partman,6]}" \
    'BEGIN { printf "ratio strata/partman: time %.2f, insert p99 %.2f (below 1: strata is better)\n", s/p, s99/p99 }'
fi
echo "(max RSS of pg_partman is psql's; its work runs inside the server; idle s: the same pass again with nothing to do, as a daemon's every cycle)"

# --- Moving DEFAULT-partition rows under load ---------------------------
# One monthly table whose DEFAULT partition holds MOVE_ROWS rows for the
# month after next; four writers (two into that month, so into the
# DEFAULT partition until it is moved, two into the current month). Each
# tool then creates that month's partition with the rows moved into it:
# strata `partitions run --move-default-rows`, pg_partman
# `partition_data_proc`. Reports time, failed inserts, the longest insert
# stall and whether every row is still there exactly once.
MOVE_ROWS=${MOVE_ROWS:-100000}

move_setup() { # db
  psql -q -X "$admin" -c "CREATE DATABASE $1"
  psql -q -X "$base/$1" >/dev/null <<SQL
CREATE TABLE t1 (id bigserial, payload text, created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at);
SQL
}

move_rows() { # db
  psql -q -X "$base/$1" -c "INSERT INTO t1 (payload, created_at) SELECT 'old', \
    date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '2 months' \
    + (g % 40000) * interval '1 minute' FROM generate_series(1, $MOVE_ROWS) g" >/dev/null
}

# Runs "$@" beside four writers; prints "seconds ok failed max_us conserved
# outcome" (outcome: done, or error when the tool itself failed).
move_under_load() { # db cmd...
  local db=$1; shift
  local later
  later=$(psql -X -tA "$base/$db" -c "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months 9 days', 'YYYY-MM-DD\"T\"12:00:00\"Z\"')")
  local before; before=$(psql -X -tA "$base/$db" -c "SELECT count(*) FROM t1")
  rm -f "$work"/ready.* "$work/stop"
  local pids=()
  for w in 1 2 3 4; do
    if [ $((w % 2)) = 0 ]; then
      "$load" "$base/$db" 1 "$work/ready.$w" "$work/stop" "$later" > "$work/mover.$w" &
    else
      "$load" "$base/$db" 1 "$work/ready.$w" "$work/stop" > "$work/mover.$w" &
    fi
    pids+=($!)
  done
  for w in 1 2 3 4; do
    for _ in $(seq 1 600); do [ -f "$work/ready.$w" ] && break; sleep 0.05; done
  done
  local started; started=$(date +%s.%N)
  local outcome=done
  "$@" >/dev/null 2>"$work/move.err" || outcome=error
  local seconds; seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  sleep 0.2
  touch "$work/stop"
  wait "${pids[@]}"
  local ok failed max
  ok=$(cat "$work"/mover.* | awk '{s+=$1} END {print s}')
  failed=$(cat "$work"/mover.* | awk '{s+=$2} END {print s}')
  max=$(cat "$work"/mover.* | awk '$5>m {m=$5} END {print m}')
  local after; after=$(psql -X -tA "$base/$db" -c "SELECT count(*) FROM t1")
  local stray; stray=$(psql -X -tA "$base/$db" -c "SELECT count(*) FROM t1_default")
  local conserved=no moved=no
  [ "$after" = $((before + ok)) ] && conserved=yes
  [ "$stray" = 0 ] && moved=yes
  if [ "$outcome" = error ]; then
    echo "$(head -n 1 "$work/move.err")" >&2
  fi
  printf '%.2f %s %s %s %s %s %s\n' "$seconds" "$ok" "$failed" "$max" "$conserved" "$moved" "$outcome"
}

move_strata() { # run -> line
  local db="ms$1"
  move_setup "$db"
  psql -q -X "$base/$db" -c "CREATE TABLE t1_default PARTITION OF t1 DEFAULT" >/dev/null
  printf '[databases.b]\nkind = "postgres"\nurl = "%s"\nmigrations = "%s"\n[[partitions]]\ndatabase = "b"\ntable = "t1"\npremake = 1\n' \
    "$base/$db" "$work" > "$work/migrate.toml"
  "$migrate" --config "$work/migrate.toml" partitions run >/dev/null
  move_rows "$db"
  printf '[databases.b]\nkind = "postgres"\nurl = "%s"\nmigrations = "%s"\n[[partitions]]\ndatabase = "b"\ntable = "t1"\npremake = 2\n' \
    "$base/$db" "$work" > "$work/migrate.toml"
  move_under_load "$db" "$migrate" --config "$work/migrate.toml" partitions run --move-default-rows
}

move_partman() { # run -> line
  local db="mp$1"
  move_setup "$db"
  psql -q -X "$base/$db" >/dev/null <<SQL
CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman;
SELECT partman.create_parent('public.t1', 'created_at', 'native', 'monthly', p_premake := 1);
SQL
  move_rows "$db"
  move_under_load "$db" psql -q -X "$base/$db" -c "CALL partman.partition_data_proc('public.t1', p_wait := 0, p_quiet := true)"
}

for tool in strata partman; do
  [ "$tool" = partman ] && [ "$have_partman" = 0 ] && continue
  : > "$work/move.$tool"
  for r in $(seq 1 "$RUNS"); do "move_$tool" "$r" >> "$work/move.$tool"; done
done
echo
echo "Moving $MOVE_ROWS DEFAULT-partition rows into a new partition beside 4 writers, median of $RUNS runs"
printf '%-10s %9s %9s %9s %13s %10s %10s %12s\n' tool seconds inserts failed "max stall µs" conserved "all moved" "tool runs"
for tool in strata partman; do
  if [ "$tool" = partman ] && [ "$have_partman" = 0 ]; then continue; fi
  printf '%-10s %9s %9s %9s %13s %10s %10s %12s\n' "$tool" \
    "$(awk '{print $1}' "$work/move.$tool" | median)" "$(awk '{print $2}' "$work/move.$tool" | median)" \
    "$(awk '{print $3}' "$work/move.$tool" | median)" "$(awk '{print $4}' "$work/move.$tool" | median)" \
    "$(awk '{print $5}' "$work/move.$tool" | sort | uniq -c | awk '{printf "%s%s×%s", (NR>1?" ":""), $1, $2}')" \
    "$(awk '{print $6}' "$work/move.$tool" | sort | uniq -c | awk '{printf "%s%s×%s", (NR>1?" ":""), $1, $2}')" \
    "$(awk '{print $7}' "$work/move.$tool" | sort | uniq -c | awk '{printf "%s%s×%s", (NR>1?" ":""), $1, $2}')"
done
