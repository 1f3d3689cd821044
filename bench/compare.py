#!/usr/bin/env python3
"""clformer against PyTorch, onnxruntime and CTranslate2 on the same models.

Builds identically-shaped models with the same random weights in PyTorch,
writes them as safetensors that clformer loads with clf_model_load (names and
__metadata__ as include/clformer/model.h and tests/golden/README.md), exports
or converts them for the baselines, checks that every engine computes the same
thing (max abs differences of hidden states, teacher-forced logits and
log-probabilities; identical greedy tokens), then times
all engines in one process, interleaved repeat by repeat so that a noisy
machine slows them alike, and prints each baseline as a ratio to clformer.

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
  --minilm DIR  sentence embeddings with an all-MiniLM-L6-v2 folder (issue 6).

clformer is driven through its Python package (`import clformer`: python/,
installed with `pip install .` or by tests/check_python.sh into
build-logs/py-venv), which calls the public C API. Exit status: 0 = every
case ran and agreed, 1 = a case failed or disagreed, 2 = bad usage or missing
packages (clformer included).
"""

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV_PYTHON = os.path.join(ROOT, "build-logs", "py-venv", "bin", "python")

SEED = 1234
EOS_BIAS = -30.0  # output bias of EOS, PAD and BOS: no engine ever picks them

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


# ------------------------------------------------------------------ timing ---


def stats(times):
    import numpy as np
    t = np.asarray(times, dtype=np.float64)
    return {"median_s": float(np.median(t)), "min_s": float(t.min()),
            "p90_s": float(np.percentile(t, 90)), "p99_s": float(np.percentile(t, 99)),
            "reps": int(t.size)}


def time_interleaved(engines, warmup, reps):
    """engines: [(name, fn)]. Each fn runs warmup times, then the timed repeats
    go round-robin (rep 1 of every engine, rep 2 of every engine, ...), so a
    burst of load from other processes lands on all of them alike."""
    for name, fn in engines:
        for _ in range(warmup):
            fn()
    times = {name: [] for name, _ in engines}
    for _ in range(reps):
        for name, fn in engines:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: stats(ts) for name, ts in times.items()}


# ---------------------------------------------------------------- weights ---


def randomise(module, gen, embed_std=0.05):
    """Deterministic values in the spirit of clf_model_create_random: matrices
    uniform +-1/sqrt(fan_in), embeddings N(0, embed_std^2), norm gammas
    1 +- 0.05, biases and betas +-0.02 (not PyTorch's 1 / 0, so that every
    term is exercised)."""
    import torch
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "embed_positions" in name:
                continue
            if p.dim() == 2 and ("embed" in name or "shared" in name):
                p.copy_(torch.randn(p.shape, generator=gen) * embed_std)
            elif p.dim() == 2:
                b = 1.0 / math.sqrt(p.shape[1])
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * b)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + (torch.rand(p.shape, generator=gen) * 2 - 1) * 0.05)
            else:
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * 0.02)


def versions_meta():
    import numpy
    import safetensors
    import torch
    return {"torch_version": torch.__version__, "safetensors_version": safetensors.__version__,
            "numpy_version": numpy.__version__, "python_version": platform.python_version(),
            "seed": str(SEED), "made_by": "bench/compare.py"}


def save_safetensors(path, tensors, meta):
    from safetensors.torch import save_file
    t = {k: v.detach().contiguous().float().clone() for k, v in tensors.items()}
    save_file(t, path, metadata={k: str(v) for k, v in sorted(meta.items())})


# --------------------------------------------------------------- BERT-base ---

BERT = dict(layers=12, d=768, heads=12, ff=3072, vocab=30522, max_pos=512, eps=1e-12)


