#!/usr/bin/env bash
# Two collector_bench binaries side by side in time: both run at once, one per core,
# and swap cores every round, so that both meet the same machine (this VM's speed
# drifts by up to 1.7x within minutes, which one-after-the-other rounds mistake for a
# difference between builds). Prints the CPU µs per event of the last row of each.
#   bench/collector_pair.sh A_BINARY B_BINARY ROUNDS DATA_DIR [collector_bench args...]
# e.g. bench/collector_pair.sh /tmp/before/collector_bench build/bench/collector_bench 4 \
#        tests/data --flagged 1000 --ring 1000 --v2
# Needs two cores. The two cores are not equal here (1.2-1.45x apart in one run on
# 2026-12-07), so compare the builds core by core.
set -euo pipefail
usage() {
  sed -n '2,10p' "$0" >&2
  exit 2
}
[[ $# -ge 4 && $3 =~ ^[1-9][0-9]*$ ]] || usage
if [[ $(nproc) -lt 2 ]]; then
  echo "collector_pair.sh: needs two cores, this machine has $(nproc)" >&2
  exit 2
fi
a=$1 b=$2 rounds=$3
shift 3
out=$(mktemp -d)
pa='' pb=''
trap 'kill $pa $pb 2>/dev/null || true; rm -rf "$out"' EXIT
trap 'exit 130' INT TERM
us() { tail -1 "$1" | awk -F'|' '{gsub(/ /, "", $9); print $9}'; }
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then ca=0 cb=1; else ca=1 cb=0; fi
  taskset -c "$ca" "$a" "$@" > "$out/a" &
  pa=$!
  taskset -c "$cb" "$b" "$@" > "$out/b" &
  pb=$!
  wait "$pa"
  wait "$pb"
  pa='' pb=''
  echo "round $r: A (core $ca) $(us "$out/a") µs/event, B (core $cb) $(us "$out/b") µs/event"
done
