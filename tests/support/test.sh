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
# shellcheck source=tests/support/es_cluster.sh
source tests/support/es_cluster.sh
# shellcheck source=tests/support/opensearch.sh
source tests/support/opensearch.sh
# shellcheck source=tests/support/certs.sh
source tests/support/certs.sh
# The newer server lines the Elasticsearch and Neo4j suites run on too
# (beside es.sh's and the pom's; both on the newest JDK 21+).
ES_NEXT=9.2.4
NEO4J_NEXT=2025.10.1
# The OpenSearch lines the search suites run on too (the current one on
# Java 17, the newer on the newest JDK 21+), with the reindex, Painless and
# ingest modules the Elasticsearch test distribution lacks.
OPENSEARCH_LINES=(2.19.6 3.8.0)
CERTS_TMP=$(mktemp -d -t strata-certs.XXXXXX)
# Two Elasticsearch and two Neo4j servers run at once (the current and the
# newer lines): each start overwrites es.sh's and neo4j.sh's globals, so
# each server's are kept here, and stopping one puts them back first.
ES_CUR=() ES_NXT=() NEO_CUR=() NEO_NXT=()
keep_es() { echo "$ES_TMP" "$ES_LAUNCHER" "$STRATA_TEST_ES_URL"; }
keep_neo4j() { echo "$NEO4J_TMP" "$NEO4J_PID" "$STRATA_TEST_NEO4J_URL" "$STRATA_TEST_NEO4J_PASSWORD"; }
use_es() { [ "$#" -gt 0 ] || return 0; ES_TMP=$1 ES_LAUNCHER=$2; export STRATA_TEST_ES_URL=$3; }
use_neo4j() {
  [ "$#" -gt 0 ] || return 0
  NEO4J_TMP=$1 NEO4J_PID=$2
  export STRATA_TEST_NEO4J_URL=$3 STRATA_TEST_NEO4J_PASSWORD=$4
}
reliability_pid= features_pid=
stop_all() {
  [ -z "$reliability_pid" ] || kill "$reliability_pid" 2>/dev/null || true
  [ -z "$features_pid" ] || kill "$features_pid" 2>/dev/null || true
  use_es "${ES_NXT[@]}"; es_stop
  use_es "${ES_CUR[@]}"; es_stop
  use_neo4j "${NEO_NXT[@]}"; neo4j_stop
  use_neo4j "${NEO_CUR[@]}"; neo4j_stop
  es_cluster_stop
  os_stop
  pg_stop
  rm -rf "$CERTS_TMP"
}
LOGS_TMP=
trap 'stop_all; [ -z "$LOGS_TMP" ] || rm -rf "$LOGS_TMP"' EXIT
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
  echo "export STRATA_TEST_OTELCOL='$(install_otelcol)'"
  echo "export STRATA_MDBOOK='$(install_mdbook)'"
  (ES_VERSION=$ES_NEXT; es_prepare) >&2 || true
  (STRATA_NEO4J_VERSION=$NEO4J_NEXT; neo4j_prepare) >&2 || true
  for line in "${OPENSEARCH_LINES[@]}"; do (OS_VERSION=$line; os_prepare) >&2 || true; done
) > "$TOOLS_ENV" &
tools_pid=$!
pg_start
neo4j_start
read -ra NEO_CUR <<< "$(keep_neo4j)"
es_start
read -ra ES_CUR <<< "$(keep_es)"

export INSTA_UPDATE=no  # an unreviewed snapshot change fails the run
# Every test binary, built once for both cargo test runs below.
cargo test --workspace --all-targets --locked --no-run
# The feature subsets (each kind alone, a PostgreSQL-only service) need no
# server: they compile at the lowest priority, in a build folder of their
# own, while the suites below mostly wait on servers.
# The logs of the runs in the background outlive the servers' folders.
LOGS_TMP=$(mktemp -d -t strata-logs.XXXXXX)
FEATURES_LOG="$LOGS_TMP/features.log"
target_dir=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
CARGO_TARGET_DIR="$target_dir/features" nice -n 19 bash tests/support/features.sh \
  > "$FEATURES_LOG" 2>&1 &
