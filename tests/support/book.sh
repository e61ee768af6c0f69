#!/usr/bin/env bash
# Builds the book in docs/ with mdBook into target/book, warnings as
# errors (installing mdBook with cargo once, see tools.sh; STRATA_MDBOOK
# names a binary to use instead). Its internal links and anchors, and its
# Getting started sessions, are checked by tests/book.rs.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/support/tools.sh
source tests/support/tools.sh
mdbook=${STRATA_MDBOOK:-$(install_mdbook)}
case "$mdbook" in
  unavailable*) echo "$mdbook" >&2; exit 1 ;;
esac
out=$("$mdbook" build docs 2>&1) || { echo "$out" >&2; echo "mdbook build failed" >&2; exit 1; }
echo "$out" >&2
if grep -Eq '\b(WARN|WARNING|ERROR)\b' <<<"$out"; then
  echo "mdBook warned while building the book: warnings are errors" >&2
  exit 1
fi
echo "the book is in target/book/index.html" >&2
