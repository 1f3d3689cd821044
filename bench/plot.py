#!/usr/bin/env python3
"""PNG charts from `clformer bench --json` files (and bench/compare.py's).

    python3 bench/plot.py run-pocl.json run-gpu.json --out bench/out
    python3 bench/plot.py results/DIR/full.json results/DIR/compare.json  # PNGs into DIR
    python3 bench/plot.py --check          # fast self-test on built-in records

Each input file is {"clformer": version, "records": [...]}, one record per
case as bench/bench_main.c writes them (device, device_type, driver, entry,
case, shape, median_s, min_s, p90_s, p99_s, flops, bytes, gflops, gbs,
roofline_pct, bandwidth_ceiling_gbs, compute_ceiling_gflops, baseline,
ratio_vs_baseline, ...; stack records add tokens_per_s, cold_start_s,
warm_start_s, batch, seq_len, new_tokens). A series is one device of one file:
"device [file label]" when several files are given, so the same device
measured on two machines or two commits stays apart.

Charts written into --out (default: the folder of the first file):
  entry_<entry>.png    per entry (gemm, attention, softmax, ..., stack, and any
                       entry this script does not know): each case side by side
                       for every series, in GFLOP/s, GB/s, tokens/s or time,
                       log scale where the values span more than 20x;
  roofline_<series>.png  arithmetic intensity against GFLOP/s under the
                       measured bandwidth and compute ceilings;
  ratio_vs_baseline.png  every record with a same-run baseline, as the ratio
                       baseline time / clformer time (> 1: clformer faster);
  stack_tokens.png, stack_start.png  whole stacks: tokens/s, cold and warm
                       start against the issue's targets (10 s, 0.5 s);
  compare_throughput.png  bench/compare.py records: clformer and each
                       baseline engine side by side;
  formats_speed.png    clformer's speed in each weight format (f32, f16, q8,
                       q4) for every stack or compare.py case run in two or
                       more (the format: compare.py's "weights" field, or the
                       last word of a stack case name, "... q8");
  formats_ratio.png    compare.py: each case and weight format against each
                       same-run baseline (CTranslate2 int8 and onnxruntime
                       quantize_dynamic beside the float baselines).
Records without the fields a chart needs are left out of that chart (counted
in the summary), never an error. Exit status 0, 1 when nothing could be
plotted, 2 on unreadable input.
"""

import argparse
import json
import math
import os
import re
import sys
import tempfile

COLD_TARGET_S, WARM_TARGET_S = 10.0, 0.5
KNOWN_OP_ENTRIES = ("gemm", "attention", "softmax", "norm", "eltwise", "embed", "topk", "copy")


def need_matplotlib():
    try:
        import matplotlib
    except ImportError as e:
        print("plot.py: missing Python package 'matplotlib' (%s): python3 -m pip install "
              "matplotlib" % e, file=sys.stderr)
        sys.exit(2)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


# ------------------------------------------------------------------ input ---


def num(r, key):
    """A finite float field of a record, or None."""
    v = r.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def bad_input(msg):
    print("plot.py: " + msg, file=sys.stderr)
    sys.exit(2)


def load(paths, labels):
    """Records of every file, each tagged with its series name."""
    records, skipped = [], 0
    multi = len(paths) > 1
    for i, path in enumerate(paths):
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            bad_input("cannot read %s: %s" % (path, e))
        if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
            bad_input("%s: not a `clformer bench --json` file (no \"records\" list)" % path)
        label = labels[i] if labels and i < len(labels) else \
            os.path.splitext(os.path.basename(path))[0]
        # Devices of one name with several indices in one file (two identical
        # GPUs, POCL_DEVICES="pthread pthread") are told apart by the index.
        indices = {}
        for r in doc["records"]:
            if isinstance(r, dict) and isinstance(r.get("device_index"), str):
                indices.setdefault(r.get("device"), set()).add(r["device_index"])
        for r in doc["records"]:
            if not isinstance(r, dict) or not isinstance(r.get("entry"), str):
                skipped += 1
                continue
            r = dict(r)
            dev = r.get("device") if isinstance(r.get("device"), str) else "unknown device"
            if len(indices.get(r.get("device"), ())) > 1:
                dev = "%s (%s)" % (dev, r["device_index"])
            r["_series"] = "%s [%s]" % (dev, label) if multi else dev
            r["_case"] = " ".join(str(r.get(k)) for k in ("case", "shape") if r.get(k))
            records.append(r)
    return records, skipped


