#!/usr/bin/env python3
"""Re-derive every golden output with plain NumPy (float64), without torch.

    pip install safetensors numpy
    python3 tests/golden/check_golden.py

This is an independent implementation written from the conventions in tests/golden/README.md
(tensor names, layouts, sinusoid formula, masks, greedy and beam rules). It proves that the
files and the documentation agree: hidden states / logits to max abs diff < 1e-4 on the rows
that are compared, and greedy / beam token ids exactly. Exit status 0 when all agree.
"""

import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from safetensors import safe_open

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-4
failures = []


def load(name):
    path = os.path.join(HERE, name)
    with safe_open(path, "np") as f:
        meta = f.metadata()
    t = {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in load_file(path).items()}
    return t, meta


def report(what, got, want, mask=None):
    d = np.abs(got - want)
    if mask is not None:
        d = d[mask]
    err = float(d.max())
    ok = err < TOL
    print(f"  {what:<40s} max abs diff {err:.3g}  {'ok' if ok else 'FAIL'}")
    if not ok:
        failures.append(what)


def check_equal(what, got, want):
    ok = np.array_equal(np.asarray(got), np.asarray(want))
    print(f"  {what:<40s} {'ok' if ok else 'FAIL'}  {np.asarray(got).tolist()}")
    if not ok:
        print(f"      expected {np.asarray(want).tolist()}")
        failures.append(what)


# ------------------------------------------------------------------ building blocks
def sinusoid(n_pos, d):
    pe = np.zeros((n_pos, d))
    for pos in range(n_pos):
        for i in range(0, d, 2):
            a = pos / 10000.0 ** (i / d)
            pe[pos, i] = math.sin(a)
            pe[pos, i + 1] = math.cos(a)
    return pe


def linear(x, W, b=None):          # W is (out, in), as torch.nn.Linear
    y = x @ W.T
    return y + b if b is not None else y


def layer_norm(x, g, b, eps):       # biased variance over the last axis
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


_erf = np.vectorize(math.erf)


def act(x, kind):
    if kind == "relu":
        return np.maximum(x, 0.0)
    if kind == "gelu":              # exact: x * Phi(x)
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    if kind == "gelu_tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    raise ValueError(kind)


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def mha(W, p, q_in, kv_in, nhead, key_pad=None, causal=False):
    """q_in (B,Tq,d), kv_in (B,Tk,d). in_proj_weight (3d,d) = [Wq; Wk; Wv] (rows),
    in_proj_bias (3d) = [bq; bk; bv]. Head h uses features h*dh .. (h+1)*dh-1.
    key_pad (B,Tk) True = padding (score -inf). causal: key j > query i is masked."""
    Wi, bi = W[p + "in_proj_weight"], W[p + "in_proj_bias"]
    d = q_in.shape[-1]
    dh = d // nhead
    q = linear(q_in, Wi[:d], bi[:d])
    k = linear(kv_in, Wi[d:2 * d], bi[d:2 * d])
    v = linear(kv_in, Wi[2 * d:], bi[2 * d:])
    B, Tq, Tk = q.shape[0], q.shape[1], k.shape[1]
    q = q.reshape(B, Tq, nhead, dh).transpose(0, 2, 1, 3)
    k = k.reshape(B, Tk, nhead, dh).transpose(0, 2, 1, 3)
    v = v.reshape(B, Tk, nhead, dh).transpose(0, 2, 1, 3)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh)          # (B,H,Tq,Tk)
    if key_pad is not None:
        s = np.where(key_pad[:, None, None, :], -np.inf, s)
    if causal:
        s = np.where(np.triu(np.ones((Tq, Tk), bool), 1)[None, None], -np.inf, s)
    o = (softmax(s) @ v).transpose(0, 2, 1, 3).reshape(B, Tq, d)
    return linear(o, W[p + "out_proj.weight"], W[p + "out_proj.bias"])


def ffn(W, p, x, kind):
    return linear(act(linear(x, W[p + "linear1.weight"], W[p + "linear1.bias"]), kind),
                  W[p + "linear2.weight"], W[p + "linear2.bias"])


def ln(W, p, x, eps):
    return layer_norm(x, W[p + "weight"], W[p + "bias"], eps)


