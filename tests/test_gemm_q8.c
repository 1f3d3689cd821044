/*
 * Q8 weights in clf_gemm (tensor.h "Q8", kernels/gemm_common.cl CLF_B_Q8): every
 * kernel that reads B (GEMV for M <= 8, the register-blocked CPU family and
 * the tiled GPU family, each family forced on every device) against a
 * float64 reference, on odd shapes (1, primes, non-multiples of the tiles and
 * work-groups, K > 4096), f32/f16 A and C, alpha/beta, fused bias and
 * activation, a row slice of the weight (its scales start past row 0), and
 * A/C views with padding that must stay untouched (C poisoned with NaN).
 *
 * Two references:
 *  - the dequantised weights (code * scale, exact in float64): only f32
 *    rounding separates the kernel (sum of a * code, times the scale) from
 *    it, so test_gemm.c's bound holds: NMSE < 1e-8 (1e-5 with f16 C);
 *  - the unquantised weights: the quantisation error itself. Uniform
 *    weights in [-1, 1) quantised with step max|w|/127 carry an error of RMS
 *    step/sqrt(12), 0.39% of their RMS, so an output's NMSE is about
 *    1.5e-5; bound 1e-4. A scale applied twice or not at all costs O(1).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ref/ref_gemm.h"
#include "ref/ref_padded.h"
#include "common/gemm_quant.h"

#define F32 CLF_F32
#define F16 CLF_F16

/* m n k da dc alpha beta bias act row0 */
static const qcase cases[] = {
    {1, 1, 1, F32, F32, 0, 0, 0, CLF_ACT_NONE, 0},
    {1, 768, 768, F32, F32, 0, 0, 1, CLF_ACT_NONE, 0},
    {1, 131, 4099, F32, F32, 0, 0, 1, CLF_ACT_GELU, 3},
    {1, 67, 1000, F16, F32, 0, 0, 1, CLF_ACT_GELU, 1}, /* int16 x int8 GEMV: edge, K % 16 */
    {3, 13, 127, F16, F32, 0, 0, 0, CLF_ACT_RELU, 0},
    {8, 97, 300, F32, F32, 0, 0.5f, 1, CLF_ACT_SILU, 7},
    {9, 67, 129, F32, F16, 0, 0, 1, CLF_ACT_GELU_TANH, 0},
    {13, 7, 5, F32, F32, -2, 0, 0, CLF_ACT_NONE, 1},
    {127, 129, 65, F32, F32, 1, 0.75f, 1, CLF_ACT_TANH, 0},
    {33, 65, 4103, F32, F32, 0, 0, 1, CLF_ACT_NONE, 2},
    {70, 250, 96, F16, F16, 0, 0, 1, CLF_ACT_GELU, 5},
};

Test(gemm_q8, every_kernel_family_matches_dequantised_and_raw_references, .timeout = 600)
{
    clft_gemm_quant_all(CLF_Q8, cases, sizeof cases / sizeof cases[0], 1e-4, false);
}

/* The same cases with the weight packed (clf_gemm_pack_b: rows interleaved
 * in groups of the GEMV's columns per work-item, K in steps of 16, the
 * scales copied behind; the plain tensor freed after packing, so only the
 * packed copy can give the result): the GEMV (M <= 8, split-K in the GPU
 * family) and the register kernel (above) read it, in both families, the
 * same two bounds. N and K not multiples of the group or of 16, row
 * slices (the scales from row0). */
Test(gemm_q8, packed_weights_match_the_same_references, .timeout = 600)
{
    clft_gemm_quant_all(CLF_Q8, cases, sizeof cases / sizeof cases[0], 1e-4, true);
}

/* What clf_gemm refuses for a q8 B, each with CLF_ERR_UNSUPPORTED: no
 * trans_b (the scales are per row, not per output column), a column slice
 * (rows no longer whole), and CLBlast asked for by name. */
Test(gemm_q8, refuses_layouts_it_cannot_scale)
{
    CLFT_EACH_DEVICE(ctx)
    {
        clf_tensor a, w, c, wc;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 8}, &a), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_Q8, 2, (int64_t[]){8, 8}, &w), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 8}, &c), CLF_OK);
        clf_gemm_params p = clf_gemm_params_default();
        cr_assert_eq(clf_gemm(ctx, &a, &w, &c, &p), CLF_ERR_UNSUPPORTED);
        cr_assert(strstr(clf_context_last_error(ctx), "q8"), "%s", clf_context_last_error(ctx));
        p.trans_b = true;
        cr_assert_eq(clf_tensor_slice(&w, 1, 0, 4, &wc), CLF_OK);
        cr_assert_eq(clf_gemm(ctx, &a, &wc, &c, &p), CLF_ERR_SHAPE); /* K 4 != 8 */
        clf_tensor a4;
        cr_assert_eq(clf_tensor_slice(&a, 1, 0, 4, &a4), CLF_OK);
        cr_assert_eq(clf_gemm(ctx, &a4, &wc, &c, &p), CLF_ERR_UNSUPPORTED, "%s",
                     clf_context_last_error(ctx));
        p.provider = CLF_GEMM_CLBLAST;
        cr_assert_neq(clf_gemm(ctx, &a, &w, &c, &p), CLF_OK);
        cr_assert_eq(clf_tensor_fill(ctx, &w, 1.0f), CLF_ERR_DTYPE);
        clf_tensor_free(&a);
        clf_tensor_free(&w);
        clf_tensor_free(&c);
    }
}

/* Round trip of a Q8 tensor: clf_tensor_write_f32 quantises exactly as
 * clf_quantize_q8 does, clf_tensor_read_q8 gives back codes and scales,
 * clf_tensor_read_f32 the dequantised values; views are refused. */
Test(gemm_q8, tensor_round_trip_matches_host_quantiser)
{
    CLFT_EACH_DEVICE(ctx)
    {
        uint64_t seed = clft_seed();
        clft_rng rng = clft_rng_make(seed, 77);
        enum { R = 5, K = 67 };
        float w[R * K], back[R * K], sc[R], sc2[R];
        int8_t q[R * K], q2[R * K];
        clft_fill_uniform(&rng, w, R * K, -3, 3);
        for (int c = 0; c < K; c++) w[2 * K + c] = 0.0f; /* an all-zero row: scale 0 */
        clf_quantize_q8(w, R, K, q, sc, NULL);
        clf_tensor t, v;
        cr_assert_eq(clf_tensor_create(ctx, CLF_Q8, 2, (int64_t[]){R, K}, &t), CLF_OK);
        cr_assert_eq(clf_buffer_size(t.buffer), clf_q8_scale_offset(R * K) + R * 4);
        cr_assert_eq(clf_tensor_write_f32(ctx, &t, w, R * K), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert_eq(clf_tensor_read_q8(ctx, &t, q2, sc2), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert(memcmp(q, q2, sizeof q) == 0 && memcmp(sc, sc2, sizeof sc) == 0, "seed %llu",
                  (unsigned long long)seed);
        cr_assert_eq(clf_tensor_read_f32(ctx, &t, back, R * K), CLF_OK);
        for (int i = 0; i < R * K; i++)
            cr_assert_eq(back[i], (float)q[i] * sc[i / K], "element %d (seed %llu)", i,
                         (unsigned long long)seed);
        cr_assert_eq(sc[2], 0.0f);
        cr_assert_eq(clf_tensor_slice(&t, 0, 1, 2, &v), CLF_OK);
        cr_assert_eq(clf_tensor_read_q8(ctx, &v, q2, sc2), CLF_ERR_INVALID_ARG);
        clf_tensor_free(&t);
    }
}
