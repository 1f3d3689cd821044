/*
 * Packed GEMM weights (clf_gemm_pack_b, kernels/gemm_pack.cl, and the
 * register kernel's CLF_B_PACKED path): products with a packed b against the
 * float64 reference (tests/common/gemm_case.c: padded, poisoned views, the
 * bounds explained there) on sizes that cross every panel edge (1, primes,
 * non-multiples of the panel widths and row blocks, K above 4096), every
 * epilogue, f32 and f16 weights, TRANS_A, M of 1 and 2 (the smaller row
 * blocks); the packed bytes against the documented layout; and every misuse
 * refused. Q8 and Q4 weights are not packed (they keep their own layouts and
 * kernels). Few distinct programs (3 GEMM, 2 pack; f16 weights in the M <= 4
 * one): CI runs this suite about 8 times and Intel's runtime compiles each.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gemm_case.h"
#include "common/testutil.h"

#define F32 CLF_F32
#define F16 CLF_F16

/* batch m n k ta tb da db dc alpha beta bias act b_shared packed */
static const gcase packed[] = {
    {1, 1, 1, 1, 0, 1, F32, F32, F32, 0, 0, 0, CLF_ACT_NONE, 0, 1},
    {1, 7, 13, 127, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_GELU, 0, 1},
    {1, 13, 7, 5, 0, 1, F32, F32, F32, 0.5f, 0, 1, CLF_ACT_RELU, 0, 1},
    {1, 127, 131, 67, 0, 1, F32, F32, F32, 1, 0.75f, 1, CLF_ACT_GELU_TANH, 0, 1},
    {1, 64, 48, 64, 0, 1, F32, F32, F32, -1.5f, 0, 0, CLF_ACT_SILU, 0, 1},
    {1, 13, 37, 4103, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_NONE, 0, 1},
    {1, 5, 97, 300, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_TANH, 0, 1},
    {1, 29, 250, 96, 0, 1, F32, F32, F32, 0, 0.5f, 1, CLF_ACT_GELU, 0, 1},
    {2, 9, 50, 33, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_NONE, 1, 1},
    {3, 2, 13, 17, 1, 1, F32, F16, F32, 1, 0, 0, CLF_ACT_RELU, 1, 1},
    {1, 4, 70, 45, 1, 1, F32, F16, F32, 0, 0, 1, CLF_ACT_GELU_TANH, 0, 1},
    {1, 25, 64, 96, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_GELU, 0, 1},
};

Test(gemm_pack, packed_weights_match_reference_on_odd_shapes, .timeout = 300)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (size_t i = 0; i < sizeof packed / sizeof packed[0]; i++)
            gemm_case_run(ctx, &packed[i], CLF_GEMM_BUILTIN, (int)i);
        /* auto must take the builtin provider for a packed b */
        gemm_case_run(ctx, &packed[1], CLF_GEMM_AUTO, 100);
    }
}

/* The packed bytes are the documented layout (ops.h, docs/gemm_kernels.md):
 * element (n, k) at ((n / RN) * (Kp / RV) + k / RV) * RN * RV + (n % RN) * RV
 * + k % RV, zeros elsewhere. RN and RV are not public: they are inferred from
 * the buffer size over several shapes and must give the same answer. */
Test(gemm_pack, packed_bytes_follow_the_panel_layout)
{
    CLFT_EACH_DEVICE(ctx)
    {
        const int64_t n = 7, k = 20;
        float w[7 * 20];
        for (int i = 0; i < n * k; i++)
            w[i] = (float)(i + 1);
        clf_tensor t, p;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){n, k}, &t), CLF_OK);
        cr_assert_eq(clf_tensor_write_f32(ctx, &t, w, n * k), CLF_OK);
        cr_assert_eq(clf_gemm_pack_b(ctx, &t, &p), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert(clf_tensor_is_packed(&p) && !clf_tensor_is_packed(&t));
        cr_assert_eq(p.shape[0], n);
        cr_assert_eq(p.shape[1], k);
        size_t bytes = clf_buffer_size(p.buffer);
        /* Find (RN, RV) among the kernel tiles the profile can choose. */
        static const int tiles[][2] = {{32, 1}, {16, 1}};
        int rn = 0, rv = 0;
        for (int c = 0; c < 2; c++) {
            int64_t np = (n + tiles[c][0] - 1) / tiles[c][0] * tiles[c][0];
            int64_t kp = (k + tiles[c][1] - 1) / tiles[c][1] * tiles[c][1];
            if ((size_t)(np * kp * 4) == bytes) rn = tiles[c][0], rv = tiles[c][1];
        }
        cr_assert(rn > 0, "packed buffer of %zu bytes fits no known tile", bytes);
        int64_t kp = (k + rv - 1) / rv * rv;
        float *got = malloc(bytes);
        clf_tensor whole; /* the padded panels: more elements than p's (N, K) */
        cr_assert_eq(
            clf_tensor_on(p.buffer, CLF_F32, 1, (int64_t[]){(int64_t)bytes / 4}, 0, &whole),
            CLF_OK);
        cr_assert_eq(clf_tensor_read(ctx, &whole, got, bytes, true), CLF_OK, "%s",
                     clf_context_last_error(ctx));
        for (size_t e = 0; e < bytes / 4; e++) {
            int64_t panel = (int64_t)e / (rn * kp), r = (int64_t)e % (rn * kp);
            int64_t step = r / (rn * rv), j = r % (rn * rv) / rv, v = r % rv;
            int64_t row = panel * rn + j, col = step * rv + v;
            float want = row < n && col < k ? w[row * k + col] : 0.0f;
            cr_assert_eq(got[e], want, "element %zu (row %lld col %lld, RN %d RV %d): %g, want %g",
                         e, (long long)row, (long long)col, rn, rv, got[e], want);
        }
        free(got);
        clf_tensor_free(&p);
        clf_tensor_free(&t);
    }
}

