#!/usr/bin/env bash
# The checks of `make lint`: formatting against .clang-format, cppcheck,
# no call to a function the project bans as unsafe, no comma-return, and
# the order of the modules with the room of each library
# (scripts/modules.sh).
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
# Use buf_*, snprintf, strtol/strtoul and memcpy with a checked length;
# strerror() shares one buffer between threads: GW_ERRNO_TEXT() instead.
echo "lint: banned functions"
banned='strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|sscanf|gets|strerror'
if grep -nE "(^|[^_a-zA-Z0-9])($banned)[[:space:]]*\(" "${files[@]}" |
   grep -vE '^\S+:[0-9]+:\s*(/?\*|//)'; then
  echo "lint: banned function used (see scripts/lint.sh)"
  status=1
fi

# `return (x = y), true;` hides a statement in a return: two statements.
# The return may span lines, so the files are read whole.
echo "lint: comma-returns"
# A comma at the top level of a return statement, once comments, literals
# and everything inside brackets are taken away.
if perl -e '
  for my $f (@ARGV) {
    open(my $h, "<", $f) or die "$f: $!";
    local $/;
    my $s = <$h>;
    $s =~ s{("(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27)|/\*.*?\*/|//[^\n]*}
           { my $c = $&; defined $1 ? "\"\"" : ($c =~ tr/\n//cdr) }gse;
    while ($s =~ /\breturn\b([^;]*);/g) {
      my ($e, $at) = ($1, $-[0]);
      1 while $e =~ s/\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}//g;
      next unless $e =~ /,/;
      my $line = 1 + (substr($s, 0, $at) =~ tr/\n//);
      print "$f:$line: a return joins two expressions with a comma\n";
      $bad = 1;
    }
  }
  exit($bad ? 0 : 1);' "${files[@]}"; then
  status=1
fi

echo "lint: modules"
scripts/modules.sh --graph || status=1

[ $status -eq 0 ] && echo "lint: ok"
exit $status
