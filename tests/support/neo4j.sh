# shellcheck shell=bash
# Throwaway Neo4j (community 5.26 LTS, in-process, Bolt only) for tests and
# the demo. Source this file, then:
#   neo4j_start  resolves the Neo4j jars from Maven Central into the cache
#                folder (once, see cache.sh), compiles the launcher,
#                starts it on a free port on 127.0.0.1 with a random
#                password (and, with STRATA_TEST_CERTS set, Bolt TLS as an
#                option beside plain Bolt), waits for its ready line, and exports
#                STRATA_TEST_NEO4J_URL and STRATA_TEST_NEO4J_PASSWORD;
#   neo4j_stop   stops it and removes its data. Safe to call twice.

NEO4J_SUPPORT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/neo4j"
# shellcheck source=tests/support/cache.sh
source "$(dirname "${BASH_SOURCE[0]}")/cache.sh"

# STRATA_NEO4J_VERSION picks another release than the pom's (the CI matrix
# runs the newest calendar release too); those need Java 21+, found with
# strata_newest_jdk.
neo4j_prepare() {
  local version
  version=${STRATA_NEO4J_VERSION:-$(sed -n 's:.*<neo4j.version>\(.*\)</neo4j.version>.*:\1:p' "$NEO4J_SUPPORT/pom.xml")}
  NEO4J_CACHE="$(strata_cache_dir)/neo4j-$version"
  NEO4J_JAVA=java
  NEO4J_JAVAC=javac
  if [ "${version%%.*}" -ge 2025 ]; then
    local jdk
    jdk=$(strata_newest_jdk 21) || return 1
    NEO4J_JAVA="$jdk/bin/java"
    NEO4J_JAVAC="$jdk/bin/javac"
  fi
  if [ ! -f "$NEO4J_CACHE/lib.complete" ]; then
    echo "Resolving Neo4j $version from Maven Central into $NEO4J_CACHE (once)" >&2
    rm -rf "$NEO4J_CACHE/lib"
    mvn -q -B -f "$NEO4J_SUPPORT/pom.xml" dependency:copy-dependencies \
      -Dneo4j.version="$version" -DoutputDirectory="$NEO4J_CACHE/lib" >&2 || { echo "resolving Neo4j failed" >&2; return 1; }
    touch "$NEO4J_CACHE/lib.complete"
  fi
  if [ ! -f "$NEO4J_CACHE/classes/Launcher.class" ] \
     || [ "$NEO4J_SUPPORT/Launcher.java" -nt "$NEO4J_CACHE/classes/Launcher.class" ]; then
    mkdir -p "$NEO4J_CACHE/classes"
    "$NEO4J_JAVAC" -d "$NEO4J_CACHE/classes" -cp "$NEO4J_CACHE/lib/*" "$NEO4J_SUPPORT/Launcher.java" >&2 \
      || { echo "compiling the Neo4j launcher failed" >&2; return 1; }
  fi
}

neo4j_start() {
  neo4j_prepare || return 1
  NEO4J_TMP=$(mktemp -d -t strata-neo4j.XXXXXX)
  local port password
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  password="strata-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
  local tls=()
  if [ -n "${STRATA_TEST_CERTS:-}" ]; then
    mkdir -p "$NEO4J_TMP/certs"
    cp "$STRATA_TEST_CERTS/server.crt" "$STRATA_TEST_CERTS/server.key" "$NEO4J_TMP/certs/"
    tls=("$NEO4J_TMP/certs")
  fi
  "$NEO4J_JAVA" -Xms256m -Xmx1g -cp "$NEO4J_CACHE/lib/*:$NEO4J_CACHE/classes" Launcher \
    "$NEO4J_TMP/data" "$port" "$password" "${tls[@]}" >"$NEO4J_TMP/out.log" 2>"$NEO4J_TMP/err.log" &
  NEO4J_PID=$!
  local waited=0
  until grep -qs '^neo4j ready' "$NEO4J_TMP/out.log"; do
    if ! kill -0 "$NEO4J_PID" 2>/dev/null || [ "$waited" -ge 1800 ]; then
      echo "Neo4j did not start:" >&2
      tail -n 40 "$NEO4J_TMP/err.log" >&2
      neo4j_stop
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  export NEO4J_TMP NEO4J_PID
  export STRATA_TEST_NEO4J_URL="bolt://127.0.0.1:$port"
  export STRATA_TEST_NEO4J_PASSWORD="$password"
  echo "$(cat "$NEO4J_TMP/out.log") (data in $NEO4J_TMP)" >&2
}

neo4j_stop() {
  [ -n "${NEO4J_TMP:-}" ] || return 0
  if [ -n "${NEO4J_PID:-}" ] && kill -0 "$NEO4J_PID" 2>/dev/null; then
    kill "$NEO4J_PID" 2>/dev/null || true
    wait "$NEO4J_PID" 2>/dev/null || true
  fi
  rm -rf "$NEO4J_TMP"
  NEO4J_TMP=""
  NEO4J_PID=""
}
