#!/usr/bin/env python3
"""Trains small SentencePiece models with the reference library (pip
`sentencepiece`) on tests/golden/text/train.txt and records, for every line of
tests/golden/text/heldout.txt, the ids it encodes to and the text it decodes
those ids back to. tests/test_spm.c checks clformer's own SentencePiece engine
(src/text/spm_*.c) against these files; CI never needs Python.

    python3 tests/golden/spm/make_spm_golden.py      # rewrites the files here

Outputs (beside this script):
  unigram_bf.spm   Unigram, vocab 1000, default nmt_nfkc normaliser, byte_fallback on
  unigram.spm      Unigram, vocab 1000, nmt_nfkc, no byte fallback (unknowns -> <unk>)
  bpe.spm          BPE, vocab 1000, nmt_nfkc, no byte fallback
  bpe_bf_ud.spm    BPE, vocab 1200, byte_fallback on, character coverage 0.98, two user-defined symbols,
                   remove_extra_whitespaces off (exercises those paths)
  unigram_sfx.spm  Unigram, vocab 800, identity normaliser (no character map),
                   whitespace as suffix, a user-defined symbol, split digits
  NAME.json        {"model": NAME.spm, "sentencepiece": version, "extra": [...],
                    "ids": [[...]], "decoded": [...]}: ids and decoded cover the
                   held-out lines (the file split at "\n", the final newline
                   ending the last line) followed by the EXTRA lines below
"""
import json
import os
import sys

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
TEXT = os.path.join(HERE, "..", "text")

MODELS = {
    "unigram_bf": dict(model_type="unigram", vocab_size=1000, byte_fallback=True),
    "unigram": dict(model_type="unigram", vocab_size=1000, byte_fallback=False),
    "bpe": dict(model_type="bpe", vocab_size=1000, byte_fallback=False),
    "bpe_bf_ud": dict(model_type="bpe", vocab_size=1200, byte_fallback=True,
                      character_coverage=0.98,
                      user_defined_symbols=["<mask>", "@@"],
                      remove_extra_whitespaces=False),
    "unigram_sfx": dict(model_type="unigram", vocab_size=800, byte_fallback=False,
                        normalization_rule_name="identity", treat_whitespace_as_suffix=True,
                        user_defined_symbols=["<mask>"], split_digits=True),
}


# Edge cases the corpus may lack: empty and all-space lines, runs of spaces,
# user-defined symbols, full-width forms and other NFKC rewrites, a
# zero-width space, control pieces' text, characters no model has seen.
EXTRA = [
    "", " ", "   ", " a  b ", "\t\ttab\t", "<mask>x@@y <mask>", "<s>a</s><unk>",
    "\u3000full\u3000width ｈｅｌｌｏ ①②", "x\u200by", "ﬁ ﬀ ㍻ ℌ", "\u2581lit\u2581eral ▁",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀 \U0010FFFD", "a\u0301e\u0300 Å", "漢字仮名交じり文 ꙮ",
]


def main():
    train = os.path.join(TEXT, "train.txt")
    with open(os.path.join(TEXT, "heldout.txt"), "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the file's final newline ends the last line
    lines += EXTRA
    for name, opts in MODELS.items():
        prefix = os.path.join(HERE, name)
        spm.SentencePieceTrainer.train(
            input=train, model_prefix=prefix, num_threads=1, hard_vocab_limit=False,
            minloglevel=2, **opts)
        os.replace(prefix + ".model", prefix + ".spm")
        os.remove(prefix + ".vocab")
        sp = spm.SentencePieceProcessor(model_file=prefix + ".spm")
        ids = [sp.encode(line) for line in lines]
        out = {
            "model": name + ".spm",
            "sentencepiece": spm.__version__,
            "options": opts,
            "extra": EXTRA,
            "ids": ids,
            "decoded": [sp.decode(row) for row in ids],
        }
        with open(prefix + ".json", "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False, indent=None, separators=(",", ":"))
            f.write("\n")
        print(f"{name}: {sp.get_piece_size()} pieces, {sum(map(len, ids))} ids over {len(lines)} lines",
              file=sys.stderr)


if __name__ == "__main__":
    main()
