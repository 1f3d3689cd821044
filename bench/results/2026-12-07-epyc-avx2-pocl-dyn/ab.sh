#!/bin/bash
# The alternated decode rounds of ab.txt and ab-i16.txt: gprof.c (the 2026-12-06-epyc-avx2-pocl
# folder's tools, built as /tmp/gprof) against the library before the change (/tmp/bOld: a
# build of 992e46e for ab.txt, of 7d387e0 for ab-i16.txt) and after (this checkout's build/),
# GPT-2 small random weights, 16-token prompt, 64 new tokens, best of 4 generates after a
# warm-up; w3 = Q4, w2 = Q8.
root=$(cd "$(dirname "$0")/../../.." && pwd)
export POCL_CACHE_DIR=/tmp/main-pocl
for r in 1 2 3 4 5; do
  for b in old new; do
    if [ $b = old ]; then L=/tmp/bOld/src; C=/tmp/old-cache; else L=$root/build/src; C=/tmp/main-cache; fi
    for w in 3 2; do
      echo "round $r $b w$w $(CLFORMER_CACHE_DIR=$C LD_LIBRARY_PATH=$L REPS=5 /tmp/gprof 0:0 $w 64 0 | head -1) load $(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