static void expect(clf_context *ctx, clf_status got, clf_status want, const char *what,
                   const char *needle)
{
    const char *msg = clf_context_last_error(ctx);
    cr_assert_eq(got, want, "%s: status %d, want %d (%s)", what, (int)got, (int)want, msg);
    cr_assert(strstr(msg, needle), "%s: message \"%s\" does not name \"%s\"", what, msg, needle);
}

Test(gemm_pack, misuse_is_refused_with_a_message)
{
    CLFT_EACH_DEVICE(ctx)
    {
        clf_tensor w, x, y, p, v, q, vec;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){10, 12}, &w), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){1, 12}, &x), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){1, 10}, &y), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_Q8, 2, (int64_t[]){10, 12}, &q), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){12}, &vec), CLF_OK);
        cr_assert_eq(clf_tensor_fill(ctx, &w, 1.0f), CLF_OK);
        cr_assert_eq(clf_tensor_fill(ctx, &x, 1.0f), CLF_OK);
        cr_assert_eq(clf_gemm_pack_b(ctx, &w, &p), CLF_OK);
        clf_gemm_params gp = clf_gemm_params_default();
        gp.trans_b = true;

        /* Q8 packs (rows interleaved, test_gemm_q8.c), and then is no longer
         * readable as rows of codes; Q4 does not pack. */
        clf_tensor q4, qp;
        cr_assert_eq(clf_tensor_create(ctx, CLF_Q4, 2, (int64_t[]){10, 64}, &q4), CLF_OK);
        cr_assert_eq(clf_gemm_pack_b(ctx, &q, &qp), CLF_OK, "%s", clf_context_last_error(ctx));
        int8_t codes[120];
        float scales[10];
        expect(ctx, clf_tensor_read_q8(ctx, &qp, codes, scales), CLF_ERR_UNSUPPORTED,
               "read_q8 of packed", "packed");
        clf_tensor_free(&qp);
        expect(ctx, clf_gemm_pack_b(ctx, &q4, &v), CLF_ERR_DTYPE, "pack q4", "w");
        cr_assert_null(v.buffer, "a failed pack leaves *out zeroed");
        clf_tensor_free(&q4);
        expect(ctx, clf_gemm_pack_b(ctx, &vec, &v), CLF_ERR_SHAPE, "pack 1-D", "w");
        expect(ctx, clf_gemm_pack_b(ctx, &p, &v), CLF_ERR_UNSUPPORTED, "pack packed", "packed");
        expect(ctx, clf_gemm_pack_b(ctx, &w, NULL), CLF_ERR_INVALID_ARG, "NULL out", "out");
        cr_assert_eq(clf_gemm_pack_b(NULL, &w, &v), CLF_ERR_INVALID_ARG, "NULL ctx");
        cr_assert(strstr(clf_context_last_error(NULL), "context"), "%s",
                  clf_context_last_error(NULL));
        cr_assert_eq(clf_tensor_view(&w, 2, (int64_t[]){10, 6}, (int64_t[]){12, 2}, 0, &v), CLF_OK);
        expect(ctx, clf_gemm_pack_b(ctx, &v, &q), CLF_ERR_SHAPE, "strided rows", "contiguous");

        gp.trans_b = false;
        expect(ctx, clf_gemm(ctx, &x, &p, &y, &gp), CLF_ERR_SHAPE, "no trans_b, K mismatch", "b");
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){1, 12}, &v), CLF_OK);
        clf_tensor x10;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){1, 10}, &x10), CLF_OK);
        expect(ctx, clf_gemm(ctx, &x10, &p, &v, &gp), CLF_ERR_UNSUPPORTED, "no trans_b", "packed");
        gp.trans_b = true;
        clf_tensor rows;
        cr_assert_eq(clf_tensor_slice(&p, 0, 2, 5, &rows), CLF_OK);
        clf_tensor y5;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){1, 5}, &y5), CLF_OK);
        expect(ctx, clf_gemm(ctx, &x, &rows, &y5, &gp), CLF_ERR_UNSUPPORTED, "row slice", "packed");
        gp.provider = CLF_GEMM_CLBLAST;
        expect(ctx, clf_gemm(ctx, &x, &p, &y, &gp), CLF_ERR_UNSUPPORTED, "clblast", "packed");
        gp.provider = CLF_GEMM_AUTO;
        expect(ctx, clf_gemm(ctx, &p, &x, &y, &gp), CLF_ERR_UNSUPPORTED, "packed as a", "packed");
        expect(ctx, clf_copy(ctx, &p, &w), CLF_ERR_UNSUPPORTED, "copy of packed", "packed");
        cr_assert_eq(clf_gemm(ctx, &x, &p, &y, &gp), CLF_OK, "%s", clf_context_last_error(ctx));
        float out[10];
        cr_assert_eq(clf_tensor_read_f32(ctx, &y, out, 10), CLF_OK);
        for (int i = 0; i < 10; i++)
            cr_assert_eq(out[i], 12.0f, "y[%d] = %g, want 12", i, out[i]);
        clf_tensor *all[] = {&w, &x, &y, &p, &q, &vec, &v, &x10, &y5};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            clf_tensor_free(all[i]);
    }
}
