#!/usr/bin/env bash
# The one command to see modsec-observe work, on a fresh Debian 12 / Ubuntu, as root:
#   scripts/demo.sh            (MSO_SKIP_APT=1 skips apt-get; extra args go to demo.py,
#                               e.g. scripts/demo.sh --crs 4)
#   scripts/demo.sh --keep     leaves everything running until Ctrl-C, to click through
#                              the dashboard and try the CLI on live data
# Installs the packages, builds into build/, then starts the collector (with the
# dashboard on a free loopback port, whose URL it prints) and a sandboxed Apache
# (mod_security2 + CRS + the module) on 127.0.0.1, sends benign and attack traffic to
# two vhosts, prints `modsec-observe stats`, and stops everything.
# The system's own Apache configuration and service are not touched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mso_install_packages
mso_build
echo "==> demo"
exec /usr/bin/python3 "$MSO_REPO/tests/integration/demo.py" "$@"
