#!/usr/bin/env bash
# The module order, checked over the #include lines of every C file (part
# of `make lint`). Each folder is one module; a module may include only
# the modules its line below names, and from another module only that
# module's public header, <module>/<module>.h. Within a module no two
# files may include each other's headers in a circle. And each library
# may be included only by the files its line names.
#
# scripts/modules.known lists what the tree still breaks, one problem a
# line ("file: what", without the line number), while the work that
# removes it is under way: those are reported but tolerated, and an entry
# that no longer occurs is an error too, so that the list only shrinks.
#
# `scripts/modules.sh --graph` prints the module graph the files make;
# MODULES_ROOT checks another tree (the tests of this script do).
set -euo pipefail
cd "${MODULES_ROOT:-$(dirname "$0")/..}"

# module: the modules it may include (from the top down).
declare -A may=(
  [server]="api core store smtp mime net base"
  [api]="core store smtp mime net base"
  [core]="store smtp mime net base"
  [store]="base"
  [smtp]="net base"
  [mime]="base"
  [net]="base"
  [base]=""
)

# library header (a prefix of the name in <...>): the files that may use it.
declare -A library=(
  [mbedtls/]="net/tls.c"
  [sodium]="core/vault.c"
  [microhttpd.h]="server/http.c"
  [jansson.h]="api/* store/*"
  [idn2.h]="mime/addr.c"
  [sqlite3.h]="store/*"
  [libpq-fe.h]="store/*"
)

graph=0
[ "${1:-}" = --graph ] && graph=1
status=0
known_file=${MODULES_KNOWN:-scripts/modules.known}
declare -A known=() seen=()
if [ -f "$known_file" ]; then
  while IFS= read -r k; do
    [[ -z $k || $k == \#* ]] || known[$k]=1
  done <"$known_file"
fi
fail() {
  # The problem without its line number, as the known list names it.
  local key
  key=$(sed -E 's/^([^:]+):[0-9]+:/\1:/' <<<"$1")
  if [ -n "${known[$key]+set}" ]; then
    seen[$key]=1
    echo "known: $1"
    return
  fi
  echo "$1"
  status=1
}

mapfile -t files < <(git ls-files -co --exclude-standard '*.c' '*.h' |
                     grep -vE '^(tests|build)/')

declare -A edges=()   # "from to" pairs of modules
declare -A unit_dep=() # "a b": file unit a includes unit b's header
for f in "${files[@]}"; do
  mod=${f%%/*}
  [ -n "${may[$mod]+set}" ] || { fail "$f: not in a module folder"; continue; }
  unit=${f%.*}
  while IFS= read -r line; do
    n=${line%%:*}
    inc=${line#*:}
    if [[ $inc =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^>]+)\> ]]; then
      name=${BASH_REMATCH[1]}
      for lib in "${!library[@]}"; do
        [[ $name == "$lib"* ]] || continue
        ok=0
        for pat in ${library[$lib]}; do
          # shellcheck disable=SC2053
          [[ $f == $pat ]] && ok=1
        done
        [ $ok -eq 1 ] || fail "$f:$n: <$name> may be included only by ${library[$lib]}"
      done
    elif [[ $inc =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
      name=${BASH_REMATCH[1]}
      if [[ $name == */* ]]; then
        to=${name%%/*}
        if [ "$to" = "$mod" ]; then
          fail "$f:$n: \"$name\": within a module, name the header alone"
          continue
        fi
        edges["$mod $to"]=1
        if [[ " ${may[$mod]} " != *" $to "* ]]; then
          fail "$f:$n: $mod/ may not include $to/ (may: ${may[$mod]:-nothing})"
        elif [ "$name" != "$to/$to.h" ]; then
          fail "$f:$n: \"$name\": from outside $to/, only $to/$to.h"
        fi
      else
        dep="$mod/${name%.h}"
        [ "$dep" != "$unit" ] && unit_dep["$unit $dep"]=1
      fi
    fi
  done < <(grep -n '#[[:space:]]*include' "$f" || true)
done

# Circles among the files of a module: x.c or x.h including y.h counts
# as x using y. A header with no .c of its name (a module's public
# header, or declarations shared by several files) is no unit of its own:
# including it counts as including what it includes.
declare -A next=()
for e in "${!unit_dep[@]}"; do
  next[${e% *}]+="${e#* } "
done
is_unit() { [ -f "$1.c" ]; }
# The units `$1` uses, through any headers that are not units.
uses() {
  local u=$1 v seen=" $1 " todo out=""
  todo=${next[$u]:-}
  while [ -n "${todo// /}" ]; do
    v=${todo%% *}
    todo=${todo#* }
    [[ $seen == *" $v "* ]] && continue
    seen+="$v "
    if is_unit "$v"; then out+="$v "; else todo+="${next[$v]:-} "; fi
  done
  echo "$out"
}
declare -A used=() colour=()
for u in "${!next[@]}"; do
  is_unit "$u" && used[$u]=$(uses "$u")
done
circle() { # unit, the path so far
  local u=$1 v
  colour[$u]=grey
  for v in ${used[$u]:-}; do
    if [ "${colour[$v]:-}" = grey ]; then
      fail "include circle:$2 $u -> $v"
    elif [ -z "${colour[$v]:-}" ]; then
      circle "$v" "$2 $u ->"
    fi
  done
  colour[$u]=black
}
for u in "${!used[@]}"; do
  [ -z "${colour[$u]:-}" ] && circle "$u" ""
done

for k in "${!known[@]}"; do
  [ -n "${seen[$k]+set}" ] && continue
  echo "$known_file: no longer occurs, remove it: $k"
  status=1
done

if [ $graph -eq 1 ]; then
  for m in server api core store smtp mime net base; do
    deps=""
    for e in "${!edges[@]}"; do
      [ "${e% *}" = "$m" ] && deps+="${e#* } "
    done
    printf '%-7s -> %s\n' "$m/" "$(tr ' ' '\n' <<<"$deps" | sort | tr '\n' ' ')"
  done
fi
exit $status
