# Sourced by the client suites (scripts/sdk-js.sh, scripts/sdk-az.sh): starts one real
# `certbroker serve` for the suite on a fresh data directory, with the plain-HTTP
# managed-identity listener, and stops it (and removes the data) when the script exits.
# `check_certbroker` (at the end of a suite) stops it and runs `rebuild --check` and `verify`
# on what the suite left: the views rebuild identically and the chain is unbroken.
# `start_certbroker NAME` sets WORK (the temp dir; data in $WORK/data), TOKEN (the admin
# token, also the identity header), MI_PORT (the managed-identity port), URL (https://...)
# and SERVER_PID. The binary is $CERTBROKER_BIN, else <cargo target dir>/debug/certbroker.
# KEEP_SDK_DATA=1 keeps the data directory. With CERTBROKER_SDK_STORAGE_URL (a PostgreSQL
# server's URL) the server runs on a fresh database made on it (scripts/pg.sh newdb), kept in
# STORAGE_URL; otherwise on the SQLite file in the data directory (STORAGE_URL empty).

start_certbroker() {
  local name=$1
  TARGET_DIR=${CARGO_TARGET_DIR:-target}
  case "$TARGET_DIR" in /*) ;; *) TARGET_DIR=$PWD/$TARGET_DIR ;; esac
  export CERTBROKER_BIN=${CERTBROKER_BIN:-$TARGET_DIR/debug/certbroker}
  if [ ! -x "$CERTBROKER_BIN" ]; then
    cargo build --locked --bin certbroker
  fi
  WORK=$(mktemp -d -t "certbroker-$name-XXXXXX")
  SERVER_PID=
  trap stop_certbroker EXIT
  MI_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  TOKEN=$name-token
  STORAGE_URL=
  if [ -n "${CERTBROKER_SDK_STORAGE_URL:-}" ]; then
    STORAGE_URL=$(bash scripts/pg.sh newdb "$CERTBROKER_SDK_STORAGE_URL")
  fi
  CERTBROKER__STORAGE__URL=$STORAGE_URL CERTBROKER__AUTH__TOKEN=$TOKEN CERTBROKER__IDENTITY__HTTP_LISTEN=127.0.0.1:$MI_PORT \
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
}

stop_certbroker() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -z "${KEEP_SDK_DATA:-}" ]; then rm -rf "$WORK"; else echo "data kept in $WORK"; fi
}

check_certbroker() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=
  local tool="$CERTBROKER_BIN --data-dir $WORK/data"
  CERTBROKER__STORAGE__URL=$STORAGE_URL CERTBROKER__LOG__LEVEL=warn $tool rebuild --check
  CERTBROKER__STORAGE__URL=$STORAGE_URL CERTBROKER__LOG__LEVEL=warn $tool verify
}