def encoder_layer(W, p, x, nhead, kind, norm_first, eps, key_pad=None, causal=False):
    if norm_first:
        x = x + mha(W, p + "self_attn.", ln(W, p + "norm1.", x, eps), ln(W, p + "norm1.", x, eps),
                    nhead, key_pad, causal)
        return x + ffn(W, p, ln(W, p + "norm2.", x, eps), kind)
    x = ln(W, p + "norm1.", x + mha(W, p + "self_attn.", x, x, nhead, key_pad, causal), eps)
    return ln(W, p + "norm2.", x + ffn(W, p, x, kind), eps)


def decoder_layer(W, p, y, mem, nhead, kind, eps, mem_pad):    # post-LN (norm_first=False)
    y = ln(W, p + "norm1.", y + mha(W, p + "self_attn.", y, y, nhead, causal=True), eps)
    y = ln(W, p + "norm2.", y + mha(W, p + "multihead_attn.", y, mem, nhead, key_pad=mem_pad), eps)
    return ln(W, p + "norm3.", y + ffn(W, p, y, kind), eps)


def ival(meta, k):
    return int(meta[k])


def fval(meta, k):
    return float(meta[k])


# ------------------------------------------------------------------ (a) encoders
def check_encoder(name):
    print(name)
    W, meta = load(name)
    d, H, L, eps = ival(meta, "d_model"), ival(meta, "nhead"), ival(meta, "layers"), fval(meta, "eps")
    kind, norm_first = meta["activation"], meta["norm_first"] == "true"
    ids, lengths = W["input_ids"], W["lengths"]
    B, T = ids.shape
    pad = np.arange(T)[None, :] >= lengths[:, None]
    valid = ~pad
    x = W["embed.weight"][ids] * math.sqrt(d) + sinusoid(T, d)[None]
    report("input_embeds (all rows)", x, W["input_embeds"])
    for l in range(L):
        x = encoder_layer(W, f"encoder.layers.{l}.", x, H, kind, norm_first, eps, key_pad=pad)
    if meta["final_norm"] == "true":
        x = ln(W, "encoder.norm.", x, eps)
    report("hidden (valid rows)", x, W["hidden"], valid)
    # Documented: padded rows are not compared. They are still finite in the file.
    assert np.isfinite(W["hidden"]).all()


# ------------------------------------------------------------------ (b) seq2seq
class S2S:
    def __init__(self, W, meta):
        self.W, self.meta = W, meta
        self.d, self.H, self.eps = ival(meta, "d_model"), ival(meta, "nhead"), fval(meta, "eps")
        self.ne, self.nd = ival(meta, "encoder_layers"), ival(meta, "decoder_layers")
        self.pe = sinusoid(64, self.d)

    def encode(self, src, pad):
        W, d = self.W, self.d
        x = W["src_embed.weight"][src] * math.sqrt(d) + self.pe[None, : src.shape[1]]
        for l in range(self.ne):
            x = encoder_layer(W, f"transformer.encoder.layers.{l}.", x, self.H, "relu", False,
                              self.eps, key_pad=pad)
        return ln(W, "transformer.encoder.norm.", x, self.eps)

    def decode(self, tgt, mem, mem_pad):
        W, d = self.W, self.d
        y = W["tgt_embed.weight"][tgt] * math.sqrt(d) + self.pe[None, : tgt.shape[1]]
        for l in range(self.nd):
            y = decoder_layer(W, f"transformer.decoder.layers.{l}.", y, mem, self.H, "relu",
                              self.eps, mem_pad)
        y = ln(W, "transformer.decoder.norm.", y, self.eps)
        return linear(y, W["out_proj.weight"], W["out_proj.bias"])

    def next_logits(self, mem, toks):
        return self.decode(np.array([toks]), mem, None)[0, -1]


def np_greedy(m, mem, bos, eos, max_new):
    toks = [bos]
    for _ in range(max_new):
        nxt = int(np.argmax(m.next_logits(mem, toks)))
        toks.append(nxt)
        if nxt == eos:
            break
    return toks[1:]


