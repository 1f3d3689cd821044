#!/usr/bin/env python3
"""clformer against PyTorch, onnxruntime and CTranslate2 on the same models.

Builds identically-shaped models with the same random weights in PyTorch,
writes them as safetensors that clformer loads with clf_model_load (names and
__metadata__ as include/clformer/model.h and tests/golden/README.md), exports
or converts them for the baselines, checks that every engine computes the same
thing (max abs differences of hidden states, teacher-forced logits and
log-probabilities; identical greedy tokens), then times
all engines in one process, interleaved in blocks of --block calls per engine
so that a noisy machine slows them alike, and prints each baseline as a ratio
to clformer. Blocks (default 5), not single calls: onnxruntime's and OpenMP's
thread pools spin on the cores for a while after a call, so whichever engine
runs right after another one shares the 2 cores with it (all-MiniLM-L6-v2,
call by call: clformer 126-132 ms against 95 ms alone; onnxruntime and PyTorch
were slowed too, by 5-7 %). Within a block an engine follows itself; the first
call of each block still follows another engine and is in the medians.

Cases (issue 5):
  bert-base   encoder, 12 layers, D 768, 12 heads, F 3072, exact GELU, post-LN
              (eps 1e-12), learned positions (512), vocab 30522: latency of one
              batch (1 x 128; also 32 x 128 with --full) against PyTorch eager
              (torch.inference_mode) and onnxruntime (torch.onnx.export of the
              same module, CPU EP, all graph optimisations).
  transformer-base  encoder-decoder 6 + 6, D 512, 8 heads, F 2048, ReLU,
              post-LN without final norms, Marian sinusoids ([sin | cos]
              halves), embedding scale sqrt(D), tied embeddings, output bias,
              vocab 32000: greedy decoding of a fixed number of new tokens
              (EOS, PAD and BOS never win: their output bias is -30, so every
              engine makes the same count), tokens/s against
              CTranslate2 fp32 and HuggingFace MarianMTModel.generate (PyTorch).
  gpt2-small  decoder-only, 12 layers, D 768, vocab 50257 (issue 15), a HF
              folder: greedy, batch 1, 16-id prompt, 64 new tokens, tokens/s
              against CTranslate2's Generator fp32 and HF generate.
  --minilm DIR  sentence embeddings with an all-MiniLM-L6-v2 folder (issue 6).

Weight formats (issue 16): --weights f32,f16,q8,q4 runs clformer once per
format, each an engine of every case; with q8 or q4 the int8 baselines join:
CTranslate2 int8 (the same weights converted with quantization="int8") for
Transformer-base and GPT-2, onnxruntime's quantize_dynamic model for BERT-base
batch 1. The JSON has one record per case and format, its first baseline the
one of matching precision.

clformer is driven through its Python package (`import clformer`: python/,
installed with `pip install .` or by tests/check_python.sh into
build-logs/py-venv), which calls the public C API. Exit status: 0 = every
case ran and agreed, 1 = a case failed or disagreed, 2 = bad usage or missing
packages (clformer included).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV_PYTHON = os.path.join(ROOT, "build-logs", "py-venv", "bin", "python")

sys.path.insert(0, HERE)
import compare_models as cm  # noqa: E402  (the models and their exports)
import compare_report as report  # noqa: E402  (versions, table, JSON records)
import compare_engines as engines_mod  # noqa: E402
from compare_engines import (clf_engine, close_all, leading, load_formats,  # noqa: E402
                             quantised, rel_rms, result, time_interleaved)

# Which pip package provides each module, and what it is needed for.
PACKAGES = {
    "numpy": ("numpy", "everything"),
    "torch": ("torch", "the models and the PyTorch baseline"),
    "safetensors": ("safetensors", "writing the weights clformer loads"),
    "onnxruntime": ("onnxruntime", "the onnxruntime baseline"),
    "onnx": ("onnx", "torch.onnx.export"),
    "onnxscript": ("onnxscript", "torch.onnx.export (dynamo exporter)"),
    "ctranslate2": ("ctranslate2", "the CTranslate2 baseline"),
    "transformers": ("transformers", "the Marian model (CTranslate2 and HF baselines)"),
    "sentence_transformers": ("sentence-transformers", "the --minilm baseline"),
}


def require(modules):
    """Imports the modules or exits 2 naming the pip packages that are missing."""
    import importlib
    missing = []
    for m in modules:
        try:
            importlib.import_module(m)
        except ImportError as e:
            missing.append((m, e))
    if missing:
        for m, e in missing:
            pkg, why = PACKAGES.get(m, (m, ""))
            print("compare.py: missing Python package '%s' (needed for %s): %s" % (pkg, why, e),
                  file=sys.stderr)
        print("install them with:  python3 -m pip install %s\n(or all at once: python3 -m pip "
              "install -r bench/requirements.txt)" % " ".join(PACKAGES.get(m, (m,))[0]
                                                             for m, _ in missing), file=sys.stderr)
        sys.exit(2)


def import_clformer():
    """The installed clformer package, or exit 2 saying how to install it."""
    try:
        import clformer
    except ImportError as e:
        hint = ""
        venv = os.path.dirname(os.path.dirname(VENV_PYTHON))
        if os.path.exists(VENV_PYTHON) and os.path.realpath(sys.prefix) != os.path.realpath(venv):
            hint = "\n(tests/check_python.sh installed it for %s: run compare.py with that " \
                   "interpreter)" % VENV_PYTHON
        print("compare.py: cannot import the clformer package (%s) with %s.\ninstall it into this "
              "Python with:  python3 -m pip install %s\nor run tests/check_python.sh, which "
              "installs it into build-logs/py-venv%s" % (e, sys.executable, ROOT, hint),
              file=sys.stderr)
        sys.exit(2)
    return clformer


def device_of(model):
    """The fields of a model's device that the report and the records use."""
    d = model.device_info
    return {"name": d["name"], "index": d["index"], "driver": d["driver_version"],
            "platform": d["platform"], "platform_version": d["platform_version"],
            "device_type": d["class"], "compute_units": d["compute_units"],
            "clock_mhz": d["clock_mhz"]}


