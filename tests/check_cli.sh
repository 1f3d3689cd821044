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
# The benchmark runs end to end and writes one well-formed record per case.
json=$(mktemp)
"$cli" bench --quick --reps 2 --json "$json" >/dev/null
python3 - "$json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
recs = doc["records"]
need = {"device", "device_type", "driver", "entry", "case", "shape", "median_s", "min_s", "p90_s",
        "p99_s", "gflops", "gbs", "roofline_pct", "baseline", "ratio_vs_baseline"}
assert recs, "no records"
for r in recs:
    missing = need - set(r)
    assert not missing, (r.get("case"), missing)
    assert r["median_s"] > 0 and r["min_s"] <= r["median_s"] <= r["p90_s"] <= r["p99_s"], r
entries = {r["entry"] for r in recs}
for e in ("gemm", "attention", "softmax", "norm", "eltwise", "embed", "topk", "copy"):
    assert e in entries, e
print(f"bench --quick --json: {len(recs)} records, entries {sorted(entries)}")
PY
rm -f "$json"
echo "cli bench: ok"
