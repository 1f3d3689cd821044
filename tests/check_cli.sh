#!/usr/bin/env bash
# End to end through the CLI: the commands the README shows, with their
# output checked.
set -euo pipefail
cli=$1
"$cli" --version | grep -q '^clformer [0-9]'
"$cli" --help | grep -q devices
out=$("$cli" devices)
echo "$out"
grep -q '^\*' <<<"$out" || { echo "no device marked selected"; exit 1; }
"$cli" devices --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert sum(x["selected"] for x in d["devices"])==1; print("devices --json: valid,", len(d["devices"]), "device(s)")'
if "$cli" devices --device no-such-device-xyz 2>err.txt; then echo "bad --device accepted"; exit 1; fi
grep -q "devices present" err.txt || { cat err.txt; exit 1; }
rm -f err.txt
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
CLFORMER_CACHE_DIR=$cache "$cli" selftest | tee /dev/stderr | grep -q ': ok$'
CLFORMER_CACHE_DIR=$cache "$cli" selftest --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] and d["built"]==0 and d["cache_hits"]==d["programs"], d; print("warm selftest: every program from the cache")'
if "$cli" frobnicate 2>/dev/null; then echo "unknown command accepted"; exit 1; fi
echo "cli: ok"