# ----------------------------------------------------------------- charts ---


def safe_name(s):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_")[:80] or "x"


def short(s, n=48):
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def hbars(plt, path, title, xlabel, cases, series, values, log=None, reflines=None, notes=None):
    """Horizontal grouped bars: one group per case, one bar per series.
    values[(case, series)] -> number. Missing pairs are left empty."""
    import numpy as np
    n_c = len(cases)
    vals = [v for v in values.values() if v is not None and v > 0]
    if not vals:
        return False
    if log is None:
        log = max(vals) / min(vals) > 20
    # Each case's group holds only the series that have a value for it, so
    # sparse tables (a baseline only some cases have) leave no empty slots.
    present = [[s for s in series if (values.get((c, s)) or 0) > 0] for c in cases]
    n_bars = sum(len(p) for p in present)
    fig_h = max(2.5, 0.28 * n_bars + 0.25 * n_c + 1.6)
    fig, ax = plt.subplots(figsize=(14, fig_h))
    # Twenty distinct colours where ten would repeat (formats x devices).
    nc = 10 if len(series) <= 10 else 20
    cmap = plt.get_cmap("tab%d" % nc)
    colour = {s: cmap(j % nc) for j, s in enumerate(series)}
    y = np.arange(n_c)
    labelled = set()
    for i, c in enumerate(cases):
        h = 0.8 / max(1, len(present[i]))
        for j, s in enumerate(present[i]):
            v = values[(c, s)]
            ax.barh(y[i] - 0.4 + h * (j + 0.5), v, height=h * 0.9, color=colour[s],
                    label=None if s in labelled else short(s, 60))
            labelled.add(s)
            ax.text(v, y[i] - 0.4 + h * (j + 0.5), " %s" % fmt(v), va="center", fontsize=7)
    ax.set_yticks(y)
    ax.set_yticklabels([short(c, 56) for c in cases], fontsize=8)
    ax.invert_yaxis()
    if log:
        from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
        ax.set_xscale("log")
        ax.set_xlim(min(vals) / 2, max(vals) * 4)
        # Plain numbers at 1, 2, 5 x 10^k (0.5, 2) rather than powers of ten
        # (5x10^-1); unlabelled minor ticks.
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_xlim(0, max(vals) * 1.25)
    for x, text in reflines or ():
        ax.axvline(x, color="k", lw=1, ls="--")
        ax.text(x, 0.995, " " + text, fontsize=7, va="top", ha="left", rotation=90,
                transform=ax.get_xaxis_transform(), color="0.2")
    ax.set_xlabel(xlabel + (" (log scale)" if log else ""))
    ax.set_title(title, fontsize=11)
    ax.grid(axis="x", alpha=0.3, which="both")
    if notes:
        fig.text(0.01, 0.005, notes, fontsize=7, color="0.3")
    # Outside the axes, so it can never hide a bar.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout(rect=(0, 0.02 if notes else 0, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def fmt(v):
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    if v >= 0.1:
        return "%.2f" % v
    return "%.2g" % v


def ordered(items):
    seen = {}
    for x in items:
        seen.setdefault(x, None)
    return list(seen)


