#!/usr/bin/env bash
# The operator console in a real browser (tests/ui): Debian's headless Chromium driven by
# playwright-core from npm (no browser download), against the real `certbroker serve`
# binary. Installs tests/ui/node_modules from its package-lock.json (again only when that
# file changes), then runs node's test runner. The binary is $CERTBROKER_BIN, else
# <cargo target dir>/debug/certbroker; the screenshot goes to <target dir>/ui-screenshot.png.
set -euo pipefail
cd "$(dirname "$0")/.."
UI=tests/ui
STAMP=$UI/node_modules/.lock.sha256
want=$(sha256sum "$UI/package-lock.json" | cut -d' ' -f1)
if [ ! -d "$UI/node_modules/playwright-core" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  rm -rf "$UI/node_modules"
  (cd "$UI" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$STAMP"
fi
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR=$PWD/$TARGET_DIR ;; esac
export CERTBROKER_BIN=${CERTBROKER_BIN:-$TARGET_DIR/debug/certbroker}
export UI_SCREENSHOT=${UI_SCREENSHOT:-$TARGET_DIR/ui-screenshot.png}
if [ ! -x "$CERTBROKER_BIN" ]; then
  cargo build --locked --bin certbroker
fi
cd "$UI"
exec node --test --test-reporter=spec "$@"