def np_beam(m, mem, bos, eos, K, max_new, alpha):
    """The README's beam search, written again from its text."""
    alive, finished = [([bos], 0.0)], []
    for step in range(1, max_new + 1):
        cands = []
        for b, (toks, lp) in enumerate(alive):
            logp = log_softmax(m.next_logits(mem, toks))
            cands += [(lp + logp[v], b, v) for v in range(len(logp))]
        cands.sort(key=lambda c: (-c[0], c[1], c[2]))
        new_alive = []
        for s, b, v in cands:
            toks = alive[b][0] + [v]
            if v == eos:
                finished.append((toks, s, s / step ** alpha))
            else:
                new_alive.append((toks, s))
            if len(new_alive) == K:
                break
        alive = new_alive
        if step == max_new:
            finished += [(t, s, s / step ** alpha) for t, s in alive]
            break
        if finished and max(f[2] for f in finished) >= max(s / step ** alpha for _, s in alive):
            break
    finished.sort(key=lambda f: -f[2])          # stable: ties keep insertion order
    return [(f[0][1:], f[2], f[1]) for f in finished]


def unpad(row, n):
    return [int(x) for x in row[:n]]


def check_seq2seq(name):
    print(name)
    W, meta = load(name)
    m = S2S(W, meta)
    src, slen, tgt = W["src_ids"], W["src_lengths"], W["tgt_ids"]
    B, S = src.shape
    pad = np.arange(S)[None, :] >= slen[:, None]
    mem = m.encode(src, pad)
    report("memory (valid rows)", mem, W["memory"], ~pad)
    report("logits (teacher forced, all rows)", m.decode(tgt, mem, pad), W["logits"])

    bos, eos = ival(meta, "bos_id"), ival(meta, "eos_id")
    max_new, K, alpha = ival(meta, "max_new_tokens"), ival(meta, "beam_size"), fval(meta, "alpha")
    for b in range(B):
        mem_b = m.encode(src[b:b + 1, : slen[b]], None)       # one source, no padding
        g = np_greedy(m, mem_b, bos, eos, max_new)
        check_equal(f"greedy ids, source {b}", g, unpad(W["greedy_ids"][b], W["greedy_lengths"][b]))
        assert all(x == -1 for x in W["greedy_ids"][b][len(g):])
        nb = np_beam(m, mem_b, bos, eos, K, max_new, alpha)
        check_equal(f"beam ids, source {b}", nb[0][0], unpad(W["beam_ids"][b], W["beam_lengths"][b]))
        report(f"beam score, source {b}", np.array(nb[0][1]), W["beam_scores"][b])
        for r in range(2):
            check_equal(f"  n-best {r}, source {b}", nb[r][0],
                        unpad(W["nbest_ids"][b, r], W["nbest_lengths"][b, r]))
            report(f"  n-best {r} score / logprob, source {b}",
                   np.array([nb[r][1], nb[r][2]]),
                   np.array([W["nbest_scores"][b, r], W["nbest_logprobs"][b, r]]))


# ------------------------------------------------------------------ (c) gpt
def check_gpt(name):
    print(name)
    W, meta = load(name)
    H, L, eps = ival(meta, "nhead"), ival(meta, "layers"), fval(meta, "eps")

    def forward(ids):
        T = ids.shape[1]
        x = W["wte.weight"][ids] + W["wpe.weight"][None, :T]
        for l in range(L):
            x = encoder_layer(W, f"h.layers.{l}.", x, H, "gelu_tanh", True, eps, causal=True)
        return ln(W, "ln_f.", x, eps) @ W["wte.weight"].T

    ids = W["input_ids"]
    report("logits (all rows)", forward(ids), W["logits"])
    n_new = ival(meta, "max_new_tokens")
    for b in range(ids.shape[0]):
        toks = [int(x) for x in ids[b]]
        for _ in range(n_new):
            toks.append(int(np.argmax(forward(np.array([toks]))[0, -1])))
        check_equal(f"greedy ids, prompt {b}", toks[ids.shape[1]:], W["generated_ids"][b])


def main():
    check_encoder("encoder_postln.safetensors")
    check_encoder("encoder_preln.safetensors")
    check_seq2seq("seq2seq.safetensors")
    check_gpt("gpt.safetensors")
    total = sum(os.path.getsize(os.path.join(HERE, f)) for f in os.listdir(HERE)
                if f.endswith(".safetensors"))
    print(f"total size of goldens: {total} bytes")
    if failures:
        print("FAILED:", ", ".join(failures))
        sys.exit(1)
    print("all goldens agree with the NumPy re-derivation")


if __name__ == "__main__":
    main()
