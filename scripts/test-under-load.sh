#!/usr/bin/env bash
# Runs the test command several times in a row while CPU hogs compete for the machine,
# to show that no test depends on how fast the machine is:
#   scripts/test-under-load.sh [--runs N] [--hogs N] [--quick]
#     --runs N   how many times to run scripts/test.sh (default 3)
#     --hogs N   stress-ng CPU workers beside it (default 2: one per core here)
#     --quick    skip the ASan build and the libFuzzer run (MSO_SKIP_ASAN=1,
#                MSO_SKIP_FUZZ=1): the unit and integration tests of the main build only,
#                which is where timing would matter
# Every run's output goes to $MSO_BUILD_DIR/under-load/run-K.log; a summary with each
# run's result, duration and the load average at its end is printed, and the script
# exits non-zero when any run failed. Needs root (as scripts/test.sh does).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

runs=3
hogs=2
quick=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --hogs) hogs="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "test-under-load.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "--runs wants a positive number" >&2; exit 2; }
[[ "$hogs" =~ ^[0-9]+$ ]] || { echo "--hogs wants a number" >&2; exit 2; }

if ! command -v stress-ng >/dev/null; then
  mso_apt_install stress-ng
fi

logs="$MSO_BUILD_DIR/under-load"
mkdir -p "$logs"
hog_pid=""
stop_hogs() {
  if [[ -n "$hog_pid" ]]; then
    kill -- "-$hog_pid" 2>/dev/null || kill "$hog_pid" 2>/dev/null || true
    wait "$hog_pid" 2>/dev/null || true
  fi
}
trap stop_hogs EXIT
if [[ "$hogs" -gt 0 ]]; then
  # Its own process group, so the trap stops every worker it forks.
  setsid stress-ng --cpu "$hogs" --timeout 0 --quiet &
  hog_pid=$!
  echo "==> stress-ng --cpu $hogs running (pid $hog_pid)"
fi

extra_env=()
if [[ "$quick" == 1 ]]; then
  extra_env=(MSO_SKIP_ASAN=1 MSO_SKIP_FUZZ=1)
fi

summary=()
failed=0
for ((k = 1; k <= runs; k++)); do
  log="$logs/run-$k.log"
  echo "==> run $k of $runs (log: $log)"
  start=$(date +%s)
  rc=0
  # The first run installs what is missing; the later ones need not ask apt again.
  skip_apt="${MSO_SKIP_APT:-0}"
  [[ "$k" -gt 1 ]] && skip_apt=1
  env "${extra_env[@]}" MSO_SKIP_APT="$skip_apt" "$MSO_REPO/scripts/test.sh" >"$log" 2>&1 || rc=$?
  seconds=$(($(date +%s) - start))
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  if [[ "$rc" == 0 ]]; then
    result=passed
  else
    result="FAILED (exit $rc)"
    failed=$((failed + 1))
    grep -E "^(FAILED|ERROR) |[0-9]+ failed" "$log" | tail -20 || true
  fi
  summary+=("run $k: $result in ${seconds}s, load average at its end: $load")
  echo "    ${summary[-1]}"
done

echo "==> summary ($hogs CPU hogs beside the tests)"
printf '    %s\n' "${summary[@]}"
if [[ "$failed" -gt 0 ]]; then
  echo "$failed of $runs runs failed" >&2
  exit 1
fi
