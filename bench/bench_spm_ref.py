#!/usr/bin/env python3
"""Encode throughput of the reference sentencepiece (pip package), one
thread, over the same lines as bench/bench_spm.c: per-line encode calls
(each pays Python's call overhead) and one batch call with num_threads=1
(the C++ loop, the fairer figure for the library itself).

    python3 bench/bench_spm_ref.py TEXT_FILE MODEL.spm...
"""
import sys
import time

import sentencepiece as spm


def rate(fn, n_lines, size):
    fn()  # warm-up
    passes, t0 = 0, time.perf_counter()
    while True:
        fn()
        passes += 1
        t = time.perf_counter() - t0
        if t >= 2.0:
            return n_lines * passes / t, size * passes / t / 1e6, passes


def main():
    data = open(sys.argv[1], "rb").read()
    lines = data.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for path in sys.argv[2:]:
        sp = spm.SentencePieceProcessor(model_file=path, num_threads=1)
        ids = sum(len(x) for x in sp.encode(lines, num_threads=1))
        for how, fn in (("per line", lambda: [sp.encode(x) for x in lines]),
                        ("batch, 1 thread", lambda: sp.encode(lines, num_threads=1))):
            lps, mbs, passes = rate(fn, len(lines), len(data))
            print(f"sentencepiece {path:40s} {lps:9.0f} lines/s {mbs:7.2f} MB/s  "
                  f"({how}, {len(lines)} lines, {ids} ids, {passes} passes, v{spm.__version__})")


if __name__ == "__main__":
    main()
