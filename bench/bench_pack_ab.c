/*
 * Packed against plain GEMM weights, interleaved in one process (issue 15):
 *   1. GEMM at the BERT-base shapes and 1024^3: builtin with plain (N, K)
 *      weights, builtin with packed weights (clf_gemm_pack_b), OpenBLAS
 *      cblas_sgemm (x W^T, its own threads), one round = one call of each,
 *      in turn; medians over the rounds and the median of per-round ratios.
 *      One copy of each operand (cache-resident: at M >= 128 the products
 *      are compute-bound; bench gemm's DRAM rotation is for GEMV).
 *   2. BERT-base (random weights) batch 1, sequence 128: a model loaded with
 *      CLFORMER_PACK=0 (plain weights: main's GEMM path) and one packed,
 *      encoded in turn; medians of the wall time of clf_model_encode.
 *   3. The same runs' clf_context_profile records, summed per kernel name
 *      and divided by the rounds: device time per kernel family and launch
 *      counts, before (plain) and after (packed).
 * The context profiles every launch in all three parts (the same overhead
 * for every side).
 *
 *   bench_pack_ab [DEVICE] [ROUNDS] [gemm]   DEVICE "0:0" (default), ROUNDS 9;
 *                                            "gemm": part 1 only
 */
#include <cblas.h>
#include <clformer/clformer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_stats.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check(clf_status st, clf_context *ctx, const char *what)
{
    if (st == CLF_OK) return;
    fprintf(stderr, "bench_pack_ab: %s: %s\n", what, clf_context_last_error(ctx));
    exit(1);
}

/* Per-kernel-name device time accumulated over runs. */
enum { MAX_NAMES = 64 };
typedef struct prof_sum {
    const char *name[MAX_NAMES];
    double s[MAX_NAMES];
    long launches[MAX_NAMES];
    int n;
} prof_sum;

static void drain(clf_context *ctx, prof_sum *p)
{
    static clf_profile_record rec[8192];
    size_t n = 0;
    check(clf_context_profile(ctx, rec, sizeof rec / sizeof rec[0], &n), ctx, "profile");
    if (!p) return;
    for (size_t i = 0; i < n; i++) {
        int j = 0;
        while (j < p->n && strcmp(p->name[j], rec[i].kernel) != 0)
            j++;
        if (j == p->n && p->n < MAX_NAMES) p->name[p->n++] = rec[i].kernel;
        if (j < MAX_NAMES) p->s[j] += rec[i].seconds, p->launches[j]++;
    }
}

static void print_profile(const char *title, const prof_sum *p, int runs)
{
    double total = 0;
    for (int j = 0; j < p->n; j++)
        total += p->s[j];
    printf("%s: device time per encode %.2f ms\n", title, 1e3 * total / runs);
    printf("  %-28s %10s %7s %9s\n", "kernel", "ms/run", "share", "launches");
    for (int j = 0; j < p->n; j++)
        printf("  %-28s %10.3f %6.1f%% %9.1f\n", p->name[j], 1e3 * p->s[j] / runs,
               100 * p->s[j] / total, (double)p->launches[j] / runs);
}

static void gemm_ab(clf_context *ctx, int m, int n, int k, int rounds)
{
    clf_tensor a, w, wp, c;
    check(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){m, k}, &a), ctx, "a");
    check(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){n, k}, &w), ctx, "w");
    check(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){m, n}, &c), ctx, "c");
    check(clf_tensor_fill_uniform(ctx, &a, 1, -1, 1), ctx, "fill");
    check(clf_tensor_fill_uniform(ctx, &w, 2, -1, 1), ctx, "fill");
    check(clf_gemm_pack_b(ctx, &w, &wp), ctx, "pack");
    float *ha = malloc((size_t)m * k * 4), *hw = malloc((size_t)n * k * 4),
          *hc = malloc((size_t)m * n * 4);
    for (size_t i = 0; i < (size_t)m * k; i++)
        ha[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1;
    for (size_t i = 0; i < (size_t)n * k; i++)
        hw[i] = (float)((i * 40503u) % 2001) / 1000.0f - 1;
    clf_gemm_params p = clf_gemm_params_default();
    p.trans_b = true;
    p.provider = CLF_GEMM_BUILTIN;
    double *t = malloc(sizeof *t * (size_t)rounds * 3), *r = malloc(sizeof *r * (size_t)rounds * 3);
    for (int it = -3; it < rounds; it++) {
        double t0 = now();
        check(clf_gemm(ctx, &a, &w, &c, &p), ctx, "gemm plain");
        check(clf_context_finish(ctx), ctx, "finish");
        double t1 = now();
        check(clf_gemm(ctx, &a, &wp, &c, &p), ctx, "gemm packed");
        check(clf_context_finish(ctx), ctx, "finish");
        double t2 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, ha, k, hw, k, 0.0f, hc,
                    n);
        double t3 = now();
        drain(ctx, NULL);
        if (it < 0) continue;
        t[it] = t1 - t0, t[rounds + it] = t2 - t1, t[2 * rounds + it] = t3 - t2;
        r[it] = (t3 - t2) / (t1 - t0), r[rounds + it] = (t3 - t2) / (t2 - t1);
        r[2 * rounds + it] = (t1 - t0) / (t2 - t1);
    }
    double fl = 2.0 * m * n * k * 1e-9;
    double mp = bench_median(t, rounds), mk = bench_median(t + rounds, rounds),
           mb = bench_median(t + 2 * rounds, rounds);
    printf("gemm M=%d N=%d K=%d: plain %.3f ms (%.1f GFLOP/s), packed %.3f ms (%.1f), openblas "
           "%.3f ms (%.1f); vs openblas (median of per-round ratios, >1 = faster): plain %.2fx, "
           "packed %.2fx; plain/packed %.2fx\n",
           m, n, k, 1e3 * mp, fl / mp, 1e3 * mk, fl / mk, 1e3 * mb, fl / mb, bench_median(r, rounds),
           bench_median(r + rounds, rounds), bench_median(r + 2 * rounds, rounds));
    free(t), free(r), free(ha), free(hw), free(hc);
    clf_tensor_free(&a), clf_tensor_free(&w), clf_tensor_free(&wp), clf_tensor_free(&c);
}

