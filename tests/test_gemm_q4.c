/*
 * Q4 weights in clf_gemm (tensor.h "Q4", kernels/gemm_common.cl CLF_B_Q4): every
 * kernel that reads B (GEMV for M <= 8, the register-blocked CPU family and
 * the tiled GPU family, each family forced on every device) against a
 * float64 reference, on odd shapes: K of 1, primes, 31, 32, 33, non-multiples
 * of 32 (a short last group), K > 4096; f32/f16 A and C, alpha/beta, fused
 * bias and activation, a row slice of the weight (its codes and scales start
 * past row 0), and A/C views with padding that must stay untouched (C
 * poisoned with NaN). The shared case is tests/common/gemm_quant.c.
 *
 * Two references:
 *  - the dequantised weights (code * group scale, exact in f32): only f32
 *    rounding separates the kernel from it: NMSE < 1e-8 (1e-5 with f16 C);
 *  - the unquantised weights: uniform weights in [-a, a) quantised with step
 *    max|w| / 7 per 32 (max near a) carry an error of RMS step / sqrt(12),
 *    about 7% of their RMS (0.041 a vs 0.577 a), so an output's NMSE is
 *    about 5e-3 on average (less with a bias or beta C added). Small cases
 *    (M 3, N 13: 39 outputs, some zeroed by ReLU) scatter widely around it:
 *    0.0146 was seen in CI, so the bound is 5e-2, still far below what a
 *    scale of the wrong group, a swapped nibble or a missing scale costs
 *    (O(1)).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gemm_quant.h"
#include "common/testutil.h"

#define F32 CLF_F32
#define F16 CLF_F16

/* m n k da dc alpha beta bias act row0 */
static const qcase cases[] = {
    {1, 1, 1, F32, F32, 0, 0, 0, CLF_ACT_NONE, 0},
    {1, 768, 768, F32, F32, 0, 0, 1, CLF_ACT_NONE, 0},
    {1, 131, 4099, F32, F32, 0, 0, 1, CLF_ACT_GELU, 3},
    {1, 67, 1000, F16, F32, 0, 0, 1, CLF_ACT_GELU, 1}, /* int16 x int8 GEMV: K % 32 tail */
    /* the walking GEMV (CPU family): many groups of rows, a short last block of 8 */
    {1, 1037, 200, F32, F16, -2, 0.5f, 1, CLF_ACT_GELU_TANH, 3},
    {1, 267, 2112, F16, F32, 0, 0, 1, CLF_ACT_GELU, 0}, /* one row per step (K >= 2048) */
    {2, 33, 31, F32, F32, 0, 0, 0, CLF_ACT_NONE, 1},
    {3, 13, 127, F16, F32, 0, 0, 0, CLF_ACT_RELU, 0},
    {5, 17, 32, F32, F32, 0, 0, 1, CLF_ACT_NONE, 2},
    {8, 97, 300, F32, F32, 0, 0.5f, 1, CLF_ACT_SILU, 7},
    {9, 67, 129, F32, F16, 0, 0, 1, CLF_ACT_GELU_TANH, 0},
    {13, 7, 5, F32, F32, -2, 0, 0, CLF_ACT_NONE, 1},
    {17, 19, 33, F32, F32, 0, 0, 0, CLF_ACT_NONE, 4},
    {127, 129, 65, F32, F32, 1, 0.75f, 1, CLF_ACT_TANH, 0},
    {33, 65, 4103, F32, F32, 0, 0, 1, CLF_ACT_NONE, 2},
    {70, 250, 96, F16, F16, 0, 0, 1, CLF_ACT_GELU, 5},
};

Test(gemm_q4, every_kernel_family_matches_dequantised_and_raw_references, .timeout = 600)
{
    clft_gemm_quant_all(CLF_Q4, cases, sizeof cases / sizeof cases[0], 5e-2, false);
}

/* What clf_gemm refuses for a q4 B, each with CLF_ERR_UNSUPPORTED: no
 * trans_b, a column slice, CLBlast by name; and no fill. */
