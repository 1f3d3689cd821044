/*
 * `clformer bench` entry "batch": continuous batching (batch.h) against
 * running the same generations one after another, in the same run.
 *
 * Workload: 16 greedy generations of one random decoder-only model with
 * different prompt lengths (4..16) and output lengths, joining a clf_batch
 * two per step (the first two at step 0; arrivals spread over 8 steps, so
 * every one of those steps runs prefills beside the running rows) or, in
 * the "all at once" case, all 16 at step 0, and leaving as they finish. The
 * baseline runs clf_model_generate on each prompt alone, in turn. Both are
 * timed end to end (host included), interleaved rep by rep after a warm-up
 * of each, and reported as generated tokens / median seconds; the case's
 * figure is the batch's, the baseline the sequential one.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "bench_stats.h"

enum { NSEQ = 16 };

typedef struct bcase {
    const char *preset;
    const char *name;
    int64_t base_new, spread; /* max_new of seq i: base_new + (5 i) % spread */
    int reps;
    bool quick;
    int join; /* sequences added per step */
} bcase;

static const bcase cases[] = {
    {"tiny", "tiny (1 layer, D 32)", 8, 25, 7, true, 2},
    {"gpt2-small", "gpt2-small (random)", 4, 13, 3, false, 2},
    {"gpt2-small", "gpt2-small (random), all 16 at once", 4, 13, 3, false, NSEQ},
};

typedef struct work {
    clf_model *m;
    int32_t prompt[NSEQ][16];
    int64_t n[NSEQ], max_new[NSEQ], tokens;
} work;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static clf_generate_params params_of(const work *w, int i)
{
    clf_generate_params p = clf_generate_params_default();
    p.ignore_eos = true;
    p.max_new_tokens = w->max_new[i];
    return p;
}

static int run_sequential(work *w)
{
    int32_t out[64];
    for (int i = 0; i < NSEQ; i++) {
        clf_generate_params p = params_of(w, i);
        clf_generate_output o = {out, NULL, NULL, NULL, NULL};
        if (clf_model_generate(w->m, w->prompt[i], NULL, 1, w->n[i], &p, &o) != CLF_OK) return -1;
    }
    return 0;
}

static int run_batched(work *w, clf_batch *b, int join)
{
    clf_batch_token ev[NSEQ];
    int next = 0;
    for (int64_t step = 0; next < NSEQ || clf_batch_live(b) > 0; step++) {
        for (int k = 0; k < join && next < NSEQ; k++, next++) {
            clf_generate_params p = params_of(w, next);
            int64_t id;
            if (clf_batch_add(b, w->prompt[next], w->n[next], &p, &id) != CLF_OK) return -1;
        }
        int64_t n;
        if (clf_batch_step(b, ev, NSEQ, &n) != CLF_OK) return -1;
    }
    return 0;
}

static int one_case(bench_run *r, const bcase *c)
{
    clf_model_config cfg;
    if (clf_model_config_preset(c->preset, &cfg) != CLF_OK) return -1;
    clf_model_params mp;
    memset(&mp, 0, sizeof mp);
    mp.max_batch = 1;
    mp.max_target_len = 64;
    work w;
    memset(&w, 0, sizeof w);
    unsigned s = 12345;
    for (int i = 0; i < NSEQ; i++) {
        w.n[i] = 4 + (i * 7) % 13;
        w.max_new[i] = c->base_new + (i * 5) % c->spread;
        w.tokens += w.max_new[i];
        for (int64_t t = 0; t < w.n[i]; t++) {
            s = s * 1103515245u + 12345u;
            w.prompt[i][t] = (int32_t)((s >> 8) % (unsigned)cfg.vocab);
        }
    }
    clf_batch *b = NULL;
    clf_batch_params bp = {NSEQ, 64, 0};
    bench_progress(r, "batch", c->name);
    if (clf_model_create_random(r->ctx, &cfg, &mp, 7, &w.m) != CLF_OK ||
        clf_batch_create(w.m, &bp, &b) != CLF_OK) {
        fprintf(stderr, "batch %s: %s\n", c->name, clf_context_last_error(r->ctx));
        clf_model_free(w.m);
        return -1;
    }
    int reps = r->reps_forced ? r->reps : c->reps;
    double *ts = calloc((size_t)reps, sizeof *ts), *tb = calloc((size_t)reps, sizeof *tb);
    int rc = ts && tb ? 0 : -1;
    /* Warm-up: builds every graph (the batch's buckets included). */
    if (rc == 0) rc = run_sequential(&w) || run_batched(&w, b, c->join) ? -1 : 0;
    for (int i = 0; rc == 0 && i < reps; i++) { /* interleaved */
        double t0 = now_s();
        rc = run_sequential(&w);
        double t1 = now_s();
        if (rc == 0) rc = run_batched(&w, b, c->join);
        ts[i] = t1 - t0;
        tb[i] = now_s() - t1;
    }
    if (rc != 0) {
        fprintf(stderr, "batch %s: %s\n", c->name, clf_context_last_error(r->ctx));
    } else {
        qsort(ts, (size_t)reps, sizeof *ts, bench_cmp_double);
        qsort(tb, (size_t)reps, sizeof *tb, bench_cmp_double);
        bench_result res;
        memset(&res, 0, sizeof res);
        res.entry = "batch";
        snprintf(res.name, sizeof res.name, "continuous batch, %s", c->name);
        snprintf(res.shape, sizeof res.shape, "16 greedy seqs, %d join a step, %lld new tokens",
                 c->join, (long long)w.tokens);
        res.med_s = tb[reps / 2];
        res.min_s = tb[0];
        res.p90_s = res.p99_s = tb[reps - 1];
        res.baseline = "sequential clf_model_generate";
        res.baseline_s = ts[reps / 2];
        res.batch = NSEQ;
        res.new_tokens = w.tokens / NSEQ;
        res.tokens_per_s = (double)w.tokens / res.med_s;
        bench_report(r, &res);
        printf("  batch %s: %.1f tokens/s batched vs %.1f sequential (median of %d, "
               "interleaved): %.2fx\n",
               c->name, (double)w.tokens / res.med_s, (double)w.tokens / res.baseline_s, reps,
               res.baseline_s / res.med_s);
    }
    free(ts);
    free(tb);
    clf_batch_free(b);
    clf_model_free(w.m);
    return rc;
}

int bench_batch(bench_run *r)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (r->quick && !cases[i].quick) continue;
        if (one_case(r, &cases[i]) != 0) r->failures++;
    }
    return 0;
}
