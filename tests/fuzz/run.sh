#!/usr/bin/env bash
# Bounded libFuzzer run, as CI does it after ctest (scripts/test.sh):
#   tests/fuzz/run.sh [SECONDS]        (default 60 seconds per target)
# Builds the fuzz targets with clang, libFuzzer, ASan and UBSan (every UBSan report is
# fatal) in $MSO_FUZZ_BUILD_DIR (default build-fuzz/), then runs each target for SECONDS
# from its committed corpus (tests/fuzz/corpus/<target>, only read: new inputs go to a
# temp dir), $MSO_FUZZ_JOBS targets at a time (default: the number of CPUs). Fails on any
# crash, sanitizer report, broken invariant, leak, timeout or out-of-memory; the input is
# then kept in $MSO_FUZZ_BUILD_DIR/artifacts/<target>/ (commit it to the corpus as a
# reproducer once fixed). Prints executions and coverage per target.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${MSO_FUZZ_BUILD_DIR:-$repo/build-fuzz}"
jobs="${MSO_FUZZ_JOBS:-$(nproc)}"
targets=(modsec_message event_decoder query snapshot audit_reader audit_entry audit_index import_line
         url_query rule_posting)
declare -A max_len=([modsec_message]=8192 [event_decoder]=16384 [query]=4096 [snapshot]=8192
                    [audit_reader]=16384 [audit_entry]=16384 [audit_index]=4096
                    [import_line]=16384 [url_query]=4096 [rule_posting]=1024)
declare -A dict=([modsec_message]=modsec_message.dict [event_decoder]=json.dict [query]=json.dict
                 [snapshot]=json.dict [audit_reader]=audit.dict [audit_entry]=audit.dict
                 [audit_index]=audit.dict [import_line]=json.dict [url_query]=json.dict)

cxx="${MSO_FUZZ_CXX:-clang++}"
if ! command -v "$cxx" >/dev/null; then
  echo "error: $cxx not found (install clang and libclang-rt-dev, or set MSO_FUZZ_CXX)" >&2
  exit 1
fi

echo "==> fuzz: configure + build in $build ($cxx)"
# -O1 and line tables only, as OSS-Fuzz builds: faster to compile, and assertions stay on.
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" \
  -DMSO_FUZZ=ON -DMSO_SANITIZE=address,undefined \
  -DCMAKE_CXX_FLAGS="-fno-sanitize-recover=all" >/dev/null
ninja -C "$build" "${targets[@]/#/fuzz_}"

work="$(mktemp -d /tmp/mso-fuzz.XXXXXX)"
pids=()
cleanup() {
  # Only what this script started: each run_target subshell and its timeout child
  # (which passes the signal on to the fuzzer).
  for pid in "${pids[@]}"; do
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

run_target() {
  local t="$1"
  mkdir -p "$work/$t/new" "$work/$t/artifacts"
  local dict_arg=()
  if [[ -n "${dict[$t]:-}" ]]; then
    dict_arg=(-dict="$repo/tests/fuzz/${dict[$t]}")
  fi
  # A hard stop in case libFuzzer itself hangs: -max_total_time plus room for the
  # initial corpus pass and the final report.
  timeout --kill-after=10 $((seconds + 120)) \
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
      -max_len="${max_len[$t]}" "${dict_arg[@]}" -print_final_stats=1 \
      -artifact_prefix="$work/$t/artifacts/" \
      "$work/$t/new" "$repo/tests/fuzz/corpus/$t" >"$work/$t.log" 2>&1
}

echo "==> fuzz: ${targets[*]}, ${seconds} s each, $jobs at a time"
declare -A status bad
queue=("${targets[@]}")
running=()
while (( ${#queue[@]} )) || (( ${#running[@]} )); do
  while (( ${#queue[@]} )) && (( ${#running[@]} < jobs )); do
    t="${queue[0]}"
    queue=("${queue[@]:1}")
    run_target "$t" &
    pids+=("$!")
    running+=("$t:$!")
  done
  # Wait for the oldest running target (targets take about the same time).
  entry="${running[0]}"
  running=("${running[@]:1}")
  if wait "${entry#*:}"; then status[${entry%%:*}]=0; else status[${entry%%:*}]=$?; fi
done

pids=()   # all waited for: nothing left to clean up but the temp dir
failed=0
printf '%-16s %12s %10s %8s %8s  %s\n' target executions exec/s cov ft result
for t in "${targets[@]}"; do
  log="$work/$t.log"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  # A target that died before its first status line has no cov or ft: "?" (grep's miss
  # must not end the script under pipefail before the failure is reported below).
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)"
  ft="$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)"
  result=ok
  if [[ "${status[$t]}" != 0 ]] || grep -q -E '^==[0-9]+==ERROR|runtime error:|fuzz invariant violated' "$log"; then
    result="FAILED (exit ${status[$t]})"
    bad[$t]=1
    failed=1
  fi
  printf '%-16s %12s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$result"
done

for t in "${targets[@]}"; do
  [[ -z "${bad[$t]:-}" ]] && continue
  echo
  echo "==> fuzz_$t failed; end of its log:"
  tail -n 60 "$work/$t.log"
  if compgen -G "$work/$t/artifacts/*" >/dev/null; then
    mkdir -p "$build/artifacts/$t"
    cp "$work/$t/artifacts/"* "$build/artifacts/$t/"
    echo "==> reproducer(s) kept in $build/artifacts/$t/:"
    ls -l "$build/artifacts/$t/"
    echo "    replay: $build/tests/fuzz/fuzz_$t FILE   (or fuzz_replay_$t FILE in any build)"
  fi
done
exit "$failed"
