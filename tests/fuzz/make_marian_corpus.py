#!/usr/bin/env python3
"""Seeds for fuzz_marian.c: Marian folders made of the small SentencePiece
models of the spm corpus (tests/fuzz/corpus/spm/*_0, made by
make_spm_corpus.py) and a vocab.json mapping their pieces to ids as
transformers' MarianTokenizer folders do (</s> 0, <unk> 1, <pad> last, some
pieces left out so that <unk> mapping is reached). Input layout: 2-byte
little-endian length + text, length + vocab.json, length + source.spm, then
target.spm (another model) or nothing (the same model).
Writes into tests/fuzz/corpus/marian/."""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden", "spm_wire"))
from make_spm_wire_golden import fields  # noqa: E402  (the protobuf walk)

SPM = os.path.join(HERE, "corpus", "spm")
OUT = os.path.join(HERE, "corpus", "marian")
MODELS = ["uni_rules_0", "uni_bf_identity_0", "bpe_rules_ud_0", "bpe_sfx_identity_0"]
TEXTS = ["Hello world, ﬁne café.", ">>fra<< Grüße 🙂 </s> x", ""]


def model_of(seed):
    """The .spm bytes inside a fuzz_spm seed (2-byte text length, text, model)."""
    raw = open(os.path.join(SPM, seed), "rb").read()
    n = struct.unpack("<H", raw[:2])[0]
    return raw[2 + n:]


def pieces(blob):
    return [{k: v for k, _, v in fields(p)}[1].decode() for f, _, p in fields(blob) if f == 1]


def lp(b):
    return struct.pack("<H", len(b)) + b


def main():
    os.makedirs(OUT, exist_ok=True)
    n = 0
    for i, name in enumerate(MODELS):
        src = model_of(name)
        tgt = model_of(MODELS[(i + 1) % len(MODELS)]) if i % 2 else b""
        vocab = {"</s>": 0, "<unk>": 1}
        for j, piece in enumerate(pieces(src) + (pieces(tgt) if tgt else [])):
            if piece not in vocab and j % 7 != 3:
                vocab[piece] = len(vocab)
        vocab["<pad>"] = len(vocab)
        vj = json.dumps(vocab, ensure_ascii=False).encode()
        for k, text in enumerate(TEXTS):
            seed = lp(text.encode()) + lp(vj) + lp(src) + tgt
            with open(os.path.join(OUT, f"{name}_{k}"), "wb") as f:
                f.write(seed)
            n += 1
    print(f"wrote {n} seeds into {OUT}")


if __name__ == "__main__":
    main()