METRICS = (  # field, axis label, transform; earlier wins a tie in coverage
    ("tokens_per_s", "tokens/s (higher is better)", lambda v: v),
    ("gflops", "GFLOP/s (higher is better)", lambda v: v),
    ("gbs", "GB/s (higher is better)", lambda v: v),
    ("median_s", "median time, ms (lower is better)", lambda v: v * 1e3),
)


def entry_metric(recs):
    """The metric that most of an entry's records have (one unit per chart:
    a stack entry mixing encoders, which have no tokens/s, and generators is
    shown in time)."""
    cover = [sum(1 for r in recs if (num(r, m[0]) or 0) > 0) for m in METRICS]
    return METRICS[cover.index(max(cover))]


def chart_entries(plt, records, out, made):
    by_entry = {}
    for r in records:
        by_entry.setdefault(r["entry"], []).append(r)
    series = ordered(r["_series"] for r in records)
    for entry, recs in by_entry.items():
        if entry == "compare":
            continue  # compare.py records: in the ratio chart
        field, label, tf = entry_metric(recs)
        values, cases, left = {}, [], 0
        for r in recs:
            v = num(r, field)
            if v is None or v <= 0:
                left += 1
                continue
            cases.append(r["_case"])
            values[(r["_case"], r["_series"])] = tf(v)
        cases = ordered(cases)
        known = entry in KNOWN_OP_ENTRIES or entry == "stack"
        title = "clformer bench: %s%s" % (entry, "" if known else " (entry unknown to plot.py)")
        note = "%d record(s) without %s left out" % (left, field) if left else None
        path = os.path.join(out, "entry_%s.png" % safe_name(entry))
        if cases and hbars(plt, path, title, label, cases, [s for s in series if any(
                (c, s) in values for c in cases)], values, notes=note):
            made.append(path)


def chart_rooflines(plt, records, out, made):
    import numpy as np
    for s in ordered(r["_series"] for r in records):
        pts = []
        bw = cp = None
        src = ""
        for r in records:
            if r["_series"] != s:
                continue
            bw = bw or num(r, "bandwidth_ceiling_gbs")
            cp = cp or num(r, "compute_ceiling_gflops")
            src = src or (r.get("roof_source") if isinstance(r.get("roof_source"), str) else "")
            f, b, g = num(r, "flops"), num(r, "bytes"), num(r, "gflops")
            if f and b and g and f > 0 and b > 0 and g > 0:
                pts.append((f / b, g, r["entry"], r["_case"]))
        if not pts or not (bw and cp):
            continue
        pts.sort(key=lambda p: (p[2], p[3]))
        # Points are numbered; the key beside the plot names each one in full
        # (shape labels on the points themselves overlap in dense clusters).
        fig_h = max(6.5, 0.16 * len(pts) + 1.5)
        fig, (ax, kx) = plt.subplots(1, 2, figsize=(14, fig_h),
                                     gridspec_kw={"width_ratios": [2.2, 1]})
        ai = [p[0] for p in pts]
        lo, hi = min(min(ai), cp / bw) / 4, max(max(ai), cp / bw) * 4
        x = np.logspace(math.log10(lo), math.log10(hi), 200)
        ax.plot(x, np.minimum(cp, bw * x), "k-", lw=2,
                label="roof: %.1f GB/s, %.1f GFLOP/s (%s)" % (bw, cp, src or "ceiling"))
        ax.axvline(cp / bw, color="0.6", ls=":", lw=1)
        cmap = plt.get_cmap("tab10")
        entries = ordered(p[2] for p in pts)
        colour = {e: cmap(k % 10) for k, e in enumerate(entries)}
        for e in entries:
            sel = [p for p in pts if p[2] == e]
            ax.scatter([p[0] for p in sel], [p[1] for p in sel], s=36, color=colour[e],
                       label=e, zorder=3, edgecolors="k", linewidths=0.4)
        placed = []
        key = []
        for i, p in enumerate(pts, 1):
            # Points that coincide (within ~5%) get their numbers fanned out.
            near = sum(1 for q in placed if abs(math.log(q[0] / p[0])) < 0.05
                       and abs(math.log(q[1] / p[1])) < 0.05)
            placed.append(p)
            ax.annotate(str(i), (p[0], p[1]), fontsize=7, xytext=(5 + 11 * near, 3),
                        textcoords="offset points", color=colour[p[2]])
            key.append("%2d  %s: %s  (%.3g GFLOP/s)" % (i, p[2], p[3], p[1]))
        kx.axis("off")
        kx.text(0, 1, "\n".join(key), va="top", ha="left", fontsize=6.5, family="monospace",
                transform=kx.transAxes)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ys = [p[1] for p in pts] + [cp]
        ax.set_ylim(min(ys) / 3, max(ys) * 3)
        ax.set_xlabel("arithmetic intensity, FLOP / byte (fewest bytes that must move)")
        ax.set_ylabel("achieved GFLOP/s")
        ax.set_title("roofline: %s" % short(s, 80), fontsize=11)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        path = os.path.join(out, "roofline_%s.png" % safe_name(s))
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)


