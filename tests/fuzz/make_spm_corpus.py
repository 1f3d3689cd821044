#!/usr/bin/env python3
"""Seeds tests/fuzz/corpus/spm/ for tests/fuzz/fuzz_spm.c: small models
trained by pip sentencepiece (Unigram and BPE, with and without byte
fallback, user-defined symbols, and a hand-written normalisation rule table
so the precompiled character map is a few hundred bytes instead of nmt_nfkc's
240 KB), each paired with a text. Input layout: 2 bytes LE text length, the
text, the model file.

    python3 tests/fuzz/make_spm_corpus.py
"""
import os
import struct
import tempfile

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "spm")
TRAIN = ["hello world", "the cat sat on the mat", "Grüße aus Köln", "日本語のテキスト",
         "ｆｕｌｌ ｗｉｄｔｈ ①②③", "emoji 👍🏽 ok", "x  y\tz", "caf\u00e9 cafe\u0301"] * 20
RULES = ["66 6", "FF46\t66", "FF55\t75", "2460\t31", "2461\t32", "9\t20", "65 301\tE9",
         "3000\t20", "FB01\t66 69"]
TEXTS = ["hello  ｗｏｒｌｄ ①", " ﬁne 日本 👍🏽\t", "<mask>cat", "\xff\xfe broken", ""]


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        train = os.path.join(tmp, "train.txt")
        with open(train, "w", encoding="utf-8") as f:
            f.write("\n".join(TRAIN) + "\n")
        rules = os.path.join(tmp, "rules.tsv")
        with open(rules, "w", encoding="utf-8") as f:
            f.write("\n".join(RULES) + "\n")
        configs = {
            "uni_rules": dict(model_type="unigram", vocab_size=60,
                              normalization_rule_tsv=rules),
            "bpe_rules_ud": dict(model_type="bpe", vocab_size=60, normalization_rule_tsv=rules,
                                 user_defined_symbols=["<mask>"]),
            "uni_bf_identity": dict(model_type="unigram", vocab_size=340, byte_fallback=True,
                                    normalization_rule_name="identity",
                                    remove_extra_whitespaces=False),
            "bpe_sfx_identity": dict(model_type="bpe", vocab_size=60,
                                     normalization_rule_name="identity",
                                     treat_whitespace_as_suffix=True),
        }
        for name, opts in configs.items():
            prefix = os.path.join(tmp, name)
            spm.SentencePieceTrainer.train(input=train, model_prefix=prefix, num_threads=1,
                                           hard_vocab_limit=False, minloglevel=2, **opts)
            model = open(prefix + ".model", "rb").read()
            for i, t in enumerate(TEXTS):
                text = t.encode("utf-8", "surrogateescape") if "\xff" not in t else \
                    b"\xff\xfe broken"
                with open(os.path.join(OUT, f"{name}_{i}"), "wb") as f:
                    f.write(struct.pack("<H", len(text)) + text + model)
            print(name, len(model), "bytes")


if __name__ == "__main__":
    main()
