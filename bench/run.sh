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
SQLX_VERSION=0.9.0
REFINERY_VERSION=0.10.0
DBMATE_VERSION=2.36.0
# The newest Flyway whose command-line bundle (with its own JRE and curated
# libraries) is on Maven Central; later releases there miss dependencies.
FLYWAY_VERSION=10.21.0
TOOLS="${STRATA_CACHE_DIR:-$HOME/.cache/strata}/bench"
mkdir -p "$TOOLS"
log="$TOOLS/install.log"

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo -n"

# Each installer prints the command to run, or "unavailable: <why>".
install_sqlx() {
  local bin="$TOOLS/sqlx-$SQLX_VERSION/bin/sqlx"
  if [ ! -x "$bin" ]; then
    echo "installing sqlx-cli $SQLX_VERSION from crates.io (once; a few minutes)" >&2
    cargo install -q sqlx-cli --version "$SQLX_VERSION" --locked --no-default-features \
      --features postgres,rustls --root "$TOOLS/sqlx-$SQLX_VERSION" >>"$log" 2>&1 \
      || { echo "unavailable: cargo install sqlx-cli failed (see $log)"; return; }
  fi
  echo "$bin"
}

install_refinery() {
  local bin="$TOOLS/refinery-$REFINERY_VERSION/bin/refinery"
  if [ ! -x "$bin" ]; then
    echo "installing refinery_cli $REFINERY_VERSION from crates.io (once; a few minutes)" >&2
    if ! dpkg -s libssl-dev pkg-config >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libssl-dev pkg-config >>"$log" 2>&1 || true
    fi
    cargo install -q refinery_cli --version "$REFINERY_VERSION" --locked --no-default-features \
      --features postgresql --root "$TOOLS/refinery-$REFINERY_VERSION" >>"$log" 2>&1 \
      || { echo "unavailable: cargo install refinery_cli failed (see $log)"; return; }
  fi
  echo "$bin"
}

install_dbmate() {
  local dir="$TOOLS/dbmate-$DBMATE_VERSION"
  # The npm package's native binary, run directly: `npx dbmate` would add
  # Node's start-up to every run.
  local bin="$dir/node_modules/@dbmate/linux-x64/bin/dbmate"
  if [ ! -x "$bin" ]; then
    echo "installing dbmate $DBMATE_VERSION from npm (once)" >&2
    command -v npm >/dev/null || { echo "unavailable: npm is not installed"; return; }
    npm install --silent --prefix "$dir" "dbmate@$DBMATE_VERSION" >>"$log" 2>&1 \
      || { echo "unavailable: npm install dbmate failed (see $log)"; return; }
  fi
  [ -x "$bin" ] || { echo "unavailable: the dbmate npm package has no linux-x64 binary here"; return; }
  echo "$bin"
}

install_flyway() {
  local dir="$TOOLS/flyway-$FLYWAY_VERSION"
  local bin="$dir/flyway-$FLYWAY_VERSION/flyway"
  if [ ! -x "$bin" ]; then
    echo "fetching Flyway $FLYWAY_VERSION (linux-x64 bundle, about 240 MB) from Maven Central (once)" >&2
    command -v mvn >/dev/null || { echo "unavailable: fetching Flyway needs mvn"; return; }
    rm -rf "$dir"
    mkdir -p "$dir"
    mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
      -Dartifact="org.flywaydb:flyway-commandline:$FLYWAY_VERSION:tar.gz:linux-x64" \
      -DoutputDirectory="$dir" >>"$log" 2>&1 \
      || { echo "unavailable: fetching Flyway from Maven Central failed (see $log)"; return; }
    tar -xzf "$dir/flyway-commandline-$FLYWAY_VERSION-linux-x64.tar.gz" -C "$dir" \
      && rm -f "$dir/flyway-commandline-$FLYWAY_VERSION-linux-x64.tar.gz" \
      || { echo "unavailable: unpacking Flyway failed"; return; }
  fi
  echo "$bin"
}

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