def bert_module():
    import torch
    from torch import nn

    class BertLike(nn.Module):
        """clformer's "bert-base" encoder: token + learned position embeddings
        (no token types, no embedding LayerNorm), 12 post-LN GELU layers, no
        final norm. The state_dict names are clformer's."""

        def __init__(self):
            super().__init__()
            c = BERT
            self.embed = nn.Embedding(c["vocab"], c["d"])
            self.pos_embed = nn.Embedding(c["max_pos"], c["d"])
            layer = nn.TransformerEncoderLayer(c["d"], c["heads"], c["ff"], dropout=0.0,
                                               activation="gelu", layer_norm_eps=c["eps"],
                                               batch_first=True, norm_first=False)
            self.encoder = nn.TransformerEncoder(layer, c["layers"], enable_nested_tensor=False)

        def forward(self, ids):
            x = self.embed(ids) + self.pos_embed.weight[: ids.shape[1]]
            return self.encoder(x)

    torch.manual_seed(SEED)
    m = BertLike().eval()
    randomise(m, torch.Generator().manual_seed(SEED))
    return m


def bert_write(m, path):
    meta = dict(kind="encoder", layers=BERT["layers"], d_model=BERT["d"], nhead=BERT["heads"],
                d_ff=BERT["ff"], activation="gelu", norm_first="false", eps=BERT["eps"],
                vocab=BERT["vocab"], positions="learned", max_positions=BERT["max_pos"],
                embedding_scale="1.0", final_norm="false", pad_id=0, **versions_meta())
    save_safetensors(path, m.state_dict(), meta)


def bert_export_onnx(m, ids, path):
    import logging
    import torch
    # The exporter warns about torchvision ops it cannot register: not ours.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # export the plain math
    try:
        try:
            torch.onnx.export(m, (ids,), path, input_names=["ids"], output_names=["hidden"],
                              dynamo=True, optimize=True, external_data=True, verbose=False)
        except TypeError:
            torch.onnx.export(m, (ids,), path, input_names=["ids"], output_names=["hidden"])
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)


