#!/usr/bin/env bash
# Runs the Qdrant suite (tests/qdrant.rs) against a real Qdrant instead of
# the in-process test server: the demo's vectors database up, down and up
# again, every operation and its rollback, the refusals, racing runners,
# stale locks, and each rule the test server models of the real server.
# Exits non-zero on any difference.
#
#   bash tests/support/qdrant_conformance.sh URL [--wipe] [--keyed URL KEY] [--cluster URL]
#
# URL is Qdrant's gRPC port (http://host:6334, or https://). The suite
# deletes every collection on that server before each test, so it refuses
# a server that holds collections unless --wipe is given. --keyed names a
# second server started with an API key (QDRANT__SERVICE__API_KEY=KEY) for
# the API-key rules; without it those tests are skipped and said so.
# --cluster names a node of a Qdrant cluster (three peers, distributed
# mode) for tests/qdrant_cluster.rs: shards, replicas, shard keys, strict
# mode; without it those tests are skipped and said so. URL itself should
# be a standalone server (the standalone refusals are asserted there).
# Tests that need a failure injected into the server run only on the test
# server; they are listed as skipped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

usage() { echo "usage: $0 URL [--wipe] [--keyed URL KEY] [--cluster URL]" >&2; exit 2; }
[ $# -ge 1 ] || usage
export STRATA_TEST_QDRANT_URL=$1; shift
while [ $# -gt 0 ]; do
  case $1 in
    --wipe) export STRATA_TEST_QDRANT_WIPE=1; shift ;;
    --keyed) [ $# -ge 3 ] || usage
      export STRATA_TEST_QDRANT_KEYED_URL=$2 STRATA_TEST_QDRANT_API_KEY=$3; shift 3 ;;
    --cluster) [ $# -ge 2 ] || usage
      export STRATA_TEST_QDRANT_CLUSTER_URL=$2; shift 2 ;;
    *) usage ;;
  esac
done

log=$(mktemp -t strata-qdrant-conformance.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
# --nocapture so that the skip notices reach the log; the tests take turns
# on the one server by themselves.
cargo test --locked --test qdrant --test qdrant_cluster -- --nocapture 2>&1 | tee "$log" || status=$?
# Drift's Qdrant test (the binary's other tests need the other servers).
cargo test --locked --test drift qdrant_ -- --nocapture 2>&1 | tee -a "$log" || status=$?
echo
if grep -q '^SKIPPED against the real Qdrant' "$log"; then
  echo "Not run against $STRATA_TEST_QDRANT_URL:"
  grep '^SKIPPED against the real Qdrant' "$log" | sed 's/^SKIPPED against the real Qdrant: /  /'
fi
if [ "$status" = 0 ]; then
  echo "conformance: strata and its test server agree with the Qdrant at $STRATA_TEST_QDRANT_URL"
else
  echo "conformance: FAILED against the Qdrant at $STRATA_TEST_QDRANT_URL (see above)" >&2
fi
exit "$status"
