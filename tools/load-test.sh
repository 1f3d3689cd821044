#!/usr/bin/env bash
# The load test (issue 13): tests/load_test runs T threads, each with its own
# context, all-MiniLM-L6-v2 and the tiny GPT-2 of tests/golden/hf/gpt2, over a
# seeded random mix of sentence encodes and greedy / sampled generations for
# N seconds; every result must equal the single-threaded reference byte for
# byte, and the resident memory and the device bytes must stay flat after the
# warm-up (see tests/load_test.c for the exact bounds).
#
#   tools/load-test.sh [--build DIR] [--tsan] [--no-suppressions]
#                      [--self-test [--plants LIST]] [--seconds N] [--threads T] [--device SPEC] [load_test options...]
#
#   --build DIR         the build folder (default build; with --tsan, build-tsan)
#   --tsan              ThreadSanitizer: configures and builds build-tsan when it
#                       is missing (meson -Db_sanitize=thread, debugoptimized,
#                       just the load test), runs with tools/tsan.supp and
#                       halt_on_error=1: any report that the file does not
#                       suppress fails the run (TSan's exit status 66)
#   --no-suppressions   with --tsan: without tools/tsan.supp (to see what the
#                       drivers would report)
#   --self-test         shows that the test can fail: short runs with a planted
#                       mismatch, a host leak and a device leak (and with --tsan
#                       a planted data race in the test program) must each fail
#                       for their own reason; passes when all of them do
#   --plants LIST       with --self-test: the plants to run, comma-separated
#                       (mismatch,rss,device,race; default all that apply)
# Other options go to the program: --seconds (default 300), --threads (4),
# --device (the library's choice; CI passes 0:0), --seed, --interval,
# --rss-slack-mib, --plant.
#
# Environment: CLFORMER_MINILM_DIR (default build-logs/models/all-MiniLM-L6-v2,
# fetched with tools/fetch-minilm.sh when missing); POCL_CACHE_DIR and
# CLFORMER_CACHE_DIR default to private folders under build-logs/. The load
# average is printed before and after (the machine may be shared).
# Logs: build-logs/load/.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build='' tsan=0 supp=1 self_test=0 only='' args=()
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --tsan) tsan=1; shift ;;
    --no-suppressions) supp=0; shift ;;
    --self-test) self_test=1; shift ;;
    --plants) only=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -n "$build" ] || { [ "$tsan" = 1 ] && build=build-tsan || build=build; }
case $build in /*) ;; *) build="$root/$build" ;; esac
logs="$root/build-logs/load"
mkdir -p "$logs"
export POCL_CACHE_DIR="${POCL_CACHE_DIR:-$root/build-logs/pocl-cache}"
export CLFORMER_CACHE_DIR="${CLFORMER_CACHE_DIR-$root/build-logs/clformer-cache}" # "" = no disk cache
export CLFORMER_MINILM_DIR="${CLFORMER_MINILM_DIR:-$root/build-logs/models/all-MiniLM-L6-v2}"
[ -f "$CLFORMER_MINILM_DIR/model.safetensors" ] || tools/fetch-minilm.sh "$CLFORMER_MINILM_DIR" || exit 2

if [ "$tsan" = 1 ]; then
  if [ ! -d "$build/meson-private" ]; then
    meson setup "$build" -Db_sanitize=thread --buildtype=debugoptimized -Dcli=false || exit 2
  fi
  ninja -C "$build" tests/load_test || exit 2
  opts="halt_on_error=1:second_deadlock_stack=1:history_size=4"
  [ "$supp" = 1 ] && opts="suppressions=$root/tools/tsan.supp:print_suppressions=1:$opts"
  export TSAN_OPTIONS="$opts${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
  echo "load-test: ThreadSanitizer, TSAN_OPTIONS=$TSAN_OPTIONS"
fi
prog="$build/tests/load_test"
[ -x "$prog" ] || { echo "load-test: $prog not built (ninja -C $build tests/load_test)"; exit 2; }
echo "load-test: $(uptime)"

if [ "$self_test" = 0 ]; then
  "$prog" "${args[@]}"
  rc=$?
  echo "load-test: $(uptime)"
  [ "$tsan" = 1 ] && [ "$rc" = 66 ] && echo "load-test: ThreadSanitizer reported (exit 66)"
  exit $rc
fi

# Self-test: each plant must fail, and for its own reason (the line it looks
# for), not for some other one.
plants=("mismatch|MISMATCH thread" "rss|FAIL flat: RSS grew" "device|FAIL flat: device memory")
[ "$tsan" = 1 ] && plants+=("race|WARNING: ThreadSanitizer: data race")
ok=1 summary=() ran=0
for entry in "${plants[@]}"; do
  p=${entry%%|*} want=${entry#*|}
  [ -z "$only" ] || [[ ",$only," == *",$p,"* ]] || continue
  ran=$((ran + 1))
  log="$logs/plant-$p.log"
  "$prog" --seconds 10 --threads 4 "${args[@]}" --plant "$p" >"$log" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ] && grep -aq "$want" "$log"; then
    summary+=("$p caught (exit $rc): $(grep -a -m1 "$want" "$log" | cut -c1-140)")
  else
    summary+=("$p NOT caught (exit $rc, no line matching '$want'; log: build-logs/load/plant-$p.log)")
    ok=0
  fi
done
[ "$ran" -gt 0 ] || { echo "load-test: no plant of '$only' applies (race needs --tsan)"; exit 2; }
for s in "${summary[@]}"; do echo "  $s"; done
echo "load-test: $(uptime)"
if [ "$ok" = 1 ]; then echo "load-test self-test: passed: every plant failed the run"; exit 0; fi
echo "load-test self-test: FAILED"
exit 1
