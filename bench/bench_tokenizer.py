#!/usr/bin/env python3
"""Encode throughput of clformer's tokenizer beside HF `tokenizers`, single
thread, line by line, same lines, same run.

    python3 bench/bench_tokenizer.py BUILD_DIR [TOKENIZER] [TEXT_FILE]

TOKENIZER is a tokenizer.json (the reference is HF `tokenizers`) or a Marian
folder with source.spm / target.spm / vocab.json (the reference is
transformers' MarianTokenizer, the slow sentencepiece-backed one).
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
    if os.path.isdir(tok) and os.path.exists(os.path.join(tok, "source.spm")):
        import transformers  # noqa: E402
        ref, name = transformers.MarianTokenizer.from_pretrained(tok), "transformers MarianTokenizer"
        encode = lambda line: ref(line).input_ids  # noqa: E731
    else:
        ref, name = Tokenizer.from_file(tok), "HF tokenizers"
        ref.no_padding()  # clformer pads only in batches: compare the encodings alone
        ref.no_truncation()  # and truncates at its own max_length (512 here)
        encode = lambda line: ref.encode(line).ids  # noqa: E731
    best = 1e30
    for _ in range(5):
        t0 = time.perf_counter()
        n_ids = sum(len(encode(line)) for line in lines)
        best = min(best, time.perf_counter() - t0)
    print(f"{name}: {len(lines)} lines, {n_ids} ids, best of 5: {best * 1e3:.1f} ms = "
          f"{len(lines) / best:.0f} lines/s")
    out = subprocess.run([os.path.join(build, "bench", "bench_tokenizer"), tok, text, "5"],
                         check=True, capture_output=True, text=True).stdout
    print(out, end="")


if __name__ == "__main__":
    main()