Test(gemm_q4, refuses_layouts_it_cannot_scale)
{
    CLFT_EACH_DEVICE(ctx)
    {
        clf_tensor a, w, c, wc, a4;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 40}, &a), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_Q4, 2, (int64_t[]){40, 40}, &w), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 40}, &c), CLF_OK);
        clf_gemm_params p = clf_gemm_params_default();
        cr_assert_eq(clf_gemm(ctx, &a, &w, &c, &p), CLF_ERR_UNSUPPORTED);
        cr_assert(strstr(clf_context_last_error(ctx), "q4"), "%s", clf_context_last_error(ctx));
        p.trans_b = true;
        cr_assert_eq(clf_tensor_slice(&w, 1, 0, 20, &wc), CLF_OK);
        cr_assert_eq(clf_tensor_slice(&a, 1, 0, 20, &a4), CLF_OK);
        clf_tensor c20;
        cr_assert_eq(clf_tensor_slice(&c, 1, 0, 40, &c20), CLF_OK);
        cr_assert_eq(clf_gemm(ctx, &a4, &wc, &c20, &p), CLF_ERR_UNSUPPORTED, "%s",
                     clf_context_last_error(ctx));
        p.provider = CLF_GEMM_CLBLAST;
        cr_assert_neq(clf_gemm(ctx, &a, &w, &c, &p), CLF_OK);
        cr_assert_eq(clf_tensor_fill(ctx, &w, 1.0f), CLF_ERR_DTYPE);
        clf_tensor_free(&a);
        clf_tensor_free(&w);
        clf_tensor_free(&c);
    }
}

/* Round trip of a Q4 tensor: clf_tensor_write_f32 quantises exactly as
 * clf_quantize_q4 does, clf_tensor_read_q4 gives back codes and scales,
 * clf_tensor_read_f32 the dequantised values; the buffer holds codes, padding
 * to 64 bytes and scales; views are refused. */
Test(gemm_q4, tensor_round_trip_matches_host_quantiser)
{
    CLFT_EACH_DEVICE(ctx)
    {
        uint64_t seed = clft_seed();
        clft_rng rng = clft_rng_make(seed, 78);
        enum { R = 5, K = 67, G = 3 };
        float w[R * K], back[R * K], sc[R * G], sc2[R * G];
        uint8_t q[R * G * 16], q2[R * G * 16];
        clft_fill_uniform(&rng, w, R * K, -3, 3);
        for (int c = 0; c < K; c++) w[2 * K + c] = 0.0f; /* an all-zero row: scales 0 */
        clf_quantize_q4(w, R, K, q, sc, NULL);
        clf_tensor t, v;
        cr_assert_eq(clf_tensor_create(ctx, CLF_Q4, 2, (int64_t[]){R, K}, &t), CLF_OK);
        cr_assert_eq(clf_buffer_size(t.buffer), clf_q8_scale_offset(R * G * 16) + R * G * 4);
        cr_assert_eq(clf_tensor_write_f32(ctx, &t, w, R * K), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert_eq(clf_tensor_read_q4(ctx, &t, q2, sc2), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert(memcmp(q, q2, sizeof q) == 0 && memcmp(sc, sc2, sizeof sc) == 0, "seed %llu",
                  (unsigned long long)seed);
        cr_assert_eq(clf_tensor_read_f32(ctx, &t, back, R * K), CLF_OK);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < K; c++) {
                const uint8_t *b = q + (r * G + c / 32) * 16;
                int j = c % 32, nib = j < 16 ? (b[j] & 15) : (b[j - 16] >> 4);
                cr_assert_eq(back[r * K + c], (float)(nib - 8) * sc[r * G + c / 32],
                             "row %d col %d (seed %llu)", r, c, (unsigned long long)seed);
            }
        cr_assert_eq(sc[2 * G], 0.0f);
        cr_assert_eq(clf_tensor_slice(&t, 0, 1, 2, &v), CLF_OK);
        cr_assert_eq(clf_tensor_read_q4(ctx, &v, q2, sc2), CLF_ERR_INVALID_ARG);
        clf_tensor_free(&t);
    }
}

/* ---- a norm folded into the decode GEMV (clf_gemm_params.norm) ----
 * y = norm(x [+ r]) (LayerNorm or RMSNorm, gamma, beta), c = act(y W^T + bias) with a Q4
 * or row-interleaved Q8 W, against float64: clft_ref_norm's y (rounded to f32), then
 * the product with the dequantised weights, or for Q4 with y's int8 activations
 * (ref_q4_int8_row; the f32 rounding of y may move a code by one step, so 1e-6); the
 * sum x + r bitwise; C and the sum poisoned, their padding checked. Both kernel
 * families on every device; from the profile, one launch (clf_gemv) where the CPU
 * family walks (M 1), a norm and a GEMM otherwise (M 2, the GPU family). */
#include <math.h>

#include "ref/ref_gemm.h"
#include "ref/ref_norm.h"

/* The values of an (n, k) Q4 matrix's codes and scales (tensor.h, "Q4"). */
static void q4_dequantise(const void *codes, const float *sc, int64_t n, int64_t k, float *out)
{
    const int64_t g = clf_q4_groups(k);
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; c < k; c++) {
            const uint8_t *q = (const uint8_t *)codes + (r * g + c / 32) * 16;
            int j = (int)(c % 32), nib = j < 16 ? (q[j] & 15) : (q[j - 16] >> 4);
            out[r * k + c] = (float)(nib - 8) * sc[r * g + c / 32];
        }
}

