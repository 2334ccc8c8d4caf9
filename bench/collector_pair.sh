#!/usr/bin/env bash
# Two collector_bench binaries side by side in time: both run at once, one per core,
# and swap cores every round, so that both meet the same machine (this VM's speed
# drifts by up to 1.6x within minutes, which one-after-the-other rounds mistake for a
# difference between builds). Prints the CPU µs per event of the last row of each.
#   bench/collector_pair.sh A_BINARY B_BINARY ROUNDS DATA_DIR [collector_bench args...]
# e.g. bench/collector_pair.sh /tmp/before/collector_bench build/bench/collector_bench 4 \
#        tests/data --flagged 1000 --ring 1000 --v2
# Needs two cores. The two cores are not equal here (one ran up to 1.5x slower than the
# other on 2026-12-07, and which one changed), so compare the builds core by core.
set -euo pipefail
if [[ $# -lt 4 ]]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
a=$1 b=$2 rounds=$3
shift 3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$rounds"); do
  if ((r % 2)); then ca=0 cb=1; else ca=1 cb=0; fi
  taskset -c "$ca" "$a" "$@" > "$out/a" &
  taskset -c "$cb" "$b" "$@" > "$out/b" &
  wait
  us() { tail -1 "$1" | awk -F'|' '{gsub(/ /, "", $9); print $9}'; }
  echo "round $r: A (core $ca) $(us "$out/a") µs/event, B (core $cb) $(us "$out/b") µs/event"
done