def case_bert(a, clf, B, S, log):
    import numpy as np
    import onnxruntime as ort
    import torch
    name = "bert-base"
    log("\n== %s encoder, batch %d, length %d" % (name, B, S))
    m = bert_module()
    st_path = os.path.join(a.workdir, "bert-base.safetensors")
    if not os.path.exists(st_path):
        t0 = time.perf_counter()
        bert_write(m, st_path)
        log("  wrote %s (%.1f s)" % (st_path, time.perf_counter() - t0))
    gen = torch.Generator().manual_seed(SEED + B)
    ids_t = torch.randint(1, BERT["vocab"], (B, S), generator=gen)
    ids32 = np.ascontiguousarray(ids_t.numpy().astype(np.int32))

    onnx_path = os.path.join(a.workdir, "bert-base-b%d-s%d.onnx" % (B, S))
    if not os.path.exists(onnx_path):
        t0 = time.perf_counter()
        bert_export_onnx(m, ids_t, onnx_path)
        log("  exported %s (%.1f s)" % (onnx_path, time.perf_counter() - t0))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    ids64 = ids_t.numpy().astype(np.int64)

    t0 = time.perf_counter()
    model = clf.Model(st_path, device=a.device, max_batch=B, max_source_len=S)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    hidden = np.stack(model.encode(ids32, batch_size=B, pooling="none"))  # (B, S, D)
    first_s = time.perf_counter() - t0
    log("  clformer: load %.2f s, first encode (graph build, kernels) %.2f s" % (load_s, first_s))

    with torch.inference_mode():
        ref = m(ids_t).numpy()
    ort_out = sess.run(None, {in_name: ids64})[0]
    diff = {"clformer": float(np.abs(hidden - ref).max()),
            "onnxruntime": float(np.abs(ort_out - ref).max())}
    log("  agreement with PyTorch (max abs diff of hidden, values ~N(0,1)): clformer %.2e, "
        "onnxruntime %.2e" % (diff["clformer"], diff["onnxruntime"]))
    ok = diff["clformer"] < 1e-2 and diff["onnxruntime"] < 1e-2

    def run_clf():
        model.encode(ids32, batch_size=B, pooling="none")

    def run_torch():
        with torch.inference_mode():
            m(ids_t)

    def run_ort():
        sess.run(None, {in_name: ids64})

    reps = a.reps if B == 1 else max(3, a.reps // 3)
    res = time_interleaved([("clformer", run_clf), ("pytorch", run_torch), ("onnxruntime", run_ort)],
                           a.warmup, reps)
    model.close()
    return dict(case=name, kind="latency", shape="B=%d S=%d" % (B, S), batch=B, seq_len=S,
                new_tokens=0, results=res, agreement=diff, ok=ok, load_s=load_s,
                first_call_s=first_s, tokens=B * S)


# -------------------------------------------------------- Transformer-base ---

TBASE = dict(layers=6, d=512, heads=8, ff=2048, vocab=32000, max_pos=512)
PAD, BOS, EOS = 0, 1, 2


def marian_model():
    import torch
    from transformers import MarianConfig, MarianMTModel
    c = TBASE
    cfg = MarianConfig(vocab_size=c["vocab"], decoder_vocab_size=c["vocab"], d_model=c["d"],
                       encoder_layers=c["layers"], decoder_layers=c["layers"],
                       encoder_attention_heads=c["heads"], decoder_attention_heads=c["heads"],
                       encoder_ffn_dim=c["ff"], decoder_ffn_dim=c["ff"], activation_function="relu",
                       scale_embedding=True, max_position_embeddings=c["max_pos"], dropout=0.0,
                       attention_dropout=0.0, activation_dropout=0.0, pad_token_id=PAD,
                       bos_token_id=BOS, eos_token_id=EOS, decoder_start_token_id=BOS,
                       forced_eos_token_id=None, share_encoder_decoder_embeddings=True,
                       tie_word_embeddings=True)
    torch.manual_seed(SEED)
    m = MarianMTModel(cfg).eval()
    gen = torch.Generator().manual_seed(SEED + 1)
    # Embeddings N(0, 1/D): after the sqrt(D) scale the input is unit-sized.
    # (A random post-LN ReLU stack adds a near-constant vector in every FFN,
    # so greedy decoding of a random model repeats one token; the
    # teacher-forced check below is what tests the decoder on varied inputs.)
    randomise(m, gen, embed_std=1.0 / math.sqrt(c["d"]))
    pe = marian_positions(c["max_pos"], c["d"])
    with torch.no_grad():
        for mod in (m.model.encoder.embed_positions, m.model.decoder.embed_positions):
            mod.weight.copy_(pe)
        bias = (torch.rand(1, c["vocab"], generator=gen) * 2 - 1) * 0.02
        bias[0, EOS] = bias[0, PAD] = bias[0, BOS] = EOS_BIAS
        m.final_logits_bias.copy_(bias)
    return m


def marian_positions(n, d):
    """HF Marian's table: sin of angle(i) = pos / 10000^(2i/d) in columns
    [0, d/2), cos in [d/2, d) (clformer's "sinusoid_concat"), float64 -> f32."""
    import torch
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(d // 2, dtype=torch.float64)[None, :]
    ang = pos / torch.pow(10000.0, 2 * i / d)
    return torch.cat([torch.sin(ang), torch.cos(ang)], 1).float()


def marian_write(m, path):
    """The Marian state_dict in clformer's names: fused [q; k; v] projections,
    norm1/2/3, linear1/2, shared embeddings under both names, output bias."""
    import torch
    sd = {}
    E = m.model.shared.weight
    sd["src_embed.weight"] = E
    sd["tgt_embed.weight"] = E
    sd["out_proj.bias"] = m.final_logits_bias[0]

    def attn(dst, a):
        sd[dst + ".in_proj_weight"] = torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight])
        sd[dst + ".in_proj_bias"] = torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias])
        sd[dst + ".out_proj.weight"] = a.out_proj.weight
        sd[dst + ".out_proj.bias"] = a.out_proj.bias

    def ffn_norm(dst, layer, norms):
        for k, lin in (("linear1", layer.fc1), ("linear2", layer.fc2)):
            sd["%s.%s.weight" % (dst, k)] = lin.weight
            sd["%s.%s.bias" % (dst, k)] = lin.bias
        for i, ln in enumerate(norms, 1):
            sd["%s.norm%d.weight" % (dst, i)] = ln.weight
            sd["%s.norm%d.bias" % (dst, i)] = ln.bias

    for i, l in enumerate(m.model.encoder.layers):
        p = "encoder.layers.%d" % i
        attn(p + ".self_attn", l.self_attn)
        ffn_norm(p, l, [l.self_attn_layer_norm, l.final_layer_norm])
    for i, l in enumerate(m.model.decoder.layers):
        p = "decoder.layers.%d" % i
        attn(p + ".self_attn", l.self_attn)
        attn(p + ".multihead_attn", l.encoder_attn)
        ffn_norm(p, l, [l.self_attn_layer_norm, l.encoder_attn_layer_norm, l.final_layer_norm])
    c = TBASE
    meta = dict(kind="encoder-decoder", encoder_layers=c["layers"], decoder_layers=c["layers"],
                d_model=c["d"], nhead=c["heads"], d_ff=c["ff"], activation="relu",
                norm_first="false", eps=1e-05, vocab=c["vocab"], positions="sinusoid_concat",
                embedding_scale=repr(math.sqrt(c["d"])), final_norm="false",
                tied_embeddings="true", output_bias="true", pad_id=PAD, bos_id=BOS, eos_id=EOS,
                note="random MarianMTModel weights in clformer's names", **versions_meta())
    save_safetensors(path, sd, meta)


