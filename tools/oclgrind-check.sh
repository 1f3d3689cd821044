#!/usr/bin/env bash
# Oclgrind (Debian package `oclgrind`, an OpenCL device simulator) as a
# checker: runs tests/oclgrind_ops (every kernel of a kernel family at small
# shapes that cross every tile edge, results checked against the float64
# references) once with CLFORMER_KERNELS=cpu and once with CLFORMER_KERNELS=gpu
# under Oclgrind with API checks (--check-api), data-race detection
# (--data-races), uninitialised-value tracking (--uninitialized) and its
# always-on out-of-bounds and barrier-divergence checks. Any Oclgrind
# diagnostic (a kernel message in the --log file, or an API error on stderr)
# fails the run.
#
#   tools/oclgrind-check.sh [--build DIR] [SUB...]   the check (SUB: case filter, as oclgrind_ops)
#   tools/oclgrind-check.sh --self-test              shows that a planted race and a planted
#                                                    out-of-bounds read are caught
#
# Needs a build with the driver: meson setup build && ninja -C build tests/oclgrind_ops.
# Exit status 0 only when every case ran in both families, every result
# matched its reference and Oclgrind printed no diagnostic. The last line:
#   oclgrind: cpu N cases passed, gpu N cases passed, 0 diagnostics
# Logs (driver output, Oclgrind's messages, time and peak memory per run):
# build-logs/oclgrind/. About 2 minutes on 2 cores.
#
# Notes:
# - Kernels are built with -cl-opt-disable (Oclgrind's --build-options, added
#   to the library's own): optimised LLVM IR holds `freeze`, which the
#   uninitialised-value plugin of Oclgrind 21.10 rejects.
# - attn_flash_cpu (the CPU family's attn/flash case) crashes that plugin
#   (segmentation fault in Oclgrind), so that case runs in a run of its own
#   without --uninitialized (races, bounds and API still checked).
# - No disk cache (CLFORMER_CACHE_DIR=""): the cache key holds the library's
#   build options, not Oclgrind's extra ones, so a binary built without
#   -cl-opt-disable (or for PoCL) could come back. POCL_CACHE_DIR is private
#   in case anything reaches PoCL.
# - Race tracking keeps shadow state per byte of every buffer: memory is
#   capped (ulimit -v, OCLGRIND_CHECK_MEM_GIB, default 8) and the shapes are
#   small (peak RSS is in the .time files).
# - Oclgrind's "At line N of input.cl" counts lines of the kernel file
#   (kernels/X.cl: the library restarts the numbering after the common.cl
#   prelude); the source line it quotes beside it is the prelude's, not X.cl's.
# - A smaller simulated device: OCLGRIND_MAX_WGSIZE=64 OCLGRIND_LOCAL_MEM_SIZE=16384
#   tools/oclgrind-check.sh (Oclgrind reads these; the library plans for them).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=build
self_test=0
filters=()
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --self-test) self_test=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "oclgrind-check: unknown option $1" >&2; exit 2 ;;
    *) filters+=("$1"); shift ;;
  esac
