#!/usr/bin/env bash
# Partition maintenance: strata vs pg_partman, side by side on one
# throwaway PostgreSQL, each while an insert load runs.
#
#   bash bench/partitions.sh [TABLES] [MONTHS] [RUNS]    (default 50 24 3)
#   PHASES="create retire move" (default: all three)
#   TOOLS="strata partman partman_proc" (default: all three; move runs strata and partman)
#
# create: for each tool and run, a fresh database with TABLES
#   monthly-partitioned tables holding only the current month (plus what
#   pg_partman's create_parent makes), then one maintenance pass that
#   creates MONTHS future partitions per table, timed, while
#   bench/insert_load.rs inserts into random tables; then the same pass
#   again with nothing left to do (the steady state, a daemon's every cycle).
# retire: TABLES tables each holding the 13 past months, the current one
#   and the next; one pass with a retention of one month drops 12
#   partitions per table, under the same insert load.
# move: DEFAULT-partition rows moved into a new partition (below).
#
# pg_partman runs twice: run_maintenance(), one transaction for every
# table, and run_maintenance_proc(), a procedure committing after each
# table. Statements are counted with pg_stat_statements (nested ones too,
# so the queries inside pg_partman's functions count like strata's);
# "catalog" counts those reading the system catalogs. Prints medians.
# Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
TABLES=${1:-50}
MONTHS=${2:-24}
RUNS=${3:-3}
PHASES=${PHASES:-create retire move}

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
tools="strata"
[ "$have_partman" = 1 ] && tools="strata partman partman_proc"
tools=${TOOLS:-$tools}

cargo build --quiet --release --bin migrate --example insert_load
migrate=target/release/migrate
load=target/release/examples/insert_load

# BENCH_PG_SETTINGS adds server settings; BENCH_SERVER_LOG keeps the
# server's log there (say, with `-c log_lock_waits=on`, to see who held
# a writer up).
export STRATA_PG_SETTINGS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_utility=off -c pg_stat_statements.max=20000 ${BENCH_PG_SETTINGS:-}"
trap pg_stop EXIT
pg_start
admin=$STRATA_TEST_PG_URL
base=${admin%/postgres}
work=$(mktemp -d)
trap '[ -z "${BENCH_SERVER_LOG:-}" ] || cp "$PG_TMP/server.log" "$BENCH_SERVER_LOG"; pg_stop; rm -rf "$work"' EXIT
psql -q -X "$admin" -c "CREATE EXTENSION pg_stat_statements"

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

strata_config() { # db premake [retention]
  {
    printf '[databases.b]\nkind = "postgres"\nurl = "%s"\nmigrations = "%s"\n' "$base/$1" "$work"
    for i in $(seq 1 "$TABLES"); do
      printf '[[partitions]]\ndatabase = "b"\ntable = "t%s"\npremake = %s\n' "$i" "$2"
      if [ -n "${3:-}" ]; then printf 'retention = "%s"\n' "$3"; fi
    done
  } > "$work/migrate.toml"
}

# Statements the tool ran in database $1 since the last reset:
# "all catalog", the insert load's own left out.
statements() { # db
  psql -X -tA -F ' ' "$admin" -c "SELECT coalesce(sum(calls), 0),
      coalesce(sum(calls) FILTER (WHERE query ~ 'pg_(catalog|class|inherits|namespace|attribute|constraint|index|partitioned_table|get_expr|tables|depend|type|locks|stat_activity|proc)|information_schema|regclass'), 0)
    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
    WHERE d.datname = '$1' AND s.query !~ '^(INSERT INTO t[0-9]+ \\(payload|SET lock_timeout)'"
}
reset_statements() { psql -q -X -tA "$admin" -c "SELECT pg_stat_statements_reset()" >/dev/null; }