typedef struct ncase {
    int64_t m, n, k;
    int rms, res, sum, beta, q8;
    clf_act act;
} ncase;

static void norm_case(clf_context *ctx, int family, const ncase *c, int idx)
{
    uint64_t seed = clft_seed();
    clft_rng rng = clft_rng_make(seed, 8100 + (uint64_t)idx);
    const int64_t M = c->m, N = c->n, K = c->k, G = clf_q4_groups(K);
    char what[200];
    snprintf(what, sizeof what, "norm case %d (%s) family %s M %lld N %lld K %lld res %d sum %d "
             "beta %d %s (seed %llu)", idx, c->rms ? "rms" : "layer",
             family == CLF_KERNELS_GPU ? "gpu" : "cpu", (long long)M, (long long)N, (long long)K,
             c->res, c->sum, c->beta, c->q8 ? "q8 packed" : "q4", (unsigned long long)seed);
    float *x = malloc((size_t)(M * K) * sizeof *x), *r = malloc((size_t)(M * K) * sizeof *r),
          *g = malloc((size_t)K * sizeof *g), *b = malloc((size_t)K * sizeof *b),
          *w = malloc((size_t)(N * K) * sizeof *w), *hb = malloc((size_t)N * sizeof *hb),
          *wdq = malloc((size_t)(N * K) * sizeof *wdq), *yf = malloc((size_t)(M * K) * sizeof *yf),
          *a8 = malloc((size_t)(M * K) * sizeof *a8), *got = malloc((size_t)(M * N) * sizeof *got),
          *sgot = malloc((size_t)(M * K) * sizeof *sgot);
    double *y = malloc((size_t)(M * K) * sizeof *y), *s = malloc((size_t)(M * K) * sizeof *s),
           *want = malloc((size_t)(M * N) * sizeof *want),
           *want8 = malloc((size_t)(M * N) * sizeof *want8);
    cr_assert(x && r && g && b && w && hb && wdq && yf && a8 && got && sgot && y && s && want &&
              want8);
    clft_fill_uniform(&rng, x, (size_t)(M * K), -2, 2);
    clft_fill_uniform(&rng, r, (size_t)(M * K), -1, 1);
    clft_fill_uniform(&rng, g, (size_t)K, 0.5f, 1.5f);
    clft_fill_uniform(&rng, b, (size_t)K, -0.2f, 0.2f);
    clft_fill_uniform(&rng, w, (size_t)(N * K), -1, 1);
    clft_fill_uniform(&rng, hb, (size_t)N, -0.5f, 0.5f);
    /* the weight, quantised on the host; its dequantised values */
    void *codes = malloc(c->q8 ? (size_t)(N * K) : (size_t)(N * G * 16));
    float *sc = malloc((size_t)(c->q8 ? N : N * G) * sizeof *sc);
    cr_assert(codes && sc);
    clf_tensor wt, wp = {0}, tx, tr, tg, tb, ts, ty, tc, tbias;
    const int64_t ws[2] = {N, K}, xs[2] = {M, K}, cs[2] = {M, N};
    cr_assert_eq(clf_tensor_create(ctx, c->q8 ? CLF_Q8 : CLF_Q4, 2, ws, &wt), CLF_OK);
    if (c->q8) {
        clf_quantize_q8(w, N, K, codes, sc, NULL);
        cr_assert_eq(clf_tensor_write_q8(ctx, &wt, codes, sc), CLF_OK);
        for (int64_t i = 0; i < N * K; i++) wdq[i] = (float)((int8_t *)codes)[i] * sc[i / K];
        cr_assert_eq(clf_gemm_pack_b(ctx, &wt, &wp), CLF_OK, "%s", clf_context_last_error(ctx));
    } else {
        clf_quantize_q4(w, N, K, codes, sc, NULL);
        cr_assert_eq(clf_tensor_write_q4(ctx, &wt, codes, sc), CLF_OK);
        q4_dequantise(codes, sc, N, K, wdq);
    }
    /* the references */
    clft_ref_norm(c->rms, x, c->res ? r : NULL, g, c->beta ? b : NULL, M, K, 1e-5, y, s);
    for (int64_t i = 0; i < M * K; i++) yf[i] = (float)y[i];
    for (int64_t i = 0; i < M; i++) ref_q4_int8_row(yf + i * K, K, a8 + i * K);
    ref_gemm(1, M, N, K, false, true, 1.0, yf, 1, wdq, 1, 0.0, NULL, hb, c->act, want);
    ref_gemm(1, M, N, K, false, true, 1.0, a8, 1, wdq, 1, 0.0, NULL, hb, c->act, want8);
    /* device tensors; c and the sum poisoned */
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, xs, &tx), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, xs, &tr), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, xs, &ts), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, xs, &ty), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, &K, &tg), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, &K, &tb), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, cs, &tc), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, &N, &tbias), CLF_OK);
    cr_assert_eq(clf_tensor_write_f32(ctx, &tx, x, M * K), CLF_OK);
    cr_assert_eq(clf_tensor_write_f32(ctx, &tr, r, M * K), CLF_OK);
    cr_assert_eq(clf_tensor_write_f32(ctx, &tg, g, K), CLF_OK);
    cr_assert_eq(clf_tensor_write_f32(ctx, &tb, b, K), CLF_OK);
    cr_assert_eq(clf_tensor_write_f32(ctx, &tbias, hb, N), CLF_OK);
    cr_assert_eq(clf_tensor_fill(ctx, &tc, NAN), CLF_OK);
    cr_assert_eq(clf_tensor_fill(ctx, &ts, NAN), CLF_OK);
    clf_profile_record rec[16];
    size_t nrec = 0;
    cr_assert_eq(clf_context_profile(ctx, rec, 16, &nrec), CLF_OK);
    clf_gemm_norm gn = {{c->rms ? CLF_NORM_RMS : CLF_NORM_LAYER, 0.0f, c->res ? &tr : NULL,
                         c->sum ? &ts : NULL},
                        &tg, c->beta ? &tb : NULL, &ty};
    clf_gemm_params p = clf_gemm_params_default();
    p.trans_b = true;
    p.bias = &tbias;
    p.act = c->act;
    p.norm = &gn;
    clf_status st = clf_gemm(ctx, &tx, c->q8 ? &wp : &wt, &tc, &p);
    cr_assert_eq(st, CLF_OK, "%s: %s", what, clf_context_last_error(ctx));
    cr_assert_eq(clf_context_profile(ctx, rec, 16, &nrec), CLF_OK);
    if (family == CLF_KERNELS_CPU && M == 1)
        cr_assert(nrec == 1 && strcmp(rec[0].kernel, "clf_gemv") == 0,
                  "%s: %zu launches (the first %s), expected the folded clf_gemv alone", what, nrec,
                  nrec ? rec[0].kernel : "-");
    else
        cr_assert(nrec >= 2, "%s: %zu launches, expected the norm and the GEMM", what, nrec);
    cr_assert_eq(clf_tensor_read_f32(ctx, &tc, got, M * N), CLF_OK);
    double e = clft_nmse(got, want, (size_t)(M * N)), e8 = clft_nmse(got, want8, (size_t)(M * N));
    cr_assert(e < 1e-8 || (!c->q8 && e8 < 1e-6),
              "%s: NMSE %.3g against the f32 activations, %.3g against int8 ones", what, e, e8);
    if (c->sum) {
        cr_assert_eq(clf_tensor_read_f32(ctx, &ts, sgot, M * K), CLF_OK);
        for (int64_t i = 0; i < M * K; i++)
            cr_assert(sgot[i] == (float)s[i], "%s: sum element %lld: %g, want %g", what,
                      (long long)i, sgot[i], s[i]);
    }
    clf_tensor *all[] = {&wt, &wp, &tx, &tr, &tg, &tb, &ts, &ty, &tc, &tbias};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        clf_tensor_free(all[i]);
    free(x), free(r), free(g), free(b), free(w), free(hb), free(wdq), free(yf), free(a8);
    free(got), free(sgot), free(y), free(s), free(want), free(want8), free(codes), free(sc);
}

