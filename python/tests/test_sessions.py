"""Sessions (Model.session()): threads with their own sessions of one Model
get results bitwise equal to one session alone, run in parallel (the GIL is
released), and share the weights."""
import os
import threading
import time

import numpy as np
import pytest

import clformer
from conftest import GOLDEN, minilm_sentences
from test_errors_threads import run_threads


def test_four_threads_x_sessions_encode_bitwise_equal_one_session(minilm):
    texts = minilm_sentences()[:16]
    with minilm.session(max_batch=4) as s:
        want = s.encode(texts, batch_size=4)
    np.testing.assert_array_equal(minilm.encode(texts, batch_size=4), want)  # the model's calls too
    sessions = [minilm.session(max_batch=4) for _ in range(4)]
    try:
        got = run_threads(4, lambda i: sessions[i].encode(texts[i:] + texts[:i], batch_size=4))
    finally:
        for s in sessions:
            s.close()
    for i, g in enumerate(got):
        np.testing.assert_array_equal(np.roll(g, i, axis=0), want)  # bitwise, same device


def _greedy(s, prompt):
    """Greedy ids and log-probability of 8 new tokens after prompt (text)."""
    r = s.generate_ids([s.tokenizer.encode(prompt)], max_new_tokens=8, ignore_eos=True)
    return r["ids"].copy(), r["logprobs"].copy()


def test_four_threads_x_sessions_generate_bitwise_equal_one_session(device, gpt2_golden):
    with clformer.Model(os.path.join(GOLDEN, "gpt2_text"), device=device, max_batch=2,
                        max_target_len=64) as m:
        prompts = [p["prompt"] for p in gpt2_golden["prompts"]]
        with m.session() as s:
            want = [_greedy(s, p) for p in prompts]
        sessions = [m.session() for _ in range(4)]
        try:
            got = run_threads(4, lambda i: [_greedy(sessions[i], p) for p in prompts])
            # The golden's texts: a session's generate equals transformers' too.
            texts = [sessions[0].generate(p) for p in prompts]
        finally:
            for s in sessions:
                s.close()
        for g in got:
            for (ids, lp), (want_ids, want_lp) in zip(g, want):
                np.testing.assert_array_equal(ids, want_ids)
                np.testing.assert_array_equal(lp, want_lp)  # bitwise
        assert texts == [p["default"]["text"][len(p["prompt"]):] for p in gpt2_golden["prompts"]]


def _longest_pause(ticks, t0, t1):
    """The longest stretch of [t0, t1] with no tick in it."""
    points = [t0] + [x for x in ticks if t0 < x < t1] + [t1]
    return max(b - a for a, b in zip(points, points[1:]))


def test_the_gil_is_released_while_a_session_runs(device):
    """The main thread keeps running Python while another thread is inside
    one long session call: the longest stretch of the call in which the
    main thread ran nothing stays far below the call's length (with the GIL
    held through the call it would be the whole call)."""
    cfg = {"decoder_layers": 4, "d_model": 256, "d_ff": 1024, "n_heads": 4, "max_positions": 256}
    with clformer.Model.random("tiny", device=device, max_batch=1, max_target_len=256,
                               config=cfg) as m, m.session() as s:
        s.generate_ids([[3, 4, 5]], max_new_tokens=4)  # builds and compiles first
        call = {}

        def work():
            call["t0"] = time.perf_counter()
            s.generate_ids([[3, 4, 5]], max_new_tokens=240, ignore_eos=True)  # one C call
            call["t1"] = time.perf_counter()

        ticks = []
        t = threading.Thread(target=work)
        t.start()
        while t.is_alive():
            ticks.append(time.perf_counter())
        t.join()
        length = call["t1"] - call["t0"]
        pause = _longest_pause(ticks, call["t0"], call["t1"])
        assert length > 0.1 and pause < length / 2, (length, pause, len(ticks))


def test_sessions_share_weights_and_close_rules(device):
    m = clformer.Model.random("tiny", device=device, max_batch=2, max_target_len=16)
    s = m.session(max_batch=1)
    assert s.max_batch == 1 and s.kind == m.kind and s.model is m
    s.generate_ids([[3, 4, 5]], max_new_tokens=4)
    mem = s.memory()
    c = m.config
    # The decoder's KV cache: 2 x layers x max_batch x max_target_len x d_model f32.
    assert mem["cache_bytes"] == 4 * 2 * c["decoder_layers"] * 1 * 16 * c["d_model"], mem
    assert mem["device_bytes"] >= mem["cache_bytes"] + mem["arena_bytes"] > 0, mem
    with pytest.raises(clformer.BusyError, match="sessions"):
        m.close()  # a model with open sessions stays open
    with pytest.raises(clformer.Error) as e:
        m.session(max_batch=3)  # more than the model's
    assert e.value.status == "CLF_ERR_INVALID_ARG" and "max_batch" in e.value.detail
    s.close()
    with pytest.raises(clformer.Error, match="closed"):
        s.generate_ids([[3, 4, 5]], max_new_tokens=4)
    m.close()
