#!/usr/bin/env bash
# Creates a throwaway certificate authority and a SuperLink certificate for 127.0.0.1 /
# localhost, for running the deployment engine with TLS on one machine (see README.md).
# Usage: ./generate_certificates.sh [DIR]   (default DIR: certificates)
set -euo pipefail
dir="${1:-certificates}"
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=keras-remediation test CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout server.key -out server.csr 2>/dev/null
printf "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext ca.srl
echo "Wrote $(pwd)/ca.crt, server.pem, server.key"
