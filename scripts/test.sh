#!/usr/bin/env bash
# Install, build with warnings as errors, and run every test (GoogleTest unit tests and
# the pytest integration suite against a real Apache + mod_security2 + CRS), as CI does:
#   scripts/test.sh            (as root; MSO_SKIP_APT=1 skips apt-get)
# Environment: MSO_BUILD_DIR (default build/), MSO_SANITIZE (e.g. address,undefined),
# MSO_CRS4_DIR (CRS 4 checkout; default ../shared/crs-4.28.0, skipped when absent).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mso_install_packages
mso_build -DMSO_WERROR=ON -DMSO_SANITIZE="${MSO_SANITIZE:-}"
echo "==> ctest"
ctest --test-dir "$MSO_BUILD_DIR" --output-on-failure
