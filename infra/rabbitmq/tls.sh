#!/usr/bin/env bash
# Certificates for a test broker's TLS listener (infra/rabbitmq/start.sh calls it), all throwaway, in DIR:
#   ca.pem                     the test CA (give it to a client as the CA to trust)
#   server.pem, server.key     the broker's certificate, for localhost and 127.0.0.1, signed by the CA
#   client.p12                 a client certificate (CN relay-test-client) with its key, PKCS#12, password
#                              in client.password
#   other-ca.pem               a second CA that signed nothing here: trusting it must not let a client in
#
#   infra/rabbitmq/tls.sh DIR
#
# P-256 keys: quick to make, and every TLS stack here speaks them. Valid for 30 days.
set -euo pipefail

log() { echo "rabbitmq/tls.sh: $*" >&2; }
D=${1:?usage: $0 DIR}
command -v openssl >/dev/null 2>&1 || { log "openssl not found (apt-get install openssl)"; exit 1; }
mkdir -p "$D"
cd "$D"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 30 -subj "/CN=EnrichmentRelay test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
key other-ca.key
openssl req -x509 -new -key other-ca.key -out other-ca.pem -days 30 -subj "/CN=EnrichmentRelay other CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

# leaf NAME CN EXTENSIONS
leaf() {
    key "$1.key"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2"
    printf '%s\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 30 \
        -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
leaf server localhost $'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature'
leaf client relay-test-client $'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature'

password=$(openssl rand -hex 12)
printf '%s' "$password" > client.password
openssl pkcs12 -export -in client.pem -inkey client.key -out client.p12 -passout "pass:$password" -name relay-test-client
# The broker (another user when run as root, in some setups) reads its key; nothing here is a real secret.
chmod 644 ./*.pem ./*.key ./*.p12 client.password
