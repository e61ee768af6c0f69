#!/usr/bin/env bash
# Every cargo feature subset strata promises, built and unit-tested on its
# own so none rots: each database kind alone (the library and its unit
# tests), the `migrate` binary with one kind, and a service embedding
# strata for PostgreSQL only (examples/service_startup.rs). Checks that
# the PostgreSQL-only dependency tree holds no other kind's client and
# nothing only the command line needs. Needs no server.
set -euo pipefail
cd "$(dirname "$0")/../.."

for kind in postgres neo4j elasticsearch qdrant; do
  echo "== features: $kind alone" >&2
  cargo test --locked --quiet --no-default-features --features "$kind" --lib
done

echo "== features: the migrate binary with postgres alone; a postgres-only service" >&2
cargo build --locked --quiet --no-default-features --features cli,postgres --bin migrate
cargo build --locked --quiet --no-default-features --features postgres --example service_startup

echo "== features: a kind left out is refused by name" >&2
bin="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/migrate"
project=$(mktemp -d)
trap 'rm -rf "$project"' EXIT
mkdir -p "$project/migrations/graph"
echo "CREATE (:Widget);" > "$project/migrations/graph/V1__w.cypher"
printf '[databases.graph]\nkind = "neo4j"\nurl = "bolt://127.0.0.1:1"\n' > "$project/migrate.toml"
set +e
said=$(cd "$project" && "$bin" status 2>&1)
code=$?
set -e
expected='kind neo4j is not compiled into this build of strata: enable the cargo feature "neo4j"'
if [ "$code" != 2 ] || [[ "$said" != *"$expected"* ]]; then
  echo "a config naming a left-out kind: expected exit 2 and \"$expected\", got exit $code: $said" >&2
  exit 1
fi
# This binary was built without tls-rustls: a URL asking for TLS is refused.
set +e
said=$(cd "$project" && "$bin" --database-url 'postgres://u@127.0.0.1:1/x?sslmode=require' status 2>&1)
code=$?
set -e
expected='enable the cargo feature "tls-rustls"'
if [ "$code" != 2 ] || [[ "$said" != *"$expected"* ]]; then
  echo "sslmode=require without tls-rustls: expected exit 2 and \"$expected\", got exit $code: $said" >&2
  exit 1
fi

echo "== features: the postgres-only dependency tree" >&2
tree=$(cargo tree --locked --no-default-features --features postgres -e normal --prefix none -p strata)
foreign=$(echo "$tree" | grep -E '^(neo4rs|elasticsearch|qdrant-client|tonic|reqwest|clap|tracing-subscriber) ' || true)
if [ -n "$foreign" ]; then
  echo "the postgres-only build depends on crates it must not:" >&2
  echo "$foreign" | sort -u >&2
  exit 1
fi
echo "postgres-only: $(echo "$tree" | sort -u | wc -l) crates, none of the other kinds' clients" >&2

# Not a subset, but built here for the same reason (no server, low
# priority, a build folder of its own): the library's rustdoc, whose front
# page is the book's library chapter, with no broken intra-doc link.
echo "== rustdoc: no broken intra-doc links, no warnings" >&2
RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -D warnings" cargo doc --locked --quiet --no-deps --lib
