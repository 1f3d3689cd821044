#!/usr/bin/env python3
"""Regenerate the level-3 golden files (stacks against PyTorch) in tests/golden/.

    pip install torch safetensors numpy      # CPU is enough; only needed to regenerate
    python3 tests/golden/make_golden.py      # writes tests/golden/*.safetensors
    python3 tests/golden/check_golden.py     # re-derives everything with plain NumPy

CI never runs this script: it compares the library against the committed .safetensors files.
See tests/golden/README.md for every tensor name, shape and convention.

Everything is float32 on the CPU with one thread, fixed seeds, eval mode, dropout 0 and
torch's MultiheadAttention / TransformerEncoder "fast path" switched off, so each reference
is the plain math of the modules (see the note at fastpath_note()).
"""

import json
import math
import os
import struct
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- determinism
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
torch.set_default_dtype(torch.float32)
# The fast path (torch._transformer_encoder_layer_fwd / nested tensors) is taken by
# TransformerEncoderLayer and MultiheadAttention in eval mode under no_grad. With a
# key-padding mask it packs the batch into a nested tensor and returns ZEROS at padded
# positions, and it uses a fused kernel with a different rounding. Turn it off so the
# reference is the ordinary composition of Linear / softmax / LayerNorm.
torch.backends.mha.set_fastpath_enabled(False)

PAD, BOS, EOS = 0, 1, 2


def versions():
    import safetensors
    return {
        "torch_version": torch.__version__,
        "safetensors_version": safetensors.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
    }