# Runs "$@" while the insert load runs; prints "seconds max_rss_kb ok
# failed p50 p99 max statements catalog".
under_load() { # db cmd...
  local db=$1; shift
  rm -f "$work/ready" "$work/stop"
  "$load" "$base/$db" "$TABLES" "$work/ready" "$work/stop" > "$work/load.out" &
  local pid=$!
  for _ in $(seq 1 600); do [ -f "$work/ready" ] && break; sleep 0.05; done
  [ -f "$work/ready" ] || { echo "the insert load never started" >&2; exit 1; }
  reset_statements
  /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >/dev/null || true
  local counted; counted=$(statements "$db")
  touch "$work/stop"
  wait "$pid"
  # A failed tool: /usr/bin/time's "Command exited with non-zero status"
  # line comes first; keep its figures, mark the RSS "failed".
  local t; t=$(grep -v '^Command' "$work/time.out")
  grep -q '^Command' "$work/time.out" && t="$(echo "$t" | awk '{print $1}') failed"
  echo "$t $(cat "$work/load.out") $counted"
}

# The steady state: the same pass again, with nothing left to do (the
# daemon's every cycle). Prints "seconds statements catalog".
idle() { # db cmd...
  local db=$1; shift
  reset_statements
  /usr/bin/time -f "%e" -o "$work/idle.out" "$@" >/dev/null
  echo "$(cat "$work/idle.out") $(statements "$db")"
}

# The steady state as strata's daemon lives it: cycles a second apart,
# each looking again only at parents whose children changed. Prints the
# median milliseconds of the cycles after the first (which reads every
# bound), from the daemon's own log.
cycle() {
  timeout -s TERM 8 "$migrate" --config "$work/migrate.toml" -v partitions daemon --every 1s \
    2> "$work/daemon.err" >/dev/null || true
  grep -o 'run finished.* ms=[0-9]*' "$work/daemon.err" | sed 's/.*ms=//' | tail -n +2 | median
}

# Sets PASS to the command of one maintenance pass of a tool.
pass_cmd() { # tool db
  case $1 in
    strata) PASS=("$migrate" --config "$work/migrate.toml" partitions run) ;;
    partman) PASS=(psql -q -X -v ON_ERROR_STOP=1 "$base/$2" -c "SELECT partman.run_maintenance(p_analyze := false)") ;;
    partman_proc) PASS=(psql -q -X -v ON_ERROR_STOP=1 "$base/$2" -c "CALL partman.run_maintenance_proc(p_analyze := false)") ;;
  esac
}

partman_setup() { # db [start]
  psql -q -X "$base/$1" -c "CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman" >/dev/null
  local start=""
  [ -n "${2:-}" ] && start=", p_start_partition := '$2'"
  for i in $(seq 1 "$TABLES"); do
    echo "SELECT partman.create_parent('public.t$i', 'created_at', 'native', 'monthly', p_premake := 1$start);"
  done | psql -q -X "$base/$1" >/dev/null
}

# One creation pass under load, then the idle pass: prints the line
# "seconds rss ok failed p50 p99 max statements catalog created idle
# idle_statements idle_catalog cycle_ms" (cycle_ms: strata's daemon).
create_run() { # tool run
  local tool=$1 db="c${1}_$2"
  psql -q -X "$admin" -c "CREATE DATABASE $db"
  create_tables "$db"
  if [ "$tool" = strata ]; then
    strata_config "$db" 0
    "$migrate" --config "$work/migrate.toml" partitions run >/dev/null
    strata_config "$db" "$MONTHS"
  else
    partman_setup "$db"
    psql -q -X "$base/$db" -c "UPDATE partman.part_config SET premake = $MONTHS" >/dev/null
  fi
  local before; before=$(children "$db")
  pass_cmd "$tool" "$db"
  local line; line=$(under_load "$db" "${PASS[@]}")
  local idle_line="- - -" cycle_ms=-
  [[ $line =~ failed ]] || idle_line=$(idle "$db" "${PASS[@]}")
  [[ $line =~ failed || $tool != strata ]] || cycle_ms=$(cycle)
  echo "$line $(( $(children "$db") - before )) $idle_line $cycle_ms"
}

# One retention pass under load over 13 past months per table: prints
# "seconds rss ok failed p50 p99 max statements catalog dropped".
retire_run() { # tool run
  local tool=$1 db="r${1}_$2"
  psql -q -X "$admin" -c "CREATE DATABASE $db"
  create_tables "$db"
  local first
  first=$(psql -X -tA "$admin" -c "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '13 months', 'YYYY-MM-DD')")
  if [ "$tool" = strata ]; then
    # The past months by hand, named as strata names them; the next one
    # by strata.
    psql -q -X "$base/$db" >/dev/null <<SQL
CREATE FUNCTION past(t text, first date) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE lo date;
BEGIN
  FOR m IN 0..13 LOOP
    lo := first + make_interval(months => m);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
      t || '_' || to_char(lo, 'YYYY_MM'), t, lo::timestamp AT TIME ZONE 'UTC',
      (lo + interval '1 month')::timestamp AT TIME ZONE 'UTC');
  END LOOP;
