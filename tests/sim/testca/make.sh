#!/bin/sh
# Regenerates the test CA and the simulators' server certificate (127.0.0.1 and localhost).
# Tests trust ca.pem explicitly (tls.ca_file); other-ca.pem is an unrelated CA for the
# "wrong CA" cases. The CA keys are deleted: nothing but this script ever signs with them.
# The generated files are committed, so running this is only needed when they expire (2126).
set -eu
cd "$(dirname "$0")"
days=36500
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca.key"
openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days $days -subj "/O=Repoint tests/CN=Repoint Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.pem

openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/server.ec"
openssl pkcs8 -topk8 -nocrypt -in "$tmp/server.ec" -out server.key
chmod 644 server.key # a test key, read by whoever runs the tests
openssl req -new -key server.key -subj "/O=Repoint tests/CN=localhost" -out "$tmp/server.csr"
cat > "$tmp/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
EXT
openssl x509 -req -in "$tmp/server.csr" -CA ca.pem -CAkey "$tmp/ca.key" -set_serial 0x$(openssl rand -hex 8) \
    -days $days -sha256 -extfile "$tmp/server.ext" -out server.pem

openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/other.key"
openssl req -x509 -new -key "$tmp/other.key" -sha256 -days $days -subj "/O=Repoint tests/CN=Unrelated Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out other-ca.pem

openssl verify -CAfile ca.pem server.pem
