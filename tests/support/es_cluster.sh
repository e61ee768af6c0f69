# shellcheck shell=bash
# A throwaway three-node Elasticsearch cluster on loopback (the distribution
# es.sh fetches, three processes) for tests/es_cluster.rs. Source this file,
# then:
#   es_cluster_start [VERSION]
#                      starts three master-eligible data nodes on free ports
#                      (VERSION, else ES_VERSION, picks the line), waits for all three to
#                      join and for green, and exports
#                      STRATA_TEST_ES_CLUSTER (the three HTTP URLs, comma
#                      separated) and STRATA_TEST_ES_CLUSTER_DIR;
#   es_cluster_stop    stops every node and removes the data. Safe to call twice.
# The tests stop and restart single nodes by running this file:
#   bash tests/support/es_cluster.sh stop|kill|start DIR N   (N = 1, 2 or 3)
# A node restarted keeps its data folder and rejoins the cluster.

# shellcheck source=tests/support/es.sh
source "$(dirname "${BASH_SOURCE[0]}")/es.sh"

es_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Launches node N of the cluster in DIR (its config written by
# es_cluster_start) in the background.
es_node_launch() {
  local dir=$1 n=$2 owner=""
  local node="$dir/node$n"
  [ "$(id -u)" = 0 ] && owner="runuser -u strata-es --"
  rm -f "$node/pid"
  # setsid: the node outlives the shell that launched it (the test's
  # helper process) and is stopped by its pid file.
  $owner env ES_JAVA_HOME="$(cat "$dir/java")" ES_PATH_CONF="$node/config" \
    ES_TMPDIR="$node/tmp" setsid "$(cat "$dir/home")/bin/elasticsearch" -p "$node/pid" \
    >>"$node/out.log" 2>&1 </dev/null &
}

# Stops node N (with SIGNAL, default TERM) and waits until its process is
# gone.
es_node_stop() {
  local dir=$1 n=$2 signal=${3:-TERM} pid waited=0
  pid=$(cat "$dir/node$n/pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill "-$signal" "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    [ "$waited" -ge 600 ] && kill -9 "$pid" 2>/dev/null
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$dir/node$n/pid"
}

# Waits (at most two minutes) until the cluster answers on node N's URL
# with all three nodes and status green.
es_cluster_wait() {
  local dir=$1 n=$2 url waited=0
  url=$(cut -d, -f"$n" "$dir/urls")
  until curl -fsS "$url/_cluster/health?wait_for_nodes=3&wait_for_status=green&timeout=1s" \
    >/dev/null 2>&1; do
    if [ "$waited" -ge 1200 ]; then
      echo "the Elasticsearch cluster in $dir did not become green with three nodes:" >&2
      tail -n 20 "$dir"/node*/out.log >&2
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

es_cluster_start() {
  # es_prepare and es_java_home read ES_VERSION: a version given here is
  # theirs for this call only.
  local ES_VERSION=${1:-$ES_VERSION}
  es_prepare || return 1
  local dir n http transport seeds="" urls=""
  dir=$(mktemp -d -t strata-es-cluster.XXXXXX)
  echo "$ES_HOME" >"$dir/home"
  es_java_home >"$dir/java"
  for n in 1 2 3; do
    http=$(es_free_port)
    transport=$(es_free_port)
    eval "local http$n=$http transport$n=$transport"
    seeds="$seeds${seeds:+, }\"127.0.0.1:$transport\""
    urls="$urls${urls:+,}http://127.0.0.1:$http"
  done
  echo "$urls" >"$dir/urls"
  for n in 1 2 3; do
    local node="$dir/node$n"
    mkdir -p "$node/config/jvm.options.d" "$node/data" "$node/logs" "$node/tmp"
    cp "$ES_HOME/config/jvm.options" "$ES_HOME/config/log4j2.properties" "$node/config/"
    printf '%s\n' -Xms384m -Xmx384m >"$node/config/jvm.options.d/heap.options"
    eval "http=\$http$n transport=\$transport$n"
    cat >"$node/config/elasticsearch.yml" <<EOF
cluster.name: strata-cluster
node.name: node-$n
network.host: 127.0.0.1
http.port: $http
transport.port: $transport
discovery.seed_hosts: [$seeds]
cluster.initial_master_nodes: ["node-1", "node-2", "node-3"]
path.data: $node/data
path.logs: $node/logs
xpack.security.enabled: false
action.destructive_requires_name: false
cluster.routing.allocation.disk.threshold_enabled: false
EOF
  done
  if [ "$(id -u)" = 0 ]; then es_owns "$dir"; fi
  for n in 1 2 3; do es_node_launch "$dir" "$n"; done
  export STRATA_TEST_ES_CLUSTER="$urls" STRATA_TEST_ES_CLUSTER_DIR="$dir"
  es_cluster_wait "$dir" 1 || { es_cluster_stop; return 1; }
  echo "Elasticsearch $ES_VERSION cluster of three nodes on $urls (data in $dir)" >&2
}

es_cluster_stop() {
  local dir=${STRATA_TEST_ES_CLUSTER_DIR:-}
  [ -n "$dir" ] || return 0
  local n
  for n in 1 2 3; do es_node_stop "$dir" "$n"; done
  rm -rf "$dir"
  unset STRATA_TEST_ES_CLUSTER STRATA_TEST_ES_CLUSTER_DIR
}

# Run as a script: stop or start one node (the tests' way to lose a node).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    stop) es_node_stop "$2" "$3" ;;
    kill) es_node_stop "$2" "$3" KILL ;;
    start) es_node_launch "$2" "$3" ;;
    *)
      echo "usage: $0 stop|kill|start DIR N" >&2
      exit 2
      ;;
  esac
fi
