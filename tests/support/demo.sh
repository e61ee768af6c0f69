#!/usr/bin/env bash
# The demo: migrates the demo system (migrate.toml) and prints its status.
# With APP_DATABASE_URL unset, it installs PostgreSQL from Debian's packages
# if needed and starts a throwaway cluster for the run; with
# GRAPH_DATABASE_URL unset, it starts a throwaway Neo4j, and with
# SEARCH_DATABASE_URL unset a throwaway Elasticsearch (both fetched from
# Maven Central once). With VECTORS_DATABASE_URL unset it runs strata's
# in-process Qdrant test server (no registry ships Qdrant's server; see the
# README). Whatever it started is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

# STRATA_MIGRATE runs another build of the binary (the static one, see
# static.sh) instead of building the debug one.
if [ -n "${STRATA_MIGRATE:-}" ]; then
  migrate=$STRATA_MIGRATE
else
  cargo build --quiet --bin migrate
  migrate=target/debug/migrate
fi

stop_all() {
  if [ -n "${QDRANT_PID:-}" ]; then kill "$QDRANT_PID" 2>/dev/null || true; fi
  if declare -F es_stop >/dev/null; then es_stop; fi
  if declare -F neo4j_stop >/dev/null; then neo4j_stop; fi
  if declare -F pg_stop >/dev/null; then pg_stop; fi
}
trap stop_all EXIT

if [ -z "${APP_DATABASE_URL:-}" ]; then
  # shellcheck source=tests/support/pg.sh
  source tests/support/pg.sh
  pg_start
  export APP_DATABASE_URL="${STRATA_TEST_PG_URL%/postgres}/app"
  psql -q "$STRATA_TEST_PG_URL" -c "CREATE DATABASE app"
fi
if [ -z "${GRAPH_DATABASE_URL:-}" ]; then
  # shellcheck source=tests/support/neo4j.sh
  source tests/support/neo4j.sh
  neo4j_start
  export GRAPH_DATABASE_URL="$STRATA_TEST_NEO4J_URL"
  export GRAPH_DATABASE_PASSWORD="$STRATA_TEST_NEO4J_PASSWORD"
fi
if [ -z "${SEARCH_DATABASE_URL:-}" ]; then
  # shellcheck source=tests/support/es.sh
  source tests/support/es.sh
  es_start
  export SEARCH_DATABASE_URL="$STRATA_TEST_ES_URL"
fi
if [ -z "${VECTORS_DATABASE_URL:-}" ]; then
  cargo build --quiet --example qdrant_test_server
  qdrant_out=$(mktemp -t strata-qdrant.XXXXXX)
  target/debug/examples/qdrant_test_server >"$qdrant_out" &
  QDRANT_PID=$!
  until [ -s "$qdrant_out" ]; do
    kill -0 "$QDRANT_PID" 2>/dev/null || { echo "the Qdrant test server did not start" >&2; exit 1; }
    sleep 0.05
  done
  VECTORS_DATABASE_URL=$(head -n 1 "$qdrant_out")
  export VECTORS_DATABASE_URL
  rm -f "$qdrant_out"
  echo "Qdrant test server (in-process, not a real Qdrant) on $VECTORS_DATABASE_URL" >&2
fi

echo "== migrate plan"
"$migrate" plan
echo
echo "== migrate up"
"$migrate" up
echo
echo "== migrate status"
"$migrate" status
echo
echo "== migrate partitions plan"
"$migrate" partitions plan
echo
echo "== migrate partitions run"
"$migrate" partitions run
echo
echo "== migrate partitions plan (a second run has nothing to do)"
"$migrate" partitions plan