END \$\$;
SQL
    for i in $(seq 1 "$TABLES"); do echo "SELECT past('t$i', '$first');"; done | psql -q -X "$base/$db" >/dev/null
    strata_config "$db" 1
    "$migrate" --config "$work/migrate.toml" partitions run >/dev/null
    strata_config "$db" 1 "1 month"
  else
    partman_setup "$db" "$first"
    psql -q -X "$base/$db" -c "UPDATE partman.part_config SET retention = '1 month', retention_keep_table = false" >/dev/null
  fi
  local before; before=$(children "$db")
  pass_cmd "$tool" "$db"
  local line; line=$(under_load "$db" "${PASS[@]}")
  echo "$line $(( before - $(children "$db") ))"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
med_col() { awk -v c="$2" '{print $c}' "$1" | median; } # file column -> median

# Prints one tool's medians, or that it failed.
report() { # phase tool columns...
  local f="$work/$1.$2"; shift 2
  if grep -q failed "$f"; then
    printf '%-13s failed after %s s in %s of %s runs (its error is above)\n' "$(basename "$f" | cut -d. -f2)" \
      "$(med_col "$f" 1)" "$(grep -c failed "$f")" "$(wc -l < "$f")"
    return
  fi
  local out; out=$(printf '%-13s' "$(basename "$f" | cut -d. -f2)")
  for c in "$@"; do out="$out $(printf '%10s' "$(med_col "$f" "$c")")"; done
  echo "$out"
}

# Every run of a phase for every tool, one line each in $work/PHASE.TOOL.
runs() { # phase
  for tool in $tools; do
    : > "$work/$1.$tool"
    for r in $(seq 1 "$RUNS"); do "$1_run" "$tool" "$r" >> "$work/$1.$tool"; done
  done
  echo
}

if [[ " $PHASES " == *" create "* ]]; then
  runs create
  echo "Creating: $TABLES tables, $MONTHS months ahead each, median of $RUNS runs, PostgreSQL $major"
  printf '%-13s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s\n' tool seconds created "max RSS kB" \
    inserts failed "p50 µs" "p99 µs" "max µs" statements catalog "idle s" "idle stmts" "cycle ms"
  for tool in $tools; do report create "$tool" 1 10 2 3 4 5 6 7 8 9 11 12 14; done
  echo "(max RSS of pg_partman is psql's: its work runs inside the server; idle: the same pass again with nothing to do;"
  echo " cycle: strata's daemon, median of its cycles after the first; pg_partman's background worker runs its idle pass)"
fi

if [[ " $PHASES " == *" retire "* ]]; then
  runs retire
  echo "Retiring: $TABLES tables, 12 expired months each dropped, median of $RUNS runs, PostgreSQL $major"
  printf '%-13s %10s %10s %10s %10s %10s %10s %10s %10s %10s\n' tool seconds dropped inserts failed \
    "p50 µs" "p99 µs" "max µs" statements catalog
  for tool in $tools; do report retire "$tool" 1 10 3 4 5 6 7 8 9; done
fi

[[ " $PHASES " == *" move "* ]] || exit 0

# --- Moving DEFAULT-partition rows under load ---------------------------
# One monthly table whose DEFAULT partition holds MOVE_ROWS rows for the
# month after next; four writers (two into that month, so into the
# DEFAULT partition until it is moved, two into the current month), and a
# reader counting that month's rows through the parent over and over.
# Each tool then creates that month's partition with the rows moved into
# it: strata `partitions run --move-default-rows`, pg_partman
# `partition_data_proc`. Reports time, rows per second, failed inserts,
# the longest insert stall, WAL written (the writers' included), the
# fewest of the MOVE_ROWS stray rows the reader saw through the parent
# (below MOVE_ROWS: rows were invisible while they moved), and whether
# every row is still there exactly once.
MOVE_ROWS=${MOVE_ROWS:-100000}

