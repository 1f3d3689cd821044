"""Embeddings, classification and the tokenizer through the package."""
import os

import numpy as np
import pytest

import clformer
from conftest import GOLDEN, minilm_sentences, read_safetensors


def cosines(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_devices_lists_every_device():
    devs = clformer.devices()
    assert devs, "no device listed"
    for d in devs:
        assert set(d) >= {"index", "name", "platform", "class", "compute_units", "available"}
        p, i = d["index"].split(":")
        assert p.isdigit() and i.isdigit()
        assert d["class"] in ("dgpu", "igpu", "accelerator", "cpu")
    assert clformer.__version__.count(".") == 2


def test_model_device_info_is_its_devices_entry(device):
    with clformer.Model.random("tiny", seed=1, device=device, max_batch=1) as m:
        d = m.device_info
    listed = {x["index"]: x for x in clformer.devices()}
    assert d["index"] in listed, "device_info index %s not among %s" % (d["index"], sorted(listed))
    assert d == listed[d["index"]]
    assert d["name"] == m.device and d["platform_version"] and d["driver_version"]


def test_minilm_ids_match_the_sentence_transformers_goldens(minilm, minilm_golden):
    g = minilm_golden
    rows = [r[:n] for r, n in zip(g["input_ids"], g["lengths"])]
    emb = minilm.encode(rows, batch_size=16)
    assert emb.shape == g["embeddings"].shape and emb.dtype == np.float32
    cos = cosines(emb, g["embeddings"])
    assert cos.min() >= 0.99999, "worst cosine %.7f at sentence %d" % (cos.min(), cos.argmin())
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)  # Normalize module


def test_minilm_texts_tokenize_and_embed_as_the_goldens(minilm, minilm_golden):
    g = minilm_golden
    sentences = minilm_sentences()
    ids, lengths = minilm.tokenizer.encode_batch(sentences)
    np.testing.assert_array_equal(lengths, g["lengths"])
    np.testing.assert_array_equal(ids, g["input_ids"][:, :ids.shape[1]])
    emb = minilm.encode(sentences, batch_size=7)  # chunks that do not divide 60
    cos = cosines(emb, g["embeddings"])
    assert cos.min() >= 0.99999, "worst cosine %.7f at %r" % (cos.min(), sentences[cos.argmin()])
    one = minilm.encode(sentences[2])
    assert one.shape == (384,)
    np.testing.assert_allclose(one, emb[2], atol=1e-5)


def test_pooling_modes_agree_with_the_hidden_states(minilm):
    texts = ["Short.", "A somewhat longer sentence with more tokens in it."]
    hidden = minilm.encode(texts, pooling="none")
    lengths = [len(minilm.tokenizer.encode(t)) for t in texts]
    assert [h.shape for h in hidden] == [(n, 384) for n in lengths]
    mean = minilm.encode(texts, pooling="mean")
    first = minilm.encode(texts, pooling="first")
    want_mean = np.stack([h.mean(0) for h in hidden])
    want_mean /= np.linalg.norm(want_mean, axis=1, keepdims=True)  # the folder normalises
    np.testing.assert_allclose(mean, want_mean, atol=2e-5)
    np.testing.assert_allclose(minilm.encode(texts), mean, atol=1e-6)  # its Pooling is mean
    want_first = np.stack([h[0] for h in hidden])
    want_first /= np.linalg.norm(want_first, axis=1, keepdims=True)
    np.testing.assert_allclose(first, want_first, atol=2e-5)
    assert minilm.encode([]).shape == (0, 384)


def test_tokenizer_calls(minilm):
    t = minilm.tokenizer
    assert t.kind == "wordpiece" and t.vocab_size == 30522 and t.max_length == 256
    ids = t.encode("Hello, world!")
    assert ids[0] == t.cls_id and ids[-1] == t.sep_id and ids.dtype == np.int32
    assert t.decode(ids) == "hello, world!"
    assert t.decode(ids, skip_special_tokens=False) == "[CLS] hello, world! [SEP]"
    assert t.token_to_id("hello") == ids[1] and t.id_to_token(int(ids[1])) == "hello"
    assert t.token_to_id("no-such-token-xyz") is None and t.id_to_token(10 ** 6) is None
    long = t.encode("word " * 1000)
    assert len(long) == 256 and long[-1] == t.sep_id  # truncated at max_length
    plain = clformer.Tokenizer(os.environ["CLFORMER_MINILM_DIR"], add_special_tokens=False)
    np.testing.assert_array_equal(plain.encode("Hello, world!"), ids[1:-1])


def test_classify_matches_the_transformers_logits(device):
    folder = os.path.join(GOLDEN, "bert_cls")
    g = read_safetensors(os.path.join(folder, "golden.safetensors"))
    with clformer.Model(folder, device=device, max_batch=4) as m:
        rows = [r[:n] for r, n in zip(g["input_ids"], g["lengths"])]
        labels, probs = m.classify(rows)
        e = np.exp(g["logits"] - g["logits"].max(1, keepdims=True))
        want = e / e.sum(1, keepdims=True)
        np.testing.assert_allclose(probs, want, atol=1e-5)
        assert labels == [m.labels[k] for k in want.argmax(1)]
        label, p = m.classify(rows[0])
        assert label == labels[0] and p.shape == (len(m.labels),)


def test_classify_without_a_head_is_an_error(minilm):
    with pytest.raises(clformer.Error) as e:
        minilm.classify(["no head here"])
    assert e.value.status == "CLF_ERR_UNSUPPORTED"


def test_f16_weights_stay_close_to_f32(minilm_dir, device, minilm):
    texts = ["Half-precision storage halves the weights.", "Another sentence."]
    with clformer.Model(minilm_dir, device=device, weights="f16", max_batch=2) as m16:
        cos = cosines(m16.encode(texts), minilm.encode(texts))
    assert cos.min() > 0.999, cos


@pytest.mark.parametrize("weights,bound", [("q8", 0.998), ("q4", 0.85)])
def test_quantised_weights_load_and_stay_close_to_f32(minilm_dir, device, minilm, weights, bound):
    # Q8 / Q4 storage (clf_model_params.weight_dtype) through Model(weights=...):
    # the embeddings stay near f32's and differ from them, so the format was
    # applied. Measured on PoCL (2026-12-05): Q8 cosines 0.99974 and 0.99929;
    # Q4 0.957 and 0.891 (MiniLM loses much under Q4; the bound here checks
    # that the weights load and compute the model, not Q4's accuracy).
    texts = ["Quantised storage shrinks the weights.", "Another sentence."]
    with clformer.Model(minilm_dir, device=device, weights=weights, max_batch=2) as mq:
        got = mq.encode(texts)
    want = minilm.encode(texts)
    cos = cosines(got, want)
    assert cos.min() > bound, (weights, cos)
    assert np.abs(got - want).max() > 0, weights
