#!/usr/bin/env python3
"""Encode throughput of clformer's tokenizer beside HF `tokenizers`, single
thread, line by line, same lines, same run.

    python3 bench/bench_tokenizer.py BUILD_DIR [TOKENIZER_JSON] [TEXT_FILE]

Defaults: the GPT-2 style golden (tests/golden/bpe/gpt2/tokenizer.json) on
tests/golden/text/heldout.txt. Prints one line per library (best of 5).
"""
import os
import subprocess
import sys
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
from tokenizers import Tokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    tok = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "tests/golden/bpe/gpt2/tokenizer.json")
    text = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "tests/golden/text/heldout.txt")
    with open(text, encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")[:-1]
    hf = Tokenizer.from_file(tok)
    best = 1e30
    for _ in range(5):
        t0 = time.perf_counter()
        n_ids = sum(len(hf.encode(line).ids) for line in lines)
        best = min(best, time.perf_counter() - t0)
    print(f"HF tokenizers: {len(lines)} lines, {n_ids} ids, best of 5: {best * 1e3:.1f} ms = "
          f"{len(lines) / best:.0f} lines/s")
    out = subprocess.run([os.path.join(build, "bench", "bench_tokenizer"), tok, text, "5"],
                         check=True, capture_output=True, text=True).stdout
    print(out, end="")


if __name__ == "__main__":
    main()
