# shellcheck shell=bash
# Throwaway certificates for the TLS tests. Source this file, then:
#   certs_make DIR   writes into DIR (with openssl, installed from Debian's
#                    packages when missing):
#                    ca.crt        the test certificate authority
#                    wrong-ca.crt  another authority, trusted by nobody
#                    server.crt/.key  for 127.0.0.1 and strata-test.invalid
#                                  (deliberately not "localhost"), by ca.crt
#                    client.crt/.key  CN strata_cert, by ca.crt
#                    and exports STRATA_TEST_CERTS=DIR.

certs_make() {
  local dir="$1"
  if ! command -v openssl >/dev/null; then
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openssl >&2 || return 1
  fi
  mkdir -p "$dir"
  (
    cd "$dir" || exit 1
    authority() {
      openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=$2" \
        -keyout "$1.key" -out "$1.crt" 2>/dev/null
    }
    leaf() { # name, subject, extensions
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" basicConstraints=CA:FALSE keyUsage=digitalSignature,keyEncipherment > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    }
    authority ca "strata test CA" &&
      authority wrong-ca "strata wrong CA" &&
      leaf server strata-test.invalid \
        "subjectAltName=IP:127.0.0.1,DNS:strata-test.invalid"$'\n'"extendedKeyUsage=serverAuth" &&
      leaf client strata_cert "extendedKeyUsage=clientAuth"
  ) || { echo "making test certificates failed" >&2; return 1; }
  chmod 644 "$dir"/*.crt
  chmod 600 "$dir"/*.key
  export STRATA_TEST_CERTS="$dir"
}
