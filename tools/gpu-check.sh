#!/usr/bin/env bash
# One call on a GPU machine (../shared/GPU.md), given a build made elsewhere
# by tools/gpu-build.sh (.gpu/build and .gpu/lib beside this tree):
#   1. registers NVIDIA's OpenCL driver with the ICD loader if no vendor file
#      names it, and lists the devices (devices.txt, devices.json);
#   2. on each GPU: the device conformance suite with the GPU kernel family
#      (the profile's own there) and with the CPU family forced
#      (suite-<P:D>-<family>.log);
#   3. clformer bench --quick on every GPU (bench.json, bench.txt);
#   4. PyTorch's times for the same GEMM, attention and encoder shapes when
#      torch is importable (torch.json, torch.txt).
# Every step has its own time limit, so the whole stays within about
# 8 minutes; summary.txt says what each step gave. Exit status: 0 when every
# step that ran passed.
#   usage: tools/gpu-check.sh OUT_DIR
# GPU_CHECK_CLASSES (default "dgpu igpu") names the device classes checked:
# "cpu" rehearses the script on a machine without a GPU.
set -uo pipefail
out=${1:?usage: tools/gpu-check.sh OUT_DIR}
cd "$(dirname "$0")/.."
root=$(pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
summary="$out/summary.txt"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }
t_start=$(date +%s)
cli=.gpu/build/src/cli/clformer
suite=.gpu/build/tests/test_device
if [ ! -x "$cli" ] || [ ! -x "$suite" ]; then
  say "no build in .gpu/build: run tools/gpu-build.sh first (and carry .gpu)"; exit 2
fi
export LD_LIBRARY_PATH="$root/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CLFORMER_GOLDEN_DIR="$root/tests/golden"
export CLFORMER_CACHE_DIR="$out/cache"
export POCL_CACHE_DIR="$out/cache/pocl"
status=0

# 1. NVIDIA's OpenCL: the ICD loader finds drivers through vendor files.
vendors=${OCL_ICD_VENDORS:-/etc/OpenCL/vendors}
if ! grep -qsl nvidia "$vendors"/*.icd 2>/dev/null; then
  lib=$(ls /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 /usr/lib64/libnvidia-opencl.so.1 \
           /usr/local/nvidia/lib64/libnvidia-opencl.so.1 /usr/lib/libnvidia-opencl.so.1 2>/dev/null | head -n 1)
  if [ -n "$lib" ]; then
    if mkdir -p "$vendors" 2>/dev/null && echo "$lib" >"$vendors/nvidia.icd" 2>/dev/null; then
      say "registered $lib in $vendors/nvidia.icd"
    else # not root: a private vendor folder
      mkdir -p "$out/vendors" && echo "$lib" >"$out/vendors/nvidia.icd"
      export OCL_ICD_VENDORS="$out/vendors"
      say "registered $lib in $out/vendors (OCL_ICD_VENDORS)"
    fi
  else
    say "no libnvidia-opencl.so.1 found; vendor files: $(ls "$vendors" 2>/dev/null | tr '\n' ' ')"
  fi
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$out/nvidia-smi.txt" 2>&1 &&
  say "nvidia-smi: $(cat "$out/nvidia-smi.txt")"
timeout 60 "$cli" devices >"$out/devices.txt" 2>&1
timeout 60 "$cli" devices --json >"$out/devices.json" 2>"$out/devices.err"
cat "$out/devices.txt" | tee -a "$summary"
mapfile -t gpus < <(python3 - "$out/devices.json" "${GPU_CHECK_CLASSES:-dgpu igpu}" <<'PY'
import json, sys
try:
    devs = json.load(open(sys.argv[1]))["devices"]
except Exception:
    devs = []
for d in devs:
    if d["class"] in sys.argv[2].split():
        print(d["index"])
PY
)
if [ "${#gpus[@]}" -eq 0 ]; then
  say "no GPU among the OpenCL devices: nothing more to check"; exit 1
fi

# 2. The conformance suite on each GPU, both kernel families (the forced CPU
# family gets what time is left of its budget: its register-blocked kernels
# are slow on a GPU but must still be right).
# all-MiniLM-L6-v2 (90 MB, from pip) is rarely carried to such a machine:
# without it that one test is left out, and the summary says so.
filter=()
if [ -d "${CLFORMER_MINILM_DIR:-$root/build-logs/models/all-MiniLM-L6-v2}" ]; then
  export CLFORMER_MINILM_DIR="${CLFORMER_MINILM_DIR:-$root/build-logs/models/all-MiniLM-L6-v2}"
else
  filter=(--filter '!(hf/minilm*)')
  say "all-MiniLM-L6-v2 not here: hf::minilm_sentence_embeddings_match_sentence_transformers left out"
fi
for spec in "${gpus[@]}"; do
  for fam in gpu cpu; do
    limit=$([ "$fam" = gpu ] && echo 170 || echo 110)
    log="$out/suite-${spec/:/-}-$fam.log"
    t0=$(date +%s)
    CLFORMER_TEST_DEVICES=$spec CLFORMER_KERNELS=$fam timeout "$limit" "$suite" --jobs 1 --verbose "${filter[@]}" 2>&1 | grep -av ': Test is disabled$' >"$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -a "Synthesis:" "$log" | tail -n 1)
    fails=$(grep -a '^\[FAIL\]' "$log" | head -n 8 | sed 's/^/      /')
    [ $rc -eq 124 ] && line="timed out after ${limit}s: $(grep -ac '^\[PASS\]' "$log") passed, $(grep -ac '^\[FAIL\]' "$log") failed so far"
    say "suite $spec x $fam kernels ($(( $(date +%s) - t0 ))s, rc $rc): ${line:-no synthesis}"
    [ -n "$fails" ] && say "$fails"
    [ $rc -ne 0 ] && status=1
  done
done

# 3. The benchmark (every GPU; OpenBLAS on the host CPU is its baseline).
dev_args=()
for spec in "${gpus[@]}"; do dev_args+=(--device "$spec"); done
t0=$(date +%s)
timeout 150 "$cli" bench --quick --no-start "${dev_args[@]}" --json "$out/bench.json" >"$out/bench.txt" 2>"$out/bench.err"
rc=$?
say "bench --quick ($(( $(date +%s) - t0 ))s, rc $rc): $(grep -c . "$out/bench.txt") lines in bench.txt"
[ $rc -ne 0 ] && status=1

# 4. PyTorch on the same GPU, the same shapes.
if python3 -c 'import torch' 2>/dev/null; then
  t0=$(date +%s)
  timeout 90 python3 bench/torch_baseline.py --json "$out/torch.json" >"$out/torch.txt" 2>&1
  say "torch baseline ($(( $(date +%s) - t0 ))s, rc $?): $(head -c 300 "$out/torch.txt" | head -n 1)"
else
  say "torch is not importable here: no PyTorch baseline"
fi
say "gpu-check: $(( $(date +%s) - t_start ))s in all, status $status"
exit $status