# --------------------------------------------------------------- BERT-base ---


def case_bert(a, clf, B, S, log):
    import numpy as np
    import onnxruntime as ort
    import torch
    name = "bert-base"
    log("\n== %s encoder, batch %d, length %d, clformer weights %s" % (name, B, S,
                                                                     ",".join(a.weights)))
    m = cm.bert_module()
    st_path = os.path.join(a.workdir, "bert-base.safetensors")
    if not os.path.exists(st_path):
        t0 = time.perf_counter()
        cm.bert_write(m, st_path)
        log("  wrote %s (%.1f s)" % (st_path, time.perf_counter() - t0))
    gen = torch.Generator().manual_seed(cm.SEED + B)
    ids_t = torch.randint(1, cm.BERT["vocab"], (B, S), generator=gen)
    ids32 = np.ascontiguousarray(ids_t.numpy().astype(np.int32))

    onnx_path = os.path.join(a.workdir, "bert-base-b%d-s%d.onnx" % (B, S))
    if not os.path.exists(onnx_path):
        t0 = time.perf_counter()
        cm.bert_export_onnx(m, ids_t, onnx_path)
        log("  exported %s (%.1f s)" % (onnx_path, time.perf_counter() - t0))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sessions = {"onnxruntime": ort.InferenceSession(onnx_path, so,
                                                    providers=["CPUExecutionProvider"])}
    # onnxruntime's own int8 model (issue 16: BERT-base B 1 Q8 against it).
    if quantised(a) and B == 1:
        q_path = os.path.join(a.workdir, "bert-base-b%d-s%d-int8.onnx" % (B, S))
        if not os.path.exists(q_path):
            t0 = time.perf_counter()
            cm.onnx_quantize_dynamic(onnx_path, q_path)
            log("  quantize_dynamic -> %s (%.1f s)" % (q_path, time.perf_counter() - t0))
        sessions["onnxruntime-int8"] = ort.InferenceSession(q_path, so,
                                                            providers=["CPUExecutionProvider"])
    in_name = sessions["onnxruntime"].get_inputs()[0].name
    ids64 = ids_t.numpy().astype(np.int64)

    models, load_s = load_formats(a, clf, st_path, log, max_batch=B, max_source_len=S)
    first_s, hidden = {}, {}
    for w, model in models.items():
        t0 = time.perf_counter()
        hidden[w] = np.stack(model.encode(ids32, batch_size=B, pooling="none"))  # (B, S, D)
        first_s[w] = time.perf_counter() - t0
    log("  clformer first encode (graph build, kernels): %s"
        % ", ".join("%s %.2f s" % kv for kv in first_s.items()))

    with torch.inference_mode():
        ref = m(ids_t).numpy()
    diff, err = {}, {}
    for w in a.weights:
        diff[clf_engine(w)] = float(np.abs(hidden[w] - ref).max())
        err[clf_engine(w)] = rel_rms(hidden[w], ref)
    for e, sess in sessions.items():
        out = sess.run(None, {in_name: ids64})[0]
        diff[e], err[e] = float(np.abs(out - ref).max()), rel_rms(out, ref)
    log("  agreement with PyTorch (hidden, values ~N(0,1)): max abs diff / relative RMS: %s"
        % ", ".join("%s %.2e / %.1e" % (e, diff[e], err[e]) for e in diff))
    # f32 engines must compute the same thing; f16 and the quantised ones
    # are reported, with loose bounds that only catch a wrong model.
    # The f32 engines must compute the same thing; f16 and the quantised
    # ones are reported, with a loose bound that only catches a wrong model.
    ok = (diff.get("clformer", 0.0) < 1e-2 and diff["onnxruntime"] < 1e-2
          and all(e < 0.25 for e in err.values()))

    engines = [(clf_engine(w), lambda md=md: md.encode(ids32, batch_size=B, pooling="none"))
               for w, md in models.items()]

    def run_torch():
        with torch.inference_mode():
            m(ids_t)

    engines.append(("pytorch", run_torch))
    for e, sess in sessions.items():
        engines.append((e, lambda sess=sess: sess.run(None, {in_name: ids64})))
    reps = a.reps if B == 1 else max(3, a.reps // 3)
    res = time_interleaved(engines, a.warmup, reps)
    close_all(models)
    return result(name, "latency", "B=%d S=%d" % (B, S), B, S, 0, res,
                  {"max_abs_diff": diff, "rel_rms": err}, ok, load_s, first_s, B * S)


# -------------------------------------------------------- Transformer-base ---


def greedy_params(n):
    """clf_generate_params fields for Model.generate_ids: greedy, exactly n
    new tokens (EOS does not stop it). A safetensors file's generation config
    is clf_generate_params_default(), so the rest stays the library's default.
    No log-probabilities, as no other engine here is asked for scores: asking
    for them reads every step's logits back (generate_ids)."""
    return {"strategy": 0, "max_new_tokens": n, "max_length": 0, "ignore_eos": True,
            "logprobs": False}


def case_tbase(a, clf, B, S, N, log):
    import ctranslate2
    import numpy as np
    import torch
    from transformers import GenerationConfig
    PAD, BOS, EOS = cm.PAD, cm.BOS, cm.EOS
    name = "transformer-base"
    log("\n== %s greedy, batch %d, source length %d, %d new tokens, clformer weights %s"
        % (name, B, S, N, ",".join(a.weights)))
    m = cm.marian_model()
    st_path = os.path.join(a.workdir, "transformer-base.safetensors")
    if not os.path.exists(st_path):
        cm.marian_write(m, st_path)
        log("  wrote %s" % st_path)
    ct2_dirs = {"ctranslate2": (os.path.join(a.workdir, "transformer-base-ct2"), None)}
    if quantised(a):
        ct2_dirs["ctranslate2-int8"] = (os.path.join(a.workdir, "transformer-base-ct2-int8"),
                                        "int8")
    for e, (d, q) in ct2_dirs.items():
        if not os.path.exists(os.path.join(d, "model.bin")):
            t0 = time.perf_counter()
            cm.marian_to_ct2(m, d, quantization=q)
            log("  converted for CTranslate2 (%s) into %s (%.1f s)"
                % (q or "float32", d, time.perf_counter() - t0))
    gen = torch.Generator().manual_seed(cm.SEED + 100 + B)
    src = torch.randint(3, cm.TBASE["vocab"], (B, S), generator=gen)
    src[:, -1] = EOS  # sources end in EOS, as Marian's tokenizer writes them
    src32 = np.ascontiguousarray(src.numpy().astype(np.int32))
    lens32 = np.full((B,), S, np.int32)
    src_tok = [["t%d" % int(t) for t in row] for row in src]

    T = 8  # teacher-forced target tokens of the agreement check below
    models, load_s = load_formats(a, clf, st_path, log, max_batch=B, max_source_len=S,
                                  max_target_len=max(N, T) + 2)
    gp = greedy_params(N)
    first_s, clf_ids = {}, {}
    for w, model in models.items():
        t0 = time.perf_counter()
        clf_ids[w] = model.generate_ids(src32, lens32, **gp)["ids"][:, 0, :].astype(np.int64)
        first_s[w] = time.perf_counter() - t0
    log("  clformer first generate (graph builds, kernels): %s"
        % ", ".join("%s %.2f s" % kv for kv in first_s.items()))

    # Encoder memory and teacher-forced decoder outputs on a random target
    # prefix, of every format, against HF's; CTranslate2's log-probs too.
    tgt = torch.randint(3, cm.TBASE["vocab"], (B, T), generator=gen)
    tgt[:, 0] = BOS
    with torch.inference_mode():
        mem = m.model.encoder(input_ids=src).last_hidden_state.numpy()
        ref = m(input_ids=src, decoder_input_ids=tgt).logits
        ref_lp = torch.log_softmax(ref.double(), -1)
    ref = ref.numpy()
    mem_diff, logit_diff, logit_err = {}, {}, {}
    for w, model in models.items():
        hidden = np.stack(model.encode(src32, batch_size=B, pooling="none"))  # (B, S, D)
        logits = model.decode_step(tgt.numpy().astype(np.int32), 0)  # (B, T, vocab)
        mem_diff[w] = float(np.abs(hidden - mem).max())
        logit_diff[w] = float(np.abs(logits - ref).max())
        logit_err[w] = rel_rms(logits, ref)

    cts = {e: ctranslate2.Translator(d, device="cpu", compute_type="int8" if q else "float32",
                                     intra_threads=a.threads, inter_threads=1)
           for e, (d, q) in ct2_dirs.items()}
    # CTranslate2's log-probabilities of the same target tokens (it starts
    # from BOS itself and scores an EOS after them, which is left out).
    want = ref_lp[:, :-1].gather(-1, tgt[:, 1:, None])[..., 0].numpy()
    ct_lp_diff = {}
    for e, ct in cts.items():
        sc = ct.score_batch(src_tok, [["t%d" % int(t) for t in row[1:]] for row in tgt])
        try:
            got = np.array([r.log_probs[: T - 1] for r in sc], np.float64)
            ct_lp_diff[e] = float(np.abs(got - want).max())
        except (ValueError, TypeError):
            ct_lp_diff[e] = float("nan")

    def ct2_runner(ct):
        return lambda: ct.translate_batch(src_tok, beam_size=1, max_decoding_length=N,
                                          min_decoding_length=N, max_batch_size=0)

    gc = GenerationConfig(max_new_tokens=N, min_new_tokens=N, do_sample=False, num_beams=1,
                          decoder_start_token_id=BOS, bos_token_id=BOS, eos_token_id=EOS,
                          pad_token_id=PAD, forced_eos_token_id=None, use_cache=True)
    attn_mask = torch.ones_like(src)

    def run_hf():
        with torch.inference_mode():
            return m.generate(input_ids=src, attention_mask=attn_mask, generation_config=gc)

    base_ids = {e: np.array([[int(t[1:]) for t in r.hypotheses[0]] for r in ct2_runner(ct)()],
                            np.int64) for e, ct in cts.items()}
    base_ids["pytorch"] = run_hf()[:, 1:].numpy()  # drop the decoder start token
    ref_w = "f32" if "f32" in models else a.weights[0]
    ours = clf_ids[ref_w]
    lead = {e: leading(x, ours) for e, x in base_ids.items()}
    lead.update({clf_engine(w): leading(x, ours) for w, x in clf_ids.items() if w != ref_w})
    agreement = {"memory_max_abs_diff": mem_diff, "logits_max_abs_diff": logit_diff,
                 "logits_rel_rms": logit_err, "logit_scale": float(np.abs(ref).max()),
                 "ctranslate2_logprob_max_abs_diff": ct_lp_diff,
                 "distinct_greedy_tokens": int(len(np.unique(ours))),
                 "leading_tokens_vs": clf_engine(ref_w), "leading_tokens": lead, "new_tokens": N,
                 # the names earlier records used
                 "ctranslate2_leading_tokens": lead["ctranslate2"],
                 "pytorch_leading_tokens": lead["pytorch"]}
    log("  vs HF (|logit| <= %.1f, %d random target tokens): encoder memory max abs diff %s; "
        "teacher-forced logits max abs diff / relative RMS %s; CTranslate2 log-probs of the same "
        "tokens %s" % (agreement["logit_scale"], T,
                       ", ".join("%s %.2e" % kv for kv in mem_diff.items()),
                       ", ".join("%s %.2e / %.1e" % (w, logit_diff[w], logit_err[w])
                                 for w in logit_diff),
                       ", ".join("%s %.2e" % kv for kv in ct_lp_diff.items())))
    log("  greedy tokens (first sequence, first 12): clformer %s %s"
        % (ref_w, ours[0, :12].tolist()))
    for e, x in base_ids.items():
        log("  %38s %s" % (e, x[0, :12].tolist()))
    log("  greedy: %d distinct tokens; leading tokens identical to clformer %s's (min over the "
        "batch, of %d): %s" % (agreement["distinct_greedy_tokens"], ref_w, N,
                               ", ".join("%s %d" % kv for kv in lead.items())))
    k = min(8, N)
    # The float engines must agree (f32 bounds); the quantised ones are
    # reported, bounded only loosely (a wrong model, not rounding).
    ok = (all(ct_lp_diff[e] < 1e-2 for e in ct_lp_diff if e == "ctranslate2")
          and lead["ctranslate2"] >= k and lead["pytorch"] >= k
          and all(logit_err[w] < 0.25 for w in logit_err))
    if "f32" in models:
        ok = ok and mem_diff["f32"] < 1e-2 and logit_diff["f32"] < 1e-2

    engines = [(clf_engine(w), lambda md=md: md.generate_ids(src32, lens32, **gp))
               for w, md in models.items()]
    engines += [(e, ct2_runner(ct)) for e, ct in cts.items()]
    if not a.no_hf:
        engines.append(("pytorch", run_hf))
    reps = a.reps if B == 1 else max(3, a.reps // 3)
    res = time_interleaved(engines, a.warmup, reps)
    close_all(models)
    return result(name, "tokens", "B=%d S=%d new=%d greedy" % (B, S, N), B, S, N, res, agreement,
                  ok, load_s, first_s, B * N)


# ------------------------------------------------------------- GPT-2 small ---


def case_gpt2(a, clf, B, S, N, log):
    """GPT-2 small greedy (issue 15): clformer against CTranslate2's
    Generator (float32; int8 when a quantised format is asked for) and HF
    generate, the same random weights, a random prompt of S ids, N new
    tokens each (EOS never stops any engine: clformer ignore_eos, the others
    min_length / min_new_tokens)."""
    import ctranslate2
    import numpy as np
    import torch
    name = "gpt2-small"
    log("\n== %s greedy, batch %d, prompt %d, %d new tokens, clformer weights %s"
        % (name, B, S, N, ",".join(a.weights)))
    m = cm.gpt2_model()
    folder = os.path.join(a.workdir, "gpt2-small")
    if not os.path.exists(os.path.join(folder, "config.json")):
        t0 = time.perf_counter()
        cm.gpt2_write(m, folder)
        log("  wrote %s (%.1f s)" % (folder, time.perf_counter() - t0))
    ct2_dirs = {"ctranslate2": (os.path.join(a.workdir, "gpt2-small-ct2"), None)}
    if quantised(a):
        ct2_dirs["ctranslate2-int8"] = (os.path.join(a.workdir, "gpt2-small-ct2-int8"), "int8")
    for e, (d, q) in ct2_dirs.items():
        if not os.path.exists(os.path.join(d, "model.bin")):
            t0 = time.perf_counter()
            cm.gpt2_to_ct2(m, d, quantization=q)
            log("  converted for CTranslate2 (%s) into %s (%.1f s)"
                % (q or "float32", d, time.perf_counter() - t0))
    gen = torch.Generator().manual_seed(cm.SEED + 200 + B)
    prompt = torch.randint(0, cm.GPT2_EOS, (B, S), generator=gen)
    p32 = np.ascontiguousarray(prompt.numpy().astype(np.int32))
    p_tok = [["t%d" % int(t) for t in row] for row in prompt]

    models, load_s = load_formats(a, clf, folder, log, max_batch=B, max_target_len=S + N + 2)
    gp = greedy_params(N)
    first_s, clf_ids = {}, {}
    for w, model in models.items():
        t0 = time.perf_counter()
        clf_ids[w] = model.generate_ids(p32, **gp)["ids"][:, 0, :].astype(np.int64)
        first_s[w] = time.perf_counter() - t0
    log("  clformer first generate (graph builds, kernels): %s"
        % ", ".join("%s %.2f s" % kv for kv in first_s.items()))

    # Teacher-forced logits of the prompt, every format against HF's.
    with torch.inference_mode():
        ref = m(input_ids=prompt).logits.numpy()  # (B, S, vocab)
    logit_diff, logit_err = {}, {}
    for w, model in models.items():
        logits = model.decode_step(p32, 0)
        logit_diff[w] = float(np.abs(logits - ref).max())
        logit_err[w] = rel_rms(logits, ref)

    cts = {e: ctranslate2.Generator(d, device="cpu", compute_type="int8" if q else "float32",
                                    intra_threads=a.threads, inter_threads=1)
           for e, (d, q) in ct2_dirs.items()}

    def ct2_runner(g):
        return lambda: g.generate_batch(p_tok, max_length=N, min_length=N, sampling_topk=1,
                                        beam_size=1, include_prompt_in_result=False)

    attn_mask = torch.ones_like(prompt)

    def run_hf():
        with torch.inference_mode():
            return m.generate(input_ids=prompt, attention_mask=attn_mask, max_new_tokens=N,
                              min_new_tokens=N, do_sample=False, num_beams=1,
                              pad_token_id=cm.GPT2_EOS, eos_token_id=cm.GPT2_EOS, use_cache=True)

    base_ids = {e: np.array([[int(t[1:]) for t in r.sequences[0]] for r in ct2_runner(g)()],
                            np.int64) for e, g in cts.items()}
    base_ids["pytorch"] = run_hf()[:, S:].numpy()
    ref_w = "f32" if "f32" in models else a.weights[0]
    ours = clf_ids[ref_w]
    lead = {e: leading(x, ours) for e, x in base_ids.items()}
    lead.update({clf_engine(w): leading(x, ours) for w, x in clf_ids.items() if w != ref_w})
    agreement = {"logits_max_abs_diff": logit_diff, "logits_rel_rms": logit_err,
                 "logit_scale": float(np.abs(ref).max()),
                 "distinct_greedy_tokens": int(len(np.unique(ours))),
                 "leading_tokens_vs": clf_engine(ref_w), "leading_tokens": lead, "new_tokens": N}
    log("  vs HF, teacher-forced logits of the prompt (|logit| <= %.1f): max abs diff / "
        "relative RMS %s" % (agreement["logit_scale"], ", ".join(
            "%s %.2e / %.1e" % (w, logit_diff[w], logit_err[w]) for w in logit_diff)))
    log("  greedy tokens (first sequence, first 12): clformer %s %s"
        % (ref_w, ours[0, :12].tolist()))
    for e, x in base_ids.items():
        log("  %38s %s" % (e, x[0, :12].tolist()))
    log("  greedy: %d distinct tokens; leading tokens identical to clformer %s's (min over the "
        "batch, of %d): %s" % (agreement["distinct_greedy_tokens"], ref_w, N,
                               ", ".join("%s %d" % kv for kv in lead.items())))
    k = min(8, N)
    ok = lead["ctranslate2"] >= k and lead["pytorch"] >= k and all(
        logit_err[w] < 0.25 for w in logit_err)
    if "f32" in models:
        ok = ok and logit_err["f32"] < 1e-4

    engines = [(clf_engine(w), lambda md=md: md.generate_ids(p32, **gp))
               for w, md in models.items()]
    engines += [(e, ct2_runner(g)) for e, g in cts.items()]
    if not a.no_hf:
        engines.append(("pytorch", run_hf))
    res = time_interleaved(engines, a.warmup, a.reps)
    close_all(models)
    return result(name, "tokens", "B=%d S=%d new=%d greedy" % (B, S, N), B, S, N, res, agreement,
                  ok, load_s, first_s, B * N)

# ----------------------------------------------------------- MiniLM (issue 6) ---


def case_minilm(a, clf, B, log):
    import numpy as np
    import onnxruntime as ort
    import torch
    require(["sentence_transformers", "transformers", "onnxruntime", "onnx", "onnxscript"])
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer
    name = "all-MiniLM-L6-v2"
    log("\n== %s sentence embeddings, batch %d (%s)" % (name, B, a.minilm))
    try:
        model = clf.Model(a.minilm, device=a.device, max_batch=B, max_source_len=128)
    except clf.Error as e:
        raise RuntimeError("clformer cannot load the HF folder %s: %s" % (a.minilm, e))
    words = ("the quick brown fox jumps over a lazy dog while engineers benchmark transformer "
             "models on shared machines and compare their embeddings across several engines").split()
    rng = np.random.default_rng(cm.SEED)
    sents = [" ".join(rng.choice(words, size=int(rng.integers(6, 20)))) for _ in range(B)]
    tok = AutoTokenizer.from_pretrained(a.minilm)
    enc = tok(sents, padding=True, truncation=True, max_length=128, return_tensors="np")
    ids64, mask64 = enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)
    ids32 = np.ascontiguousarray(ids64.astype(np.int32))
    lens32 = np.ascontiguousarray(mask64.sum(1).astype(np.int32))
    S = ids32.shape[1]
    st = SentenceTransformer(a.minilm, device="cpu")
    tt = torch.from_numpy(ids64)
    tm = torch.from_numpy(mask64)
    ttype = torch.zeros_like(tt)

    def st_embed():
        with torch.inference_mode():
            out = st({"input_ids": tt, "attention_mask": tm, "token_type_ids": ttype})
        return out["sentence_embedding"].numpy()

    onnx_path = os.path.join(a.workdir, "minilm-b%d.onnx" % B)
    if not os.path.exists(onnx_path):
        bert = st[0].auto_model.eval()

        class Pool(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.bert = bert

            def forward(self, ids, mask, types):
                h = self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types)[0]
                w = mask.unsqueeze(-1).to(h.dtype)
                e = (h * w).sum(1) / w.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(e, dim=-1)

        torch.onnx.export(Pool().eval(), (tt, tm, ttype), onnx_path, dynamo=True, verbose=False,
                          input_names=["ids", "mask", "types"], output_names=["emb"])
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads, so.inter_op_num_threads = a.threads, 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    feeds = {i.name: v for i, v in zip(sess.get_inputs(), (ids64, mask64, np.zeros_like(ids64)))}
    rows = [r[:n] for r, n in zip(ids32, lens32)]  # the HF tokenizer's ids, unpadded

    def run_clf():
        # The folder's own pooling: mean over real tokens, then the Normalize
        # module's L2 normalisation, both inside clformer. (B, D)
        return model.encode(rows, batch_size=B, pooling="default")

    ref = st_embed()
    diff = {"clformer": float(np.abs(run_clf() - ref).max()),
            "onnxruntime": float(np.abs(sess.run(None, feeds)[0] - ref).max())}
    log("  agreement with sentence-transformers (max abs diff of unit embeddings): clformer %.2e, "
        "onnxruntime %.2e" % (diff["clformer"], diff["onnxruntime"]))
    res = time_interleaved([("clformer", run_clf), ("pytorch", st_embed),
                            ("onnxruntime", lambda: sess.run(None, feeds))], a.warmup, a.reps)
    model.close()
    return dict(case=name, kind="sentences", shape="B=%d S=%d mean+L2" % (B, S), batch=B,
                seq_len=S, new_tokens=0, results=res, agreement=diff,
                ok=max(diff.values()) < 1e-3, tokens=B)


# --------------------------------------------------------------- selftest ---


def selftest(a, clf, log):
    """The clformer package on tiny random models (clf_model_create_random),
    no PyTorch needed: generate, encode with both poolings, the device's
    description, an error's status. Fast enough for CI (needs numpy and the
    installed package)."""
    import numpy as np
    log("clformer package %s at %s" % (clf.__version__, os.path.dirname(clf.__file__)))
    fails = []
    m = clf.Model.random("tiny", seed=7, device=a.device, max_batch=2, max_source_len=8,
                         max_target_len=16)  # decoder-only, vocab 50
    dev = device_of(m)
    log("clformer %s on %s (%s, %s, driver %s, %d compute units)" % (
        clf.__version__, dev["name"], dev["index"], dev["device_type"], dev["driver"],
        dev["compute_units"]))
    cfg = m.config
    prompts = np.array([[5, 9, 11], [20, 3, 44]], np.int32)
    runs = [m.generate_ids(prompts, **dict(greedy_params(6), logprobs=True)) for _ in range(2)]
    fit = m.max_new_tokens(3)
    m.close()
    outs = [r["ids"] for r in runs]
    lens, lp, finish = runs[0]["lengths"], runs[0]["logprobs"], runs[0]["finish"]
    log("tiny decoder, greedy 6 tokens: %s, logprobs %s, finish %s, %d fit after 3"
        % (outs[0][:, 0].tolist(), lp[:, 0].round(3).tolist(), finish[:, 0].tolist(), fit))
    if not (outs[0].shape == (2, 1, 6) and (lens == 6).all() and (finish == 2).all()
            and np.isfinite(lp).all() and (lp < 0).all() and fit == cfg["max_positions"] - 3):
        fails.append("generate: ids %s, lengths %s, finish %s (2 = max new), logprobs %s, "
                     "max_new_tokens(3) %d" % (outs[0].shape, lens.tolist(), finish.tolist(),
                                               lp.tolist(), fit))
    if not ((outs[0] >= 0) & (outs[0] < cfg["vocab"])).all():
        fails.append("generate: ids outside [0, vocab) or missing: %s" % outs[0].tolist())
    if not (outs[0] == outs[1]).all():
        fails.append("generate: two runs differ")

    enc = dict(encoder_layers=1, d_model=32, n_heads=2, d_ff=64, vocab=50, max_positions=16)
    m = clf.Model.random("bert-base", enc, seed=3, device=a.device, max_batch=2, max_source_len=8)
    rows = [[4, 8, 15, 16, 23], [42, 7, 9]]
    hidden = m.encode(rows, pooling="none")  # [(5, 32), (3, 32)]
    mean = m.encode(rows, pooling="mean")    # (2, 32)
    first = m.encode(rows, pooling="first")
    m.close()
    want = np.stack([h.mean(0) for h in hidden])
    e_mean = float(np.abs(mean - want).max())
    e_first = float(np.abs(first - np.stack([h[0] for h in hidden])).max())
    log("tiny encoder: mean pooling vs mean of hidden rows %.1e, first pooling vs row 0 %.1e"
        % (e_mean, e_first))
    if not ([h.shape for h in hidden] == [(5, 32), (3, 32)] and mean.shape == (2, 32)
            and all(np.isfinite(h).all() for h in hidden) and e_mean < 1e-5 and e_first < 1e-6):
        fails.append("encode: pooling does not match the hidden states (%g, %g)"
                     % (e_mean, e_first))
    try:
        clf.Model(os.path.join(a.workdir or "/nonexistent", "missing.safetensors"),
                  device=a.device, max_batch=1, max_source_len=8)
        fails.append("loading a missing file succeeded")
    except clf.Error as e:
        log("missing file -> %s" % e)
        if e.status not in ("CLF_ERR_IO", "CLF_ERR_NOT_FOUND"):
            fails.append("unexpected status for a missing file: %s" % e)
    for f in fails:
        log("FAILED: " + f)
    log("selftest %s" % ("ok" if not fails else "FAILED"))
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Example: python3 bench/compare.py --quick --json cmp.json")
    ap.add_argument("--device", default=None, help="clformer device spec (default: best)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="threads of every engine; also PoCL's (default: all cores)")
    ap.add_argument("--reps", type=int, default=None, help="timed repeats (default 10, quick 3)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed runs per engine first "
                    "(default 2, quick 1)")
    ap.add_argument("--new-tokens", type=int, default=32, help="Transformer-base generated "
                    "tokens (default 32)")
    ap.add_argument("--src-len", type=int, default=32, help="Transformer-base source length")
    ap.add_argument("--gpt2-new-tokens", type=int, default=64, help="GPT-2 generated tokens "
                    "(default 64)")
    ap.add_argument("--gpt2-prompt", type=int, default=16, help="GPT-2 prompt length (default 16)")
    ap.add_argument("--weights", default="f32", help="clformer weight formats, a comma list of "
                    "f32, f16, q8, q4 (default f32); each is an engine of every case, and a "
                    "quantised one brings in CTranslate2 int8 and onnxruntime quantize_dynamic")
    ap.add_argument("--no-int8", action="store_true", help="no int8 baselines even with q8/q4")
    ap.add_argument("--quick", action="store_true", help="the batch-1 cases, few repeats")
    ap.add_argument("--full", action="store_true", help="also BERT batch 32, Transformer batch 16")
    ap.add_argument("--case", choices=["bert", "transformer", "gpt2", "minilm", "all"],
                    default="all", help="minilm: only the --minilm case")
    ap.add_argument("--no-hf", action="store_true", help="skip the HF generate baselines")
    ap.add_argument("--block", type=int, default=5, help="timed calls of one engine in a row "
                    "before the next engine's (default 5; 1: call by call)")
    ap.add_argument("--minilm", metavar="DIR", help="also the all-MiniLM-L6-v2 folder DIR")
    ap.add_argument("--json", metavar="FILE", help="write the records as JSON")
    ap.add_argument("--workdir", help="where models are written (default: a temp dir, removed)")
    ap.add_argument("--selftest", action="store_true", help="only check the clformer package on "
                    "tiny random models (seconds; needs numpy, no PyTorch)")
    a = ap.parse_args()
    if a.reps is None:
        a.reps = 3 if a.quick else 10
    if a.warmup is None:
        a.warmup = 1 if a.quick else 2
    a.weights = [w.strip() for w in a.weights.split(",") if w.strip()]
    bad = [w for w in a.weights if w not in ("f32", "f16", "q8", "q4")]
    if bad or not a.weights or len(set(a.weights)) != len(a.weights):
        ap.error("--weights %s: a comma list of distinct f32, f16, q8, q4" % ",".join(a.weights))
    if (a.reps < 1 or a.threads < 1 or a.new_tokens < 1 or a.src_len < 2 or a.warmup < 0
            or a.gpt2_new_tokens < 1 or a.gpt2_prompt < 1):
        ap.error("--reps, --threads, --new-tokens, --gpt2-new-tokens, --gpt2-prompt must be >= 1, "
                 "--warmup >= 0 and --src-len >= 2")
    if a.block < 1:
        ap.error("--block must be >= 1")
    engines_mod.BLOCK = a.block
    if a.quick and a.full:
        ap.error("--quick and --full exclude each other")
    if a.selftest:
        require(["numpy"])
        clf = import_clformer()
        try:
            return selftest(a, clf, lambda t: print(t, flush=True))
        except (clf.Error, RuntimeError, ValueError, OSError) as e:
            print("compare.py --selftest: FAILED: %s" % e, file=sys.stderr)
            return 1
    need = ["numpy", "torch", "safetensors"]
    if a.case in ("bert", "all"):
        need += ["onnxruntime", "onnx", "onnxscript"]
    if a.case in ("transformer", "gpt2", "all"):
        need += ["ctranslate2", "transformers"]
    require(need)
    clf = import_clformer()
    import torch

    # Same thread count for every engine. PoCL reads its variables when the
    # library first touches OpenCL (the first Model), so they are set first.
    torch.set_num_threads(a.threads)
    os.environ.setdefault("POCL_MAX_PTHREAD_COUNT", str(a.threads))  # PoCL < 4
    os.environ.setdefault("POCL_CPU_MAX_CU_NUM", str(a.threads))     # PoCL >= 4
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))

    log = lambda s: print(s, flush=True)  # noqa: E731
    try:
        # Each Model opens its own context on the device; a tiny one tells
        # which device --device picks (every case's models open the same).
        with clf.Model.random("tiny", device=a.device, max_batch=1) as probe:
            dev = device_of(probe)
    except (clf.Error, RuntimeError, OSError) as e:
        print("compare.py: %s" % e, file=sys.stderr)
        return 1
    v = report.versions(clf, dev, a)
    log("compare.py: clformer %s (%s) on %s (%s), driver %s, %d compute units" % (
        v["clformer"], v["lib"], dev["name"], dev["index"], dev["driver"], dev["compute_units"]))
    log("versions: " + ", ".join("%s %s" % (k, v[k]) for k in (
        "torch", "onnxruntime", "onnx", "ctranslate2", "transformers", "numpy", "python")
        if k in v))
    log("CPU: %s, %s cores, threads per engine: %d; warm-up %d, %d timed repeats (interleaved "
        "in blocks of %d); load average %s" % (v["cpu"], v["cores"], a.threads, a.warmup, a.reps,
                                               a.block, v["load_avg"]))
    if dev["device_type"] == "cpu" and dev["compute_units"] != a.threads:
        log("note: the OpenCL CPU device has %d compute units, not %d threads"
            % (dev["compute_units"], a.threads))

    tmp = None
    if not a.workdir:
        tmp = tempfile.mkdtemp(prefix="clf-compare-")
        a.workdir = tmp
    os.makedirs(a.workdir, exist_ok=True)
    plan = []
    if a.case in ("bert", "all"):
        plan.append(lambda: case_bert(a, clf, 1, 128, log))
        if a.full:
            plan.append(lambda: case_bert(a, clf, 32, 128, log))
    if a.case in ("transformer", "all"):
        plan.append(lambda: case_tbase(a, clf, 1, a.src_len, a.new_tokens, log))
        if a.full:
            plan.append(lambda: case_tbase(a, clf, 16, a.src_len, a.new_tokens, log))
    if a.case in ("gpt2", "all"):
        plan.append(lambda: case_gpt2(a, clf, 1, a.gpt2_prompt, a.gpt2_new_tokens, log))
    if a.case == "minilm" and not a.minilm:
        ap.error("--case minilm needs --minilm DIR")
    if a.minilm:
        plan.append(lambda: case_minilm(a, clf, 32, log))
    cases, failed = [], 0
    t_start = time.perf_counter()
    try:
        for run in plan:
            try:
                c = run()
            except (clf.Error, RuntimeError, ValueError, OSError) as e:
                log("  FAILED: %s" % e)
                failed += 1
                continue
            cases.append(c)
            if not c["ok"]:
                log("  WARNING: the engines disagree (see above); the timing compares different "
                    "computations")
                failed += 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    v["wall_s"] = round(time.perf_counter() - t_start, 1)
    v["load_avg_end"] = report.load_avg()
    if cases:
        report.print_table(cases, sys.stdout)
    log("compare.py: the cases took %.0f s; load average %s at the start, %s at the end"
        % (v["wall_s"], v["load_avg"], v["load_avg_end"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"clformer": v["clformer"], "tool": "bench/compare.py", "versions": v,
                       "command": " ".join(sys.argv), "records": report.json_records(cases, dev)}, f,
                      indent=1)
        log("wrote %s" % a.json)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
