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
CERTS_TMP=$(mktemp -d -t strata-certs.XXXXXX)
trap 'es_stop; neo4j_stop; pg_stop; rm -rf "$CERTS_TMP"' EXIT
certs_make "$CERTS_TMP"
pg_start
neo4j_start
es_start

export INSTA_UPDATE=no  # an unreviewed snapshot change fails the run
cargo build --workspace --all-targets --locked
cargo test --locked --workspace --all-targets --no-fail-fast
cargo test --locked --workspace --doc
# The feature subsets (each kind alone, a PostgreSQL-only service): no
# server needed, so the servers are stopped first to free the machine.
es_stop; neo4j_stop; pg_stop
bash tests/support/features.sh
