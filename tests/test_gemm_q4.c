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
