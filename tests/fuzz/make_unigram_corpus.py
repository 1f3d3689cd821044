#!/usr/bin/env python3
"""Seeds for fuzz_tokenizer_bpe's tokenizer.json path with Unigram models
(src/text/unigram_json.c): small XLM-R / T5-style tokenizer.json files made
by HF `tokenizers` from a 60-piece sentencepiece Unigram model trained here
(pip sentencepiece), with and without a Precompiled normalizer (its charsmap
from a hand-written rule table, so ~1 KB instead of nmt_nfkc's 240 KB),
Metaspace pre-tokenizer/decoder, XLM-R's Replace(" {2,}"), a template
post-processor. Each seed is the target's input: a mode byte (bit 0 =
tokenizer.json), the file, three 0xFF separators, then a text.
Writes into tests/fuzz/corpus/tokenizer_bpe/unigram-*."""
import hashlib
import io
import os
import struct
import sys
import tempfile

import sentencepiece as spm
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden", "spm_wire"))
from make_spm_wire_golden import fields  # noqa: E402  (the protobuf walk)
OUT = os.path.join(HERE, "corpus", "tokenizer_bpe")
LINES = ["Hello world, this is a test.", "Le café est très bon.", "Grüße aus München",
         "日本語のテキスト", "x = 1 + 2  # code", "ﬁnance Ⅻ ①②", "emoji 🙂 here"] * 20


def train(rules):
    with tempfile.TemporaryDirectory() as tmp:
        kw = dict(model_type="unigram", vocab_size=60, hard_vocab_limit=False)
        if rules:
            path = os.path.join(tmp, "rules.tsv")
            with open(path, "w", encoding="utf-8") as f:
                f.write("41\t61\n66 69\tFB01\n")  # A -> a, "fi" <- U+FB01 (code points, hex)
            kw["normalization_rule_tsv"] = path
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(LINES), model_writer=model, **kw)
        blob = model.getvalue()
    pieces, charsmap = [], b""
    for f, _, v in fields(blob):
        if f == 1:
            d = {k: x for k, _, x in fields(v)}
            pieces.append((d[1].decode(), struct.unpack("<f", d.get(2, b"\0\0\0\0"))[0]))
        elif f == 3:
            charsmap = {k: x for k, _, x in fields(v)}.get(2, b"")
    return pieces, charsmap


def tokenizer_json(pieces, charsmap, xlmr):
    tok = Tokenizer(models.Unigram(pieces, unk_id=0))
    norms = []
    if charsmap:
        norms.append(normalizers.Precompiled(charsmap))
    if xlmr:
        norms.append(normalizers.Replace(Regex(" {2,}"), " "))
    if norms:
        tok.normalizer = normalizers.Sequence(norms)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    if xlmr:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])
    return tok.to_str()


def main():
    os.makedirs(OUT, exist_ok=True)
    n = 0
    for rules in (False, True):
        pieces, charsmap = train(rules)
        for xlmr in (False, True):
            js = tokenizer_json(pieces, charsmap if rules else b"", xlmr).encode()
            for text in ("Hello  wörld ﬁne", "日本語 🙂", ""):
                seed = bytes([1 | (8 if not xlmr else 0)]) + js + b"\xff\xff\xff" + text.encode()
                name = "unigram-" + hashlib.sha1(seed).hexdigest()[:16]
                with open(os.path.join(OUT, name), "wb") as f:
                    f.write(seed)
                n += 1
    print(f"wrote {n} seeds into {OUT}")


if __name__ == "__main__":
    main()
