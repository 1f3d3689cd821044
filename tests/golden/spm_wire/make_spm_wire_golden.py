#!/usr/bin/env python3
"""Goldens for the SentencePiece kinds of the public tokenizer API
(tests/test_tokenizer_spm.c), made with the reference libraries only:

  marian/        a Marian-style folder: source.spm and target.spm (two small
                 Unigram models trained with pip `sentencepiece` on different
                 halves of tests/golden/text/train.txt), vocab.json (</s>=0,
                 <unk>=1, the source pieces, the target pieces the source
                 lacks, <pad> last; a few source pieces left out on purpose so
                 that unknown pieces map to <unk>), tokenizer_config.json.
                 Checked by loading it with transformers.MarianTokenizer.
  marian.json    per held-out line + EXTRA: "ids" = MarianTokenizer(x).input_ids,
                 "decoded" = decode(ids, skip_special_tokens=True,
                 use_source_tokenizer=False) (the target side: transformers
                 5.x decodes with source.spm by default when the vocabulary is
                 shared; clformer decodes generated ids, i.e. the target side);
                 "probe_ids" random id lists and their decodes with and
                 without skip_special_tokens.
  xlmr/tokenizer.json  XLM-R style Unigram tokenizer.json built with HF
                 `tokenizers` from a sentencepiece Unigram model (as
                 transformers' XLM-R converter lays it out: Replace ``/'' ->
                 ", Precompiled charsmap, Replace " {2,}" -> " ", Metaspace,
                 <s> A </s>).
  trained/tokenizer.json  Unigram trained with tokenizers' UnigramTrainer,
                 normalizer Precompiled (the nmt_nfkc charsmap),
                 pre_tokenizer Sequence[WhitespaceSplit, Metaspace], no
                 post-processor.
  xlmr.json, trained.json  "ids" = Tokenizer.encode(x).ids, "decoded" =
                 Tokenizer.decode(ids, skip_special_tokens=True).

    python3 tests/golden/spm_wire/make_spm_wire_golden.py
"""
import base64
import io
import json
import os
import random
import shutil
import sys

import sentencepiece as spm
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
TEXT = os.path.join(HERE, "..", "text")
EXTRA = [
    "", " ", "   ", " a  b ", "\t\ttab\t", "<s>a</s><unk>", "x </s> y", "</s>", "<pad> <unk>",
    ">>fr<< Hello world", ">>zz<<x", "``quoted'' text", "\u3000full\u3000width ｈｅｌｌｏ ①②",
    "x\u200by", "ﬁ ﬀ ㍻ ℌ", "\u2581lit\u2581eral ▁", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀 \U0010FFFD", "a\u0301e\u0300 Å",
    "漢字仮名交じり文 ꙮ", "👩‍👩‍👧 🇫🇷 e\u0301\u0301",
]


def lines(name):
    with open(os.path.join(TEXT, name), encoding="utf-8") as f:
        data = f.read()
    out = data.split("\n")
    if data.endswith("\n"):
        out.pop()
    return out


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if not c & 0x80:
            return v, i


