# Shared by scripts/demo.sh and scripts/test.sh (sourced, not run).
# Installs the packages modsec-observe needs on Debian 12 / Ubuntu (skipped with
# MSO_SKIP_APT=1) and configures + builds the project with Ninja into $MSO_BUILD_DIR.

MSO_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MSO_BUILD_DIR="${MSO_BUILD_DIR:-$MSO_REPO/build}"
export MSO_BUILD_DIR

MSO_PACKAGES=(
  # build
  cmake ninja-build g++ pkg-config apache2-dev libapr1-dev libaprutil1-dev
  nlohmann-json3-dev libsimdjson-dev libcli11-dev libgtest-dev libcpp-httplib-dev
  # the live aggregates' key hash (collector/util/key_hash.cpp, header only)
  libxxhash-dev
  # the console receiver: HTTPS (cpp-httplib's OpenSSL support), htpasswd checks (APR-util)
  libssl-dev
  # the history store (collector/store, docs/STORE.md)
  libsqlite3-dev
  # the collector's allocator (docs/ARCHITECTURE.md, "jemalloc")
  libjemalloc-dev
  # .gz audit-log rotations for `modsec-observe import` (docs/ARCHITECTURE.md)
  zlib1g-dev
  # formatting (scripts/check-format.sh)
  clang-format
  # runtime
  apache2 libapache2-mod-security2 modsecurity-crs
  # tests: nginx + ModSecurity v3 (libmodsecurity3) posting to the collector
  # (tests/integration/test_nginx_v3.py, nginx_sandbox.py); each test runs its own nginx
  # from a temp dir, the system service is stopped and disabled (mso_quiet_system_nginx)
  nginx libnginx-mod-http-modsecurity
  # benchmarks (wrk: bench/apache_bench.sh); tests (nghttp: the HTTP/2 test of test_edge_cases.py;
  # chromium: the dashboard's browser test, tests/integration/test_dashboard.py)
  python3 python3-pytest curl wrk nghttp2-client chromium
  # openssl: the test CAs of the console tests (tests/integration/tls_ca.py)
  openssl
  # gdb: whose crash a crashed Apache child was, from its core (test_failure_isolation.py)
  gdb
  # fuzzing (tests/fuzz/run.sh): clang; its libFuzzer/sanitizer runtimes are named after
  # clang's major version, see mso_install_clang_runtime
  clang
)

# apt-get update (once per shell) + install of the given packages, as root (exits with a
# message if not).
mso_apt_install() {
  if [[ "$(id -u)" != "0" ]]; then
    echo "error: installing $* needs root (or set MSO_SKIP_APT=1)" >&2
    exit 1
  fi
  echo "==> apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z "${MSO_APT_UPDATED:-}" ]]; then
    apt-get update
    MSO_APT_UPDATED=1
  fi
  apt-get install -y --no-install-recommends "$@"
}

# libclang-rt-<major>-dev for the installed clang (14 on Debian 12, 18 on Ubuntu 24.04).
# Older releases without that package (from before the runtimes were split out) have them
# in libclang-common-<major>-dev, which clang already pulls in.
mso_install_clang_runtime() {
  local major
  major="$(clang -dumpversion | cut -d. -f1)"
  if apt-cache show "libclang-rt-$major-dev" >/dev/null 2>&1; then
    mso_apt_install "libclang-rt-$major-dev"
  fi
}

mso_install_packages() {
  if [[ "${MSO_SKIP_APT:-0}" == "1" ]]; then
    echo "==> MSO_SKIP_APT=1: not installing packages"
    return
  fi
  mso_apt_install "${MSO_PACKAGES[@]}"
  mso_quiet_system_nginx
  mso_install_clang_runtime
  mso_install_promtool
  mso_install_node
}

# node and npm for `npm ci` (the dashboard's charting library and the browser test's
# playwright-core, pinned by their package-lock.json files). A node that is already on
# the PATH (from Debian's nodejs or elsewhere, e.g. NodeSource or nvm) is used as it is;
# Debian's npm is installed only when npm itself is missing.
mso_install_node() {
  if ! command -v node >/dev/null 2>&1; then
    mso_apt_install nodejs
  fi
  if ! command -v npm >/dev/null 2>&1; then
    mso_apt_install npm
  fi
}

# Debian's nginx package starts its service on port 80 where it can; the tests never use
# it (they start their own nginx on a free loopback port). Stop and disable it.
mso_quiet_system_nginx() {
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl stop nginx.service 2>/dev/null || true
    systemctl disable nginx.service 2>/dev/null || true
  elif [[ -x /etc/init.d/nginx ]]; then
    /etc/init.d/nginx stop >/dev/null 2>&1 || true
    update-rc.d nginx disable >/dev/null 2>&1 || true
  fi
}

# promtool (checks the /metrics output in the integration tests) ships in Debian's
# `prometheus` package, whose postinst starts a Prometheus server. Extract the package
# into $MSO_TOOLS_DIR instead of installing it; idempotent. Needs `apt-get update` first.
# MSO_PROMTOOL, when already set to an executable, is used as it is.
MSO_TOOLS_DIR="${MSO_TOOLS_DIR:-/opt/mso-tools}"

mso_install_promtool() {
  local extracted="$MSO_TOOLS_DIR/prometheus/usr/bin/promtool"
  if [[ -n "${MSO_PROMTOOL:-}" && -x "$MSO_PROMTOOL" ]]; then
    return
  fi
  if [[ ! -x "$extracted" ]]; then
    echo "==> extracting promtool from the prometheus package into $MSO_TOOLS_DIR"
    local tmp
    tmp="$(mktemp -d)"
    chown _apt "$tmp" 2>/dev/null || true   # apt-get download fetches as user _apt
    (cd "$tmp" && apt-get download prometheus)
    mkdir -p "$MSO_TOOLS_DIR"
    rm -rf "$MSO_TOOLS_DIR/prometheus"
    dpkg-deb -x "$tmp"/prometheus_*.deb "$MSO_TOOLS_DIR/prometheus"
    rm -rf "$tmp"
  fi
  export MSO_PROMTOOL="$extracted"
  "$MSO_PROMTOOL" --version | head -n 1
}

# npm ci in each folder with a package-lock.json (the versions the lockfile pins, nothing
# else). With MSO_SKIP_APT=1 (no registry assumed) a folder whose node_modules exists is
# used as it is.
mso_npm_ci() {
  local dir
  for dir in "$MSO_REPO/collector/web" "$MSO_REPO/tests/browser"; do
    if [[ "${MSO_SKIP_APT:-0}" == "1" && -d "$dir/node_modules" ]]; then
      continue
    fi
    if ! command -v npm >/dev/null 2>&1; then
      echo "error: $dir needs \`npm ci\` and npm is missing (install nodejs and npm)" >&2
      exit 1
    fi
    echo "==> npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund)
  done
}

# mso_build [extra cmake args...]
mso_build() {
  mso_npm_ci
  echo "==> configure + build in $MSO_BUILD_DIR"
  cmake -S "$MSO_REPO" -B "$MSO_BUILD_DIR" -G Ninja "$@"
  ninja -C "$MSO_BUILD_DIR"
}
