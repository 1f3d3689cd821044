#!/usr/bin/env bash
# Installs what clformer needs to build, test and benchmark on Debian 12:
# compiler and build tools, the OpenCL ICD loader and headers, PoCL (OpenCL on
# the CPU), CLBlast, Criterion, OpenSSL's libcrypto (SHA-256 for cache keys)
# and OpenBLAS (the CPU baseline of the benchmarks).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential meson ninja-build pkg-config python3 \
  ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo \
  libclblast-dev libcriterion-dev libssl-dev libjson-c-dev libopenblas-dev >/dev/null
echo "install-deps: done"
