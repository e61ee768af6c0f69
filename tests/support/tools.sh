# shellcheck shell=bash
# The migration tools strata is compared with (bench/) and takes over from
# (tests/import.rs), installed once from the package registries into the
# cache folder: sqlx-cli and refinery_cli from crates.io, dbmate from npm,
# Flyway from Maven Central, golang-migrate from the Go module proxy; and
# what the suite itself needs: mdBook (crates.io) for the book, and an
# OpenTelemetry Collector (the Go module proxy) for tests/otel.rs.
#
# Each installer prints the command to run, or "unavailable: <why>"; the
# install log is $TOOLS/install.log.
# shellcheck source=tests/support/cache.sh
source "$(dirname "${BASH_SOURCE[0]}")/cache.sh"

SQLX_VERSION=0.9.0
REFINERY_VERSION=0.10.0
DBMATE_VERSION=2.36.0
# The newest Flyway whose command-line bundle (with its own JRE and curated
# libraries) is on Maven Central; later releases there miss dependencies.
FLYWAY_VERSION=10.21.0
GOLANG_MIGRATE_VERSION=v4.19.1
TOOLS="$(strata_cache_dir)/tools"
mkdir -p "$TOOLS"
log="$TOOLS/install.log"

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo -n"

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

# mdBook, which builds the book in docs/ (tests/support/book.sh): from
# crates.io with cargo install, without the live-reload server.
MDBOOK_VERSION=0.5.4
install_mdbook() {
  local dir="$TOOLS/mdbook-$MDBOOK_VERSION"
  if [ ! -x "$dir/bin/mdbook" ]; then
    echo "installing mdBook $MDBOOK_VERSION with cargo (once)" >&2
    cargo install --quiet --locked --root "$dir" --version "$MDBOOK_VERSION" \
      --no-default-features --features search mdbook >>"$log" 2>&1 \
      || { echo "unavailable: cargo install mdbook failed (see $log)"; return; }
  fi
  echo "$dir/bin/mdbook"
}

# The OpenTelemetry Collector of tests/otel.rs: tests/support/otelcol (the
# official collector modules at one release, pinned by its go.sum) built
# with go install, once per version of that folder. Unlike the tools
# above, a collector that cannot be built fails the telemetry tests.
install_otelcol() {
  local src stamp dir
  src="$(cd "$(dirname "${BASH_SOURCE[0]}")/otelcol" && pwd)"
  stamp=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
  dir="$TOOLS/otelcol-$stamp"
  if [ ! -x "$dir/otelcol" ]; then
    echo "building the OpenTelemetry Collector from the Go module proxy (once)" >&2
    command -v go >/dev/null || { echo "unavailable: go is not installed"; return; }
    (cd "$src" && GOBIN="$dir" GOFLAGS=-buildvcs=false go install .) >>"$log" 2>&1 \
      || { echo "unavailable: go install of the collector failed (see $log)"; return; }
  fi
  echo "$dir/otelcol"
}

install_golang_migrate() {
  local dir="$TOOLS/golang-migrate-$GOLANG_MIGRATE_VERSION"
  local bin="$dir/migrate"
  if [ ! -x "$bin" ]; then
    echo "installing golang-migrate $GOLANG_MIGRATE_VERSION from the Go module proxy (once)" >&2
    command -v go >/dev/null || { echo "unavailable: go is not installed"; return; }
    # Only the PostgreSQL driver and the file source: the tool's build tags.
    GOBIN="$dir" go install -tags 'postgres' \
      "github.com/golang-migrate/migrate/v4/cmd/migrate@$GOLANG_MIGRATE_VERSION" >>"$log" 2>&1 \
      || { echo "unavailable: go install golang-migrate failed (see $log)"; return; }
  fi
  echo "$bin"
}