Test(gemm_q4, a_norm_folded_into_the_decode_gemv_matches_norm_then_gemm, .timeout = 300)
{
    static const ncase cases[] = {
        /* m n k rms res sum beta q8 act */
        {1, 1037, 203, 0, 1, 1, 1, 0, CLF_ACT_GELU_TANH}, /* many groups, K % 8 = 3 */
        {1, 150, 200, 1, 0, 0, 0, 0, CLF_ACT_NONE},       /* RMSNorm, nothing else */
        {1, 267, 2112, 0, 1, 0, 1, 0, CLF_ACT_GELU},      /* one row at a time */
        {1, 96, 768, 0, 1, 1, 1, 1, CLF_ACT_NONE},        /* interleaved Q8 */
        {1, 5, 1, 0, 1, 1, 0, 0, CLF_ACT_RELU},           /* K 1: y is 0 (x - mean) */
        {2, 37, 64, 0, 1, 1, 1, 0, CLF_ACT_NONE},         /* M 2: never folded */
    };
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < nd; d++)
        for (int f = CLF_KERNELS_CPU; f <= CLF_KERNELS_GPU; f++) {
            clf_context *ctx = clft_context_family(specs[d], (clf_kernel_family)f, true);
            for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                norm_case(ctx, f, &cases[i], (int)i);
            clf_context_free(ctx);
        }
}

