# shellcheck shell=bash
# Throwaway OpenSearch node for tests, with the modules the server-side
# paths need. OpenSearch publishes its integ-test distribution and each
# module's jar to Maven Central; up to 3.7 the distribution has only the
# transport module, so each missing module folder is assembled here: its
# jar, its runtime dependencies the server does not already ship, and a
# plugin descriptor written here. Source this file
# (after es.sh, whose node user it shares), then:
#   os_start   assembles the node once into the cache folder, starts it on a
#              free port of 127.0.0.1 with its data in a temp dir, waits for
#              yellow health, and exports STRATA_TEST_OPENSEARCH_URL;
#   os_stop    stops it and removes its data. Safe to call twice.
#
# OS_VERSION (STRATA_OPENSEARCH_VERSION, default 2.19.6) picks the release:
# the 2.x line runs on Java 17, the 3.x line on the newest JDK 21+.

# shellcheck source=tests/support/cache.sh
source "$(dirname "${BASH_SOURCE[0]}")/cache.sh"

OS_VERSION="${STRATA_OPENSEARCH_VERSION:-2.19.6}"

# The modules added to the integ-test distribution: folder name, Maven
# artifact (org.opensearch.plugin), plugin class, plugins it extends.
OS_MODULES=(
  "lang-painless lang-painless org.opensearch.painless.PainlessPlugin -"
  "reindex reindex-client org.opensearch.index.reindex.ReindexPlugin -"
  "ingest-common ingest-common org.opensearch.ingest.common.IngestCommonPlugin lang-painless"
  "analysis-common analysis-common org.opensearch.analysis.common.CommonAnalysisPlugin lang-painless"
)

os_mvn() {
  mvn -q -B "$@" >&2
}

