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
