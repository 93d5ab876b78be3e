#!/usr/bin/env bash
# Installs what building and testing certbroker needs on a fresh Debian machine:
# a C toolchain, pkg-config and OpenSSL headers (the openssl crate), the openssl CLI
# (chain checks in tests), Pebble with pebble-challtestsrv (the ACME test CA the
# ACME tests run against), and python3 with venv (the Azure SDK suite). Idempotent;
# installs only what is missing. For the operating tests: promtool (Debian's prometheus
# package) checks the /metrics output, setpriv (util-linux) runs the binary as a non-root
# user, and headless Chromium with Node.js drives the operator console. Node.js and npm also
# run the JavaScript SDK suite; the az CLI suite needs unshare and mount.
# PostgreSQL (Debian's postgresql package) backs the second run of the integration suite.
set -euo pipefail
need=()
command -v cc >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need+=(libssl-dev)
command -v openssl >/dev/null || need+=(openssl)
# The sqlite3 CLI: the audit tests tamper with the database file through it.
command -v sqlite3 >/dev/null || need+=(sqlite3)
# Pebble (and pebble-challtestsrv): the ACME tests run against a real ACME CA.
{ command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null; } || need+=(pebble)
# promtool checks the real /metrics exposition.
command -v promtool >/dev/null || need+=(prometheus)
command -v setpriv >/dev/null || need+=(util-linux)
# The az CLI suite maps vault host names for az alone in a mount namespace (unshare, mount).
{ command -v unshare >/dev/null && command -v mount >/dev/null; } || need+=(util-linux mount)
# The console's browser test: Debian's Chromium (and its driver), driven from Node.js.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# PostgreSQL: the integration suite runs a second time against a throwaway cluster
# (scripts/pg.sh), started as an unprivileged user through runuser (util-linux).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v runuser >/dev/null || need+=(util-linux)
# The Python SDK suite makes a venv: Debian's python3 needs python3-venv for that.
if command -v python3 >/dev/null; then
  python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
else
  need+=(python3 python3-venv)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
command -v cargo >/dev/null || { echo "cargo (Rust) is required: https://rustup.rs" >&2; exit 1; }
