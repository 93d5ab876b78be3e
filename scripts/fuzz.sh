#!/usr/bin/env bash
# Fuzzing from Key Vault's own spec (tests/fuzz/certificates.json, the 2025-07-01 certificates
# spec, vendored verbatim): schemathesis generates positive and negative requests for every
# operation and sends them to the real `certbroker serve` on a loopback port with a fresh data
# directory. Asserted: no 5xx (schemathesis' not_a_server_error, and the server's own
# certbroker_http_requests_total by status), every 4xx in the Key Vault error envelope
# (tests/fuzz/hooks.py), then `certbroker rebuild --check` and `certbroker verify` clean.
#
#   scripts/fuzz.sh ci     fixed seed, few examples per operation (make fuzz-ci, part of make test)
#   scripts/fuzz.sh long   more examples and a time budget (make fuzz); FUZZ_SEED, FUZZ_EXAMPLES,
#                          FUZZ_MAX_TIME override either
# The venv lives in <target>/fuzz-venv (re-made only when tests/fuzz/requirements.txt changes).
# Figures go to <target>/faults/figures-fuzz.txt for scripts/fault-figures.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-ci}
case "$MODE" in
  ci) SEED=${FUZZ_SEED:-20260901}; EXAMPLES=${FUZZ_EXAMPLES:-8}; MAX_TIME=${FUZZ_MAX_TIME:-} ;;
  long) SEED=${FUZZ_SEED:-$RANDOM$RANDOM}; EXAMPLES=${FUZZ_EXAMPLES:-200}; MAX_TIME=${FUZZ_MAX_TIME:-900} ;;
  *) echo "usage: $0 ci|long" >&2; exit 2 ;;
esac
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR=$PWD/$TARGET_DIR ;; esac
PY=${PYTHON:-python3}
VENV=$TARGET_DIR/fuzz-venv
REQ=tests/fuzz/requirements.txt
STAMP=$VENV/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/st" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  echo "$want" > "$STAMP"
fi
BIN=${CERTBROKER_BIN:-$TARGET_DIR/debug/certbroker}
if [ ! -x "$BIN" ]; then
  cargo build --locked --features fault-injection --bin certbroker
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/certbroker-fuzz.XXXXXX")
DATA=$WORK/data
TOKEN=fuzz-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

env -i PATH="$PATH" CERTBROKER__AUTH__TOKEN="$TOKEN" CERTBROKER__LOG__LEVEL=error \
  CERTBROKER__SERVER__LISTEN=127.0.0.1:0 CERTBROKER__STORAGE__DATA_DIR="$DATA" \
  "$BIN" serve > "$WORK/stdout" 2> "$WORK/stderr" &
SERVER_PID=$!
ADDR=
for _ in $(seq 1 600); do
  ADDR=$(sed -n 's/^certbroker ready on //p' "$WORK/stdout" | head -n1)
  [ -n "$ADDR" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/stderr" >&2; echo "fuzz: server exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$ADDR" ] || { echo "fuzz: server never became ready" >&2; exit 1; }

metric_sum() { # sum of certbroker_http_requests_total samples whose status matches $1 (a regex)
  curl -sf --cacert "$DATA/tls/ca.pem" -H "Authorization: Bearer $TOKEN" "$ADDR/metrics" |
    awk -v re="$1" '/^certbroker_http_requests_total\{/ { if (match($0, /status="[0-9]+"/)) { s = substr($0, RSTART + 8, 3); if (s ~ re) t += $NF } } END { printf "%d\n", t }'
}

echo "fuzz: $MODE pass against $ADDR, seed $SEED, $EXAMPLES examples per operation${MAX_TIME:+, at most ${MAX_TIME}s}"
st_rc=0
# From the scratch directory, so that schemathesis' own files stay out of the tree.
SPEC=$PWD/tests/fuzz/certificates.json
HOOKS=${FUZZ_HOOKS_DIR:-$PWD/tests/fuzz}
(cd "$WORK" && PYTHONPATH=$HOOKS SCHEMATHESIS_HOOKS=hooks FUZZ_COUNT_FILE=$WORK/count \
  "$VENV/bin/st" run "$SPEC" \
    --url "$ADDR" \
    --header "Authorization: Bearer $TOKEN" \
    --tls-verify "$DATA/tls/ca.pem" \
    --seed "$SEED" --max-examples "$EXAMPLES" ${MAX_TIME:+--max-time "$MAX_TIME"} \
    --mode all --phases examples,coverage,fuzzing \
    --checks not_a_server_error,error_envelope \
    --workers 1 --no-shrink --request-timeout 30 \
    --suppress-health-check all --warnings off \
    > "$WORK/st.log" 2>&1) || st_rc=$?
sent=$(cat "$WORK/count" 2>/dev/null || echo 0)
five=$(metric_sum '^5')
two=$(metric_sum '^2')
four=$(metric_sum '^4')
total=$(metric_sum '.')
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=

cli() { env -i PATH="$PATH" CERTBROKER__LOG__LEVEL=error "$BIN" --data-dir "$DATA" "$@"; }
rebuild_rc=0; cli rebuild --check > "$WORK/rebuild" 2>&1 || rebuild_rc=$?
verify_rc=0; cli verify > "$WORK/verify" 2>&1 || verify_rc=$?

mkdir -p "$TARGET_DIR/faults"
cp "$WORK/st.log" "$TARGET_DIR/faults/fuzz-schemathesis.log"
{
  echo "fuzz_requests=$sent"
  echo "fuzz_server_requests=$total"
  echo "fuzz_2xx=$two"
  echo "fuzz_4xx=$four"
  echo "fuzz_5xx=$five"
  echo "fuzz_seed=$SEED"
} > "$TARGET_DIR/faults/figures-fuzz.txt"
echo "fuzz: $sent requests sent ($total answered by the server: $two 2xx, $four 4xx, $five 5xx); $(grep -h '^verified' "$WORK/verify" || true); schemathesis exit $st_rc, rebuild --check exit $rebuild_rc, verify exit $verify_rc"
if [ "$st_rc" != 0 ] || [ "$five" != 0 ] || [ "$rebuild_rc" != 0 ] || [ "$verify_rc" != 0 ] || [ "$sent" = 0 ]; then
  tail -n 200 "$WORK/st.log" >&2
  cat "$WORK/rebuild" "$WORK/verify" >&2
  echo "fuzz: FAILED" >&2
  exit 1
fi