done
case $build in /*) ;; *) build="$root/$build" ;; esac
driver="$build/tests/oclgrind_ops"
logs="$root/build-logs/oclgrind"
mkdir -p "$logs"
command -v oclgrind >/dev/null || { echo "oclgrind-check: oclgrind not installed (apt-get install oclgrind)" >&2; exit 2; }
[ -x "$driver" ] || { echo "oclgrind-check: no $driver (meson setup, then ninja -C $build tests/oclgrind_ops)" >&2; exit 2; }

export CLFORMER_CACHE_DIR=""
export POCL_CACHE_DIR="$logs/pocl-cache"
mem_kib=$(( ${OCLGRIND_CHECK_MEM_GIB:-8} * 1024 * 1024 ))
checks=(--check-api --data-races)
uninit=(--uninitialized --build-options -cl-opt-disable)

# Runs the driver under Oclgrind: label, family, Oclgrind options..., --, driver arguments...
# Sets: run_rc, run_cases (cases passed), run_failed, run_diags (Oclgrind messages).
run() {
  local label=$1 family=$2; shift 2
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  local out="$logs/$label.out" log="$logs/$label.log"
  rm -f "$log"
  (
    ulimit -v "$mem_kib"
    CLFORMER_KERNELS=$family /usr/bin/time -f "%e s, peak RSS %M KiB" -o "$logs/$label.time" \
      timeout 900 oclgrind "${opts[@]}" --log "$log" "$driver" "$@"
  ) >"$out" 2>&1
  run_rc=$?
  touch "$log"
  # Kernel messages go to the --log file, one per paragraph (a heading,
  # tab-indented detail, a blank line); --check-api's go to stderr.
  local api
  api=$(grep -ac "^Oclgrind - OpenCL runtime error detected" "$out")
  run_diags=$(( $(awk 'BEGIN { RS = "" } END { print NR }' "$log") + api ))
  local last
  last=$(grep -a "^oclgrind_ops: family" "$out" | tail -n 1)
  run_cases=$(sed -n 's/.*: \([0-9]*\) passed.*/\1/p' <<<"$last")
  run_failed=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$last")
  run_cases=${run_cases:-0}
  run_failed=${run_failed:-0}
  local fam_ok=1
  grep -aq "kernel family $family " "$out" || fam_ok=0
  printf '%-10s %s: %d cases passed, %d failed, %d Oclgrind diagnostics (%s)\n' "$label" \
    "$family" "$run_cases" "$run_failed" "$run_diags" "$(cat "$logs/$label.time" 2>/dev/null | tail -n 1)"
  grep -a "^FAIL" -A1 "$out" | sed 's/^/   | /'
  if [ "$fam_ok" = 0 ]; then
    echo "   | the driver did not run the $family family:"
    grep -a "kernel family" "$out" | sed 's/^/   | /'
    run_rc=1
  fi
  if [ "$run_rc" -ne 0 ] && [ "$run_failed" = 0 ]; then
    local why=""
    [ "$run_rc" -gt 128 ] && why=" (signal $((run_rc - 128)))"
    [ "$run_rc" = 124 ] && why=" (timeout)"
    echo "   | exit status $run_rc$why; last lines:"
    tail -n 5 "$out" | sed 's/^/   | /'
  fi
  if [ "$api" -gt 0 ]; then
    awk '/^Oclgrind - OpenCL runtime error detected/ { m = 1; s = ""; next }
         m && /^\t/ { sub(/^\t/, ""); gsub(/  +/, " "); s = s (s == "" ? "" : ", ") $0; next }
         m { print s; m = 0 }' "$out" | sort | uniq -c | sort -rn | head -n 10 | sed 's/^/   | API error: /'
  fi
  if [ "$run_diags" -gt "$api" ]; then
    # Each message's heading and the kernel it names.
    awk 'BEGIN { RS = ""; FS = "\n" } { h = $1; gsub(/0x[0-9a-fA-F]+/, "0x...", h); k = "";
         for (i = 2; i <= NF; i++) if ($i ~ /Kernel:/) { k = $i; sub(/^[ \t]*/, "", k) }
         print h " (" k ")" }' "$log" | sort | uniq -c | sort -rn | head -n 10 | sed 's/^/   | /'
    echo "   | all messages: build-logs/oclgrind/$label.log"
  fi
}