def baselines_of(r):
    """[(baseline name, ratio)] of a record: baseline, baseline2, ... fields."""
    out = []
    for sfx in ("", "2", "3", "4", "5", "6"):
        name, ratio = r.get("baseline" + sfx), num(r, "ratio_vs_baseline" + sfx)
        if isinstance(name, str) and ratio and ratio > 0:
            out.append((name, ratio))
    return out


def chart_ratios(plt, records, out, made):
    values, cases, names = {}, [], []
    multi = len(ordered(r["_series"] for r in records)) > 1
    for r in records:
        for name, ratio in baselines_of(r):
            case = "%s: %s" % (r["entry"], r["_case"])
            key = "vs %s" % name + (" \u2014 %s" % r["_series"] if multi else "")
            cases.append(case)
            names.append(key)
            values[(case, key)] = ratio
    if not values:
        return
    path = os.path.join(out, "ratio_vs_baseline.png")
    if hbars(plt, path, "clformer against same-run baselines", "baseline time / clformer time "
             "(> 1: clformer faster)", ordered(cases), ordered(names), values, log=True,
             reflines=[(1.0, "parity")]):
        made.append(path)


def chart_stacks(plt, records, out, made):
    stack = [r for r in records if r["entry"] == "stack"]
    if not stack:
        return
    series = ordered(r["_series"] for r in stack)
    tok, start, cases, scases = {}, {}, [], []
    for r in stack:
        t = num(r, "tokens_per_s")
        if t and t > 0:
            cases.append(r["_case"])
            tok[(r["_case"], r["_series"])] = t
        for k, lab in (("cold_start_s", "cold"), ("warm_start_s", "warm")):
            v = num(r, k)
            if v and v > 0:
                c = "%s (%s)" % (r["_case"], lab)
                scases.append(c)
                start[(c, r["_series"])] = v
    p = os.path.join(out, "stack_tokens.png")
    if tok and hbars(plt, p, "whole stacks: throughput", "tokens/s (higher is better)",
                     ordered(cases), series, tok):
        made.append(p)
    p = os.path.join(out, "stack_start.png")
    if start and hbars(plt, p, "whole stacks: time to first result (targets: cold < %g s, warm < "
                       "%g s)" % (COLD_TARGET_S, WARM_TARGET_S), "seconds (lower is better)",
                       ordered(scases), series, start, log=True,
                       reflines=[(WARM_TARGET_S, "warm target"), (COLD_TARGET_S, "cold target")]):
        made.append(p)


