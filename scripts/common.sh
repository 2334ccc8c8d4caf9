# Shared by scripts/demo.sh and scripts/test.sh (sourced, not run).
# Installs the packages modsec-observe needs on Debian 12 / Ubuntu (skipped with
# MSO_SKIP_APT=1) and configures + builds the project with Ninja into $MSO_BUILD_DIR.

MSO_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MSO_BUILD_DIR="${MSO_BUILD_DIR:-$MSO_REPO/build}"
export MSO_BUILD_DIR

MSO_PACKAGES=(
  # build
  cmake ninja-build g++ pkg-config apache2-dev libapr1-dev libaprutil1-dev
  nlohmann-json3-dev libcli11-dev libgtest-dev
  # runtime
  apache2 libapache2-mod-security2 modsecurity-crs
  # tests
  python3 python3-pytest curl
)

mso_install_packages() {
  if [[ "${MSO_SKIP_APT:-0}" == "1" ]]; then
    echo "==> MSO_SKIP_APT=1: not installing packages"
    return
  fi
  if [[ "$(id -u)" != "0" ]]; then
    echo "error: installing packages needs root (or set MSO_SKIP_APT=1)" >&2
    exit 1
  fi
  echo "==> apt-get install ${MSO_PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${MSO_PACKAGES[@]}"
}

# mso_build [extra cmake args...]
mso_build() {
  echo "==> configure + build in $MSO_BUILD_DIR"
  cmake -S "$MSO_REPO" -B "$MSO_BUILD_DIR" -G Ninja "$@"
  ninja -C "$MSO_BUILD_DIR"
}
