#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (not part of the test
# suite): bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Installs cargo-fuzz from crates.io when it is missing. libFuzzer's
# instrumentation needs unstable compiler flags: a nightly toolchain is used
# when rustup has one, otherwise the stable compiler with RUSTC_BOOTSTRAP=1.
# Each target starts from the repository's own files of its kind (the
# demo's migrations and rollbacks, the bad-input corpus; file names from
# fuzz/seeds/file_name) and keeps what it learns in fuzz/corpus/<target>
# (not committed). A crash
# stops the run, leaves its input in fuzz/artifacts/<target>/ and makes
# this script fail; turn such an input into a unit test beside the code it
# broke before fixing it.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(file_name sql_split cypher_split elasticsearch_ops qdrant_ops)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz from crates.io" >&2
  cargo install cargo-fuzz --locked >&2
fi
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

# The seed folders of a target (read only; libFuzzer reads them recursively).
seeds() {
  case "$1" in
    file_name) echo seeds/file_name ;;
    sql_split) echo ../migrations/app ../rollbacks/app ../tests/bad_input ;;
    cypher_split) echo ../migrations/graph ../rollbacks/graph ;;
    elasticsearch_ops) echo ../migrations/search ../rollbacks/search ;;
    qdrant_ops) echo ../migrations/vectors ../rollbacks/vectors ;;
    *) echo "unknown target $1" >&2; return 1 ;;
  esac
}

status=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  read -r -a from <<<"$(seeds "$target")"
  echo "== $target: ${seconds}s" >&2
  if ! cargo "${toolchain[@]}" fuzz run -O "$target" "corpus/$target" "${from[@]}" -- \
      -max_total_time="$seconds" -print_final_stats=1 2>"corpus/$target.log"; then
    tail -n 60 "corpus/$target.log" >&2
    status=1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "corpus/$target.log" >&2 || true
done
exit "$status"