def chart_compare(plt, records, out, made):
    """bench/compare.py records: every engine's throughput side by side."""
    recs = [r for r in records if r["entry"] == "compare"]
    multi = len(ordered(r["_series"] for r in records)) > 1
    values, cases, engines = {}, [], []
    for r in recs:
        rows = [("clformer", num(r, "items_per_s"))]
        for b in r.get("baselines") or []:
            if isinstance(b, dict) and isinstance(b.get("name"), str):
                rows.append((b["name"], num(b, "items_per_s")))
        for eng, v in rows:
            if v and v > 0:
                key = eng + (" — %s" % r["_series"] if multi else "")
                cases.append(r["_case"])
                engines.append(key)
                values[(r["_case"], key)] = v
    path = os.path.join(out, "compare_throughput.png")
    if values and hbars(plt, path, "bench/compare.py: clformer and the baselines, same weights, "
                        "same run", "tokens/s (encoders: tokens processed; greedy: tokens "
                        "generated; embeddings: sentences/s)", ordered(cases), ordered(engines),
                        values):
        made.append(path)


# ------------------------------------------------------- weight formats ---

FORMATS = ("f32", "f16", "q8", "q4")


def format_of(r):
    """A record's weight format: compare.py's "weights" field, else the last
    word of the case name as `clformer bench` writes it ("gpt2-small generate
    q8"), else f32 (records before the formats existed)."""
    w = r.get("weights")
    if isinstance(w, str) and w in FORMATS:
        return w
    words = str(r.get("case") or "").split()
    return words[-1] if words and words[-1] in FORMATS else "f32"


def base_case_of(r):
    """The case without its format: "entry: case shape", one per format group."""
    case = r.get("base_case")
    if not isinstance(case, str):
        words = str(r.get("case") or "").split()
        case = " ".join(words[:-1] if words and words[-1] in FORMATS else words)
    return "%s: %s %s" % (r["entry"], case, r.get("shape") or "")


def throughput(r):
    """Tokens per second of a stack or compare record: generated tokens for
    generators, tokens processed for encoders (batch x length / time),
    sentences for compare.py's MiniLM case; None when unknown."""
    for k in ("tokens_per_s", "items_per_s"):
        v = num(r, k)
        if v and v > 0:
            return v
    b, s, t = num(r, "batch"), num(r, "seq_len"), num(r, "median_s")
    return b * s / t if b and s and t and t > 0 else None


def chart_formats(plt, records, out, made):
    """Speed per weight format (formats_speed.png: each case that ran in two
    formats or more, one bar per format) and compare.py's ratios per format
    (formats_ratio.png: each case and format against each same-run
    baseline)."""
    multi = len(ordered(r["_series"] for r in records)) > 1
    recs = [r for r in records if r["entry"] in ("stack", "compare")]
    groups = {}
    for r in recs:
        groups.setdefault((base_case_of(r), r["_series"]), set()).add(format_of(r))
    values, cases, keys = {}, [], []
    for r in recs:
        case, v = base_case_of(r), throughput(r)
        if v is None or len(groups[(case, r["_series"])]) < 2:
            continue
        key = format_of(r) + (" \u2014 %s" % r["_series"] if multi else "")
        cases.append(case)
        keys.append(key)
        values[(case, key)] = v
    keys = sorted(ordered(keys), key=lambda k: (FORMATS.index(k.split()[0]), k))
    path = os.path.join(out, "formats_speed.png")
    if values and hbars(plt, path, "clformer per weight format (f32, f16, q8, q4); each file is one run",
                        "tokens/s (generators: tokens generated; encoders: tokens processed; "
                        "MiniLM: sentences/s) (higher is better)", ordered(cases), keys, values):
        made.append(path)
    values, cases, keys = {}, [], []
    multi = len(ordered(r["_series"] for r in recs if r["entry"] == "compare")) > 1
    for r in recs:
        if r["entry"] != "compare":
            continue
        case = "%s [%s]" % (base_case_of(r)[len("compare: "):], format_of(r))
        if multi:
            case += " \u2014 " + r["_series"]
        for name, ratio in baselines_of(r):
            cases.append(case)
            keys.append("vs " + name)
            values[(case, "vs " + name)] = ratio
    path = os.path.join(out, "formats_ratio.png")
    if values and hbars(plt, path, "bench/compare.py: clformer in each weight format against "
                        "each same-run baseline", "baseline time / clformer time (> 1: clformer "
                        "faster)", ordered(cases), ordered(keys), values, log=True,
                        reflines=[(1.0, "parity")],
                        notes="[f32] [q8] ...: clformer's weight format; the baselines keep "
                        "their own precision (-int8: CTranslate2 int8 or onnxruntime "
                        "quantize_dynamic)"):
        made.append(path)