# One module folder: the artifact's jar and its runtime dependencies minus
# the jars the server's lib/ already has (a class on both class paths is
# "jar hell" and stops the node).
os_module() {
  local home=$1 folder=$2 artifact=$3 class=$4 extends=$5
  local dir="$home/modules/$folder" gav="org.opensearch.plugin:$artifact:$OS_VERSION"
  mkdir -p "$dir"
  os_mvn org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="$gav" -DoutputDirectory="$dir" || return 1
  os_mvn org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="$gav:pom" -DoutputDirectory="$home.unpack" || return 1
  os_mvn -f "$home.unpack/$artifact-$OS_VERSION.pom" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dir" || return 1
  local jar
  for jar in "$dir"/*.jar; do
    if [ -e "$home/lib/$(basename "$jar")" ]; then rm -f "$jar"; fi
  done
  [ "$extends" = - ] && extends=""
  cat >"$dir/plugin-descriptor.properties" <<EOF
description=$folder module
version=$OS_VERSION
name=$folder
classname=$class
java.version=11
opensearch.version=$OS_VERSION
custom.foldername=
extended.plugins=$extends
has.native.controller=false
EOF
  # Painless compiles scripts into classes of its own loader.
  if [ "$folder" = lang-painless ]; then
    cat >"$dir/plugin-security.policy" <<'EOF'
grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
EOF
  fi
}

os_prepare() {
  OS_HOME="$(strata_cache_dir)/opensearch-$OS_VERSION"
  [ -f "$OS_HOME/.complete" ] && return 0
  echo "Assembling OpenSearch $OS_VERSION from Maven Central (once)" >&2
  rm -rf "$OS_HOME" "$OS_HOME.unpack"
  mkdir -p "$OS_HOME.unpack"
  local artifact="org.opensearch.distribution.integ-test-zip:opensearch:$OS_VERSION:zip"
  os_mvn org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="$artifact" -DoutputDirectory="$OS_HOME.unpack" \
    || { echo "fetching $artifact failed" >&2; return 1; }
  local zip="$OS_HOME.unpack/opensearch-$OS_VERSION.zip"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$OS_HOME.unpack" \
    || { echo "unpacking $zip failed" >&2; return 1; }
  mv "$OS_HOME.unpack/opensearch-$OS_VERSION" "$OS_HOME"
  local module
  for module in "${OS_MODULES[@]}"; do
    # Newer integ-test distributions (3.8 on) ship every module already.
    [ -d "$OS_HOME/modules/${module%% *}" ] && continue
    # shellcheck disable=SC2086
    os_module "$OS_HOME" $module \
      || { echo "assembling the OpenSearch module ${module%% *} failed" >&2; return 1; }
  done
  rm -rf "$OS_HOME.unpack"
  chmod -R a+rX "$OS_HOME"
  chmod a+x "$OS_HOME"/bin/*
  touch "$OS_HOME/.complete"
}

os_java_home() {
  if [ "${OS_VERSION%%.*}" -ge 3 ]; then
    strata_newest_jdk 21
    return
  fi
  local java
  java=$(readlink -f "$(command -v java)")
  dirname "$(dirname "$java")"
}

os_start() {
  os_prepare || return 1
  OS_TMP=$(mktemp -d -t strata-os.XXXXXX)
  local port transport owner=""
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  transport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$OS_TMP/config/jvm.options.d" "$OS_TMP/data" "$OS_TMP/logs" "$OS_TMP/tmp"
  cp "$OS_HOME/config/log4j2.properties" "$OS_TMP/config/"
  # The distribution's jvm.options put the GC log, fatal error logs and heap
  # dumps under the install (read-only here): the node's temp dir instead.
  sed -e "s#=logs/#=$OS_TMP/logs/#; s#file=logs/#file=$OS_TMP/logs/#; s#HeapDumpPath=data#HeapDumpPath=$OS_TMP/data#" \
    "$OS_HOME/config/jvm.options" >"$OS_TMP/config/jvm.options"
  printf '%s\n' -Xms512m -Xmx512m >"$OS_TMP/config/jvm.options.d/heap.options"
  cat >"$OS_TMP/config/opensearch.yml" <<EOF
cluster.name: strata-test
node.name: strata-test
discovery.type: single-node
network.host: 127.0.0.1
http.port: $port
transport.port: $transport
path.data: $OS_TMP/data
path.logs: $OS_TMP/logs
action.destructive_requires_name: false
cluster.routing.allocation.disk.threshold_enabled: false
EOF
  if [ "$(id -u)" = 0 ]; then
    es_owns "$OS_TMP"
    owner="runuser -u strata-es --"
  fi
  $owner env OPENSEARCH_JAVA_HOME="$(os_java_home)" OPENSEARCH_PATH_CONF="$OS_TMP/config" \
    OPENSEARCH_TMPDIR="$OS_TMP/tmp" "$OS_HOME/bin/opensearch" -p "$OS_TMP/pid" >"$OS_TMP/out.log" 2>&1 &
  OS_LAUNCHER=$!
  export OS_TMP OS_LAUNCHER
  export STRATA_TEST_OPENSEARCH_URL="http://127.0.0.1:$port"
  local waited=0
  until curl -fsS "$STRATA_TEST_OPENSEARCH_URL/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; do
    if ! kill -0 "$OS_LAUNCHER" 2>/dev/null || [ "$waited" -ge 1200 ]; then
      echo "OpenSearch did not start:" >&2
      tail -n 40 "$OS_TMP/out.log" >&2
      os_stop
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  echo "OpenSearch $OS_VERSION running on 127.0.0.1:$port (data in $OS_TMP)" >&2
}

os_stop() {
  [ -n "${OS_TMP:-}" ] || return 0
  local pid
  pid=$(cat "$OS_TMP/pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  if [ -n "${OS_LAUNCHER:-}" ]; then
    kill "$OS_LAUNCHER" 2>/dev/null || true
    wait "$OS_LAUNCHER" 2>/dev/null || true
  fi
  rm -rf "$OS_TMP"
  OS_TMP=""
  OS_LAUNCHER=""
}