/* ---- the walking GEMV's shared counter (kernels/gemv.cl CLF_GDYN) ----
 * With more blocks of rows than compute units the CPU family's walking GEMV launches one
 * work-group per unit, and they take blocks from a counter tagged with the launch's epoch
 * (clf__work_counter). Q4 and row-interleaved Q8 weights, N 1037 (9 blocks of the default
 * 128 rows; more on a device of more than 8 compute units): the context's epoch moves by one per launch, and not in a dry run; the output,
 * poisoned before each launch, matches float64 (as in norm_case) and then stays bit for bit
 * the same after a counter left mid-way by an earlier launch (its epoch, 3 blocks taken),
 * one left past the end, and 4100 launches (the epoch wraps at 4095). A launch that trusted
 * a stale count would leave rows NaN. */
#include "runtime/runtime.h"

static void counter_launch(clf_context *ctx, clf_tensor *a, clf_tensor *w, clf_tensor *c,
                           const clf_gemm_params *p, int64_t n, float *got, const char *what)
{
    cr_assert_eq(clf_tensor_fill(ctx, c, NAN), CLF_OK);
    cl_uint before = ctx->work_epoch;
    cr_assert_eq(clf_gemm(ctx, a, w, c, p), CLF_OK, "%s: %s", what, clf_context_last_error(ctx));
    cr_assert_eq(ctx->work_epoch, before % 4095 + 1, "%s: the launch did not take the counter",
                 what);
    cr_assert_eq(clf_tensor_read_f32(ctx, c, got, n), CLF_OK);
}

static void set_counter(clf_context *ctx, cl_uint value)
{
    cr_assert(ctx->work_counter);
    cr_assert_eq(clEnqueueWriteBuffer(ctx->queue, ctx->work_counter, CL_TRUE, 0, sizeof value,
                                      &value, 0, NULL, NULL),
                 CL_SUCCESS);
}

