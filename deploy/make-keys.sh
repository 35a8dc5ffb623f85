#!/bin/sh
# Makes the files the Compose and Kubernetes demos mount as secrets, into DIR (default
# deploy/compose/secrets, which git ignores): the gateway's token-signing key (EC P-256)
# and access-log checkpoint-signing key (Ed25519), every replica sharing them, and a
# self-signed certificate for the proxy's TLS. Nothing here is committed. Production
# provisions its own keys (docs/deploy.md, "Secrets"), from its own key custody.
set -eu
DIR=${1:-$(dirname "$0")/compose/secrets}
umask 077
mkdir -p "$DIR"
[ -f "$DIR/token-signing-key.pem" ] || \
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/token-signing-key.pem"
[ -f "$DIR/audit-signing-key.pem" ] || \
  openssl genpkey -algorithm ED25519 -out "$DIR/audit-signing-key.pem"
[ -f "$DIR/proxy.crt" ] || \
  openssl req -x509 -newkey rsa:3072 -nodes -days 30 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$DIR/proxy.key" -out "$DIR/proxy.crt" 2>/dev/null
# The containers run as uid 10001: Compose bind-mounts these files as they are, so they
# must be readable by that user. The directory stays the operator's alone (0700).
chmod 0444 "$DIR"/*.pem "$DIR"/proxy.key "$DIR"/proxy.crt
echo "wrote $DIR: token-signing-key.pem audit-signing-key.pem proxy.crt proxy.key"
