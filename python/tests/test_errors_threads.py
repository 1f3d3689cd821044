"""Errors (status names and last-error text) and the thread rules."""
import os
import threading

import numpy as np
import pytest

import clformer
from conftest import GOLDEN, minilm_sentences


def test_bad_path_is_an_io_error(device):
    with pytest.raises(clformer.Error) as e:
        clformer.Model("/nonexistent/model.safetensors", device=device)
    assert e.value.status in ("CLF_ERR_IO", "CLF_ERR_NOT_FOUND")
    assert "/nonexistent/model.safetensors" in e.value.detail and e.value.code < 0
    assert e.value.status in str(e.value)


def test_bad_model_file_names_the_problem(tmp_path, device):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(clformer.Error) as e:
        clformer.Model(bad, device=device)
    assert e.value.status == "CLF_ERR_BAD_MODEL", e.value


def test_bad_device_lists_the_devices():
    with pytest.raises(clformer.Error) as e:
        clformer.Model(os.path.join(GOLDEN, "gpt2_text"), device="no-such-device-xyz")
    assert e.value.status == "CLF_ERR_NO_DEVICE"
    assert clformer.devices()[0]["name"] in e.value.detail


def test_bad_arguments(gpt2_text, minilm):
    with pytest.raises(ValueError):
        clformer.Model(os.path.join(GOLDEN, "gpt2_text"), weights="f8")
    with pytest.raises(ValueError, match="unknown key"):
        gpt2_text.generate("Hi", no_such_setting=1)
    with pytest.raises(ValueError):
        gpt2_text.generate("Hi", max_new_tokens=0)
    with pytest.raises(ValueError):
        gpt2_text.generate("Hi", beam=2, sample=True)
    with pytest.raises(clformer.Error) as e:
        gpt2_text.generate("Hi", sample=True, top_p=1.5)
    assert e.value.status == "CLF_ERR_INVALID_ARG" and "top_p" in e.value.detail
    # Past the model's 64 positions the generation stops there (not an error) ...
    assert len(gpt2_text.generate(list(range(1, 60)), max_new_tokens=30, ignore_eos=True)) == 5
    with pytest.raises(clformer.Error) as e:  # ... but a prompt longer than them is
        gpt2_text.generate(list(range(1, 71)), max_new_tokens=3)
    assert e.value.status == "CLF_ERR_SHAPE", e.value
    with pytest.raises(clformer.Error) as e:  # a token id past the vocabulary
        minilm.encode([[101, 10 ** 6, 102]])
    assert e.value.status == "CLF_ERR_OUT_OF_RANGE", e.value
    with pytest.raises(ValueError):
        minilm.encode(["x"], pooling="max")
    with pytest.raises(TypeError):
        minilm.tokenizer.encode_batch(["ok", 3])
    assert minilm.encode(["still fine"]).shape == (1, 384)  # the model survives its errors


def test_closed_model_raises(device):
    m = clformer.Model.random("tiny", device=device, max_batch=1)
    m.close()
    with pytest.raises(clformer.Error, match="closed"):
        m.generate([1, 2, 3])
    m.close()  # twice is fine


def run_threads(n, work):
    results, errors = [None] * n, []

    def body(i):
        try:
            results[i] = work(i)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    ts = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    return results


def test_threads_with_their_own_models_match_one_thread(minilm_dir, device, minilm):
    texts = minilm_sentences()[:24]
    want = minilm.encode(texts)

    def work(i):
        with clformer.Model(minilm_dir, device=device, max_batch=8) as m:
            return m.encode(texts[i:] + texts[:i], batch_size=8)

    got = run_threads(3, work)
    for i, g in enumerate(got):
        np.testing.assert_array_equal(np.roll(g, i, axis=0), want)  # bitwise, same device


def test_threads_generate_with_their_own_models(device, gpt2_golden):
    prompts = [p["prompt"] for p in gpt2_golden["prompts"]]

    def work(i):
        with clformer.Model(os.path.join(GOLDEN, "gpt2_text"), device=device, max_batch=4,
                            max_target_len=64) as m:
            return [m.generate(p) for p in prompts]

    want = [p["default"]["text"][len(p["prompt"]):] for p in gpt2_golden["prompts"]]
    for got in run_threads(4, work):
        assert got == want


def test_a_shared_model_is_busy_for_the_second_thread(minilm):
    """Two threads on one Model: every call either runs or raises BusyError
    at once, and the results of those that ran are right."""
    texts = minilm_sentences()[:16]
    want = minilm.encode(texts)
    outcome = {"ok": 0, "busy": 0}
    lock = threading.Lock()

    def work(i):
        for _ in range(6):
            try:
                got = minilm.encode(texts)
                np.testing.assert_array_equal(got, want)
                key = "ok"
            except clformer.BusyError as e:
                assert e.status == "CLF_ERR_BUSY"
                key = "busy"
            with lock:
                outcome[key] += 1

    run_threads(2, work)
    assert outcome["ok"] >= 1 and outcome["ok"] + outcome["busy"] == 12, outcome