class _Vocab:
    """The few tokenizer methods CTranslate2's BartLoader reads: token i is "t<i>"."""

    def __init__(self, n):
        self.n = n
        self.bos_token, self.eos_token, self.unk_token = "t%d" % BOS, "t%d" % EOS, "t3"

    def get_vocab(self):
        return {"t%d" % i: i for i in range(self.n)}

    def convert_ids_to_tokens(self, i):
        return "t%d" % i


def greedy_params(n):
    """clf_generate_params fields for Model.generate_ids: greedy, exactly n
    new tokens (EOS does not stop it). A safetensors file's generation config
    is clf_generate_params_default(), so the rest stays the library's default."""
    return {"strategy": 0, "max_new_tokens": n, "max_length": 0, "ignore_eos": True}


def marian_to_ct2(m, out_dir):
    """Converts with CTranslate2's own Transformers weight mapping (BartLoader,
    which MarianMTLoader extends) through the Converter interface. Marian's
    own loader is not used because it makes the decoder start from a zero
    embedding (Marian starts from PAD) and needs a real tokenizer; ours starts
    from BOS's embedding like HF generate and clformer."""
    import ctranslate2
    from ctranslate2.converters import transformers as ct2tf
    m.config.normalize_before = False
    m.config.normalize_embedding = False

    class _Conv(ctranslate2.converters.Converter):
        def _load(self):
            return ct2tf.BartLoader()(m, _Vocab(TBASE["vocab"]))

    _Conv().convert(out_dir, quantization=None, force=True)


