#!/usr/bin/env python3
"""Makes the byte-level BPE tokenizer goldens of tests/test_tokenizer_bpe.c.

    TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 python3 tests/golden/bpe/make_bpe_golden.py

Trains two small byte-level BPE tokenizers with HuggingFace `tokenizers` on
tests/golden/text/train.txt and writes, next to this script:
  gpt2/tokenizer.json          GPT-2 style: ByteLevel(add_prefix_space=False),
                               no post-processor, special "<|endoftext|>".
  gpt2_files/                  the same model as vocab.json + merges.txt with a
                               tokenizer_config.json naming GPT2Tokenizer.
  roberta/tokenizer.json       RoBERTa style: ByteLevel(add_prefix_space=True),
                               RobertaProcessing (<s> A </s>), specials <s>
                               <pad> </s> <unk> <mask> (<mask> with lstrip).
  roberta_files/               the same as vocab.json + merges.txt with
                               tokenizer_config.json (RobertaTokenizer,
                               add_prefix_space) and special_tokens_map.json.
  extra.txt                    hand-written lines (special tokens in text,
                               contractions, whitespace runs), split on LF.
  expected_<v>.txt             for v in gpt2, roberta: one line per text of
                               heldout.txt then extra.txt: the ids,
                               space-separated.
  decoded_<v>.txt              per text: decode(ids, skip_special_tokens=False),
                               then a TAB-free second file decoded_skip_<v>.txt
                               with skip_special_tokens=True. A line is "=" when
                               the decode equals the input text, else ":" and
                               the decode.
  decoded_wordpiece.txt        HF's decode (skip_special_tokens=True) of the WordPiece
                               goldens' ids (../tokenizer/expected_uncased.txt with
                               ../tokenizer/tokenizer.json), ":" and the text per line.
  golden_info.txt              versions, counts and HF's single-thread throughput.
The script checks that the vocab.json + merges.txt forms give the same ids as
the tokenizer.json forms, and that transformers' AutoTokenizer on the
*_files folders agrees (the family rule of tokenizer_config.json).
"""
import json
import os
import platform
import shutil
import sys
import time

import tokenizers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from tokenizers import AddedToken

HERE = os.path.dirname(os.path.abspath(__file__))
TEXT = os.path.join(HERE, "..", "text")
VOCAB = 1500


def read_lines(path):
    with open(path, encoding="utf-8", newline="\n") as f:
        data = f.read()
    assert data.endswith("\n")
    return data[:-1].split("\n")


EXTRA = [
    "<|endoftext|>",
    "Hello<|endoftext|>world",
    "a <|endoftext|> b<|endoftext|><|endoftext|>",
    "<s>x</s>",
    "fill <mask> here and <mask>",
    "  <mask>  two spaces",
    "<pad><unk></s><s>",
    "it's I'm we'll they'd you're we've 'S 'LL",
    "   ",
    "a   b\t\t c \r\x0b",
    "\u00a0nbsp\u3000ideographic\u2028sep",
    "tail spaces   ",
    "123 4567 ½ ²³ Ⅻ",
    "日本語のテキスト、😀👍🏽 ok",
    "",
]


def train(specials, add_prefix_space, lines):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=specials,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             show_progress=False)
    tok.train_from_iterator(lines, tr)
    return tok


def save_files(tok, folder, config, special_map):
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    tok.model.save(folder)  # vocab.json, merges.txt
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if special_map:
        with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
            json.dump(special_map, f, indent=2)


def compact(decoded, text):
    assert "\n" not in decoded, repr(decoded)
    return "=" if decoded == text else ":" + decoded


