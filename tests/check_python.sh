#!/usr/bin/env bash
# The Python package end to end: `pip install .` (meson-python builds the C
# library and the extension module) into a virtual environment, then pytest
# on python/tests from outside the source tree, so that `import clformer` is
# the installed package. The venv sees the system's site-packages (numpy,
# pytest, meson-python from tools/install-deps.sh); --no-build-isolation
# builds with them, offline. The build folder is kept between runs, so a
# second run recompiles only what changed.
#   usage: tests/check_python.sh [VENV]   (default build-logs/py-venv)
# Environment: CLFORMER_TEST_DEVICES, CLFORMER_MINILM_DIR (python/tests/conftest.py).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$root/build-logs/py-venv}
jobs=$(nproc 2>/dev/null || echo 2)
[ -x "$venv/bin/python" ] || python3 -m venv --system-site-packages "$venv"
t0=$(date +%s)
"$venv/bin/python" -m pip install --no-build-isolation --no-deps -q \
  -Cbuild-dir="$root/build-logs/py-build" -Ccompile-args=-j"$jobs" "$root"
t1=$(date +%s)
echo "check_python: pip install . took $((t1 - t0)) s"
cd "$venv"
"$venv/bin/python" -c 'import clformer; print("clformer", clformer.__version__, clformer.__file__)'
"$venv/bin/python" -m pytest -p no:cacheprovider -rs "$root/python/tests"
echo "check_python: pytest took $(( $(date +%s) - t1 )) s"
