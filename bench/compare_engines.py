"""bench/compare.py's timing (interleaved rounds, medians) and its clformer
engines, one per weight format, with the figures that compare them."""

import time

# ------------------------------------------------------------------ timing ---


def stats(times):
    import numpy as np
    t = np.asarray(times, dtype=np.float64)
    return {"median_s": float(np.median(t)), "min_s": float(t.min()),
            "p90_s": float(np.percentile(t, 90)), "p99_s": float(np.percentile(t, 99)),
            "reps": int(t.size)}


BLOCK = 1


def time_interleaved(engines, warmup, reps):
    """engines: [(name, fn)]. Each fn runs warmup times, then the timed repeats
    go round-robin in blocks of BLOCK calls (BLOCK 1: rep 1 of every engine,
    rep 2 of every engine, ...), so a burst of load from other processes lands
    on all of them alike. With BLOCK > 1 an engine's calls follow its own
    (the first of a block follows another engine's, whose thread pool may
    still be spinning on the cores: onnxruntime's and OpenMP's spin after a
    call), and each engine's figure is the median of all its calls."""
    for name, fn in engines:
        for _ in range(warmup):
            fn()
    times = {name: [] for name, _ in engines}
    done = 0
    while done < reps:
        n = min(BLOCK, reps - done)
        for name, fn in engines:
            for _ in range(n):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        done += n
    return {name: stats(ts) for name, ts in times.items()}


# ------------------------------------------------------- weight formats ---

QUANTISED = ("q8", "q4")


def clf_engine(w):
    """The engine name of clformer with weights w: "clformer" for f32 (the
    name earlier runs' records use), "clformer-q8" and so on."""
    return "clformer" if w == "f32" else "clformer-" + w


def load_formats(a, clf, path, log, **kw):
    """One Model per format of --weights (Model(weights=...): clf_model_params
    .weight_dtype), each with its load time and first-call-free state."""
    models, load_s = {}, {}
    for w in a.weights:
        t0 = time.perf_counter()
        models[w] = clf.Model(path, device=a.device, weights=w, **kw)
        load_s[w] = time.perf_counter() - t0
    log("  clformer: loaded %s" % ", ".join("%s %.2f s" % (w, load_s[w]) for w in a.weights))
    return models, load_s


def close_all(models):
    for m in models.values():
        m.close()


def quantised(a):
    """True when --weights asks for a quantised format: the int8 baselines
    (CTranslate2 int8, onnxruntime quantize_dynamic) join the run."""
    return any(w in QUANTISED for w in a.weights) and not a.no_int8


def rel_rms(x, ref):
    """sqrt(sum((x - ref)^2) / sum(ref^2)): a quantised format's error figure."""
    import numpy as np
    x, ref = np.asarray(x, np.float64), np.asarray(ref, np.float64)
    return float(np.sqrt(((x - ref) ** 2).sum() / max((ref ** 2).sum(), 1e-300)))


def leading(x, ours):
    """Leading tokens of x equal to ours, the minimum over the batch (0 when
    the shapes differ)."""
    import numpy as np
    if x.shape != ours.shape:
        return 0
    eq = (x == ours)
    return int(min((int(np.argmin(row)) if not row.all() else row.size) for row in eq))


def result(name, kind, shape, B, S, N, res, agreement, ok, load_s, first_s, tokens, **extra):
    return dict(case=name, kind=kind, shape=shape, batch=B, seq_len=S, new_tokens=N, results=res,
                agreement=agreement, ok=ok, load_s=load_s, first_call_s=first_s, tokens=tokens,
                **extra)