def main():
    train_lines = read_lines(os.path.join(TEXT, "train.txt"))
    texts = read_lines(os.path.join(TEXT, "heldout.txt")) + EXTRA
    with open(os.path.join(HERE, "extra.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(t + "\n" for t in EXTRA))

    gpt2 = train(["<|endoftext|>"], False, train_lines)
    rob = train([], True, train_lines)
    # RoBERTa's specials, <mask> absorbing the whitespace before it.
    rob.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>",
                            AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    rob.post_processor = processors.RobertaProcessing(
        ("</s>", rob.token_to_id("</s>")), ("<s>", rob.token_to_id("<s>")),
        add_prefix_space=True)
    variants = {"gpt2": gpt2, "roberta": rob}
    for name, tok in variants.items():
        os.makedirs(os.path.join(HERE, name), exist_ok=True)
        tok.save(os.path.join(HERE, name, "tokenizer.json"))

    # The folder forms. RoBERTa's extra specials are past the trained vocab
    # (ids VOCAB..): vocab.json holds only the model's entries, the specials
    # come from tokenizer_config.json's added_tokens_decoder as transformers
    # writes it.
    save_files(gpt2, os.path.join(HERE, "gpt2_files"),
               {"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": False,
                "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                "unk_token": "<|endoftext|>"}, None)
    dec = {}
    for t in rob.get_added_tokens_decoder().items():
        i, a = t
        dec[str(i)] = {"content": a.content, "lstrip": a.lstrip, "rstrip": a.rstrip,
                       "normalized": a.normalized, "single_word": a.single_word,
                       "special": a.special}
    save_files(rob, os.path.join(HERE, "roberta_files"),
               {"tokenizer_class": "RobertaTokenizer", "add_prefix_space": True,
                "added_tokens_decoder": dec},
               {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                "sep_token": "</s>", "cls_token": "<s>", "pad_token": "<pad>",
                "mask_token": {"content": "<mask>", "lstrip": True, "rstrip": False,
                               "normalized": False, "single_word": False}})

    info = [f"python {platform.python_version()}", f"tokenizers {tokenizers.__version__}",
            f"texts {len(texts)} (heldout {len(texts) - len(EXTRA)}, extra {len(EXTRA)})"]
    for name, tok in variants.items():
        enc = [tok.encode(t).ids for t in texts]
        # Independent check of the files form: the same ids from vocab.json +
        # merges.txt through tokenizers' own file reader.
        folder = os.path.join(HERE, name + "_files")
        ft = Tokenizer(models.BPE.from_file(os.path.join(folder, "vocab.json"),
                                            os.path.join(folder, "merges.txt")))
        ft.pre_tokenizer = tok.pre_tokenizer
        ft.decoder = tok.decoder
        ft.post_processor = tok.post_processor
        ft.add_special_tokens([a for _, a in sorted(tok.get_added_tokens_decoder().items())])
        assert [ft.encode(t).ids for t in texts] == enc, name
        try:
            from transformers import AutoTokenizer
            at = AutoTokenizer.from_pretrained(folder)
            got = [at(t)["input_ids"] for t in texts]
            bad = sum(g != e for g, e in zip(got, enc))
            info.append(f"{name}: transformers AutoTokenizer({name}_files) mismatches {bad}")
            assert bad == 0
        except ImportError:
            info.append(f"{name}: transformers not installed, files form checked by tokenizers only")
        with open(os.path.join(HERE, f"expected_{name}.txt"), "w", newline="\n") as f:
            f.write("".join(" ".join(map(str, ids)) + "\n" for ids in enc))
        for skip, fname in ((False, f"decoded_{name}.txt"), (True, f"decoded_skip_{name}.txt")):
            with open(os.path.join(HERE, fname), "w", encoding="utf-8", newline="\n") as f:
                f.write("".join(compact(tok.decode(ids, skip_special_tokens=skip), t) + "\n"
                                for ids, t in zip(enc, texts)))
        t0 = time.perf_counter()
        for t in texts[:len(texts) - len(EXTRA)]:
            tok.encode(t)
        dt = time.perf_counter() - t0
        info.append(f"{name}: HF encode single-thread {(len(texts) - len(EXTRA)) / dt:.0f} lines/s "
                    f"(line by line, add_special_tokens)")
    wp = Tokenizer.from_file(os.path.join(HERE, "..", "tokenizer", "tokenizer.json"))
    with open(os.path.join(HERE, "..", "tokenizer", "expected_uncased.txt")) as f:
        wp_ids = [[int(x) for x in l.split()] for l in f.read().split("\n")[:-1]]
    with open(os.path.join(HERE, "decoded_wordpiece.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(":" + wp.decode(ids, skip_special_tokens=True) + "\n" for ids in wp_ids))
    info.append(f"wordpiece: {len(wp_ids)} decodes")
    with open(os.path.join(HERE, "golden_info.txt"), "w") as f:
        f.write("\n".join(info) + "\n")
    print("\n".join(info))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