def fields(b):
    """(field, wiretype, value) of a protobuf message: enough to read the charsmap."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 1:
            v, i = b[i:i + 8], i + 8
        elif w == 5:
            v, i = b[i:i + 4], i + 4
        elif w == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % w)
        yield f, w, v


def charsmap_of(path):
    with open(path, "rb") as f:
        b = f.read()
    for f, w, v in fields(b):
        if f == 3:  # normalizer_spec
            for g, _, x in fields(v):
                if g == 2:
                    return bytes(x)
    raise ValueError("no charsmap")


def train(prefix, text_lines, **kw):
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text_lines), model_prefix=prefix,
                                   minloglevel=2, **kw)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def make_marian(train_lines, held):
    import transformers
    d = os.path.join(HERE, "marian")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    tmp = os.path.join(HERE, "_tmp")
    os.makedirs(tmp, exist_ok=True)
    src = train(os.path.join(tmp, "src"), train_lines[0::2], model_type="unigram", vocab_size=700)
    tgt = train(os.path.join(tmp, "tgt"), train_lines[1::2], model_type="unigram", vocab_size=600)
    shutil.copy(os.path.join(tmp, "src.model"), os.path.join(d, "source.spm"))
    shutil.copy(os.path.join(tmp, "tgt.model"), os.path.join(d, "target.spm"))
    vocab = {"</s>": 0, "<unk>": 1}
    rng = random.Random(14)
    for sp in (src, tgt):
        for i in range(sp.get_piece_size()):
            p = sp.id_to_piece(i)
            if sp.is_control(i) or sp.is_unknown(i) or p in vocab:
                continue
            if sp is src and rng.random() < 0.02:
                continue  # left out: encodes to <unk>
            vocab[p] = len(vocab)
    vocab[">>fr<<"] = len(vocab)
    vocab["<pad>"] = len(vocab)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=1)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "MarianTokenizer", "source_lang": "en", "target_lang": "fr",
                   "model_max_length": 512, "separate_vocabs": False, "eos_token": "</s>",
                   "unk_token": "<unk>", "pad_token": "<pad>"}, f, indent=1)
    tok = transformers.MarianTokenizer.from_pretrained(d)
    texts = held + EXTRA
    ids = [tok(x).input_ids for x in texts]
    dec = [tok.decode(i, skip_special_tokens=True, use_source_tokenizer=False) for i in ids]
    probes, pd, pdn = [], [], []
    for k in range(300):
        p = [rng.randrange(len(vocab)) for _ in range(rng.randrange(0, 12))]
        probes.append(p)
        pd.append(tok.decode(p, skip_special_tokens=True, use_source_tokenizer=False))
        pdn.append(tok.decode(p, skip_special_tokens=False, use_source_tokenizer=False))
    with open(os.path.join(HERE, "marian.json"), "w", encoding="utf-8") as f:
        json.dump({"transformers": transformers.__version__, "sentencepiece": spm.__version__,
                   "extra": EXTRA, "ids": ids, "decoded": dec, "probe_ids": probes,
                   "probe_decoded": pd, "probe_decoded_special": pdn}, f, ensure_ascii=False)
    shutil.rmtree(tmp)
    return tok


def make_xlmr(train_lines):
    tmp = os.path.join(HERE, "_tmp")
    os.makedirs(tmp, exist_ok=True)
    sp = train(os.path.join(tmp, "x"), train_lines, model_type="unigram", vocab_size=900)
    cmap = charsmap_of(os.path.join(tmp, "x.model"))
    # XLM-R's layout: <s> <pad> </s> <unk>, the pieces after sentencepiece's three, <mask>.
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(sp.id_to_piece(i), sp.get_score(i)) for i in range(3, sp.get_piece_size())]
    vocab += [("<mask>", 0.0)]
    t = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    t.normalizer = normalizers.Sequence([normalizers.Replace("``", '"'), normalizers.Replace("''", '"'),
                                         normalizers.Precompiled(cmap),
                                         normalizers.Replace(Regex(" {2,}"), " ")])
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    t.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    t.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    t.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                     special_tokens=[("<s>", 0), ("</s>", 2)])
    shutil.rmtree(tmp)
    return t, cmap


def make_trained(train_lines, cmap):
    t = Tokenizer(models.Unigram())
    t.normalizer = normalizers.Precompiled(cmap)
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                               pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")])
    t.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tr = trainers.UnigramTrainer(vocab_size=800, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>")
    t.train_from_iterator(train_lines, tr)
    return t


def record(name, t, held):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    t.save(os.path.join(d, "tokenizer.json"))
    t = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    texts = held + EXTRA
    ids = [t.encode(x).ids for x in texts]
    dec = [t.decode(i, skip_special_tokens=True) for i in ids]
    rng = random.Random(15)
    n = t.get_vocab_size()
    probes = [[rng.randrange(n) for _ in range(rng.randrange(0, 12))] for _ in range(300)]
    import tokenizers
    with open(os.path.join(HERE, name + ".json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizers": tokenizers.__version__, "extra": EXTRA, "ids": ids, "decoded": dec,
                   "probe_ids": probes,
                   "probe_decoded": [t.decode(p, skip_special_tokens=True) for p in probes],
                   "probe_decoded_special": [t.decode(p, skip_special_tokens=False) for p in probes]},
                  f, ensure_ascii=False)


def main():
    tr, held = lines("train.txt"), lines("heldout.txt")
    make_marian(tr, held)
    x, cmap = make_xlmr(tr)
    record("xlmr", x, held)
    record("trained", make_trained(tr, cmap), held)


if __name__ == "__main__":
    main()
