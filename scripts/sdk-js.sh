#!/usr/bin/env bash
# The JavaScript acceptance suite (tests/sdk/js): @azure/keyvault-certificates and
# @azure/keyvault-secrets with @azure/identity's DefaultAzureCredential, against the real
# `certbroker serve` binary through its managed-identity endpoint.
# npm installs tests/sdk/js/package.json (and its lock) into target/sdk-js, again only when
# they change. The binary is $CERTBROKER_BIN, else <cargo target dir>/debug/certbroker.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR=$PWD/$TARGET_DIR ;; esac
DEPS=$TARGET_DIR/sdk-js
want=$(cat tests/sdk/js/package.json tests/sdk/js/package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -d "$DEPS/node_modules" ] || [ "$(cat "$DEPS/.stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$DEPS"
  mkdir -p "$DEPS"
  cp tests/sdk/js/package.json tests/sdk/js/package-lock.json "$DEPS/"
  (cd "$DEPS" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$DEPS/.stamp"
fi
export CERTBROKER_BIN=${CERTBROKER_BIN:-$TARGET_DIR/debug/certbroker}
if [ ! -x "$CERTBROKER_BIN" ]; then
  cargo build --locked --bin certbroker
fi

# One server for the suite, with the plain-HTTP managed-identity listener.
WORK=$(mktemp -d -t certbroker-sdk-js-XXXXXX)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -z "${KEEP_SDK_DATA:-}" ]; then rm -rf "$WORK"; else echo "data kept in $WORK"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MI_PORT=$(free_port)
TOKEN=sdk-js-token
CERTBROKER__AUTH__TOKEN=$TOKEN CERTBROKER__IDENTITY__HTTP_LISTEN=127.0.0.1:$MI_PORT \
CERTBROKER__LOG__LEVEL=warn \
  "$CERTBROKER_BIN" --data-dir "$WORK/data" serve --listen 127.0.0.1:0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
URL=
for _ in $(seq 1 600); do
  URL=$(grep -o 'listening on https://127\.0\.0\.1:[0-9]*' "$WORK/server.log" | head -1 | sed 's/listening on //' || true)
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$URL" ]; then
  echo "certbroker did not start:"; cat "$WORK/server.log"; exit 1
fi

export CERTBROKER_URL=$URL
export CERTBROKER_DATA_DIR=$WORK/data
# What a user sets: the two variables of the App Service managed-identity protocol.
export IDENTITY_ENDPOINT=http://127.0.0.1:$MI_PORT/msi/token
export IDENTITY_HEADER=$TOKEN
export NODE_EXTRA_CA_CERTS=$WORK/data/tls/ca.pem
export NODE_PATH=$DEPS/node_modules
unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID AZURE_FEDERATED_TOKEN_FILE MSI_ENDPOINT MSI_SECRET
node --test --test-concurrency=1 "$@" tests/sdk/js/