Test(gemm_q4, the_walking_gemv_shares_its_rows_through_an_epoch_tagged_counter, .timeout = 300)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    enum { K = 200, G = 7 };
    for (int d = 0; d < nd; d++)
        for (int q8 = 0; q8 <= 1; q8++) {
            clf_context *ctx = clft_context_family(specs[d], CLF_KERNELS_CPU, false);
            /* more blocks of rows than compute units, whatever the device: at least 1037
             * rows, and two blocks more than units with a short last one */
            const int cus = ctx->info.compute_units > 1 ? (int)ctx->info.compute_units : 1;
            const int N = 1037 > ctx->kprof.int_gemv_rows * (cus + 1) + 13
                              ? 1037
                              : ctx->kprof.int_gemv_rows * (cus + 1) + 13;
            uint64_t seed = clft_seed();
            clft_rng rng = clft_rng_make(seed, 8200 + (uint64_t)q8);
            char what[160];
            snprintf(what, sizeof what, "%.31s %s N %d K %d (seed %llu)", specs[d],
                     q8 ? "q8 packed" : "q4", N, K, (unsigned long long)seed);
            float *w = malloc(sizeof(float) * N * K), *wdq = malloc(sizeof(float) * N * K),
                  *x = malloc(sizeof(float) * K), *x8 = malloc(sizeof(float) * K),
                  *first = malloc(sizeof(float) * N), *got = malloc(sizeof(float) * N),
                  *sc = malloc(sizeof(float) * N * G);
            uint8_t *codes = malloc((size_t)N * K);
            double *want = malloc(sizeof(double) * N), *want8 = malloc(sizeof(double) * N);
            cr_assert(w && wdq && x && x8 && first && got && sc && codes && want && want8);
            clft_fill_uniform(&rng, w, (size_t)N * K, -1, 1);
            clft_fill_uniform(&rng, x, K, -2, 2);
            clf_tensor tw, tp = {0}, ta, tc;
            cr_assert_eq(clf_tensor_create(ctx, q8 ? CLF_Q8 : CLF_Q4, 2, (int64_t[]){N, K}, &tw),
                         CLF_OK);
            if (q8) {
                clf_quantize_q8(w, N, K, (int8_t *)codes, sc, NULL);
                cr_assert_eq(clf_tensor_write_q8(ctx, &tw, (int8_t *)codes, sc), CLF_OK);
                for (int64_t i = 0; i < (int64_t)N * K; i++)
                    wdq[i] = (float)((int8_t *)codes)[i] * sc[i / K];
                cr_assert_eq(clf_gemm_pack_b(ctx, &tw, &tp), CLF_OK, "%s", clf_context_last_error(ctx));
            } else {
                clf_quantize_q4(w, N, K, codes, sc, NULL);
                cr_assert_eq(clf_tensor_write_q4(ctx, &tw, codes, sc), CLF_OK);
                q4_dequantise(codes, sc, N, K, wdq);
            }
            ref_q4_int8_row(x, K, x8);
            ref_gemm(1, 1, N, K, false, true, 1.0, x, 1, wdq, 1, 0.0, NULL, NULL, CLF_ACT_NONE, want);
            ref_gemm(1, 1, N, K, false, true, 1.0, x8, 1, wdq, 1, 0.0, NULL, NULL, CLF_ACT_NONE,
                     want8);
            cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){1, K}, &ta), CLF_OK);
            cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){1, N}, &tc), CLF_OK);
            cr_assert_eq(clf_tensor_write_f32(ctx, &ta, x, K), CLF_OK);
            clf_gemm_params p = clf_gemm_params_default();
            p.trans_b = true;
            clf_tensor *b = q8 ? &tp : &tw;
            counter_launch(ctx, &ta, b, &tc, &p, N, first, what);
            double e = clft_nmse(first, want, N), e8 = clft_nmse(first, want8, N);
            cr_assert(e < 1e-8 || (!q8 && e8 < 1e-6), "%s: NMSE %.3g (int8 activations %.3g)",
                      what, e, e8);
            /* stale counters: the last launch's epoch, mid-way and past the end */
            const cl_uint stale[] = {3, 0xFFFFF};
            for (int s = 0; s < 2; s++) {
                set_counter(ctx, ctx->work_epoch << 20 | stale[s]);
                counter_launch(ctx, &ta, b, &tc, &p, N, got, what);
                cr_assert(memcmp(got, first, sizeof(float) * N) == 0,
                          "%s: after a stale counter (%u blocks taken) the output differs", what,
                          stale[s]);
            }
            /* a dry run (a graph's warm-up) enqueues nothing and leaves the epoch */
            cl_uint e0 = ctx->work_epoch;
            ctx->dry_run = true;
            cr_assert_eq(clf_gemm(ctx, &ta, b, &tc, &p), CLF_OK);
            ctx->dry_run = false;
            cr_assert_eq(ctx->work_epoch, e0, "%s: a dry run moved the epoch", what);
            /* the epoch wraps */
            for (int i = 0; i < 4100; i++)
                cr_assert_eq(clf_gemm(ctx, &ta, b, &tc, &p), CLF_OK);
            counter_launch(ctx, &ta, b, &tc, &p, N, got, what);
            cr_assert(memcmp(got, first, sizeof(float) * N) == 0,
                      "%s: after 4100 launches the output differs", what);
            clf_tensor *all[] = {&tw, &tp, &ta, &tc};
            for (size_t i = 0; i < 4; i++)
                clf_tensor_free(all[i]);
            free(w), free(wdq), free(x), free(x8), free(first), free(got), free(sc), free(codes);
            free(want), free(want8);
            clf_context_free(ctx);
        }
}
