#!/usr/bin/env bash
# What embedding strata costs a service, next to sqlx's own `migrate!`:
# two minimal services that apply ./migrations at start-up against
# DATABASE_URL (one on strata with only the `postgres` and `tls-rustls`
# features, one on sqlx 0.9 with `migrate` and rustls), each built cold in
# release mode in its own target folder. Prints the crates each links, the
# cold build time and the stripped binary size, with ratios.
#
#   bash bench/footprint.sh
#
# Needs crates.io (the downloads are cached by cargo). Not part of the test
# suite.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d -t strata-footprint.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/migrations"
echo "CREATE TABLE widgets (id bigint PRIMARY KEY);" > "$work/migrations/V1__widgets.sql"
cp "$work/migrations/V1__widgets.sql" "$work/migrations/1_widgets.sql"

# The strata service: the embedded folder is named like the database.
mkdir -p "$work/strata-service/src" "$work/strata-service/migrations/app"
cp "$work/migrations/V1__widgets.sql" "$work/strata-service/migrations/app/"
cat > "$work/strata-service/Cargo.toml" <<TOML
[package]
name = "strata-service"
version = "0.1.0"
edition = "2024"

[dependencies]
strata = { path = "$repo", default-features = false, features = ["postgres", "tls-rustls"] }
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }

[workspace]
TOML
cat > "$work/strata-service/src/main.rs" <<'RS'
static MIGRATIONS: strata::Embedded = strata::embed!("migrations");

#[tokio::main]
async fn main() -> Result<(), strata::Error> {
    let url = std::env::var("DATABASE_URL").unwrap_or_default();
    let config = strata::Config::default().with_database("app", strata::Kind::Postgres, url)?;
    strata::Migrator::from_embedded(&MIGRATIONS, &config)?.up().await?;
    Ok(())
}
RS

# The same service on sqlx.
mkdir -p "$work/sqlx-service/src" "$work/sqlx-service/migrations"
cp "$work/migrations/1_widgets.sql" "$work/sqlx-service/migrations/"
cat > "$work/sqlx-service/Cargo.toml" <<'TOML'
[package]
name = "sqlx-service"
version = "0.1.0"
edition = "2024"

[dependencies]
sqlx = { version = "0.9.0", default-features = false, features = ["postgres", "runtime-tokio", "tls-rustls-ring-native-roots", "migrate", "macros"] }
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }

[workspace]
TOML
cat > "$work/sqlx-service/src/main.rs" <<'RS'
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_default();
    let pool = sqlx::PgPool::connect(&url).await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(())
}
RS

measure() { # dir -> "crates seconds bytes"
  local dir=$1 name
  name=$(basename "$dir")
  (cd "$dir" && cargo generate-lockfile -q)
  local crates
  crates=$(cd "$dir" && cargo tree -e normal,build --prefix none | sed 's/ (\*)$//' | sort -u | wc -l)
  local started ended
  started=$(date +%s.%N)
  (cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo build -q --release)
  ended=$(date +%s.%N)
  cp "$dir/target/release/$name" "$work/$name.bin"
  strip "$work/$name.bin"
  echo "$crates $(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.0f", b - a }') $(stat -c %s "$work/$name.bin")"
}

# Download once outside the timing, so both cold builds compile only.
(cd "$work/strata-service" && cargo fetch -q) && (cd "$work/sqlx-service" && cargo fetch -q)
read -r s_crates s_secs s_bytes < <(measure "$work/strata-service")
read -r q_crates q_secs q_bytes < <(measure "$work/sqlx-service")

echo "A service applying its migrations at start-up, PostgreSQL only, release build, $(nproc) cores"
printf '%-34s %8s %16s %16s\n' service crates "cold build (s)" "stripped (MB)"
printf '%-34s %8s %16s %16.1f\n' "strata (postgres, tls-rustls)" "$s_crates" "$s_secs" "$(echo "$s_bytes / 1048576" | bc -l)"
printf '%-34s %8s %16s %16.1f\n' "sqlx migrate! (postgres, rustls)" "$q_crates" "$q_secs" "$(echo "$q_bytes / 1048576" | bc -l)"
awk -v a="$s_crates" -v b="$q_crates" -v c="$s_secs" -v d="$q_secs" -v e="$s_bytes" -v f="$q_bytes" \
  'BEGIN { printf "ratio strata/sqlx: crates %.2f, build time %.2f, binary size %.2f (goal: at most 1.3 each)\n", a/b, c/d, e/f }'
