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
# One server for the suite, with the plain-HTTP managed-identity listener.
. scripts/lib/serve.sh
start_certbroker sdk-js

export CERTBROKER_URL=$URL
export CERTBROKER_DATA_DIR=$WORK/data
# What a user sets: the two variables of the App Service managed-identity protocol.
export IDENTITY_ENDPOINT=http://127.0.0.1:$MI_PORT/msi/token
export IDENTITY_HEADER=$TOKEN
export NODE_EXTRA_CA_CERTS=$WORK/data/tls/ca.pem
export NODE_PATH=$DEPS/node_modules
unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID AZURE_FEDERATED_TOKEN_FILE MSI_ENDPOINT MSI_SECRET
node --test --test-concurrency=1 "$@" tests/sdk/js/
check_certbroker
