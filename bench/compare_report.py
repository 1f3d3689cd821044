"""bench/compare.py's report: the versions, the text table and the JSON records."""

import os
import platform

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
         "opencl_platform": dev["platform_version"], "compute_units": dev["compute_units"],
         "weights": a.weights, "load_avg": load_avg()}
    for mod in ("onnxruntime", "onnx", "ctranslate2", "transformers", "sentence_transformers"):
        try:
            v[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return v


def load_avg():
    """The 1, 5 and 15 minute load averages, as /proc/loadavg writes them."""
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def formats_of(case):
    """[(weights, engine)] of a case's clformer engines, in run order."""
    return [(e[len("clformer-"):] if e != "clformer" else "f32", e)
            for e in case["results"] if e == "clformer" or e.startswith("clformer-")]


def ordered_baselines(case, weights):
    """The case's baseline engines, the one of matching precision first: the
    int8 ones for q8 / q4 (issue 16: Q8 against CTranslate2 int8 and
    onnxruntime quantize_dynamic), the float ones for f32 / f16."""
    bases = [e for e in case["results"] if not (e == "clformer" or e.startswith("clformer-"))]
    int8 = [e for e in bases if e.endswith("-int8")]
    flt = [e for e in bases if e not in int8]
    return int8 + flt if weights in ("q8", "q4") else flt + int8


def print_table(cases, out):
    print("\n%-18s %-26s %-17s %10s %10s %10s %12s" % (
        "case", "shape", "engine", "median ms", "min ms", "p90 ms", "throughput"), file=out)
    for c in cases:
        u = "tok/s" if c["kind"] != "sentences" else "sent/s"
        for eng, r in c["results"].items():
            print("%-18s %-26s %-17s %10.1f %10.1f %10.1f %8.1f %-5s" % (
                c["case"], c["shape"], eng, r["median_s"] * 1e3, r["min_s"] * 1e3,
                r["p90_s"] * 1e3, c["tokens"] / r["median_s"], u), file=out)
        for w, e in formats_of(c):
            t = c["results"][e]["median_s"]
            print("%-18s %-26s   ratios of %s: %s" % ("", "", e, ", ".join(
                "%.2fx %s" % (c["results"][b]["median_s"] / t, b)
                for b in ordered_baselines(c, w))), file=out)
    print("ratio = baseline median time / clformer median time, both from the same interleaved "
          "run (> 1: clformer is faster; for tokens/s the same number).", file=out)


def json_records(cases, dev):
    """One record per case and clformer weight format: clformer's figures,
    and every baseline of the case (the matching-precision one first)."""
    recs = []
    for c in cases:
        r = c["results"]
        for w, e in formats_of(c):
            ours = r[e]
            per_fmt = lambda d: d.get(w) if isinstance(d, dict) else d  # noqa: E731
            rec = {"device": dev["name"], "device_type": dev["device_type"],
                   "driver": dev["driver"], "device_index": dev["index"], "entry": "compare",
                   "case": c["case"] + ("" if w == "f32" else " " + w), "base_case": c["case"],
                   "weights": w, "engine": e, "shape": c["shape"],
                   "median_s": ours["median_s"], "min_s": ours["min_s"], "p90_s": ours["p90_s"],
                   "p99_s": ours["p99_s"], "reps": ours["reps"], "batch": c["batch"],
                   "seq_len": c["seq_len"], "new_tokens": c["new_tokens"],
                   "tokens_per_s": c["tokens"] / ours["median_s"] if c["kind"] == "tokens"
                   else None,
                   "items_per_s": c["tokens"] / ours["median_s"], "agreement": c["agreement"],
                   "agreed": c["ok"], "load_s": per_fmt(c.get("load_s")),
                   "first_call_s": per_fmt(c.get("first_call_s")), "baselines": []}
            for i, b_name in enumerate(ordered_baselines(c, w)):
                b = r[b_name]
                d = {"name": b_name, "median_s": b["median_s"], "min_s": b["min_s"],
                     "p90_s": b["p90_s"], "p99_s": b["p99_s"],
                     "ratio": b["median_s"] / ours["median_s"],
                     "items_per_s": c["tokens"] / b["median_s"]}
                rec["baselines"].append(d)
                sfx = "" if i == 0 else str(i + 1)
                rec["baseline" + sfx] = b_name
                rec["baseline%s_median_s" % sfx] = b["median_s"]
                rec["ratio_vs_baseline" + sfx] = d["ratio"]
            recs.append(rec)
    return recs
