# shellcheck shell=bash
# Where the test and demo scripts keep what they download once (the Neo4j
# jars, the Elasticsearch distribution): STRATA_CACHE_DIR when set, else
# /var/cache/strata as root (Elasticsearch's node user must read it, and
# root's home is not readable to it), else ~/.cache/strata. Maven's own
# repository (~/.m2, about 0.5 GB after the first run) holds the artifacts
# these are made from.
strata_cache_dir() {
  if [ -n "${STRATA_CACHE_DIR:-}" ]; then
    echo "$STRATA_CACHE_DIR"
  elif [ "$(id -u)" = 0 ]; then
    echo /var/cache/strata
  else
    echo "$HOME/.cache/strata"
  fi
}

# The newest JDK under /usr/lib/jvm whose major version is at least $1
# (the servers' newer lines need Java 21+; the default java stays 17).
strata_newest_jdk() {
  local best="" best_major=0 dir major
  for dir in /usr/lib/jvm/*/; do
    [ -x "$dir/bin/java" ] || continue
    major=$("$dir/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
    [ -n "$major" ] && [ "$major" -gt "$best_major" ] && { best=${dir%/}; best_major=$major; }
  done
  if [ -z "$best" ] || [ "$best_major" -lt "$1" ]; then
    echo "no JDK $1 or newer under /usr/lib/jvm" >&2
    return 1
  fi
  echo "$best"
}
