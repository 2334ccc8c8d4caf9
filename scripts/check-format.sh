#!/usr/bin/env bash
# Fails when a tracked C++ file differs from .clang-format (scripts/test.sh runs it first).
# Fix with: git ls-files '*.cpp' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h')
if ! clang-format --dry-run -Werror "${files[@]}"; then
  echo "error: the files above are not formatted (.clang-format); run:" >&2
  echo "  git ls-files '*.cpp' '*.h' | xargs clang-format -i" >&2
  exit 1
fi
echo "==> format: ${#files[@]} files match .clang-format"
