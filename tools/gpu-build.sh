#!/usr/bin/env bash
# Builds what tools/gpu-check.sh runs on a GPU machine that has a driver but
# no package registry (../shared/GPU.md): a release build in .gpu/build (the
# CLI and the device test suite) and, in .gpu/lib, the shared libraries they
# need that such a machine may lack (ocl-icd's loader, CLBlast, Criterion and
# their own dependencies; never the C library itself). Run it here, then send
# the tree with .gpu carried along.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .gpu/build/meson-private ]; then
  meson setup .gpu/build --reconfigure --buildtype=release >/dev/null
else
  meson setup .gpu/build --buildtype=release >/dev/null
fi
ninja -C .gpu/build src/cli/clformer tests/test_device
rm -rf .gpu/lib
mkdir -p .gpu/lib
# The glibc family stays: it must match the machine's kernel and loader.
skip='/(libc|libm|libdl|librt|libpthread|libresolv|ld-linux[^/]*)\.so'
for bin in .gpu/build/src/cli/clformer .gpu/build/tests/test_device; do
  ldd "$bin" | awk '/=> \// {print $3}' | grep -Ev "$skip" | while read -r lib; do
    cp -L "$lib" .gpu/lib/
  done
done
strip --strip-unneeded .gpu/lib/*.so* 2>/dev/null || true
echo "gpu-build: $(ls .gpu/lib | wc -l) libraries in .gpu/lib ($(du -sh .gpu | cut -f1) in all): $(ls .gpu/lib | tr '\n' ' ')"
