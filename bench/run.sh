#!/usr/bin/env bash
# Migration benchmarks: strata against the tools users would pick instead
# (sqlx-cli, refinery, dbmate, Flyway) and against the floor (psql), side by
# side on one throwaway PostgreSQL, then partition maintenance against
# pg_partman (bench/partitions.sh).
#
#   bash bench/run.sh [MIGRATIONS] [RUNS]      (default 1000 3)
#   BENCH_SKIP_PARTITIONS=1 bash bench/run.sh  (migrations only)
#
# Peers are installed from the package registries into a cache folder
# (crates.io for sqlx-cli and refinery, npm for dbmate, Maven Central for
# Flyway; Debian's packages for what they need to build); a peer that cannot
# be installed is reported as such in the table, never silently dropped.
# Prints a Markdown table of medians with ratios to strata. Not part of the
# test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
RUNS=${2:-3}
# shellcheck source=tests/support/tools.sh
source tests/support/tools.sh

# shellcheck source=tests/support/pg.sh
source tests/support/pg.sh
pg_install

cargo build --quiet --release --bin migrate --example bench_migrations
BENCH_STRATA="$PWD/target/release/migrate"
BENCH_SQLX=$(install_sqlx)
BENCH_REFINERY=$(install_refinery)
BENCH_DBMATE=$(install_dbmate)
BENCH_FLYWAY=$(install_flyway)
BENCH_PSQL=psql
export BENCH_STRATA BENCH_SQLX BENCH_REFINERY BENCH_DBMATE BENCH_FLYWAY BENCH_PSQL

work=$(mktemp -d)
trap 'pg_stop; rm -rf "$work"' EXIT
pg_start
export BENCH_ADMIN_URL="$STRATA_TEST_PG_URL" BENCH_WORK="$work" BENCH_N="$N" BENCH_RUNS="$RUNS"
# Flyway would otherwise try to report telemetry to the internet.
export REDGATE_DISABLE_TELEMETRY=true

echo "## Migrations"
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), PostgreSQL $("$(pg_bindir)/postgres" --version | awk '{print $3}') on 127.0.0.1"
echo
target/release/examples/bench_migrations
pg_stop

if [ -z "${BENCH_SKIP_PARTITIONS:-}" ]; then
  echo
  echo "## Partition maintenance"
  echo
  bash bench/partitions.sh
fi