# ---------------------------------------------------------------- helpers
def sinusoid_table(n_pos, d):
    """'Attention Is All You Need' positions, interleaved (not concatenated):
        PE[pos, 2i]   = sin(pos / 10000^(2i/d))
        PE[pos, 2i+1] = cos(pos / 10000^(2i/d))
    for pos = 0, 1, ... (the first token is at position 0). Computed in float64, rounded
    once to float32."""
    pos = torch.arange(n_pos, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d, 2, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), two_i / d)
    pe = torch.zeros(n_pos, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.to(torch.float32)


def embed_with_positions(embed, ids, scale, pe):
    """x[b, t] = embed.weight[ids[b, t]] * scale + PE[t]. Padded positions get the same
    formula (with id PAD); their values never influence the valid rows (keys are masked)."""
    return embed(ids) * scale + pe[: ids.shape[1]][None, :, :]


def randomise_affine_and_biases(module, gen):
    """PyTorch initialises every bias to 0 and every LayerNorm to (weight 1, bias 0), which
    would leave those terms untested. Give them random values instead."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            is_norm = ".norm" in name or name.startswith("norm") or "ln_f" in name
            if is_norm and leaf == "weight":
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif leaf.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


def causal_mask(n):
    """Float mask added to the attention scores: 0 on and below the diagonal, -inf above
    (query t sees keys 0..t). Same as nn.Transformer.generate_square_subsequent_mask."""
    return torch.triu(torch.full((n, n), float("-inf")), diagonal=1)


def state(prefix_module_pairs):
    out = {}
    for prefix, m in prefix_module_pairs:
        for k, v in m.state_dict().items():
            out[f"{prefix}.{k}" if prefix else k] = v.detach().clone().contiguous()
    return out


def meta_strings(d):
    return {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in d.items()}


def sort_metadata(path):
    """safetensors writes __metadata__ in hash-map order, which changes from run to run.
    Rewrite the header in place with the metadata keys sorted (same length, same tensor
    offsets) so that regenerating gives byte-identical files."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n).decode("utf-8"), object_pairs_hook=dict)
        hdr["__metadata__"] = dict(sorted(hdr["__metadata__"].items()))
        text = json.dumps(hdr, separators=(",", ":")).encode("utf-8")
        assert len(text) <= n
        f.seek(8)
        f.write(text + b" " * (n - len(text)))


def save(name, tensors, meta):
    path = os.path.join(HERE, name)
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    for k, v in tensors.items():
        assert v.dtype in (torch.float32, torch.int32), (k, v.dtype)
    save_file(tensors, path, metadata=meta_strings(meta))
    sort_metadata(path)
    os.chmod(path, 0o644)
    print(f"  wrote {name}: {os.path.getsize(path)} bytes, {len(tensors)} tensors")


# ---------------------------------------------------------------- (a) encoders
class EncoderModel(nn.Module):
    def __init__(self, vocab, d, nhead, d_ff, layers, activation, norm_first):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        layer = nn.TransformerEncoderLayer(
            d_model=d, nhead=nhead, dim_feedforward=d_ff, dropout=0.0, activation=activation,
            layer_norm_eps=1e-5, batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(
            layer, num_layers=layers, norm=nn.LayerNorm(d, eps=1e-5) if norm_first else None,
            enable_nested_tensor=False)


def make_encoder(fname, seed, activation, norm_first):
    d, nhead, d_ff, layers, vocab = 64, 4, 128, 2, 100
    lengths = [11, 7, 1]
    B, L = len(lengths), max(lengths)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    m = EncoderModel(vocab, d, nhead, d_ff, layers, activation, norm_first).eval()
    with torch.no_grad():
        m.embed.weight.normal_(0.0, d ** -0.5, generator=gen)   # after *sqrt(d): unit scale
    randomise_affine_and_biases(m, gen)

    ids = torch.full((B, L), PAD, dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(3, vocab, (n,), generator=gen)
    pad_mask = torch.arange(L)[None, :] >= torch.tensor(lengths)[:, None]  # True = padding
    pe = sinusoid_table(L, d)
    scale = math.sqrt(d)
    with torch.no_grad():
        x = embed_with_positions(m.embed, ids, scale, pe)
        hidden = m.encoder(x, src_key_padding_mask=pad_mask)
    assert torch.isfinite(hidden).all()

    t = state([("embed", m.embed), ("encoder", m.encoder)])
    t.update({
        "input_ids": ids.to(torch.int32),
        "lengths": torch.tensor(lengths, dtype=torch.int32),
        "positions": pe,                 # derived, for debugging only
        "input_embeds": x,               # embed*scale + PE, the encoder input
        "hidden": hidden,                # padded rows are NOT compared (see README)
    })
    meta = {
        "kind": "encoder", "d_model": d, "nhead": nhead, "d_ff": d_ff, "layers": layers,
        "activation": activation, "norm_first": norm_first, "eps": 1e-5, "vocab": vocab,
        "positions": "sinusoid_interleaved", "embedding_scale": scale,
        "final_norm": norm_first, "pad_id": PAD, "seed": seed,
        "note": "hidden at padded positions (t >= lengths[b]) is not compared",
        **versions(),
    }
    save(fname, t, meta)
    return hidden, pad_mask


def fastpath_note():
    """Show what the fast path would have produced (printed only; not saved)."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(64, 4, 128, 0.0, batch_first=True)
    enc_nt = nn.TransformerEncoder(layer, 2, enable_nested_tensor=True).eval()
    x = torch.randn(3, 11, 64)
    mask = torch.arange(11)[None, :] >= torch.tensor([11, 7, 1])[:, None]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")             # "nested tensors are a prototype"
        torch.backends.mha.set_fastpath_enabled(False)
        slow = enc_nt(x, src_key_padding_mask=mask)
        torch.backends.mha.set_fastpath_enabled(True)
        fast = enc_nt(x, src_key_padding_mask=mask)
        torch.backends.mha.set_fastpath_enabled(False)
    valid = ~mask
    print("  fast path check: max|fast-slow| on valid rows = %.3g; padded rows fast: all zero = %s,"
          " slow: all zero = %s" % ((fast - slow)[valid].abs().max().item(),
                                    bool((fast[mask] == 0).all()), bool((slow[mask] == 0).all())))


# ---------------------------------------------------------------- (b) seq2seq
class Seq2Seq(nn.Module):
    def __init__(self, vocab, d, nhead, d_ff, enc_layers, dec_layers):
        super().__init__()
        self.d = d
        self.src_embed = nn.Embedding(vocab, d)
        self.tgt_embed = nn.Embedding(vocab, d)
        self.transformer = nn.Transformer(
            d_model=d, nhead=nhead, num_encoder_layers=enc_layers, num_decoder_layers=dec_layers,
            dim_feedforward=d_ff, dropout=0.0, activation="relu", layer_norm_eps=1e-5,
            batch_first=True, norm_first=False)
        self.out_proj = nn.Linear(d, vocab, bias=True)
        self.pe = sinusoid_table(64, d)

    def encode(self, src, src_pad):
        x = embed_with_positions(self.src_embed, src, math.sqrt(self.d), self.pe)
        return self.transformer.encoder(x, src_key_padding_mask=src_pad)

    def decode(self, tgt, memory, mem_pad):
        y = embed_with_positions(self.tgt_embed, tgt, math.sqrt(self.d), self.pe)
        h = self.transformer.decoder(y, memory, tgt_mask=causal_mask(tgt.shape[1]),
                                     memory_key_padding_mask=mem_pad)
        return self.out_proj(h)        # (B, T, vocab)


def greedy(model, src_row, max_new):
    """Plain greedy loop for ONE source (no padding, batch 1), full prefix recomputed each step.
    Returns (generated tokens without BOS, including EOS if produced), min top1-top2 margin."""
    with torch.no_grad():
        mem = model.encode(src_row[None], None)
        toks, margin = [BOS], float("inf")
        for _ in range(max_new):
            logits = model.decode(torch.tensor([toks]), mem, None)[0, -1]
            top2 = torch.topk(logits, 2).values
            margin = min(margin, (top2[0] - top2[1]).item())
            nxt = int(torch.argmax(logits))
            toks.append(nxt)
            if nxt == EOS:
                break
    return toks[1:], margin


def beam_search(model, src_row, K, max_new, alpha):
    """Plain beam search for ONE source (batch 1, no padding), full prefix recomputed.

    Hypothesis = (tokens starting with BOS, sum of log-probabilities of the generated tokens).
    Normalised score = sum_logprob / n^alpha, n = number of generated tokens (BOS excluded,
    EOS included): the simple len^alpha penalty, not GNMT's ((5+n)/6)^alpha.

    alive = [([BOS], 0.0)]; finished = []
    for step = 1 .. max_new:
        candidates = every (alive hypothesis b, token v): score = lp_b + log_softmax(logits_b)[v]
                     (all vocab tokens, no token is banned), sorted by score descending,
                     ties by (b ascending, v ascending)
        walk the sorted candidates; a candidate with v == EOS goes to `finished` (score
        normalised with n = step); any other becomes a new alive hypothesis; stop the walk as
        soon as K alive hypotheses are collected.
        if step == max_new: move every alive hypothesis to `finished` (no EOS, n = max_new); stop
        if finished and max(finished normalised) >= max(alive lp / step^alpha): stop  (heuristic,
           as HuggingFace's early_stopping=False)
    result = finished sorted by normalised score descending (ties: earlier first)
    Returns (n-best list of (tokens without BOS, normalised score, sum logprob), min gap) where
    min gap is the smallest score difference that any decision depended on.
    """
    with torch.no_grad():
        mem = model.encode(src_row[None], None)
        alive, finished, order = [([BOS], 0.0)], [], 0
        gap = float("inf")
        for step in range(1, max_new + 1):
            cands = []
            for b, (toks, lp) in enumerate(alive):
                logits = model.decode(torch.tensor([toks]), mem, None)[0, -1]
                logp = F.log_softmax(logits.double(), dim=-1)   # accumulate in float64
                for v in range(logp.shape[0]):
                    cands.append((lp + logp[v].item(), b, v))
            cands.sort(key=lambda c: (-c[0], c[1], c[2]))
            new_alive, walked = [], 0
            for s, b, v in cands:
                walked += 1
                toks = alive[b][0] + [v]
                if v == EOS:
                    finished.append((toks, s, s / step ** alpha, order)); order += 1
                else:
                    new_alive.append((toks, s))
                if len(new_alive) == K:
                    break
            # decisions depended on the order of the walked candidates and the next one
            scores = [c[0] for c in cands[: walked + 1]]
            gap = min([gap] + [scores[i] - scores[i + 1] for i in range(len(scores) - 1)])
            alive = new_alive
            if step == max_new:
                for toks, s in alive:
                    finished.append((toks, s, s / step ** alpha, order)); order += 1
                break
            if finished:
                best_f = max(f[2] for f in finished)
                best_a = max(s / step ** alpha for _, s in alive)
                gap = min(gap, abs(best_f - best_a))
                if best_f >= best_a:
                    break
        finished.sort(key=lambda f: (-f[2], f[3]))
        norm = [f[2] for f in finished]
        gap = min([gap] + [norm[i] - norm[i + 1] for i in range(min(2, len(norm) - 1))])
        return [(f[0][1:], f[2], f[1]) for f in finished], gap


def pad_rows(rows, width, fill=-1):
    out = torch.full((len(rows), width), fill, dtype=torch.int32)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.int32)
    return out


def make_seq2seq(fname):
    d, nhead, d_ff, vocab = 64, 4, 128, 120
    src_lengths, T, max_new, K, alpha = [9, 5], 6, 12, 4, 1.0
    out_scale = 4.0
    for seed in range(1000, 1400):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed + 1)
        m = Seq2Seq(vocab, d, nhead, d_ff, 2, 2).eval()
        with torch.no_grad():
            m.src_embed.weight.normal_(0.0, d ** -0.5, generator=gen)
            m.tgt_embed.weight.normal_(0.0, d ** -0.5, generator=gen)
            m.out_proj.weight.mul_(out_scale)       # peaked logits so decoding is decisive
        randomise_affine_and_biases(m, gen)

        B, S = len(src_lengths), max(src_lengths)
        src = torch.full((B, S), PAD, dtype=torch.long)
        for b, n in enumerate(src_lengths):
            src[b, :n - 1] = torch.randint(3, vocab, (n - 1,), generator=gen)
            src[b, n - 1] = EOS                       # sources end in EOS (Marian style)
        tgt = torch.cat([torch.full((B, 1), BOS), torch.randint(3, vocab, (B, T - 1), generator=gen)], 1)
        src_pad = torch.arange(S)[None, :] >= torch.tensor(src_lengths)[:, None]

        g, gm, bm, bg = [], [], [], []
        for b, n in enumerate(src_lengths):
            toks, margin = greedy(m, src[b, :n], max_new)
            g.append(toks); gm.append(margin)
            nb, gap = beam_search(m, src[b, :n], K, max_new, alpha)
            bm.append(nb); bg.append(gap)
        best = [nb[0][0] for nb in bm]
        gen_all = g + [h[0] for nb in bm for h in nb[:2]]
        ok = (any(gi != bi for gi, bi in zip(g, best))                      # greedy != beam
              and any(t[-1] == EOS and len(t) < max_new for t in g + best)  # early EOS
              and all(len(nb) >= 2 for nb in bm)                            # 2-best exists
              and all(x not in (PAD, BOS) for t in gen_all for x in t)      # no PAD/BOS output
              and min(gm) > 0.05 and min(bg) > 1e-3)                        # robust decisions
        print(f"  seq2seq seed {seed}: greedy {g} beam {best} margins {min(gm):.3g}/{min(bg):.3g}"
              f" -> {'ok' if ok else 'retry'}")
        if ok:
            break
    else:
        raise SystemExit("no seed satisfied the seq2seq conditions")

    with torch.no_grad():
        memory = m.encode(src, src_pad)
        logits = m.decode(tgt, memory, src_pad)
        # batched+padded encoding must agree with the per-source (batch 1) runs used above
        for b, n in enumerate(src_lengths):
            one = m.encode(src[b:b + 1, :n], None)
            assert (one[0] - memory[b, :n]).abs().max() < 1e-5

    t = state([("src_embed", m.src_embed), ("tgt_embed", m.tgt_embed),
               ("transformer", m.transformer), ("out_proj", m.out_proj)])
    t.update({
        "src_ids": src.to(torch.int32), "src_lengths": torch.tensor(src_lengths, dtype=torch.int32),
        "tgt_ids": tgt.to(torch.int32),
        "memory": memory, "logits": logits,
        "greedy_ids": pad_rows(g, max_new),
        "greedy_lengths": torch.tensor([len(x) for x in g], dtype=torch.int32),
        "beam_ids": pad_rows(best, max_new),
        "beam_lengths": torch.tensor([len(x) for x in best], dtype=torch.int32),
        "beam_scores": torch.tensor([nb[0][1] for nb in bm], dtype=torch.float32),
        "nbest_ids": torch.stack([pad_rows([h[0] for h in nb[:2]], max_new) for nb in bm]),
        "nbest_lengths": torch.tensor([[len(h[0]) for h in nb[:2]] for nb in bm], dtype=torch.int32),
        "nbest_scores": torch.tensor([[h[1] for h in nb[:2]] for nb in bm], dtype=torch.float32),
        "nbest_logprobs": torch.tensor([[h[2] for h in nb[:2]] for nb in bm], dtype=torch.float32),
    })
    meta = {
        "kind": "encoder-decoder", "d_model": d, "nhead": nhead, "d_ff": d_ff,
        "encoder_layers": 2, "decoder_layers": 2, "activation": "relu", "norm_first": False,
        "eps": 1e-5, "vocab": vocab, "positions": "sinusoid_interleaved",
        "embedding_scale": math.sqrt(d), "shared_embeddings": False,
        "final_norm": True,   # nn.Transformer adds encoder.norm AND decoder.norm, even post-LN
        "output_projection": "out_proj, Linear with bias; weight multiplied by 4 at init",
        "pad_id": PAD, "bos_id": BOS, "eos_id": EOS, "max_new_tokens": max_new,
        "beam_size": K, "length_penalty": "score = sum_logprob / n^alpha, n = generated tokens incl. EOS",
        "alpha": alpha, "id_fill": -1, "seed": seed,
        "greedy_min_margin": min(gm), "beam_min_gap": min(bg),
        **versions(),
    }
    save(fname, t, meta)


# ---------------------------------------------------------------- (c) GPT
class GPT(nn.Module):
    def __init__(self, vocab, d, nhead, d_ff, layers, max_pos):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(max_pos, d)
        layer = nn.TransformerEncoderLayer(
            d_model=d, nhead=nhead, dim_feedforward=d_ff, dropout=0.0,
            activation=nn.GELU(approximate="tanh"), layer_norm_eps=1e-5, batch_first=True,
            norm_first=True)
        self.h = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(d, eps=1e-5)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(T))[None]       # no embedding scale
        h = self.h(x, mask=causal_mask(T))
        return F.linear(self.ln_f(h), self.wte.weight)            # tied, no bias


def make_gpt(fname):
    d, nhead, d_ff, vocab, max_pos, layers = 64, 4, 128, 100, 32, 2
    B, P, n_new = 2, 8, 10
    for seed in range(2000, 2200):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed + 1)
        m = GPT(vocab, d, nhead, d_ff, layers, max_pos).eval()
        with torch.no_grad():
            # Small token embeddings so the residual stream is not dominated by the current
            # token (with tied embeddings a large wte makes greedy repeat the last token
            # forever), and a large final-norm gain so the logits are still peaked.
            m.wte.weight.normal_(0.0, 0.1, generator=gen)
            m.wpe.weight.normal_(0.0, 0.5, generator=gen)
        randomise_affine_and_biases(m, gen)
        with torch.no_grad():
            m.ln_f.weight.mul_(6.0)
        prompts = torch.randint(3, vocab, (B, P), generator=gen)
        with torch.no_grad():
            logits = m(prompts)
            gens, margin = [], float("inf")
            for b in range(B):
                toks = prompts[b].tolist()
                for _ in range(n_new):
                    lg = m(torch.tensor([toks]))[0, -1]
                    top2 = torch.topk(lg, 2).values
                    margin = min(margin, (top2[0] - top2[1]).item())
                    toks.append(int(torch.argmax(lg)))
                gens.append(toks[P:])
        distinct = min(len(set(g)) for g in gens)
        ok = margin > 0.05 and distinct >= 3
        print(f"  gpt seed {seed}: {gens} margin {margin:.3g} -> {'ok' if ok else 'retry'}")
        if ok:
            break
    else:
        raise SystemExit("no seed satisfied the gpt conditions")

    t = state([("wte", m.wte), ("wpe", m.wpe), ("h", m.h), ("ln_f", m.ln_f)])
    t.update({
        "input_ids": prompts.to(torch.int32),
        "logits": logits,
        "generated_ids": torch.tensor(gens, dtype=torch.int32),
    })
    meta = {
        "kind": "decoder-only", "d_model": d, "nhead": nhead, "d_ff": d_ff, "layers": layers,
        "activation": "gelu_tanh", "norm_first": True, "eps": 1e-5, "vocab": vocab,
        "positions": "learned", "max_positions": max_pos, "embedding_scale": 1.0,
        "final_norm": True, "tied_embeddings": True, "lm_head_bias": False,
        "causal": True, "padding": "none", "max_new_tokens": n_new, "seed": seed,
        "init": "wte N(0,0.1), wpe N(0,0.5), ln_f.weight 6*(1+0.2*N(0,1))",
        "greedy_min_margin": margin, **versions(),
    }
    save(fname, t, meta)


def main():
    print("versions:", versions())
    fastpath_note()
    make_encoder("encoder_postln.safetensors", 100, "relu", False)
    make_encoder("encoder_preln.safetensors", 200, "gelu", True)
    make_seq2seq("seq2seq.safetensors")
    make_gpt("gpt.safetensors")


if __name__ == "__main__":
    main()
