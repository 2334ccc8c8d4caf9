#!/usr/bin/env bash
# bench/soak.sh [bench/soak.py options, e.g. --minutes 1]: installs the packages and
# builds as scripts/common.sh does (MSO_SKIP_APT=1 skips apt-get; MSO_BUILD_DIR, default
# build/), then runs the soak (docs/BENCHMARKS.md, "Soak"). As root, loopback only.
set -euo pipefail; source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"; mso_install_packages; mso_build -DCMAKE_BUILD_TYPE=RelWithDebInfo; exec /usr/bin/python3 "$MSO_REPO/bench/soak.py" --build-dir "$MSO_BUILD_DIR" "$@"
