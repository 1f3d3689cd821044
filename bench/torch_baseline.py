#!/usr/bin/env python3
"""PyTorch's times for the shapes of `clformer bench --quick`, on the same
machine and in the same script run (tools/gpu-check.sh): the baseline a GPU
figure is read against.

GEMM x @ w.T for the BERT-base and decode shapes and 1024^3, attention
(scaled_dot_product_attention) at 128 and 512 and the one-query decode
step, and a BERT-base-sized encoder (torch.nn.TransformerEncoder, 12 layers,
d_model 768, 12 heads, FFN 3072, GELU, post-LN) at batch 1 and 32 with
sequence 128. On CUDA when torch sees a GPU, else on the CPU. Medians of
--reps timed runs after warm-up, synchronised around each.

Writes one JSON document: {"torch": version, "device": name, "records": [
{"entry", "case", "shape", "median_s", "min_s", "gflops"}]}.
"""
import argparse
import json
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", required=True, help="output file")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--cpu", action="store_true", help="time on the CPU even if a GPU is present")
    args = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(f"torch_baseline: torch is not importable ({e}); no baseline", file=sys.stderr)
        return 2

    dev = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"
    # Plain f32 products, as clformer computes: no TF32 tensor-core shortcut.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def timed(fn, reps):
        for _ in range(3):
            fn()
        sync()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            sync()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts), min(ts)

    records = []

    def add(entry, case, shape, flops, fn, reps=args.reps):
        with torch.inference_mode():
            med, lo = timed(fn, reps)
        records.append({"entry": entry, "case": case, "shape": shape, "median_s": med, "min_s": lo,
                        "gflops": flops / med / 1e9 if flops else 0.0})
        print(f"{entry:9} {case:24} {shape:28} {med * 1e3:10.4f} ms", flush=True)

    for m, n, k in [(128, 768, 768), (128, 3072, 768), (128, 768, 3072), (1, 768, 768),
                    (1, 3072, 768), (1, 768, 3072), (1024, 1024, 1024)]:
        x = torch.rand(m, k, device=dev) * 2 - 1
        w = torch.rand(n, k, device=dev) * 2 - 1
        add("gemm", "torch f32", f"M={m} N={n} K={k}", 2.0 * m * n * k, lambda: x @ w.T)

    for L in (128, 512):
        q, kk, v = (torch.rand(1, 8, L, 64, device=dev) for _ in range(3))
        add("attention", "torch sdpa f32", f"B=1 H=8 Lq={L} Lk={L} D=64", 4.0 * 8 * L * L * 64,
            lambda: F.scaled_dot_product_attention(q, kk, v))
    for L in (128, 512, 2048):
        q = torch.rand(1, 12, 1, 64, device=dev)
        kk, v = (torch.rand(1, 12, L, 64, device=dev) for _ in range(2))
        add("attention", "torch sdpa decode f32", f"B=1 H=12 Lq=1 Lk={L} D=64", 4.0 * 12 * L * 64,
            lambda: F.scaled_dot_product_attention(q, kk, v))

    layer = torch.nn.TransformerEncoderLayer(768, 12, 3072, dropout=0.0, activation="gelu",
                                             batch_first=True)
    enc = torch.nn.TransformerEncoder(layer, 12, enable_nested_tensor=False).to(dev).eval()
    for b in (1, 32):
        x = torch.rand(b, 128, 768, device=dev) * 0.1
        tok = b * 128
        flops = 12 * (2 * tok * (4 * 768 * 768 + 2 * 768 * 3072) + 4 * b * 128 * 128 * 768)
        add("stack", "torch bert-base encoder", f"B={b} S=128", flops, lambda: enc(x),
            reps=max(3, args.reps // (4 if b > 1 else 1)))

    with open(args.json, "w") as f:
        json.dump({"torch": torch.__version__, "device": name, "records": records}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
