#!/usr/bin/env bash
# SentencePiece encode throughput, clformer beside pip sentencepiece in the
# same run, one thread each, on the held-out corpus and the golden models.
#   tools/bench-spm.sh [BUILD_DIR]     (default build; a release build is the fair one)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
text=tests/golden/text/heldout.txt
models=(tests/golden/spm/unigram_bf.spm tests/golden/spm/unigram.spm tests/golden/spm/bpe.spm)
for m in "${models[@]}"; do
  "$build/bench/bench_spm" "$text" "$m"
  python3 bench/bench_spm_ref.py "$text" "$m"
done
