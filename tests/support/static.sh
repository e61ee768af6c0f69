#!/usr/bin/env bash
# The static release build: `migrate` linked against musl, no shared
# library needed, the binary the Dockerfile ships. The Dockerfile's build
# stage runs exactly `bash tests/support/static.sh build`, and CI runs it
# too, then the demo with the binary it made (`static.sh demo`).
#
#   bash tests/support/static.sh build   installs the musl target and
#                                        musl-tools if missing, builds
#   bash tests/support/static.sh demo    the demo (tests/support/demo.sh)
#                                        with the static binary
#
# The binary: target/x86_64-unknown-linux-musl/release/migrate.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=x86_64-unknown-linux-musl
BIN="target/$TARGET/release/migrate"

build() {
  if ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET" >&2
  fi
  # ring's C and assembly need musl's compiler wrapper.
  if ! command -v musl-gcc >/dev/null; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq musl-tools >&2
  fi
  cargo build --release --locked --target "$TARGET" --bin migrate
  # Static: no interpreter, no shared library.
  if readelf -l "$BIN" | grep -q "INTERP"; then
    echo "$BIN is not static: it names a program interpreter" >&2
    exit 1
  fi
  echo "built $BIN ($(du -h "$BIN" | cut -f1), static)" >&2
}

case "${1:-}" in
  build) build ;;
  demo)
    [ -x "$BIN" ] || build
    STRATA_MIGRATE="$BIN" bash tests/support/demo.sh
    ;;
  *)
    echo "usage: bash tests/support/static.sh build|demo" >&2
    exit 2
    ;;
esac
