# shellcheck shell=bash
# Throwaway PostgreSQL cluster for tests and the demo. Source this file, then:
#   pg_start   installs PostgreSQL from Debian's packages if it is missing,
#              creates a cluster in a temp dir, starts it on a free port on
#              127.0.0.1 (as the `postgres` user when we are root, since
#              PostgreSQL refuses to run as root), waits until it accepts
#              connections, and exports STRATA_TEST_PG_URL (a superuser URL
#              with a password, so wrong-password cases can be tested);
#              With STRATA_TEST_CERTS set (tests/support/certs.sh), TLS
#              is on too: the role strata_tls (password in
#              STRATA_TEST_PG_TLS_PASSWORD) may connect only over TLS, and
#              strata_cert only with a client certificate (cert auth);
#              STRATA_PG_SETTINGS adds server settings (`-c name=value ...`,
#              as the benchmarks' statement counts need);
#   pg_stop    stops it and removes the temp dir. Safe to call twice.

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

pg_install() {
  if pg_bindir >/dev/null; then return 0; fi
  echo "PostgreSQL server not found: installing it from Debian's packages" >&2
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  pg_bindir >/dev/null || { echo "PostgreSQL installation failed" >&2; return 1; }
}

pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs a command as the cluster's owner.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  pg_install || return 1
  local bin
  bin=$(pg_bindir)
  PG_TMP=$(mktemp -d -t strata-pg.XXXXXX)
  PG_PORT=$(pg_free_port)
  PG_PASSWORD="strata-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
  printf '%s\n' "$PG_PASSWORD" > "$PG_TMP/pwfile"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    chown -R postgres: "$PG_TMP"
  fi
  pg_as_owner "$bin/initdb" -D "$PG_TMP/data" -U strata --pwfile="$PG_TMP/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >"$PG_TMP/initdb.log" 2>&1 \
    || { cat "$PG_TMP/initdb.log" >&2; return 1; }
  local tls=""
  if [ -n "${STRATA_TEST_CERTS:-}" ]; then
    pg_tls_files || return 1
    tls="-c ssl=on -c ssl_cert_file=$PG_TMP/tls/server.crt -c ssl_key_file=$PG_TMP/tls/server.key -c ssl_ca_file=$PG_TMP/tls/ca.crt"
  fi
  pg_as_owner "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_TMP -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off $tls ${STRATA_PG_SETTINGS:-}" \
    start >/dev/null || { cat "$PG_TMP/server.log" >&2; return 1; }
  if [ -n "$tls" ]; then
    STRATA_TEST_PG_TLS_PASSWORD="tls-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
    pg_as_owner "$bin/psql" -q -h "$PG_TMP" -p "$PG_PORT" -U strata -d postgres \
      -c "CREATE ROLE strata_tls LOGIN SUPERUSER PASSWORD '$STRATA_TEST_PG_TLS_PASSWORD'" \
      -c "CREATE ROLE strata_cert LOGIN SUPERUSER" >/dev/null \
      || { echo "creating the TLS roles failed" >&2; return 1; }
    export STRATA_TEST_PG_TLS_PASSWORD
  fi
  export PG_TMP PG_PORT
  export STRATA_TEST_PG_URL="postgres://strata:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/postgres"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') running on 127.0.0.1:$PG_PORT (data in $PG_TMP)" >&2
}

# The server's key and certificate, readable by the server only, and
# pg_hba rules in front of the defaults: strata_tls over TLS only (with a
# password), strata_cert with a client certificate only.
pg_tls_files() {
  mkdir -p "$PG_TMP/tls"
  cp "$STRATA_TEST_CERTS/server.crt" "$STRATA_TEST_CERTS/server.key" "$STRATA_TEST_CERTS/ca.crt" "$PG_TMP/tls/"
  chmod 600 "$PG_TMP/tls/server.key"
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$PG_TMP/tls"; fi
  local hba="$PG_TMP/data/pg_hba.conf"
  {
    echo "hostssl all strata_cert 127.0.0.1/32 cert"
    echo "host all strata_cert 127.0.0.1/32 reject"
    echo "hostssl all strata_tls 127.0.0.1/32 scram-sha-256"
    echo "host all strata_tls 127.0.0.1/32 reject"
    cat "$hba"
  } > "$hba.new" && mv "$hba.new" "$hba"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$hba"; fi
}

pg_stop() {
  [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP" ] || return 0
  local bin
  bin=$(pg_bindir)
  pg_as_owner "$bin/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
  PG_TMP=""
}
