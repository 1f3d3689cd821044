/*
 * GEMM bench entry: builtin vs CLBlast on the device, and OpenBLAS
 * cblas_sgemm on the host as the same-run baseline, at the shapes of
 * BENCHMARKS.md; GEMV (M = 1) in GB/s against the measured bandwidth.
 *
 * Weights are rotated through enough copies (>= 96 MiB, at most 32 copies)
 * that a run cannot find them in the last-level cache, for every provider
 * and for OpenBLAS alike: a decode step reads its weights from memory.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"

enum { MAX_COPIES = 32 };

static int copies_for(size_t bytes)
{
    size_t want = (96u << 20) / (bytes ? bytes : 1) + 1;
    return want > MAX_COPIES ? MAX_COPIES : (int)want;
}

typedef struct gemm_case {
    bench_run *r;
    clf_tensor a, b[MAX_COPIES], c, bias;
    int n_b, next;
    clf_gemm_params p;
} gemm_case;

static int run_gemm(void *arg)
{
    gemm_case *g = arg;
    const clf_tensor *w = &g->b[g->next++ % g->n_b];
    clf_status st = clf_gemm(g->r->ctx, &g->a, w, &g->c, &g->p);
    return st == CLF_OK ? 0 : bench_fail(g->r, "clf_gemm", st);
}

typedef struct blas_case {
    int m, n, k, n_b, next;
    float *a, *b[MAX_COPIES], *c;
} blas_case;

static void run_blas(void *arg)
{
    blas_case *h = arg;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, h->m, h->n, h->k, 1.0f, h->a, h->k,
                h->b[h->next++ % h->n_b], h->k, 0.0f, h->c, h->n);
}

static double time_openblas(bench_run *r, int64_t m, int64_t n, int64_t k)
{
    blas_case h = {(int)m, (int)n, (int)k, copies_for((size_t)(n * k) * 4), 0, NULL, {NULL}, NULL};
    double s = 0;
    h.a = malloc((size_t)(m * k) * 4);
    h.c = malloc((size_t)(m * n) * 4);
    int ok = h.a && h.c;
    for (int i = 0; i < h.n_b; i++) {
        h.b[i] = malloc((size_t)(n * k) * 4);
        ok = ok && h.b[i];
        if (h.b[i]) bench_random(h.b[i], (size_t)(n * k), 2 + (unsigned)i);
    }
    if (ok) {
        bench_random(h.a, (size_t)(m * k), 1);
        bench_time_host(r, run_blas, &h, &s);
    }
    free(h.a);
    free(h.c);
    for (int i = 0; i < h.n_b; i++) free(h.b[i]);
    return s;
}

static void free_case(gemm_case *g)
{
    clf_tensor_free(&g->a);
    clf_tensor_free(&g->c);
    clf_tensor_free(&g->bias);
    for (int i = 0; i < g->n_b; i++) clf_tensor_free(&g->b[i]);
}

/* Times one provider and weight dtype, with act and a bias fused into the
 * store unless act is CLF_ACT_NONE; returns its median (0 on failure) and
 * reports it unless report is false. With packed, every weight copy goes
 * through clf_gemm_pack_b first (the layout a model load gives the CPU
 * kernels). */
static double time_device_packed(bench_run *r, int64_t m, int64_t n, int64_t k, clf_gemm_provider prov,
                          clf_dtype wdtype, clf_act act, const char *name, double blas_s,
                          double clblast_s, bool report, bool packed)
{
    gemm_case g = {.r = r, .p = clf_gemm_params_default()};
    g.p.trans_b = true; /* x W^T: the Linear layout */
    g.p.provider = prov;
    size_t wbytes = clf_dtype_size(wdtype) * (size_t)(n * k);
    g.n_b = copies_for(wbytes);
    int bad = bench_tensor(r, CLF_F32, 2, (int64_t[]){m, k}, 1, &g.a) ||
              bench_tensor(r, CLF_F32, 2, (int64_t[]){m, n}, 3, &g.c);
    if (act != CLF_ACT_NONE && !bad) {
        bad = bench_tensor(r, CLF_F32, 1, (int64_t[]){n}, 4, &g.bias);
        g.p.bias = &g.bias;
        g.p.act = act;
    }
    for (int i = 0; i < g.n_b && !bad; i++) {
        bad = bench_tensor(r, wdtype, 2, (int64_t[]){n, k}, 2 + (unsigned)i, &g.b[i]);
        clf_tensor p;
        if (!bad && packed) {
            clf_status st = clf_gemm_pack_b(r->ctx, &g.b[i], &p);
            bad = st == CLF_OK ? 0 : bench_fail(r, "clf_gemm_pack_b", st);
            clf_tensor_free(&g.b[i]);
            g.b[i] = p;
        }
    }
    double med = 0;
    if (!bad) {
        bench_result res = {.entry = "gemm"};
        snprintf(res.name, sizeof res.name, "%s", name);
        snprintf(res.shape, sizeof res.shape, "M=%lld N=%lld K=%lld", (long long)m, (long long)n,
                 (long long)k);
        res.flops = 2.0 * m * n * k;
        res.bytes = 4.0 * (m * k + m * n) + (double)wbytes;
        if (blas_s > 0) res.baseline = "openblas sgemm", res.baseline_s = blas_s;
        if (clblast_s > 0) res.baseline2 = "clblast", res.baseline2_s = clblast_s;
        if (bench_time(r, run_gemm, &g, &res) == 0) {
            med = res.med_s;
            if (report) bench_report(r, &res);
        }
    }
    free_case(&g);
    return med;
}

