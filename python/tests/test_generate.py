"""Text generation (GPT-2 goldens of transformers), streaming and the low-level calls."""
import numpy as np
import pytest

import clformer


def test_generate_ids_and_text_match_transformers(gpt2_text, gpt2_golden):
    tok = gpt2_text.tokenizer
    assert tok.kind == "bpe"
    for p in gpt2_golden["prompts"]:
        np.testing.assert_array_equal(tok.encode(p["prompt"]), p["input_ids"])
        for case, kw in (("default", {}), ("beam", {"beam": 3})):
            want = p[case]
            ids = gpt2_text.generate(p["input_ids"], **kw)
            assert ids.dtype == np.int32
            assert ids.tolist() == want["ids"], (p["prompt"], case)
            text = gpt2_text.generate(p["prompt"], **kw)
            assert p["prompt"] + text == want["text"], (p["prompt"], case, text)


def test_stream_pieces_join_to_the_text(gpt2_text, gpt2_golden):
    for p in gpt2_golden["prompts"]:
        for kw in ({}, {"beam": 3}, {"sample": True, "seed": 7, "top_k": 20}):
            pieces = list(gpt2_text.generate(p["prompt"], stream=True, **kw))
            assert all(isinstance(s, str) and s for s in pieces)
            assert "".join(pieces) == gpt2_text.generate(p["prompt"], **kw), (p["prompt"], kw)


def test_closing_a_stream_early_stops_it_and_frees_the_model(gpt2_text):
    s = gpt2_text.generate("Hello world", max_new_tokens=40, ignore_eos=True, stream=True)
    first = next(s)
    assert first
    with pytest.raises(clformer.BusyError) as e:  # the stream's thread is inside the model
        gpt2_text.generate("Hello world")
    assert e.value.status == "CLF_ERR_BUSY" and "one thread at a time" in e.value.detail
    s.close()
    assert gpt2_text.generate("Hello world", max_new_tokens=3, ignore_eos=True)  # usable again


def test_stream_errors_reach_the_consumer(gpt2_text):
    with pytest.raises(clformer.Error) as e:
        list(gpt2_text.generate("Hello", stream=True, sample=True, temperature=-1.0))
    assert e.value.status == "CLF_ERR_INVALID_ARG" and "temperature" in e.value.detail


def test_sampling_is_seeded_and_top_k_1_is_greedy(gpt2_text):
    prompt = [40, 344, 76, 79]
    a = gpt2_text.generate(prompt, sample=True, seed=11, max_new_tokens=12, ignore_eos=True)
    b = gpt2_text.generate(prompt, sample=True, seed=11, max_new_tokens=12, ignore_eos=True)
    np.testing.assert_array_equal(a, b)
    greedy = gpt2_text.generate(prompt, max_new_tokens=12, ignore_eos=True)
    k1 = gpt2_text.generate(prompt, sample=True, top_k=1, seed=3, max_new_tokens=12,
                            ignore_eos=True)
    np.testing.assert_array_equal(k1, greedy)
    assert len(greedy) == 12
    assert gpt2_text.generation_config()["repetition_penalty"] == pytest.approx(1.3)


def test_random_model_low_level_calls(device):
    with clformer.Model.random("tiny", seed=5, device=device, max_batch=2, max_target_len=16) as m:
        assert m.kind == "decoder" and m.tokenizer is None
        ids = np.array([[3, 4, 5], [6, 7, 8]], np.int32)
        out = m.generate_ids(ids, max_new_tokens=6, ignore_eos=True, strategy=0)
        assert out["ids"].shape == (2, 1, 6) and (out["lengths"] == 6).all()
        assert (out["finish"] == 2).all() and (out["logprobs"] < 0).all()
        # Without log-probabilities greedy takes the chained form: the same tokens
        quick = m.generate_ids(ids, logprobs=False, max_new_tokens=6, ignore_eos=True,
                               strategy=0)
        assert quick["logprobs"] is None
        for key in ("ids", "lengths", "finish"):
            np.testing.assert_array_equal(quick[key], out[key])
        logits = m.decode_step(ids, 0)
        assert logits.shape == (2, 3, 50)
        # The step's argmax is the first greedy token (fresh cache from position 0).
        np.testing.assert_array_equal(logits[:, -1].argmax(-1), out["ids"][:, 0, 0])
        assert m.max_new_tokens(3) == m.config["max_positions"] - 3
        with pytest.raises(clformer.Error, match="tokenizer"):
            m.generate("text needs a tokenizer")


def test_encoder_decoder_text(device):
    import json
    import os
    from conftest import GOLDEN
    folder = os.path.join(GOLDEN, "bart_text")
    g = json.load(open(os.path.join(folder, "golden_text.json"), encoding="utf-8"))
    p = g["prompts"][0]
    with clformer.Model(folder, device=device, max_batch=8, max_target_len=64) as m:
        assert m.kind == "encoder-decoder"
        case = next(c for c in g["cases"] if not g["cases"][c])  # the folder's own settings
        text = m.generate(p["prompt"])
        assert text == p[case]["text"]
        assert "".join(m.generate(p["prompt"], stream=True)) == text