static clf_model *bert(clf_context *ctx, bool packed)
{
    clf_model_config cfg;
    check(clf_model_config_preset("bert-base", &cfg), ctx, "preset");
    clf_model_params mp = clf_model_params_default();
    mp.max_batch = 1;
    mp.max_source_len = 128;
    if (!packed) setenv("CLFORMER_PACK", "0", 1);
    clf_model *m = NULL;
    check(clf_model_create_random(ctx, &cfg, &mp, 1234, &m), ctx, "model");
    unsetenv("CLFORMER_PACK");
    return m;
}

int main(int argc, char **argv)
{
    const char *dev = argc > 1 ? argv[1] : "0:0";
    int rounds = argc > 2 ? atoi(argv[2]) : 9;
    if (rounds < 1) rounds = 1;
    clf_context_params cp = clf_context_params_default();
    cp.device = dev;
    cp.profiling = true;
    clf_context *ctx = NULL;
    check(clf_context_create(&cp, &ctx), NULL, "context");
    printf("device %s: %s; %d rounds after 3 warm-up rounds\n", dev, clf_context_device(ctx)->name,
           rounds);
    static const int shapes[][3] = {
        {128, 768, 768}, {128, 3072, 768}, {128, 768, 3072}, {1024, 1024, 1024}};
    for (int i = 0; i < 4; i++)
        gemm_ab(ctx, shapes[i][0], shapes[i][1], shapes[i][2], rounds);
    if (argc > 3 && strcmp(argv[3], "gemm") == 0) {
        clf_context_free(ctx);
        return 0;
    }

    clf_model *mods[2] = {bert(ctx, false), bert(ctx, true)};
    int32_t ids[128], len = 128;
    for (int i = 0; i < 128; i++)
        ids[i] = 1000 + (i * 7919) % 20000;
    float pooled[768];
    prof_sum prof[2];
    memset(prof, 0, sizeof prof);
    double *t = malloc(sizeof *t * (size_t)rounds * 3);
    for (int it = -2; it < rounds; it++) {
        double tt[2];
        for (int s = 0; s < 2; s++) {
            double t0 = now();
            check(clf_model_encode(mods[s], ids, &len, 1, 128, CLF_POOL_FIRST, NULL, pooled, NULL),
                  ctx, "encode");
            tt[s] = now() - t0;
            drain(ctx, it >= 0 ? &prof[s] : NULL);
        }
        if (it < 0) continue;
        t[it] = tt[0], t[rounds + it] = tt[1], t[2 * rounds + it] = tt[0] / tt[1];
    }
    double before = bench_median(t, rounds), after = bench_median(t + rounds, rounds);
    printf("bert-base B=1 S=128 encode: plain weights %.1f ms, packed %.1f ms (median of per-round "
           "plain/packed %.2fx)\n",
           1e3 * before, 1e3 * after, bench_median(t + 2 * rounds, rounds));
    print_profile("before (plain weights, CLFORMER_PACK=0)", &prof[0], rounds);
    print_profile("after (packed weights)", &prof[1], rounds);
    free(t);
    clf_model_free(mods[0]);
    clf_model_free(mods[1]);
    clf_context_free(ctx);
    return 0;
}