static double time_device(bench_run *r, int64_t m, int64_t n, int64_t k, clf_gemm_provider prov,
                          clf_dtype wdtype, clf_act act, const char *name, double blas_s,
                          double clblast_s, bool report)
{
    return time_device_packed(r, m, n, k, prov, wdtype, act, name, blas_s, clblast_s, report, false);
}

/* One shape: OpenBLAS, then CLBlast, then ours (as ratios to both);
 * returns OpenBLAS's median (0 if it failed). */
static double gemm_shape(bench_run *r, int64_t m, int64_t n, int64_t k, bool with_clblast,
                         bool f16_weights)
{
    double blas_s = time_openblas(r, m, n, k);
    double clblast_s = 0;
    if (with_clblast)
        clblast_s = time_device(r, m, n, k, CLF_GEMM_CLBLAST, CLF_F32, CLF_ACT_NONE, "clblast f32",
                                blas_s, 0, true);
    time_device(r, m, n, k, CLF_GEMM_BUILTIN, CLF_F32, CLF_ACT_NONE, "builtin f32", blas_s,
                clblast_s, true);
    if (m > 1) /* where the register kernel runs: the packed weights a CPU model load makes */
        time_device_packed(r, m, n, k, CLF_GEMM_BUILTIN, CLF_F32, CLF_ACT_NONE,
                           "builtin f32 packed", blas_s, clblast_s, true, true);
    if (f16_weights)
        time_device(r, m, n, k, CLF_GEMM_BUILTIN, CLF_F16, CLF_ACT_NONE, "builtin f16 weights",
                    blas_s, clblast_s, true);
    return blas_s;
}

int bench_gemm(bench_run *r)
{
    bool clblast = !r->quick; /* CLBlast's first compile alone takes tens of seconds on PoCL */
    /* BERT-base at batch 1, sequence 128. */
    gemm_shape(r, 128, 768, 768, clblast, false);
    double ffn1_blas_s = gemm_shape(r, 128, 3072, 768, clblast, false);
    gemm_shape(r, 128, 768, 3072, clblast, false);
    /* The FFN's first product with its bias and GELU fused into the store,
     * against OpenBLAS's plain product: what the epilogue costs. Outputs
     * reach |x| ~ 15 here, so GELU's tails (exp underflow) are exercised. */
    time_device(r, 128, 3072, 768, CLF_GEMM_BUILTIN, CLF_F32, CLF_ACT_GELU, "builtin f32 +bias+gelu",
                ffn1_blas_s, 0, true);
    /* Decode GEMV: weights dominate the bytes. */
    gemm_shape(r, 1, 768, 768, clblast, true);
    gemm_shape(r, 1, 3072, 768, clblast, true);
    gemm_shape(r, 1, 768, 3072, clblast, true);
    gemm_shape(r, 1024, 1024, 1024, clblast, false); /* issue 15's square target, quick too */
    if (r->quick) return 0;
    gemm_shape(r, 1, 3072, 3072, clblast, true);
    /* Transformer-base, 16 x 128 tokens; GPT-2 small; small decode batches. */
    gemm_shape(r, 2048, 2048, 512, clblast, false);
    gemm_shape(r, 2048, 512, 2048, clblast, false);
    gemm_shape(r, 4, 2304, 768, clblast, true);
    gemm_shape(r, 8, 50257, 768, clblast, true);
    return 0;
}
