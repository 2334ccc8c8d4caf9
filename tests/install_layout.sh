#!/usr/bin/env bash
# The install rules, checked by installing the build into a scratch DESTDIR: the module
# in apxs's LIBEXECDIR and exporting only its module record, the .load (naming that
# path) and .conf in Apache's mods-available (for a2enmod), the binaries in sbin/bin,
# the ModSecurity snippet, the systemd unit naming the installed collector, the sysctl
# file and the documentation.
#   tests/install_layout.sh BUILD_DIR
set -euo pipefail
build="$1"
prefix="$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")"
libexec="$(apxs -q LIBEXECDIR)"
sysconf="$(apxs -q SYSCONFDIR)"
dest="$(mktemp -d)"
trap 'rm -rf "$dest"' EXIT
DESTDIR="$dest" cmake --install "$build" >/dev/null

fail=0
expect_file() {
  if [[ ! -f "$dest$1" ]]; then
    echo "missing: $1" >&2
    fail=1
  fi
}
expect_line() { # FILE LINE: FILE holds LINE exactly
  if ! grep -qxF -- "$2" "$dest$1"; then
    echo "$1 lacks the line: $2" >&2
    fail=1
  fi
}

expect_file "$libexec/mod_modsec_observe.so"
expect_file "$sysconf/mods-available/modsec_observe.load"
expect_file "$sysconf/mods-available/modsec_observe.conf"
expect_file "$prefix/sbin/modsec-observed"
expect_file "$prefix/bin/modsec-observe"
expect_file "$prefix/share/modsec-observe/modsec_observe_rules.conf"
expect_file "$prefix/lib/systemd/system/modsec-observed.service"
expect_file "$prefix/lib/sysctl.d/99-modsec-observe.conf"
expect_file "$prefix/share/doc/modsec-observe/README.md"
[[ "$fail" == 0 ]] || exit 1

expect_line "$sysconf/mods-available/modsec_observe.load" \
  "LoadModule modsec_observe_module $libexec/mod_modsec_observe.so"
expect_line "$prefix/lib/systemd/system/modsec-observed.service" \
  "ExecStart=$prefix/sbin/modsec-observed \\"
expect_line "$prefix/lib/sysctl.d/99-modsec-observe.conf" "net.unix.max_dgram_qlen = 8192"

# (An AddressSanitizer build adds its ODR indicator, __odr_asan.<symbol>.)
exported="$(nm -D --defined-only "$dest$libexec/mod_modsec_observe.so" | awk '{print $3}' |
  grep -v '^_\(init\|fini\|edata\|end\|_bss_start\)$' | grep -v '^__odr_asan\.' || true)"
if [[ "$exported" != "modsec_observe_module" ]]; then
  echo "the module exports more than its module record:" >&2
  echo "$exported" >&2
  fail=1
fi
if ldd "$dest$libexec/mod_modsec_observe.so" | grep -q 'libhttpd\|libapr'; then
  echo "the module is linked against httpd or APR (their symbols come from Apache)" >&2
  fail=1
fi
[[ "$fail" == 0 ]] && echo "install layout: ok ($prefix, $libexec, $sysconf)"
exit "$fail"
