#!/usr/bin/env bash
# Partition maintenance: strata vs pg_partman's run_maintenance(), side by
# side on one throwaway PostgreSQL, each while an insert load runs.
#
#   bash bench/partitions.sh [TABLES] [MONTHS] [RUNS]    (default 50 24 3)
#
# For each tool and run: a fresh database with TABLES monthly-partitioned
# tables holding only the current month (plus what pg_partman's create_parent
# makes), then one maintenance pass that creates MONTHS future partitions
# per table, timed, while bench/insert_load.rs inserts into random tables.
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
  echo "$line $(( $(children "$db") - before ))"
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
  echo "$line $(( $(children "$db") - before ))"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A results
for tool in strata partman; do
  [ "$tool" = partman ] && [ "$have_partman" = 0 ] && continue
  : > "$work/$tool.lines"
  for r in $(seq 1 "$RUNS"); do
    "run_$tool" "$r" >> "$work/$tool.lines"
  done
  # columns: seconds rss ok failed p50 p99 max created
  for c in 1 2 3 4 5 6 7 8; do
    results[$tool,$c]=$(awk -v c=$c '{print $c}' "$work/$tool.lines" | median)
  done
done

echo
echo "Partition maintenance: $TABLES tables, $MONTHS months ahead each, median of $RUNS runs, PostgreSQL $major"
printf '%-10s %9s %9s %11s %9s %9s %9s %9s %9s\n' tool seconds created "max RSS kB" inserts failed "p50 µs" "p99 µs" "max µs"
for tool in strata partman; do
  if [ "$tool" = partman ] && [ "$have_partman" = 0 ]; then
    echo "partman    not installed (postgresql-$major-partman unavailable)"; continue
  fi
  printf '%-10s %9s %9s %11s %9s %9s %9s %9s %9s\n' "$tool" "${results[$tool,1]}" "${results[$tool,8]}" \
    "${results[$tool,2]}" "${results[$tool,3]}" "${results[$tool,4]}" "${results[$tool,5]}" "${results[$tool,6]}" "${results[$tool,7]}"
done
if [ "$have_partman" = 1 ]; then
  awk -v s="${results[strata,1]}" -v p="${results[partman,1]}" -v s99="${results[strata,6]}" -v p99="${results[partman,6]}" \
    'BEGIN { printf "ratio strata/partman: time %.2f, insert p99 %.2f (below 1: strata is better)\n", s/p, s99/p99 }'
fi
echo "(max RSS of pg_partman is psql's; its work runs inside the server)"
