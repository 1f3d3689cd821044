#!/usr/bin/env bash
# The shared library exports only clf_ symbols (hidden visibility elsewhere).
set -euo pipefail
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}')
[ -n "$syms" ] || { echo "no exported symbols in $lib"; exit 1; }
bad=$(grep -v '^clf_' <<<"$syms" || true)
internal=$(grep '^clf__' <<<"$syms" || true)
echo "$(wc -l <<<"$syms") exported symbols"
if [ -n "$bad$internal" ]; then echo "symbols outside the public clf_ API:"; echo "$bad$internal"; exit 1; fi
echo "all exported symbols start with clf_ (none with the internal clf__ prefix)"
