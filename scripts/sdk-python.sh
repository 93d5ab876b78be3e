#!/usr/bin/env bash
# The Python acceptance suite (tests/sdk/python): the official azure-keyvault-certificates and
# azure-keyvault-secrets packages against the real `certbroker serve` binary.
# Makes .venv from tests/sdk/python/requirements.txt (re-installs only when that file changes),
# then runs pytest. The binary is $CERTBROKER_BIN, else <cargo target dir>/debug/certbroker, which
# `cargo build` (make test) has already made: nothing is built here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
REQ=tests/sdk/python/requirements.txt
STAMP=$VENV/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  echo "$want" > "$STAMP"
fi
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR=$PWD/$TARGET_DIR ;; esac
export CERTBROKER_BIN=${CERTBROKER_BIN:-$TARGET_DIR/debug/certbroker}
if [ ! -x "$CERTBROKER_BIN" ]; then
  cargo build --locked --bin certbroker
fi
cd tests/sdk/python
exec "../../../$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
