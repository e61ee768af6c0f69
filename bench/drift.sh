#!/usr/bin/env bash
# Drift over a large schema: `migrate drift` against `pg_dump --schema-only`
# on the same database, side by side on one throwaway PostgreSQL.
#
#   bash bench/drift.sh [TABLES] [RUNS]    (default 1000 5)
#
# The schema: TABLES tables of six columns, each with a primary key, a
# CHECK, an index and a foreign key to the table before it, plus a view per
# ten tables. The expected schema is recorded once (`repair
# --accept-drift`), then each tool reads the whole schema RUNS times.
# Prints the median wall time of each, their ratio, and the statements
# strata sent per `drift` (from pg_stat_database's transaction counter:
# every statement strata sends here is its own transaction). Not part of
# the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
TABLES=${1:-1000}
RUNS=${2:-5}

# shellcheck source=tests/support/pg.sh
source tests/support/pg.sh
cargo build --quiet --release --bin migrate
migrate=$PWD/target/release/migrate

work=$(mktemp -d)
trap 'pg_stop; rm -rf "$work"' EXIT
pg_start
admin=$STRATA_TEST_PG_URL
base=${admin%/postgres}
psql -q -X "$admin" -c "CREATE DATABASE drift_bench"
url="$base/drift_bench"
{
  echo "BEGIN;"
  for i in $(seq 1 "$TABLES"); do
    ref=""; [ "$i" -gt 1 ] && ref="REFERENCES t$((i - 1)) (id)"
    echo "CREATE TABLE t$i (id bigint PRIMARY KEY, parent bigint $ref, name text NOT NULL,"
    echo "  email text, score numeric(10,2) DEFAULT 0 CHECK (score >= 0), created timestamptz NOT NULL DEFAULT now());"
    echo "CREATE INDEX t${i}_name ON t$i (lower(name));"
    [ $((i % 10)) = 0 ] && echo "CREATE VIEW v$i AS SELECT id, name FROM t$i WHERE email IS NOT NULL;"
  done
  echo "COMMIT;"
} | psql -q -X "$url" >/dev/null
mkdir -p "$work/migrations"
printf '[databases.b]\nkind = "postgres"\nurl = "%s"\nmigrations = "%s"\n' "$url" "$work/migrations" > "$work/migrate.toml"
(cd "$work" && "$migrate" repair --accept-drift >/dev/null)

objects=$(psql -X -tA "$url" -c "SELECT length(description) - length(replace(description, '\":\"', '')) FROM schema_migrations_schema")
objects=$((objects / 3))

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() { # cmd... -> seconds
  local s e
  s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N)
  echo "$e - $s" | bc
}
xacts() { psql -X -tA "$admin" -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'drift_bench'"; }

strata=() dump=()
before=$(xacts)
for _ in $(seq 1 "$RUNS"); do
  strata+=("$(cd "$work" && timed "$migrate" drift)")
done
sleep 1 # pg_stat_database is updated by each backend as it exits
after=$(xacts)
for _ in $(seq 1 "$RUNS"); do
  dump+=("$(timed pg_dump --schema-only -d "$url" -f /dev/null)")
done
s=$(printf '%s\n' "${strata[@]}" | median)
d=$(printf '%s\n' "${dump[@]}" | median)
echo "schema: $TABLES tables, $objects described objects"
echo "migrate drift:          median ${s}s over $RUNS runs; $(((after - before) / RUNS)) transactions per run"
echo "pg_dump --schema-only:  median ${d}s over $RUNS runs"
echo "ratio strata / pg_dump: $(echo "scale=2; $s / $d" | bc)"
