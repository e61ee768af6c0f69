#!/usr/bin/env bash
# The whole test suite: starts the servers the integration tests need
# (installing them from the package registries when missing), runs every
# test, and always stops what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=tests/support/pg.sh
source tests/support/pg.sh
# shellcheck source=tests/support/neo4j.sh
source tests/support/neo4j.sh
# shellcheck source=tests/support/es.sh
source tests/support/es.sh
# shellcheck source=tests/support/certs.sh
source tests/support/certs.sh
# The newer server lines the Elasticsearch and Neo4j suites run on too
# (beside es.sh's and the pom's; both on the newest JDK 21+).
ES_NEXT=9.2.4
NEO4J_NEXT=2025.10.1
CERTS_TMP=$(mktemp -d -t strata-certs.XXXXXX)
trap 'es_stop; neo4j_stop; pg_stop; rm -rf "$CERTS_TMP"' EXIT
certs_make "$CERTS_TMP"
# The tools tests/import.rs takes over from install (once, into the cache)
# while the servers start and the suite builds; so do the newer servers.
# shellcheck source=tests/support/tools.sh
source tests/support/tools.sh
TOOLS_ENV="$CERTS_TMP/tools.env"
(
  echo "export STRATA_TEST_TOOL_GOLANG_MIGRATE='$(install_golang_migrate)'"
  echo "export STRATA_TEST_TOOL_DBMATE='$(install_dbmate)'"
  echo "export STRATA_TEST_TOOL_FLYWAY='$(install_flyway)'"
  echo "export STRATA_TEST_TOOL_SQLX='$(install_sqlx)'"
  echo "export STRATA_TEST_TOOL_REFINERY='$(install_refinery)'"
  (ES_VERSION=$ES_NEXT; es_prepare) >&2 || true
  (STRATA_NEO4J_VERSION=$NEO4J_NEXT; neo4j_prepare) >&2 || true
) > "$TOOLS_ENV" &
tools_pid=$!
pg_start
neo4j_start
es_start

export INSTA_UPDATE=no  # an unreviewed snapshot change fails the run
cargo build --workspace --all-targets --locked
wait "$tools_pid"
# shellcheck source=/dev/null
source "$TOOLS_ENV"
if grep -q unavailable "$TOOLS_ENV"; then
  echo "*** tests/import.rs will SKIP these tools, which could not be installed: ***" >&2
  grep unavailable "$TOOLS_ENV" >&2
fi
export STRATA_TEST_PG_DUMP="$(pg_bindir)/pg_dump"
# The reliability campaign's PostgreSQL and Qdrant rounds share nothing
# with the other suites (databases of their own, an in-process Qdrant), and
# mostly wait on servers and child processes: they run beside them.
RELIABILITY_LOG="$CERTS_TMP/reliability.log"
cargo test --locked --no-fail-fast --test reliability -- postgres qdrant \
  > "$RELIABILITY_LOG" 2>&1 &
reliability_pid=$!
trap 'kill "$reliability_pid" 2>/dev/null; es_stop; neo4j_stop; pg_stop; rm -rf "$CERTS_TMP"' EXIT
others=()
for f in tests/*.rs; do
  name=$(basename "$f" .rs)
  [ "$name" = reliability ] || others+=(--test "$name")
done
cargo test --locked --workspace --lib --bins --examples --benches "${others[@]}" --no-fail-fast
cargo test --locked --workspace --doc
reliability_status=0
wait "$reliability_pid" || reliability_status=$?
cat "$RELIABILITY_LOG"
[ "$reliability_status" = 0 ] || { echo "the reliability campaign (PostgreSQL, Qdrant) failed" >&2; exit 1; }
# Its Neo4j and Elasticsearch rounds reset those servers: on their own.
cargo test --locked --no-fail-fast --test reliability -- neo4j elasticsearch
# The version matrix: the Elasticsearch and Neo4j suites again on the newer
# lines.
es_stop; neo4j_stop
ES_VERSION=$ES_NEXT
es_start
STRATA_NEO4J_VERSION=$NEO4J_NEXT neo4j_start
cargo test --locked --no-fail-fast --test elasticsearch --test elasticsearch_ops --test neo4j
# The feature subsets (each kind alone, a PostgreSQL-only service): no
# server needed, so the servers are stopped first to free the machine.
es_stop; neo4j_stop; pg_stop
bash tests/support/features.sh
