#!/usr/bin/env bash
# Prints the fault and abuse suite's figures, summed over the scenario files that the last
# run left in <target>/faults/ (tests/faults writes figures-*.txt, scripts/fuzz.sh writes
# figures-fuzz.txt). With --markdown, a table for the README.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DIR=$TARGET_DIR/faults
if ! ls "$DIR"/figures-*.txt > /dev/null 2>&1; then
  echo "fault and abuse suite: no figures in $DIR (did it run?)" >&2
  exit 1
fi
sum() { cat "$DIR"/figures-*.txt | awk -F= -v k="$1" '$1 == k { t += $2 } END { printf "%d", t }'; }
kills=$(sum kills_survived)
acks=$(sum acknowledged_writes)
checked=$(( $(sum acknowledged_effects_checked) + $(sum disk_acknowledged_writes_checked) ))
races=$(sum races_run)
fuzzed=$(sum fuzz_requests)
five=$(sum fuzz_5xx)
refused=$(sum disk_full_writes_refused)
skipped=$(sum disk_scenarios_skipped)
if [ "${1:-}" = --markdown ]; then
  echo "| kills survived | acknowledged writes | acknowledged effects checked | races run (64 clients) | fuzzed requests | 5xx seen | disk-full writes refused (503) |"
  echo "|---|---|---|---|---|---|---|"
  echo "| $kills | $acks | $checked | $races | $fuzzed | $five | $refused |"
else
  echo "fault and abuse suite: kills survived $kills, acknowledged writes $acks," \
    "acknowledged effects checked $checked, races run $races, fuzzed requests $fuzzed," \
    "5xx seen $five, disk-full writes refused $refused${skipped:+$( [ "$skipped" != 0 ] && echo ", disk scenario skipped (not root)")}"
fi