def plot(paths, out, labels=None):
    plt = need_matplotlib()
    records, skipped = load(paths, labels)
    os.makedirs(out, exist_ok=True)
    made = []
    chart_entries(plt, records, out, made)
    chart_rooflines(plt, records, out, made)
    chart_ratios(plt, records, out, made)
    chart_stacks(plt, records, out, made)
    chart_compare(plt, records, out, made)
    chart_formats(plt, records, out, made)
    print("plot.py: %d record(s) from %d file(s), %d malformed record(s) skipped; wrote %d chart(s):"
          % (len(records), len(paths), skipped, len(made)))
    for p in made:
        print("  " + p)
    return made


# ------------------------------------------------------------------ check ---


def sample_doc(device, scale, index="0:0"):
    """Records covering every chart: op entries, a stack, compare.py's
    records, an entry plot.py does not know and malformed records."""
    base = {"device": device, "device_index": index, "device_type": "cpu", "driver": "test", "p99_s": 0,
            "bandwidth_ceiling_gbs": 8.0 * scale, "compute_ceiling_gflops": 140.0 * scale,
            "roof_source": "theoretical", "baseline": None, "ratio_vs_baseline": None}
    recs = []
    for m, n, k in ((128, 768, 768), (128, 3072, 768), (1, 768, 768)):
        f, b = 2.0 * m * n * k, 4.0 * (m * k + k * n + m * n)
        t = f / (30e9 * scale) + b / (6e9 * scale)
        recs.append(dict(base, entry="gemm", case="builtin f32", shape="M=%d N=%d K=%d" % (m, n, k),
                         median_s=t, min_s=t * 0.95, p90_s=t * 1.1, flops=f, bytes=b,
                         gflops=f / t / 1e9, gbs=b / t / 1e9, roofline_pct=30.0,
                         baseline="openblas sgemm", baseline_median_s=t * 1.5,
                         ratio_vs_baseline=1.5, baseline2="clblast", ratio_vs_baseline2=3.0))
    recs.append(dict(base, entry="softmax", case="f32", shape="rows=1536 cols=128", median_s=6e-4,
                     min_s=5e-4, p90_s=7e-4, flops=0, bytes=1.5e6, gflops=0, gbs=2.5 * scale))
    recs.append(dict(base, entry="stack", case="bert-base encoder f32", shape="B=1 S=128",
                     median_s=0.9, min_s=0.85, p90_s=1.0, flops=2.2e10, bytes=4.4e8, gflops=24.0,
                     gbs=0.5, cold_start_s=6.0 / scale, warm_start_s=0.3,
                     batch=1, seq_len=128, new_tokens=0))
    recs.append(dict(base, entry="stack", case="transformer-base greedy", shape="B=1 S=32 new=32",
                     median_s=0.6, min_s=0.55, p90_s=0.7, flops=0, bytes=0, tokens_per_s=53 * scale,
                     cold_start_s=12.0, warm_start_s=0.2, batch=1, seq_len=32, new_tokens=32))
    recs.append(dict(base, entry="compare", case="bert-base", shape="B=1 S=128", median_s=1.5,
                     items_per_s=85.3, baseline="pytorch", ratio_vs_baseline=1.16,
                     baseline2="onnxruntime", ratio_vs_baseline2=0.65,
                     baselines=[{"name": "pytorch", "items_per_s": 73.6},
                                {"name": "onnxruntime", "items_per_s": 131.3}, "junk"]))
    for w, tps in (("f16", 60), ("q8", 80), ("q4", 90)):
        recs.append(dict(base, entry="stack", case="transformer-base greedy " + w,
                         shape="B=1 S=32 new=32", median_s=32.0 / (tps * scale), min_s=0.3,
                         p90_s=0.4, flops=0, bytes=0, tokens_per_s=tps * scale, batch=1,
                         seq_len=32, new_tokens=32))
        recs.append(dict(base, entry="compare", case="bert-base " + w, base_case="bert-base",
                         weights=w, shape="B=1 S=128", median_s=1.0, items_per_s=128.0 * scale,
                         baseline="onnxruntime-int8", ratio_vs_baseline=0.8,
                         baseline2="pytorch", ratio_vs_baseline2=2.0))
    recs.append(dict(base, entry="future-entry", case="something new", shape="X=1",
                     median_s=0.01, weird_field=[1, 2]))
    recs += [{"entry": 5}, "not a record", dict(base, entry="gemm", case="no numbers")]
    return {"clformer": "test", "records": recs}


