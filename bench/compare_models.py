"""The models of bench/compare.py, built once in PyTorch with fixed random
weights, and their forms for each engine: clformer's safetensors (names and
__metadata__ as include/clformer/model.h and tests/golden/README.md) or a
HuggingFace folder, the onnxruntime export (and its quantize_dynamic int8
copy), the CTranslate2 conversions (float32 and int8 of the same weights).
"""

import math
import os
import platform

SEED = 1234
EOS_BIAS = -30.0  # output bias of EOS, PAD and BOS: no engine ever picks them

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
            if p.dim() == 2 and ("embed" in name or "shared" in name or name.endswith("wte.weight")
                                 or name.endswith("wpe.weight")):
                p.copy_(torch.randn(p.shape, generator=gen) * embed_std)
            elif p.dim() == 2:
                b = 1.0 / math.sqrt(p.shape[1])
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * b)
            elif ("norm" in name or ".ln_" in name) and name.endswith("weight"):
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


def to_ct2(loader, m, vocab, out_dir, quantization=None):
    """Converts the module m with one of CTranslate2's own Transformers weight
    mappings (loader: a ct2 ModelLoader; vocab: the tokenizer methods it
    reads) through the Converter interface, into out_dir, as float32
    (quantization None) or "int8". It converts a copy: the converter changes
    the module it reads (after an int8 conversion HF's own logits were
    thousands of times too large)."""
    import copy
    import ctranslate2
    m = copy.deepcopy(m)

    class _Conv(ctranslate2.converters.Converter):
        def _load(self):
            return loader(m, vocab)

    _Conv().convert(out_dir, quantization=quantization, force=True)


def marian_to_ct2(m, out_dir, quantization=None):
    """CTranslate2's BartLoader (which MarianMTLoader extends). Marian's own
    loader is not used because it makes the decoder start from a zero
    embedding (Marian starts from PAD) and needs a real tokenizer; ours starts
    from BOS's embedding like HF generate and clformer."""
    from ctranslate2.converters import transformers as ct2tf
    m.config.normalize_before = False
    m.config.normalize_embedding = False
    to_ct2(ct2tf.BartLoader(), m, _Vocab(TBASE["vocab"]), out_dir, quantization)


def onnx_quantize_dynamic(src, dst):
    """onnxruntime's own int8 model of an exported float model
    (onnxruntime.quantization.quantize_dynamic: int8 weights per tensor,
    activations quantised on the fly, MatMulInteger), its external data in
    one file beside it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, use_external_data_format=True)


# ------------------------------------------------------------- GPT-2 small ---

GPT2 = dict(layers=12, d=768, heads=12, vocab=50257, max_pos=1024)
GPT2_EOS = 50256


def gpt2_model():
    """HF GPT2LMHeadModel (pre-LN, gelu_new, tied head, no output bias) with
    randomise()'s values; Conv1D weights are (in, out), so their bound is
    1/sqrt(in)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.pytorch_utils import Conv1D
    c = GPT2
    cfg = GPT2Config(vocab_size=c["vocab"], n_positions=c["max_pos"], n_embd=c["d"],
                     n_layer=c["layers"], n_head=c["heads"], resid_pdrop=0.0, embd_pdrop=0.0,
                     attn_pdrop=0.0, bos_token_id=GPT2_EOS, eos_token_id=GPT2_EOS,
                     tie_word_embeddings=True)
    torch.manual_seed(SEED)
    m = GPT2LMHeadModel(cfg).eval()
    gen = torch.Generator().manual_seed(SEED + 2)
    randomise(m, gen, embed_std=0.05)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, Conv1D):
                b = 1.0 / math.sqrt(mod.weight.shape[0])
                mod.weight.copy_((torch.rand(mod.weight.shape, generator=gen) * 2 - 1) * b)
    return m


def gpt2_write(m, folder):
    """A HuggingFace folder (config.json, model.safetensors): clformer loads
    it as it loads a downloaded GPT-2; no tokenizer, so it takes token ids."""
    m.save_pretrained(folder, safe_serialization=True)


class _GptVocab:
    """The tokenizer methods CTranslate2's GPT2Loader reads: token i is "t<i>"."""

    def __init__(self, n):
        self.n = n
        self.bos_token = self.eos_token = self.unk_token = "t%d" % GPT2_EOS

    def get_vocab(self):
        return {"t%d" % i: i for i in range(self.n)}


def gpt2_to_ct2(m, out_dir, quantization=None):
    """CTranslate2's own GPT-2 weight mapping (GPT2Loader) of the module."""
    from ctranslate2.converters import transformers as ct2tf
    to_ct2(ct2tf.GPT2Loader(), m, _GptVocab(GPT2["vocab"]), out_dir, quantization)