if [ "$self_test" = 1 ]; then
  # Plants, each in a copy of kernels/ that the library reads through
  # CLFORMER_KERNEL_DIR, run with the same checks on the one case that
  # launches the planted kernel (norm_rows, GPU family):
  #   race: the barrier between the steps of norm.cl's work-group sum removed;
  #   oob:  norm_rows reads gamma one row (D elements) past its start.
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/oclgrind-plants.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  for p in none race oob; do mkdir "$tmp/$p" && cp kernels/*.cl "$tmp/$p/"; done
  sed -i '/if (lid < step) red\[lid\] += red\[lid + step\];/{n;/barrier(CLK_LOCAL_MEM_FENCE);/d}' "$tmp/race/norm.cl"
  sed -i 's/nm_load(g, (long)goff + c \* gs,/nm_load(g, (long)goff + (c + D) * gs,/' "$tmp/oob/norm.cl"
  ok=1
  for p in race oob; do
    if cmp -s kernels/norm.cl "$tmp/$p/norm.cl"; then
      echo "self-test: the $p plant did not apply to kernels/norm.cl (the kernel changed?)"; ok=0
    fi
  done
  summary=()
  for p in none race oob; do
    CLFORMER_KERNEL_DIR="$tmp/$p" run "plant-$p" gpu "${checks[@]}" "${uninit[@]}" -- =norm/rows
    case $p in
      none) want='.' ;;                     # the unplanted copy: no message at all
      race) want='data race' ;;
      oob) want='^Invalid (read|write)' ;;
    esac
    if [ "$p" = none ]; then
      if [ "$run_diags" -ne 0 ] || [ "$run_rc" -ne 0 ]; then
        echo "self-test: the unplanted copy is not clean: the plants would prove nothing"; ok=0
      fi
      continue
    fi
    first=$(awk -v w="$want" 'BEGIN { RS = ""; FS = "\n" } $1 ~ w { print; exit }' "$logs/plant-$p.log")
    if [ -n "$first" ]; then
      echo "self-test: $p plant caught; its first diagnostic:"
      sed 's/^/   > /' <<<"$first"
      summary+=("$p caught: $(head -n 1 <<<"$first")")
    else
      echo "self-test: $p plant NOT caught (no message matching /$want/ in build-logs/oclgrind/plant-$p.log)"
      ok=0
      summary+=("$p NOT caught")
    fi
  done
  if [ "$ok" = 1 ]; then
    echo "oclgrind self-test: passed: $(IFS=';'; echo "${summary[*]}" | sed 's/;/; /g')"
    exit 0
  fi
  echo "oclgrind self-test: FAILED: $(IFS=';'; echo "${summary[*]}" | sed 's/;/; /g')"
  exit 1
fi

# The cases: all, or those a filter names.
mapfile -t all < <("$driver" --list)
cases=()
for c in "${all[@]}"; do
  if [ ${#filters[@]} -eq 0 ]; then cases+=("$c"); continue; fi
  for f in "${filters[@]}"; do
    if [[ $f == =* && "=$c" == "$f" ]] || [[ $f != =* && $c == *"$f"* ]]; then cases+=("$c"); break; fi
  done
done
[ ${#cases[@]} -gt 0 ] || { echo "oclgrind-check: no case matches ${filters[*]}" >&2; exit 2; }
cpu_main=() cpu_flash=()
for c in "${cases[@]}"; do
  if [ "$c" = attn/flash ]; then cpu_flash+=("=$c"); else cpu_main+=("=$c"); fi
done

status=0 diags=0
declare -A passed=([cpu]=0 [gpu]=0)
account() { # family
  passed[$1]=$(( ${passed[$1]} + run_cases ))
  diags=$(( diags + run_diags ))
  if [ "$run_rc" -ne 0 ] || [ "$run_failed" -ne 0 ] || [ "$run_diags" -ne 0 ]; then status=1; fi
}
if [ ${#cpu_main[@]} -gt 0 ]; then
  run cpu cpu "${checks[@]}" "${uninit[@]}" -- "${cpu_main[@]}"; account cpu
fi
if [ ${#cpu_flash[@]} -gt 0 ]; then
  # attn_flash_cpu crashes the uninitialised-value plugin: no --uninitialized here.
  run cpu-flash cpu "${checks[@]}" -- "${cpu_flash[@]}"; account cpu
fi
run gpu gpu "${checks[@]}" "${uninit[@]}" -- "${cases[@]/#/=}"; account gpu
for fam in cpu gpu; do
  if [ "${passed[$fam]}" -ne ${#cases[@]} ]; then
    echo "$fam family: ${passed[$fam]} of ${#cases[@]} cases passed"; status=1
  fi
done
summary="cpu ${passed[cpu]} cases passed, gpu ${passed[gpu]} cases passed, $diags diagnostics"
if [ "$status" = 0 ]; then echo "oclgrind: $summary"; else echo "oclgrind: FAILED: $summary"; fi
exit "$status"
