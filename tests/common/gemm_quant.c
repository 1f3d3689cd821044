/* The shared quantised-B gemm case (gemm_quant.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gemm_quant.h"
#include "common/gemm_case.h"
#include "common/testutil.h"
#include "ref/ref_gemm.h"
#include "ref/ref_padded.h"

static float *values(const clft_padded *p)
{
    float *v = malloc((size_t)p->numel * sizeof *v);
    for (int64_t i = 0; i < p->numel; i++) v[i] = p->host[p->pos[i]];
    return v;
}

void clft_gemm_quant_case(clf_context *ctx, clf_dtype wdt, const qcase *g, int family, int idx,
                          double raw_bound, bool packed)
{
    uint64_t seed = clft_seed();
    clft_rng rng = clft_rng_make(seed, 7000 + (uint64_t)idx);
    int64_t rows = g->row0 + g->n + 2, sa[2] = {g->m, g->k}, sc[2] = {g->m, g->n};
    /* The weight: rows x K, quantised on the host, the test's slice inside. */
    float *w = malloc((size_t)(rows * g->k) * sizeof *w);
    int64_t G = clf_q4_groups(g->k);
    bool q4 = wdt == CLF_Q4;
    void *codes = malloc(q4 ? (size_t)(rows * G * 16) : (size_t)(rows * g->k));
    float *scales = malloc((size_t)(q4 ? rows * G : rows) * sizeof *scales);
    clft_fill_uniform(&rng, w, (size_t)(rows * g->k), -1, 1);
    if (q4) clf_quantize_q4(w, rows, g->k, codes, scales, NULL);
    else clf_quantize_q8(w, rows, g->k, codes, scales, NULL);
    clf_tensor wq, wv;
    cr_assert_eq(clf_tensor_create(ctx, wdt, 2, (int64_t[]){rows, g->k}, &wq), CLF_OK, "%s",
                 clf_context_last_error(ctx));
    cr_assert_eq(q4 ? clf_tensor_write_q4(ctx, &wq, codes, scales)
                    : clf_tensor_write_q8(ctx, &wq, codes, scales),
                 CLF_OK, "%s", clf_context_last_error(ctx));
    cr_assert_eq(clf_tensor_slice(&wq, 0, g->row0, g->n, &wv), CLF_OK);
    clf_tensor wp = {0};
    if (packed) { /* the slice's rows and scales, packed; the plain copy then freed */
        cr_assert_eq(clf_gemm_pack_b(ctx, &wv, &wp), CLF_OK, "%s", clf_context_last_error(ctx));
        clf_tensor_free(&wq);
        wv = wp;
    }
    float *wdq = malloc((size_t)(g->n * g->k) * sizeof *wdq); /* code * scale: exact in f32 */
    for (int64_t r = 0; r < g->n; r++)
        for (int64_t c = 0; c < g->k; c++) {
            int64_t row = g->row0 + r, i = row * g->k + c;
            if (q4) {
                /* tensor.h "Q4": element j of a group in byte j % 16, high nibble from 16. */
                const uint8_t *b = (const uint8_t *)codes + (row * G + c / 32) * 16;
                int j = (int)(c % 32), nib = j < 16 ? (b[j] & 15) : (b[j - 16] >> 4);
                wdq[r * g->k + c] = (float)(nib - 8) * scales[row * G + c / 32];
            } else {
                wdq[r * g->k + c] = (float)((const int8_t *)codes)[i] * scales[row];
            }
        }
    const float *wraw = w + g->row0 * g->k;

    clft_padded A, C;
    clft_padded_make(ctx, g->da, 2, sa, 3, 5, 1, &A);
    clft_padded_make(ctx, g->dc, 2, sc, 7, 3, 1, &C);
    float *v = malloc((size_t)(g->m * (g->k > g->n ? g->k : g->n)) * sizeof *v);
    clft_fill_uniform(&rng, v, (size_t)A.numel, -1, 1);
    clft_padded_set(&A, v);
    if (g->beta != 0) {
        clft_fill_uniform(&rng, v, (size_t)C.numel, -1, 1);
        clft_padded_set(&C, v);
    }
    free(v);
    clft_padded_upload(ctx, &A);
    clft_padded_upload(ctx, &C);
    clf_tensor bias = {0};
    float *hbias = g->bias ? gemm_case_bias(ctx, &rng, g->n, &bias) : NULL;
    float *ha = values(&A), *hc = values(&C);
    int64_t total = g->m * g->n;
    double *want_dq = malloc((size_t)total * sizeof *want_dq);
    double *want_raw = malloc((size_t)total * sizeof *want_raw);
    double alpha = g->alpha == 0 ? 1.0 : g->alpha;
    ref_gemm(1, g->m, g->n, g->k, false, true, alpha, ha, 1, wdq, 1, g->beta, hc, hbias, g->act, want_dq);
    ref_gemm(1, g->m, g->n, g->k, false, true, alpha, ha, 1, wraw, 1, g->beta, hc, hbias, g->act, want_raw);
    /* A Q4 weight's products may take int8 activations (clf_gemv's and clf_gemm_i16's
     * int8 x Q4 forms: the CPU family where the compiler offers AVX2's pmaddubsw, or
     * CLFORMER_GEMV_I16=2; K <= 4096): exact up to f32 rounding against those, as the
     * f32 forms are against A itself. */
    double *want_a8 = NULL;
    if (q4 && g->k <= 4096) {
        float *a8 = malloc((size_t)(g->m * g->k) * sizeof *a8);
        for (int64_t r = 0; r < g->m; r++) ref_q4_int8_row(ha + r * g->k, g->k, a8 + r * g->k);
        want_a8 = malloc((size_t)total * sizeof *want_a8);
        ref_gemm(1, g->m, g->n, g->k, false, true, alpha, a8, 1, wdq, 1, g->beta, hc, hbias, g->act,
                 want_a8);
        free(a8);
    }
    clf_gemm_params p = clf_gemm_params_default();
    p.trans_b = true;
    p.alpha = g->alpha;
    p.beta = g->beta;
    p.bias = g->bias ? &bias : NULL;
    p.act = g->act;
    p.provider = CLF_GEMM_BUILTIN;
    char what[256];
    snprintf(what, sizeof what,
             "%s%s case %d family %s M=%lld N=%lld K=%lld A %s C %s alpha %g beta %g bias %d act %d "
             "rows from %lld (seed %llu)",
             packed ? " packed" : "", clf_dtype_name(wdt), idx, family == CLF_KERNELS_GPU ? "gpu" : "cpu", (long long)g->m, (long long)g->n,
             (long long)g->k, clf_dtype_name(g->da), clf_dtype_name(g->dc), g->alpha, g->beta,
             g->bias, (int)g->act, (long long)g->row0, (unsigned long long)seed);
    clf_status st = clf_gemm(ctx, &A.view, &wv, &C.view, &p);
    cr_assert_eq(st, CLF_OK, "%s: %s", what, clf_context_last_error(ctx));
    float *got = malloc((size_t)total * sizeof *got);
    int64_t bad = clft_padded_download(ctx, &C, got);
    cr_assert_eq(bad, 0, "%s: %lld elements outside C were written", what, (long long)bad);
    double e_dq = clft_nmse(got, want_dq, (size_t)total), e_raw = clft_nmse(got, want_raw, (size_t)total);
    double bound = g->dc == CLF_F16 ? 1e-5 : 1e-8;
    double e_a8 = want_a8 ? clft_nmse(got, want_a8, (size_t)total) : INFINITY;
    char a8[64] = "";
    if (want_a8) snprintf(a8, sizeof a8, " (with int8 activations %.3g)", e_a8);
    cr_assert(e_dq < bound || e_a8 < bound, "%s: NMSE vs dequantised weights %.3g >= %.3g%s",
              what, e_dq, bound, a8);
    cr_assert(e_raw < raw_bound, "%s: NMSE vs unquantised weights %.3g >= %.3g", what, e_raw,
              raw_bound);

    free(w), free(codes), free(scales), free(wdq), free(ha), free(hc), free(want_dq);
    free(want_a8), free(want_raw), free(got), free(hbias);
    if (g->bias) clf_tensor_free(&bias);
    clf_tensor_free(&wq);
    clf_tensor_free(&wp);
    clft_padded_free(&A);
    clft_padded_free(&C);
}

void clft_gemm_quant_all(clf_dtype wdt, const qcase *cases, size_t n, double raw_bound, bool packed)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < nd; d++)
        for (int f = CLF_KERNELS_CPU; f <= CLF_KERNELS_GPU; f++) {
            clf_context *ctx = clft_context_family(specs[d], (clf_kernel_family)f, false);
            for (size_t i = 0; i < n; i++)
                clft_gemm_quant_case(ctx, wdt, &cases[i], f, (int)i, raw_bound, packed);
            clf_context_free(ctx);
        }
}