def check(out):
    """Renders the built-in records (four devices, three files: two devices of one
    name in the third) and checks that
    every expected chart is a readable PNG. Returns an exit status."""
    with tempfile.TemporaryDirectory(prefix="clf-plot-") as d:
        paths = []
        for name, dev, scale in (("machine-a", "pthread-test CPU", 1.0), ("machine-b", "test GPU", 8)):
            p = os.path.join(d, name + ".json")
            with open(p, "w") as f:
                json.dump(sample_doc(dev, scale), f)
            paths.append(p)
        # Two devices of one name in one file: two series, by their index.
        twins = sample_doc("twin CPU", 1.0, "0:0")
        twins["records"] += sample_doc("twin CPU", 2.0, "0:1")["records"]
        p = os.path.join(d, "machine-c.json")
        with open(p, "w") as f:
            json.dump(twins, f)
        paths.append(p)
        out = out or os.path.join(d, "png")
        made = plot(paths, out)
        want = ["entry_gemm.png", "entry_softmax.png", "entry_stack.png", "entry_future-entry.png",
                "ratio_vs_baseline.png", "stack_tokens.png", "stack_start.png",
                "compare_throughput.png", "formats_speed.png", "formats_ratio.png"]
        names = [os.path.basename(p) for p in made]
        bad = [w for w in want if w not in names]
        n_roof = sum(n.startswith("roofline_") for n in names)
        bad += ["roofline (4 series, got %d)" % n_roof] if n_roof != 4 else []
        for p in made:
            with open(p, "rb") as f:
                if f.read(8) != b"\x89PNG\r\n\x1a\n" or os.path.getsize(p) < 2000:
                    bad.append(p + " (not a PNG)")
        if bad:
            print("plot.py --check: FAILED: missing or broken: %s" % ", ".join(bad), file=sys.stderr)
            return 1
        print("plot.py --check: ok (%d charts)" % len(made))
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("files", nargs="*", help="JSON files of `clformer bench --json` (or compare.py)")
    ap.add_argument("--out", default=None, help="folder for the PNGs (default: the folder of the "
                    "first JSON file, so the charts lie next to their data)")
    ap.add_argument("--label", action="append", help="label of each file, in order (default: the "
                    "file name)")
    ap.add_argument("--check", action="store_true", help="self-test on built-in records (fast; "
                    "needs only matplotlib); with files, also checks that they give charts")
    a = ap.parse_args()
    if a.check and not a.files:
        return check(a.out)
    if not a.files:
        ap.error("give one or more JSON files (or --check)")
    out = a.out or os.path.dirname(os.path.abspath(a.files[0]))
    made = plot(a.files, out, a.label)
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
