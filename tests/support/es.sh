# shellcheck shell=bash
# Throwaway Elasticsearch (Elastic's integ-test-zip distribution from Maven
# Central: the server core without the optional modules) for tests and the
# demo. Source this file, then:
#   es_start   fetches the zip with Maven and unpacks it into the cache
#              folder (once, see cache.sh), starts a single node on a free port on
#              127.0.0.1 with its data in a temp dir (as the dedicated user
#              `strata-es` when we are root: Elasticsearch refuses root),
#              waits for yellow health, and exports STRATA_TEST_ES_URL;
#   es_stop    stops it and removes its data. Safe to call twice.
#
# ES_VERSION (STRATA_ES_VERSION, default 8.19.21) picks the release; the
# 8.x line runs on the Java 17 every supported machine has, the 9.x line on
# the newest JDK 21+ (see es_java_home).

# shellcheck source=tests/support/cache.sh
source "$(dirname "${BASH_SOURCE[0]}")/cache.sh"

ES_VERSION="${STRATA_ES_VERSION:-8.19.21}"

es_prepare() {
  local ES_ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"
  ES_HOME="$(strata_cache_dir)/elasticsearch-$ES_VERSION"
  [ -f "$ES_HOME/.complete" ] && return 0
  echo "Fetching Elasticsearch $ES_VERSION from Maven Central (once)" >&2
  rm -rf "$ES_HOME" "$ES_HOME.unpack"
  mkdir -p "$ES_HOME.unpack"
  mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="$ES_ARTIFACT" -DoutputDirectory="$ES_HOME.unpack" >&2 \
    || { echo "fetching $ES_ARTIFACT failed" >&2; return 1; }
  local zip="$ES_HOME.unpack/elasticsearch-$ES_VERSION.zip"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$ES_HOME.unpack" \
    || { echo "unpacking $zip failed" >&2; return 1; }
  mv "$ES_HOME.unpack/elasticsearch-$ES_VERSION" "$ES_HOME"
  rm -rf "$ES_HOME.unpack"
  chmod -R a+rX "$ES_HOME"
  chmod a+x "$ES_HOME"/bin/*
  touch "$ES_HOME/.complete"
}

# The JDK to run with: the 8.x line runs on the default Java (17); the 9.x
# line needs Java 21 or newer: the newest JDK in /usr/lib/jvm (or
# STRATA_ES_JAVA_HOME).
es_java_home() {
  if [ -n "${STRATA_ES_JAVA_HOME:-}" ]; then
    echo "$STRATA_ES_JAVA_HOME"
    return
  fi
  if [ "${ES_VERSION%%.*}" -ge 9 ]; then
    strata_newest_jdk 21
    return
  fi
  local java
  java=$(readlink -f "$(command -v java)")
  dirname "$(dirname "$java")"
}

# As root, hands DIR to the dedicated node user (made once):
# Elasticsearch refuses to run as root.
es_owns() {
  id strata-es >/dev/null 2>&1 \
    || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin strata-es
  chown -R strata-es: "$1"
}

es_start() {
  es_prepare || return 1
  ES_TMP=$(mktemp -d -t strata-es.XXXXXX)
  local port transport owner=""
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  transport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # Config lives in the temp dir (ES_PATH_CONF) so the cached install stays
  # read-only and several nodes can run side by side.
  mkdir -p "$ES_TMP/config" "$ES_TMP/data" "$ES_TMP/logs" "$ES_TMP/tmp"
  cp "$ES_HOME/config/jvm.options" "$ES_HOME/config/log4j2.properties" "$ES_TMP/config/"
  mkdir -p "$ES_TMP/config/jvm.options.d"
  printf '%s\n' -Xms512m -Xmx512m >"$ES_TMP/config/jvm.options.d/heap.options"
  cat >"$ES_TMP/config/elasticsearch.yml" <<EOF
cluster.name: strata-test
node.name: strata-test
discovery.type: single-node
network.host: 127.0.0.1
http.port: $port
transport.port: $transport
path.data: $ES_TMP/data
path.logs: $ES_TMP/logs
xpack.security.enabled: false
action.destructive_requires_name: false
cluster.routing.allocation.disk.threshold_enabled: false
EOF
  if [ "$(id -u)" = 0 ]; then
    es_owns "$ES_TMP"
    owner="runuser -u strata-es --"
  fi
  $owner env ES_JAVA_HOME="$(es_java_home)" ES_PATH_CONF="$ES_TMP/config" ES_TMPDIR="$ES_TMP/tmp" \
    "$ES_HOME/bin/elasticsearch" -p "$ES_TMP/pid" >"$ES_TMP/out.log" 2>&1 &
  ES_LAUNCHER=$!
  export ES_TMP ES_LAUNCHER
  export STRATA_TEST_ES_URL="http://127.0.0.1:$port"
  local waited=0
  until curl -fsS "$STRATA_TEST_ES_URL/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; do
    if ! kill -0 "$ES_LAUNCHER" 2>/dev/null || [ "$waited" -ge 1200 ]; then
      echo "Elasticsearch did not start:" >&2
      tail -n 40 "$ES_TMP/out.log" >&2
      es_stop
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  echo "Elasticsearch $ES_VERSION running on 127.0.0.1:$port (data in $ES_TMP)" >&2
}

es_stop() {
  [ -n "${ES_TMP:-}" ] || return 0
  local pid
  pid=$(cat "$ES_TMP/pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  if [ -n "${ES_LAUNCHER:-}" ]; then
    kill "$ES_LAUNCHER" 2>/dev/null || true
    wait "$ES_LAUNCHER" 2>/dev/null || true
  fi
  rm -rf "$ES_TMP"
  ES_TMP=""
  ES_LAUNCHER=""
}