move_setup() { # db
  psql -q -X "$admin" -c "CREATE DATABASE $1"
  psql -q -X "$base/$1" >/dev/null <<SQL
CREATE TABLE t1 (id bigserial, payload text, created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at);
SQL
}

# The month after next, as "lo|hi" timestamps.
move_month() {
  psql -X -tA "$admin" -c "SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '2 months', \
    date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '3 months'"
}

move_rows() { # db
  psql -q -X "$base/$1" -c "INSERT INTO t1 (payload, created_at) SELECT 'old', \
    date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '2 months' \
    + (g % 40000) * interval '1 minute' FROM generate_series(1, $MOVE_ROWS) g" >/dev/null
  psql -q -X "$base/$1" -c "VACUUM ANALYZE t1" >/dev/null
}

# Counts the stray rows (payload 'old') through the parent until the stop
# file appears; prints the fewest seen.
watch_month() { # db lo hi
  local fewest=""
  while [ ! -f "$work/stop" ]; do
    local n
    n=$(psql -X -tA "$base/$1" -c "SELECT count(*) FROM t1 WHERE created_at >= '$2' AND created_at < '$3' AND payload = 'old'") || continue
    if [ -z "$fewest" ] || [ "$n" -lt "$fewest" ]; then fewest=$n; fi
    sleep 0.2 # a reader among others, not a second load
  done
  echo "${fewest:-0}"
}

# Runs "$@" beside four writers and the reader; prints "seconds ok failed
# max_us conserved moved outcome wal_bytes fewest" (outcome: done, or
# error when the tool itself failed).
move_under_load() { # db cmd...
  local db=$1; shift
  local later month lo hi
  later=$(psql -X -tA "$base/$db" -c "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months 9 days', 'YYYY-MM-DD\"T\"12:00:00\"Z\"')")
  month=$(move_month); lo=${month%|*}; hi=${month#*|}
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
  watch_month "$db" "$lo" "$hi" > "$work/fewest" &
  local watcher=$!
  local wal_before; wal_before=$(psql -X -tA "$admin" -c "SELECT pg_current_wal_lsn()")
  local started; started=$(date +%s.%N)
  local outcome=done
  "$@" >/dev/null 2>"$work/move.err" || outcome=error
  local seconds; seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  local wal; wal=$(psql -X -tA "$admin" -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$wal_before')::bigint")
  sleep 0.2
  touch "$work/stop"
  wait "${pids[@]}" "$watcher"
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
  printf '%.2f %s %s %s %s %s %s %s %s\n' "$seconds" "$ok" "$failed" "$max" "$conserved" "$moved" "$outcome" \
    "$wal" "$(cat "$work/fewest")"
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

tally() { sort | uniq -c | awk '{printf "%s%s×%s", (NR>1?" ":""), $1, $2}'; }
move_tools="strata"
[ "$have_partman" = 1 ] && move_tools="strata partman"
[ -n "${TOOLS:-}" ] && move_tools=$(echo " $TOOLS " | grep -o -w -e strata -e partman | tr '\n' ' ')
for tool in $move_tools; do
  : > "$work/move.$tool"
  for r in $(seq 1 "$RUNS"); do "move_$tool" "$r" >> "$work/move.$tool"; done
done
echo
echo "Moving $MOVE_ROWS DEFAULT-partition rows into a new partition beside 4 writers, median of $RUNS runs"
printf '%-10s %9s %10s %9s %9s %13s %9s %12s %10s %10s %12s\n' tool seconds "rows/s" inserts failed "max stall µs" \
  "WAL MiB" "fewest seen" conserved "all moved" "tool runs"
for tool in $move_tools; do
  f="$work/move.$tool"
  printf '%-10s %9s %10s %9s %9s %13s %9s %12s %10s %10s %12s\n' "$tool" \
    "$(med_col "$f" 1)" "$(awk -v n="$MOVE_ROWS" '{print int(n / $1)}' "$f" | median)" \
    "$(med_col "$f" 2)" "$(med_col "$f" 3)" "$(med_col "$f" 4)" \
    "$(awk '{printf "%.0f\n", $8 / 1048576}' "$f" | median)" "$(med_col "$f" 9)" \
    "$(awk '{print $5}' "$f" | tally)" "$(awk '{print $6}' "$f" | tally)" "$(awk '{print $7}' "$f" | tally)"
done
