#!/usr/bin/env bash
# The checks of `make lint`: formatting against .clang-format, cppcheck,
# and no call to a function the project bans as unsafe.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files -co --exclude-standard '*.c' '*.h')
status=0

echo "lint: clang-format"
clang-format --dry-run --Werror "${files[@]}" || status=1

echo "lint: cppcheck"
cppcheck --quiet --error-exitcode=1 --inline-suppr \
  --enable=warning,performance,portability \
  --std=c11 -D__GNUC__ -DGW_VERSION='"lint"' \
  --suppress=missingIncludeSystem \
  "${files[@]}" || status=1

# Functions that write past a buffer, or parse without reporting errors.
# Use buf_*, snprintf, strtol/strtoul and memcpy with a checked length.
echo "lint: banned functions"
banned='strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|sscanf|gets'
if grep -nE "(^|[^_a-zA-Z0-9])($banned)[[:space:]]*\(" "${files[@]}" |
   grep -vE '^\S+:[0-9]+:\s*(/?\*|//)'; then
  echo "lint: banned function used (see scripts/lint.sh)"
  status=1
fi

[ $status -eq 0 ] && echo "lint: ok"
exit $status
