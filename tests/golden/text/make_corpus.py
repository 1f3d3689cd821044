#!/usr/bin/env python3
"""Makes the multilingual tokenizer corpus (tests/golden/text/train.txt and
heldout.txt): the text every tokenizer golden is trained on and checked with.

Lines come from Faker (pip `faker`, seeded) in English, French, German,
Japanese, Spanish, Russian and Greek, mixed with generated lines of emoji,
source code, accented words, numbers, odd whitespace (tabs, runs of spaces,
leading/trailing space, NBSP, ideographic space, zero-width joiner), mixed
scripts and the empty line. Deterministic: the same Faker version and seed
give the same files (versions are written to corpus_info.txt)."""
import random
import sys
from pathlib import Path

import faker

SEED = 20261205
LOCALES = ["en_US", "fr_FR", "de_DE", "ja_JP", "es_ES", "ru_RU", "el_GR"]
EMOJI = ["😀", "🚀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "🤖", "✨", "🍣", "🎉"]
CODE = [
    "def f(x):\n    return x ** 2",  # newline inside a line is kept as \\n text
    "for (int i = 0; i < n; ++i) { s += a[i]; }",
    "if x != None and y >= 3: print(f\"{x!r}\")",
    "SELECT id, name FROM users WHERE age > 30;",
    "const z = (a, b) => a?.b ?? [1, 2, 3];",
    "#include <stdio.h>\tint main(void){return 0;}",
    "x = {'key': [1.5e-3, -2, 0x1F]}  # comment",
    "git commit -m \"fix: off-by-one in lexer\"",
]
ACCENTS = ["café", "naïve", "Ångström", "façade", "résumé", "Straße", "crème brûlée", "São Paulo",
           "Dvořák", "Łódź", "İstanbul", "ﬁnance", "Ⅻ", "①②③", "ｆｕｌｌｗｉｄｔｈ", "ｶﾀｶﾅ"]
SPACES = ["\t", "  ", "   ", "\u00a0", "\u3000", "\u200d", "\u2009", " \t "]


def odd_line(rng, fk):
    kind = rng.randrange(8)
    if kind == 0:
        return "".join(rng.choice(EMOJI) + rng.choice(["", " ", "!"]) for _ in range(rng.randint(1, 6)))
    if kind == 1:
        return rng.choice(CODE).replace("\n", " ")
    if kind == 2:
        return " ".join(rng.choice(ACCENTS) for _ in range(rng.randint(1, 5)))
    if kind == 3:
        return " ".join(str(rng.choice([rng.randint(0, 10**9), round(rng.uniform(-1e4, 1e4), 3),
                                        f"{rng.randint(1, 31)}/{rng.randint(1, 12)}/2026",
                                        f"{rng.randint(0, 100)}%", f"${rng.randint(1, 9999)}.99"]))
                        for _ in range(rng.randint(1, 6)))
    if kind == 4:
        s = fk[rng.choice(LOCALES)].sentence()
        words = s.split(" ")
        return "".join(w + rng.choice(SPACES) for w in words).rstrip(" ") + rng.choice(["", " ", "  "])
    if kind == 5:
        return rng.choice(SPACES) + fk["en_US"].sentence() + rng.choice(SPACES)
    if kind == 6:
        return " ".join(fk[rng.choice(LOCALES)].word() for _ in range(rng.randint(2, 8)))
    return ""


def make(rng, fk, n):
    lines = []
    for _ in range(n):
        r = rng.random()
        if r < 0.6:
            loc = rng.choice(LOCALES)
            lines.append(fk[loc].sentence(nb_words=rng.randint(3, 18)))
        elif r < 0.7:
            loc = rng.choice(LOCALES)
            lines.append(fk[loc].text(max_nb_chars=rng.choice([80, 200])).replace("\n", " "))
        else:
            lines.append(odd_line(rng, fk))
    return lines


def main():
    out = Path(__file__).resolve().parent
    rng = random.Random(SEED)
    fk = {}
    for i, loc in enumerate(LOCALES):
        fk[loc] = faker.Faker(loc)
        fk[loc].seed_instance(SEED + i)
    train = make(rng, fk, 1500)
    held = make(rng, fk, 1200)
    held[0] = ""  # the empty line is always checked
    for name, lines in (("train.txt", train), ("heldout.txt", held)):
        for l in lines:
            assert "\n" not in l and "\r" not in l
        (out / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "corpus_info.txt").write_text(
        f"seed {SEED}\nfaker {faker.VERSION}\npython {sys.version.split()[0]}\n"
        f"train {len(train)} lines, heldout {len(held)} lines\n", encoding="utf-8")


if __name__ == "__main__":
    main()
