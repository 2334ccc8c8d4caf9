#!/usr/bin/env bash
# What observing ModSecurity costs Apache, in one command (see bench/README.md):
#   bench/apache_bench.sh [wrk|callgrind|all] [--quick] [--duration S] [--rounds N] ...
# Installs the Debian packages it needs (skipped with MSO_SKIP_APT=1, or when all are
# present), builds the project into $MSO_BUILD_DIR (default build/) if the module,
# collector or CLI is missing, then runs bench/apache_bench.py with the arguments.
# Needs root: Apache's children run as www-data, as in production.
set -euo pipefail

# shellcheck source=../scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

BENCH_PACKAGES=(
  "${MSO_PACKAGES[@]}"
  wrk valgrind   # load generator; callgrind, callgrind_control, callgrind_annotate
)

bench_install_packages() {
  local missing=()
  for p in "${BENCH_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 || "${MSO_SKIP_APT:-0}" == "1" ]]; then
    return
  fi
  mso_apt_install "${missing[@]}"
}

bench_install_packages
if [[ ! -f "$MSO_BUILD_DIR/mod_modsec_observe/mod_modsec_observe.so" ||
      ! -x "$MSO_BUILD_DIR/collector/modsec-observed" ||
      ! -x "$MSO_BUILD_DIR/collector/modsec-observe" ]]; then
  mso_build
fi
exec /usr/bin/python3 "$MSO_REPO/bench/apache_bench.py" "$@"