features_pid=$!
wait "$tools_pid"
# shellcheck source=/dev/null
source "$TOOLS_ENV"
if grep -q unavailable "$TOOLS_ENV"; then
  echo "*** tests/import.rs will SKIP these tools, which could not be installed: ***" >&2
  grep unavailable "$TOOLS_ENV" >&2
fi
export STRATA_TEST_PG_DUMP="$(pg_bindir)/pg_dump"

# The newer lines, beside the current ones.
ES_VERSION_CUR=$ES_VERSION
ES_VERSION=$ES_NEXT
es_start
read -ra ES_NXT <<< "$(keep_es)"
ES_VERSION=$ES_VERSION_CUR
STRATA_NEO4J_VERSION=$NEO4J_NEXT neo4j_start
read -ra NEO_NXT <<< "$(keep_neo4j)"

# The reliability campaign runs beside the other suites, on the newer
# lines (its rounds reset the servers they use) and on databases of its own
# in the one PostgreSQL; the other suites use the current lines.
RELIABILITY_LOG="$LOGS_TMP/reliability.log"
(
  use_es "${ES_NXT[@]}"
  use_neo4j "${NEO_NXT[@]}"
  exec cargo test --locked --workspace --no-fail-fast --test reliability > "$RELIABILITY_LOG" 2>&1
) &
reliability_pid=$!
use_es "${ES_CUR[@]}"
use_neo4j "${NEO_CUR[@]}"
others=()
for f in tests/*.rs; do
  name=$(basename "$f" .rs)
  case "$name" in
    reliability | es_cluster | search_modules) ;;
    *) others+=(--test "$name") ;;
  esac
done
cargo test --locked --workspace --lib --bins --examples --benches "${others[@]}" --no-fail-fast
cargo test --locked --workspace --doc
reliability_status=0
wait "$reliability_pid" || reliability_status=$?
reliability_pid=
cat "$RELIABILITY_LOG"
[ "$reliability_status" = 0 ] || { echo "the reliability campaign failed" >&2; exit 1; }

# The version matrix: the Elasticsearch and Neo4j suites again, on the
# newer lines; the current lines are stopped first to free the machine.
# Then the three-node Elasticsearch cluster, one line after the other.
es_stop; neo4j_stop
use_es "${ES_NXT[@]}"
use_neo4j "${NEO_NXT[@]}"
ES_CUR=() NEO_CUR=()
cargo test --locked --workspace --no-fail-fast --test elasticsearch --test elasticsearch_ops --test neo4j \
  --test drift
use_es "${ES_NXT[@]}"; es_stop; ES_NXT=()
use_neo4j "${NEO_NXT[@]}"; neo4j_stop; NEO_NXT=()
for line in "$ES_VERSION" "$ES_NEXT"; do
  es_cluster_start "$line"
  cargo test --locked --workspace --no-fail-fast --test es_cluster
  es_cluster_stop
done
# The search suites on OpenSearch, where the server-side paths (_reindex,
# _update_by_query, _delete_by_query, scripts, real ingest processors) run.
for line in "${OPENSEARCH_LINES[@]}"; do
  OS_VERSION=$line os_start
  STRATA_TEST_ES_URL=$STRATA_TEST_OPENSEARCH_URL cargo test --locked --workspace --no-fail-fast \
    --test elasticsearch --test elasticsearch_ops --test search_modules
  os_stop
done
features=$features_pid features_pid=
stop_all
trap 'rm -rf "$LOGS_TMP"' EXIT
features_status=0
wait "$features" || features_status=$?
cat "$FEATURES_LOG"
[ "$features_status" = 0 ] || { echo "the feature subsets failed" >&2; exit 1; }

# The book, built with warnings as errors (its links, anchors and sessions
# were checked by tests/book.rs above).
bash tests/support/book.sh

# The static (musl) release build the Dockerfile ships, running the demo
# against servers of its own (the suite's, and their certificates, are
# gone: nothing of theirs is passed on).
env -u STRATA_TEST_CERTS bash tests/support/static.sh demo