def case_tbase(a, clf, B, S, N, log):
    import ctranslate2
    import numpy as np
    import torch
    from transformers import GenerationConfig
    name = "transformer-base"
    log("\n== %s greedy, batch %d, source length %d, %d new tokens" % (name, B, S, N))
    m = marian_model()
    st_path = os.path.join(a.workdir, "transformer-base.safetensors")
    ct2_dir = os.path.join(a.workdir, "transformer-base-ct2")
    if not os.path.exists(st_path):
        marian_write(m, st_path)
        log("  wrote %s" % st_path)
    if not os.path.exists(os.path.join(ct2_dir, "model.bin")):
        t0 = time.perf_counter()
        marian_to_ct2(m, ct2_dir)
        log("  converted for CTranslate2 into %s (%.1f s)" % (ct2_dir, time.perf_counter() - t0))
    gen = torch.Generator().manual_seed(SEED + 100 + B)
    src = torch.randint(3, TBASE["vocab"], (B, S), generator=gen)
    src[:, -1] = EOS  # sources end in EOS, as Marian's tokenizer writes them
    src32 = np.ascontiguousarray(src.numpy().astype(np.int32))
    lens32 = np.full((B,), S, np.int32)
    src_tok = [["t%d" % int(t) for t in row] for row in src]

    t0 = time.perf_counter()
    model = clf.Model(st_path, device=a.device, max_batch=B, max_source_len=S,
                      max_target_len=N + 2)
    load_s = time.perf_counter() - t0
    cfg = model.config
    log("  clformer config: %d+%d layers, D %d, positions %d (3 = sinusoid_concat), scale %.4f, "
        "tied %s" % (cfg["encoder_layers"], cfg["decoder_layers"], cfg["d_model"],
                     cfg["positions"], cfg["embedding_scale"], cfg["tied_embeddings"]))
    gp = greedy_params(N)
    t0 = time.perf_counter()
    clf_ids = model.generate_ids(src32, lens32, **gp)["ids"]  # (B, 1, N)
    first_s = time.perf_counter() - t0
    log("  clformer: load %.2f s, first generate (graph builds, kernels) %.2f s" % (load_s, first_s))

    # Encoder memory and teacher-forced decoder outputs on a random target
    # prefix: clformer's and CTranslate2's against HF's.
    hidden = np.stack(model.encode(src32, batch_size=B, pooling="none"))  # (B, S, D)
    T = 8
    tgt = torch.randint(3, TBASE["vocab"], (B, T), generator=gen)
    tgt[:, 0] = BOS
    # (B, T, vocab), cross-attending to the memory of the encode just above
    logits = model.decode_step(tgt.numpy().astype(np.int32), 0)
    with torch.inference_mode():
        mem = m.model.encoder(input_ids=src).last_hidden_state.numpy()
        ref = m(input_ids=src, decoder_input_ids=tgt).logits
        ref_lp = torch.log_softmax(ref.double(), -1)
    ref = ref.numpy()
    mem_diff = float(np.abs(hidden - mem).max())
    logit_diff = float(np.abs(logits - ref).max())

    ct = ctranslate2.Translator(ct2_dir, device="cpu", compute_type="float32",
                                intra_threads=a.threads, inter_threads=1)
    # CTranslate2's log-probabilities of the same target tokens (it starts
    # from BOS itself and scores an EOS after them, which is left out).
    sc = ct.score_batch(src_tok, [["t%d" % int(t) for t in row[1:]] for row in tgt])
    want = ref_lp[:, :-1].gather(-1, tgt[:, 1:, None])[..., 0].numpy()
    try:
        got = np.array([r.log_probs[: T - 1] for r in sc], np.float64)
        ct_lp_diff = float(np.abs(got - want).max())
    except (ValueError, TypeError):
        ct_lp_diff = float("nan")

    def run_ct2():
        return ct.translate_batch(src_tok, beam_size=1, max_decoding_length=N,
                                  min_decoding_length=N, max_batch_size=0)

    gc = GenerationConfig(max_new_tokens=N, min_new_tokens=N, do_sample=False, num_beams=1,
                          decoder_start_token_id=BOS, bos_token_id=BOS, eos_token_id=EOS,
                          pad_token_id=PAD, forced_eos_token_id=None, use_cache=True)
    attn_mask = torch.ones_like(src)

    def run_hf():
        with torch.inference_mode():
            return m.generate(input_ids=src, attention_mask=attn_mask, generation_config=gc)

    def run_clf():
        model.generate_ids(src32, lens32, **gp)

    ct_ids = np.array([[int(t[1:]) for t in r.hypotheses[0]] for r in run_ct2()], np.int64)
    hf_ids = run_hf()[:, 1:].numpy()  # drop the decoder start token
    ours = clf_ids[:, 0, :].astype(np.int64)
    if ct_ids.shape != ours.shape or hf_ids.shape != ours.shape:
        log("  token counts differ: clformer %s, CTranslate2 %s, HF %s"
            % (ours.shape, ct_ids.shape, hf_ids.shape))

    def agree(x):
        """Leading tokens equal to clformer's, the minimum over the batch."""
        if x.shape != ours.shape:
            return 0
        eq = (x == ours)
        return int(min((row.argmin() if not row.all() else N) for row in eq))

    agreement = {"memory_max_abs_diff": mem_diff, "logits_max_abs_diff": logit_diff,
                 "logit_scale": float(np.abs(ref).max()),
                 "ctranslate2_logprob_max_abs_diff": ct_lp_diff,
                 "distinct_greedy_tokens": int(len(np.unique(ours))),
                 "ctranslate2_leading_tokens": agree(ct_ids),
                 "pytorch_leading_tokens": agree(hf_ids), "new_tokens": N}
    log("  vs HF: encoder memory max abs diff %.2e; teacher-forced logits (%d random target "
        "tokens, |logit| <= %.1f) max abs diff %.2e; CTranslate2 log-probs of the same tokens "
        "%.2e" % (mem_diff, T, agreement["logit_scale"], logit_diff, ct_lp_diff))
    log("  greedy tokens (first sequence, first 12): clformer %s" % ours[0, :12].tolist())
    log("                                        CTranslate2 %s" % ct_ids[0, :12].tolist())
    log("                                        HF          %s" % hf_ids[0, :12].tolist())
    log("  greedy: %d distinct tokens; leading tokens identical to clformer's (min over the "
        "batch, of %d): CTranslate2 %d, HF %d" % (agreement["distinct_greedy_tokens"], N,
                                               agreement["ctranslate2_leading_tokens"],
                                               agreement["pytorch_leading_tokens"]))
    k = min(8, N)
    ok = (mem_diff < 1e-2 and logit_diff < 1e-2 and ct_lp_diff < 1e-2
          and agreement["ctranslate2_leading_tokens"] >= k
          and agreement["pytorch_leading_tokens"] >= k)

    engines = [("clformer", run_clf), ("ctranslate2", run_ct2)]
    if not a.no_hf:
        engines.append(("pytorch", run_hf))
    reps = a.reps if B == 1 else max(3, a.reps // 3)
    res = time_interleaved(engines, a.warmup, reps)
    model.close()
    return dict(case=name, kind="tokens", shape="B=%d S=%d new=%d greedy" % (B, S, N), batch=B,
                seq_len=S, new_tokens=N, results=res, agreement=agreement, ok=ok, load_s=load_s,
                first_call_s=first_s, tokens=B * N)


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
    rng = np.random.default_rng(SEED)
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
    runs = [m.generate_ids(prompts, **greedy_params(6)) for _ in range(2)]
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


# ------------------------------------------------------------------ report ---


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(clf, dev, a):
    import numpy
    import torch
    v = {"python": platform.python_version(), "numpy": numpy.__version__,
         "torch": torch.__version__, "clformer": clf.__version__,
         "lib": os.path.dirname(clf.__file__),
         "cpu": cpu_name(), "cores": os.cpu_count(), "threads": a.threads,
         "opencl_device": dev["name"], "opencl_driver": dev["driver"],
         "opencl_platform": dev["platform_version"], "compute_units": dev["compute_units"]}
    for mod in ("onnxruntime", "onnx", "ctranslate2", "transformers", "sentence_transformers"):
        try:
            v[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return v


def print_table(cases, out):
    print("\n%-18s %-26s %-12s %10s %10s %10s %12s  %s" % (
        "case", "shape", "engine", "median ms", "min ms", "p90 ms", "throughput", "ratio"), file=out)
    for c in cases:
        clf_med = c["results"]["clformer"]["median_s"]
        for eng, r in c["results"].items():
            thr = c["tokens"] / r["median_s"]
            u = "tok/s" if c["kind"] != "sentences" else "sent/s"
            ratio = ("%.2fx time_baseline/time_clformer" % (r["median_s"] / clf_med)
                     if eng != "clformer" else "(reference)")
            print("%-18s %-26s %-12s %10.1f %10.1f %10.1f %8.1f %-5s %s" % (
                c["case"], c["shape"], eng, r["median_s"] * 1e3, r["min_s"] * 1e3,
                r["p90_s"] * 1e3, thr, u, ratio), file=out)
    print("ratio > 1: clformer is faster; for tokens/s the clformer/baseline throughput ratio is "
          "the same number.", file=out)


def json_records(cases, dev):
    recs = []
    for c in cases:
        r = c["results"]
        ours = r["clformer"]
        bases = [e for e in r if e != "clformer"]
        rec = {"device": dev["name"], "device_type": dev["device_type"], "driver": dev["driver"],
               "entry": "compare", "case": c["case"], "shape": c["shape"],
               "median_s": ours["median_s"], "min_s": ours["min_s"], "p90_s": ours["p90_s"],
               "p99_s": ours["p99_s"], "reps": ours["reps"], "batch": c["batch"],
               "seq_len": c["seq_len"], "new_tokens": c["new_tokens"],
               "tokens_per_s": c["tokens"] / ours["median_s"] if c["kind"] == "tokens" else None,
               "items_per_s": c["tokens"] / ours["median_s"], "agreement": c["agreement"],
               "agreed": c["ok"], "load_s": c.get("load_s"), "first_call_s": c.get("first_call_s"),
               "baselines": []}
        for i, e in enumerate(bases):
            b = r[e]
            d = {"name": e, "median_s": b["median_s"], "min_s": b["min_s"], "p90_s": b["p90_s"],
                 "p99_s": b["p99_s"], "ratio": b["median_s"] / ours["median_s"],
                 "items_per_s": c["tokens"] / b["median_s"]}
            rec["baselines"].append(d)
            sfx = "" if i == 0 else str(i + 1)
            rec["baseline" + sfx] = e
            rec["baseline%s_median_s" % sfx] = b["median_s"]
            rec["ratio_vs_baseline" + sfx] = d["ratio"]
        recs.append(rec)
    return recs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Example: python3 bench/compare.py --quick --json cmp.json")
    ap.add_argument("--device", default=None, help="clformer device spec (default: best)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="threads of every engine; also PoCL's (default: all cores)")
    ap.add_argument("--reps", type=int, default=None, help="timed repeats (default 10, quick 5)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs per engine first")
    ap.add_argument("--new-tokens", type=int, default=32, help="generated tokens (default 32)")
    ap.add_argument("--src-len", type=int, default=32, help="Transformer-base source length")
    ap.add_argument("--quick", action="store_true", help="the two headline cases, few repeats")
    ap.add_argument("--full", action="store_true", help="also BERT batch 32, Transformer batch 16")
    ap.add_argument("--case", choices=["bert", "transformer", "minilm", "all"], default="all",
                    help="minilm: only the --minilm case")
    ap.add_argument("--no-hf", action="store_true", help="skip the HF generate baseline")
    ap.add_argument("--minilm", metavar="DIR", help="also the all-MiniLM-L6-v2 folder DIR")
    ap.add_argument("--json", metavar="FILE", help="write the records as JSON")
    ap.add_argument("--workdir", help="where models are written (default: a temp dir, removed)")
    ap.add_argument("--selftest", action="store_true", help="only check the clformer package on "
                    "tiny random models (seconds; needs numpy, no PyTorch)")
    a = ap.parse_args()
    if a.reps is None:
        a.reps = 5 if a.quick else 10
    if a.reps < 1 or a.threads < 1 or a.new_tokens < 1 or a.src_len < 2:
        ap.error("--reps, --threads, --new-tokens must be >= 1 and --src-len >= 2")
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
    if a.case in ("transformer", "all"):
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
    v = versions(clf, dev, a)
    log("compare.py: clformer %s (%s) on %s (%s), driver %s, %d compute units" % (
        v["clformer"], v["lib"], dev["name"], dev["index"], dev["driver"], dev["compute_units"]))
    log("versions: " + ", ".join("%s %s" % (k, v[k]) for k in (
        "torch", "onnxruntime", "onnx", "ctranslate2", "transformers", "numpy", "python")
        if k in v))
    log("CPU: %s, %s cores, threads per engine: %d; warm-up %d, %d timed repeats (interleaved)" % (
        v["cpu"], v["cores"], a.threads, a.warmup, a.reps))
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
    if a.case == "minilm" and not a.minilm:
        ap.error("--case minilm needs --minilm DIR")
    if a.minilm:
        plan.append(lambda: case_minilm(a, clf, 32, log))
    cases, failed = [], 0
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
    if cases:
        print_table(cases, sys.stdout)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"clformer": v["clformer"], "tool": "bench/compare.py", "versions": v,
                       "command": " ".join(sys.argv), "records": json_records(cases, dev)}, f,
                      indent=1)
        log("wrote %s" % a.json)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
