#!/usr/bin/env python3
"""Pair encodings of the reference libraries (tests/test_tokenizer_pair.c):
150 pairs of consecutive held-out lines plus edge pairs (empty sides), for
each tokenizer golden, encoded by HF `tokenizers` (tokenizer.json files,
longest_first truncation at max_length 512 and at 40) and by transformers'
MarianTokenizer (the Marian folder, no truncation). Writes pairs.json:
{"pairs": [[a, b], ...], "cases": [{"name", "path", "max_length", "ids"}]}.
Versions go into pairs_info.txt."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

TOKENIZER_JSON = [  # name, tokenizer.json (reference), path clformer loads
    ("wordpiece", "tests/golden/tokenizer/tokenizer.json", "tests/golden/tokenizer/tokenizer.json"),
    ("wordpiece_vocab_txt", "tests/golden/tokenizer/tokenizer.json", "tests/golden/tokenizer/vocab.txt"),
    ("gpt2", "tests/golden/bpe/gpt2/tokenizer.json", "tests/golden/bpe/gpt2/tokenizer.json"),
    ("roberta", "tests/golden/bpe/roberta/tokenizer.json", "tests/golden/bpe/roberta/tokenizer.json"),
    ("roberta_files", "tests/golden/bpe/roberta/tokenizer.json", "tests/golden/bpe/roberta_files"),
    ("xlmr", "tests/golden/spm_wire/xlmr/tokenizer.json", "tests/golden/spm_wire/xlmr/tokenizer.json"),
]


def main():
    lines = open(os.path.join(HERE, "heldout.txt"), encoding="utf-8", newline="\n").read().split("\n")[:-1]
    pairs = [[lines[i], lines[i + 1]] for i in range(2, 302, 2)]
    pairs += [["", ""], ["", lines[5]], [lines[6], ""], [lines[7] * 6, lines[8]], [lines[9], lines[10] * 6]]
    cases = []
    for name, ref, path in TOKENIZER_JSON:
        for max_length in (512, 40):
            tok = Tokenizer.from_file(os.path.join(ROOT, ref))
            tok.no_padding()
            tok.enable_truncation(max_length, strategy="longest_first")
            ids = [tok.encode(a, b).ids for a, b in pairs]
            cases.append({"name": name, "path": path, "max_length": max_length, "ids": ids})
    marian = transformers.MarianTokenizer.from_pretrained(os.path.join(ROOT, "tests/golden/spm_wire/marian"))
    ids = [marian(a, text_pair=b).input_ids for a, b in pairs]
    cases.append({"name": "marian", "path": "tests/golden/spm_wire/marian", "max_length": 512,
                  "ids": ids})
    with open(os.path.join(HERE, "pairs.json"), "w", encoding="utf-8") as f:
        json.dump({"pairs": pairs, "cases": cases}, f, ensure_ascii=False)
    with open(os.path.join(HERE, "pairs_info.txt"), "w") as f:
        f.write(f"tokenizers {tokenizers.__version__}\ntransformers {transformers.__version__}\n"
                f"python {sys.version.split()[0]}\n{len(pairs)} pairs, {len(cases)} cases\n")


if __name__ == "__main__":
    main()
