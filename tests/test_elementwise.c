/*
 * Device tests for clf_activation, clf_scale and clf_add against the float64
 * references of tests/ref/ref_elementwise.c: shapes from 1 to > 4096, primes,
 * batches, padded views with offsets, gaps and an innermost stride of 2,
 * permuted views, every f32/f16 storage mix, in place, broadcasting, errors.
 *
 * Thresholds (NMSE): 1e-7 when the output is stored as f32 (inputs already
 * rounded to their storage, so only f32 arithmetic separates us from the
 * reference), 1e-3 when the output is stored as f16.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ref/ref_elementwise.h"
#include "ref/ref_padded.h"

typedef struct shape_case {
    int ndim;
    int64_t shape[4];
    int64_t lead, gap, inner; /* the padded layout: see ref_padded.h */
} shape_case;

/* 1, primes, non-multiples of 64/256, > 4096, batches, 4-D, offsets, gaps,
 * an innermost stride of 2. */
static const shape_case SHAPES[] = {
    {1, {1}, 0, 0, 1},          {1, {7}, 3, 0, 1},           {1, {13}, 1, 0, 2},
    {1, {127}, 0, 0, 1},        {2, {3, 65}, 5, 3, 1},       {3, {2, 3, 257}, 2, 1, 1},
    {1, {5003}, 9, 0, 1},       {4, {2, 2, 3, 33}, 4, 2, 2}, {2, {1, 4097}, 0, 0, 1},
};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

static const clf_dtype DT_PAIRS[][2] = {
    {CLF_F32, CLF_F32}, {CLF_F16, CLF_F16}, {CLF_F16, CLF_F32}, {CLF_F32, CLF_F16}};

static const char *shape_str(const shape_case *s, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < s->ndim; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? "," : "",
                                 (long long)s->shape[d]);
    snprintf(buf + used, size - used, ") lead %lld gap %lld inner %lld", (long long)s->lead,
             (long long)s->gap, (long long)s->inner);
    return buf;
}

static double threshold(clf_dtype out) { return out == CLF_F16 ? 1e-3 : 1e-7; }

static const char *ACT_NAMES[] = {"none", "relu", "gelu", "gelu_tanh", "silu", "tanh"};

/* One unary op (act >= 0: clf_activation, act < 0: clf_scale by s) on one
 * shape and dtype pair, out of place or in place, checked against float64. */
static void check_unary(clf_context *ctx, const shape_case *sc, clf_dtype xdt, clf_dtype ydt,
                        int act, float s, int in_place, uint64_t stream)
{
    clft_rng rng = clft_rng_make(clft_seed(), stream);
    clft_padded px, py;
    clft_padded_make(ctx, xdt, sc->ndim, sc->shape, sc->lead, sc->gap, sc->inner, &px);
    int64_t n = px.numel;
    float *x = malloc((size_t)n * sizeof *x), *out = malloc((size_t)n * sizeof *out);
    double *ref = malloc((size_t)n * sizeof *ref);
    cr_assert(x && out && ref);
    /* [-5, 5] reaches the saturated tails of gelu and silu, where a wrong
     * formula shows; [-1, 1] alone would hide the difference. With an f16
     * output [-3, 3]: f16 cannot hold the far tail (gelu_tanh(-5) = -2.3e-7
     * is subnormal there, in 25% steps), and on a one-element shape the NMSE
     * would then measure the storage, not the kernel. */
    const float lim = (in_place ? xdt : ydt) == CLF_F16 ? 3.0f : 5.0f;
    clft_fill_uniform(&rng, x, (size_t)n, -lim, lim);
    clft_padded_set(&px, x);
    clft_padded_upload(ctx, &px);
    clf_tensor *y = &px.view;
    if (!in_place) {
        clft_padded_make(ctx, ydt, sc->ndim, sc->shape, sc->lead + 1, sc->gap + 1, sc->inner,
                         &py);
        clft_padded_upload(ctx, &py); /* NaN in the view, sentinels around it */
        y = &py.view;
    }
    clf_status st = act >= 0 ? clf_activation(ctx, (clf_act)act, &px.view, y)
                             : clf_scale(ctx, &px.view, s, y);
    char sh[128];
    const char *what = act >= 0 ? ACT_NAMES[act] : "scale";
    cr_assert_eq(st, CLF_OK, "%s %s %s->%s: %s (seed %llu)", what, shape_str(sc, sh, sizeof sh),
                 clf_dtype_name(xdt), clf_dtype_name(ydt), clf_context_last_error(ctx),
                 (unsigned long long)clft_seed());
    int64_t bad = clft_padded_download(ctx, in_place ? &px : &py, out);
    if (act >= 0)
        clft_ref_activation(act, x, ref, (size_t)n);
    else
        clft_ref_scale(x, s, ref, (size_t)n);
    double e = clft_nmse(out, ref, (size_t)n);
    clf_dtype odt = in_place ? xdt : ydt;
    cr_assert(e <= threshold(odt),
              "%s %s %s->%s%s: NMSE %.3g > %.0e (seed %llu)", what, shape_str(sc, sh, sizeof sh),
              clf_dtype_name(xdt), clf_dtype_name(odt), in_place ? " in place" : "", e,
              threshold(odt), (unsigned long long)clft_seed());
    cr_assert_eq(bad, 0, "%s %s %s->%s: %lld elements outside the output view changed (seed %llu)",
                 what, shape_str(sc, sh, sizeof sh), clf_dtype_name(xdt), clf_dtype_name(odt),
                 (long long)bad, (unsigned long long)clft_seed());
    if (!in_place) clft_padded_free(&py);
    clft_padded_free(&px);
    free(x);
    free(out);
    free(ref);
}

Test(elementwise, every_activation_matches_float64_on_every_shape_and_dtype_mix)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++)
            for (int di = 0; di < 4; di++)
                for (int act = CLF_ACT_NONE; act <= CLF_ACT_TANH; act++)
                    check_unary(ctx, &SHAPES[si], DT_PAIRS[di][0], DT_PAIRS[di][1], act, 0,
                                0, (uint64_t)(si * 100 + di * 10 + act));
    }
}

Test(elementwise, activation_tails_keep_their_relative_accuracy)
{
    CLFT_EACH_DEVICE(ctx)
    {
        /* gelu(-5) = -1.4e-6: written as 0.5 x (1 + erf) or 0.5 x (1 + tanh)
         * the tail cancels to 0 in f32. Each element within 1e-5 relative. */
        enum { N = 73 };
        float x[N], out[N];
        double ref[N];
        for (int i = 0; i < N; i++) x[i] = -9.0f + 0.25f * (float)i;
        clf_tensor tx, ty;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){N}, &tx), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){N}, &ty), CLF_OK);
        cr_assert_eq(clf_tensor_write_f32(ctx, &tx, x, N), CLF_OK);
        for (int act = CLF_ACT_RELU; act <= CLF_ACT_TANH; act++) {
            cr_assert_eq(clf_activation(ctx, (clf_act)act, &tx, &ty), CLF_OK, "%s",
                         clf_context_last_error(ctx));
            cr_assert_eq(clf_tensor_read_f32(ctx, &ty, out, N), CLF_OK);
            clft_ref_activation(act, x, ref, N);
            for (int i = 0; i < N; i++)
                cr_assert(fabs(out[i] - ref[i]) <= 1e-5 * fabs(ref[i]),
                          "%s(%g) = %.9g, float64 %.9g", ACT_NAMES[act], x[i], out[i], ref[i]);
        }
        clf_tensor_free(&tx);
        clf_tensor_free(&ty);
    }
}

Test(elementwise, scale_matches_float64_on_every_shape_and_dtype_mix)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++)
            for (int di = 0; di < 4; di++) {
                check_unary(ctx, &SHAPES[si], DT_PAIRS[di][0], DT_PAIRS[di][1], -1, -1.75f, 0,
                            (uint64_t)(1000 + si * 10 + di));
                check_unary(ctx, &SHAPES[si], DT_PAIRS[di][0], DT_PAIRS[di][1], -1, 0.0f, 0,
                            (uint64_t)(2000 + si * 10 + di));
            }
    }
}

Test(elementwise, activation_and_scale_work_in_place)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++)
            for (int dt = 0; dt < 2; dt++) {
                clf_dtype d = dt ? CLF_F16 : CLF_F32;
                check_unary(ctx, &SHAPES[si], d, d, CLF_ACT_GELU, 0, 1,
                            (uint64_t)(3000 + si * 10 + dt));
                check_unary(ctx, &SHAPES[si], d, d, -1, 3.0f, 1, (uint64_t)(4000 + si * 10 + dt));
            }
    }
}

/* y = a + b with b of b_shape (broadcast over a's leading dimensions where
 * b lacks them or has size 1). in_place: 0 = new y, 1 = y is a, 2 = y is b. */
static void check_add(clf_context *ctx, const shape_case *sc, int b_ndim, const int64_t *b_shape,
                      clf_dtype adt, clf_dtype bdt, clf_dtype ydt, int in_place, uint64_t stream)
{
    clft_rng rng = clft_rng_make(clft_seed(), stream);
    clft_padded pa, pb, py;
    clft_padded_make(ctx, adt, sc->ndim, sc->shape, sc->lead, sc->gap, sc->inner, &pa);
    clft_padded_make(ctx, bdt, b_ndim, b_shape, 2, 1, 1, &pb);
    int64_t n = pa.numel;
    float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)pb.numel * sizeof *b);
    float *out = malloc((size_t)n * sizeof *out);
    double *ref = malloc((size_t)n * sizeof *ref);
    cr_assert(a && b && out && ref);
    clft_fill_uniform(&rng, a, (size_t)n, -1.0f, 1.0f);
    clft_fill_uniform(&rng, b, (size_t)pb.numel, -1.0f, 1.0f);
    clft_padded_set(&pa, a);
    clft_padded_set(&pb, b);
    clft_padded_upload(ctx, &pa);
    clft_padded_upload(ctx, &pb);
    clft_padded *target = &py;
    if (in_place == 1) {
        target = &pa;
    } else if (in_place == 2) {
        target = &pb;
    } else {
        clft_padded_make(ctx, ydt, sc->ndim, sc->shape, 1, 2, 1, &py);
        clft_padded_upload(ctx, &py);
    }
    clf_status st = clf_add(ctx, &pa.view, &pb.view, &target->view);
    char sh[128];
    cr_assert_eq(st, CLF_OK, "add %s b %lld-D %s+%s->%s: %s (seed %llu)",
                 shape_str(sc, sh, sizeof sh), (long long)b_ndim, clf_dtype_name(adt),
                 clf_dtype_name(bdt), clf_dtype_name(target->view.dtype),
                 clf_context_last_error(ctx), (unsigned long long)clft_seed());
    int64_t bad = clft_padded_download(ctx, target, out);
    clft_ref_add(sc->ndim, sc->shape, a, b_ndim, b_shape, b, ref);
    double e = clft_nmse(out, ref, (size_t)n);
    clf_dtype odt = target->view.dtype;
    cr_assert(e <= threshold(odt), "add %s b %d-D [%lld..] %s+%s->%s (in place %d): NMSE %.3g > %.0e (seed %llu)",
              shape_str(sc, sh, sizeof sh), b_ndim, (long long)b_shape[0], clf_dtype_name(adt),
              clf_dtype_name(bdt), clf_dtype_name(odt), in_place, e, threshold(odt),
              (unsigned long long)clft_seed());
    cr_assert_eq(bad, 0, "add %s: %lld elements outside the output view changed (seed %llu)",
                 shape_str(sc, sh, sizeof sh), (long long)bad, (unsigned long long)clft_seed());
    if (!in_place) clft_padded_free(&py);
    clft_padded_free(&pa);
    clft_padded_free(&pb);
    free(a);
    free(b);
    free(out);
    free(ref);
}

Test(elementwise, add_matches_float64_same_shape_and_every_dtype_mix)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++)
            for (int m = 0; m < 8; m++) {
                clf_dtype a = (m & 1) ? CLF_F16 : CLF_F32, b = (m & 2) ? CLF_F16 : CLF_F32,
                          y = (m & 4) ? CLF_F16 : CLF_F32;
                check_add(ctx, &SHAPES[si], SHAPES[si].ndim, SHAPES[si].shape, a, b, y, 0,
                          (uint64_t)(5000 + si * 10 + m));
            }
    }
}

Test(elementwise, add_broadcasts_a_bias_and_size_one_dimensions)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++) {
            const shape_case *sc = &SHAPES[si];
            const int64_t *inner = &sc->shape[sc->ndim - 1];
            /* A bias (N) for (..., N), in f32 and f16. */
            check_add(ctx, sc, 1, inner, CLF_F32, CLF_F32, CLF_F32, 0, (uint64_t)(6000 + si));
            check_add(ctx, sc, 1, inner, CLF_F16, CLF_F32, CLF_F16, 0, (uint64_t)(6100 + si));
            /* (1, N) for (..., N), in place on a. */
            int64_t one_n[2] = {1, *inner};
            if (sc->ndim >= 2)
                check_add(ctx, sc, 2, one_n, CLF_F32, CLF_F16, CLF_F32, 1, (uint64_t)(6200 + si));
            /* (B, 1, N) for (B, S, N): a per-batch row. */
            if (sc->ndim >= 3) {
                int64_t b3[3] = {sc->shape[sc->ndim - 3], 1, *inner};
                check_add(ctx, sc, 3, b3, CLF_F32, CLF_F32, CLF_F32, 0, (uint64_t)(6300 + si));
            }
            /* A column (R, 1) for (R, N). */
            if (sc->ndim >= 2) {
                int64_t col[2] = {sc->shape[sc->ndim - 2], 1};
                check_add(ctx, sc, 2, col, CLF_F32, CLF_F32, CLF_F16, 0, (uint64_t)(6400 + si));
            }
        }
    }
}

Test(elementwise, add_works_in_place_on_either_operand)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++)
            for (int dt = 0; dt < 2; dt++) {
                clf_dtype d = dt ? CLF_F16 : CLF_F32;
                check_add(ctx, &SHAPES[si], SHAPES[si].ndim, SHAPES[si].shape, d, d, d, 1,
                          (uint64_t)(7000 + si * 10 + dt));
                check_add(ctx, &SHAPES[si], SHAPES[si].ndim, SHAPES[si].shape, d, d, d, 2,
                          (uint64_t)(7100 + si * 10 + dt));
            }
    }
}

Test(elementwise, permuted_input_view_is_read_through_its_strides)
{
    CLFT_EACH_DEVICE(ctx)
    {
        /* x stored (13, 70) with a row gap, read as its transpose (70, 13);
         * y is a dense (70, 13): y[i][j] = relu-free copy of x[j][i]. */
        clft_rng rng = clft_rng_make(clft_seed(), 8000);
        clft_padded px;
        clft_padded_make(ctx, CLF_F16, 2, (int64_t[]){13, 70}, 3, 5, 1, &px);
        float x[13 * 70], out[13 * 70];
        double ref[13 * 70];
        clft_fill_uniform(&rng, x, 13 * 70, -1, 1);
        clft_padded_set(&px, x);
        clft_padded_upload(ctx, &px);
        clf_tensor xt, y;
        cr_assert_eq(clf_tensor_permute(&px.view, (int[]){1, 0}, &xt), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){70, 13}, &y), CLF_OK);
        cr_assert_eq(clf_activation(ctx, CLF_ACT_NONE, &xt, &y), CLF_OK, "%s",
                     clf_context_last_error(ctx));
        cr_assert_eq(clf_tensor_read_f32(ctx, &y, out, 13 * 70), CLF_OK);
        for (int i = 0; i < 70; i++)
            for (int j = 0; j < 13; j++) ref[i * 13 + j] = x[j * 70 + i];
        double e = clft_nmse(out, ref, 13 * 70);
        cr_assert(e <= 1e-10, "transposed copy (13,70)^T f16->f32: NMSE %.3g > 1e-10 (seed %llu)",
                  e, (unsigned long long)clft_seed());
        clf_tensor_free(&y);
        clft_padded_free(&px);
    }
}

Test(elementwise, bad_arguments_return_the_documented_status_naming_the_op)
{
    CLFT_EACH_DEVICE(ctx)
    {
        clf_tensor x, y, z, ids, b_bad, big;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 8}, &x), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 8}, &y), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){8, 4}, &z), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, (int64_t[]){4, 8}, &ids), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){3}, &b_bad), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){40}, &big), CLF_OK);
        clf_context *other = clft_context(specs_[d_], NULL);
        clf_tensor foreign;
        cr_assert_eq(clf_tensor_create(other, CLF_F32, 2, (int64_t[]){4, 8}, &foreign), CLF_OK);

#define EXPECT(call, status, opname)                                                               \
    do {                                                                                           \
        clf_status st_ = (call);                                                                   \
        cr_assert_eq(st_, status, "%s returned %s, expected %s", #call, clf_status_name(st_),       \
                     clf_status_name(status));                                                     \
        cr_assert(strstr(clf_context_last_error(ctx), opname), "%s: message \"%s\" lacks %s",     \
                  #call, clf_context_last_error(ctx), opname);                                     \
    } while (0)

        EXPECT(clf_activation(ctx, CLF_ACT_RELU, &x, &z), CLF_ERR_SHAPE, "clf_activation");
        EXPECT(clf_activation(ctx, CLF_ACT_RELU, &ids, &y), CLF_ERR_DTYPE, "clf_activation");
        EXPECT(clf_activation(ctx, CLF_ACT_RELU, &x, &ids), CLF_ERR_DTYPE, "clf_activation");
        EXPECT(clf_activation(ctx, CLF_ACT_RELU, NULL, &y), CLF_ERR_INVALID_ARG, "clf_activation");
        EXPECT(clf_activation(ctx, CLF_ACT_RELU, &x, NULL), CLF_ERR_INVALID_ARG, "clf_activation");
        EXPECT(clf_activation(ctx, (clf_act)99, &x, &y), CLF_ERR_INVALID_ARG, "clf_activation");
        EXPECT(clf_activation(ctx, CLF_ACT_RELU, &foreign, &y), CLF_ERR_CONTEXT, "clf_activation");
        EXPECT(clf_scale(ctx, &x, 2.0f, &z), CLF_ERR_SHAPE, "clf_scale");
        EXPECT(clf_scale(ctx, &ids, 2.0f, &y), CLF_ERR_DTYPE, "clf_scale");
        EXPECT(clf_scale(ctx, &x, 2.0f, NULL), CLF_ERR_INVALID_ARG, "clf_scale");
        EXPECT(clf_scale(ctx, &x, 2.0f, &foreign), CLF_ERR_CONTEXT, "clf_scale");
        EXPECT(clf_add(ctx, &x, &b_bad, &y), CLF_ERR_SHAPE, "clf_add");
        EXPECT(clf_add(ctx, &x, &z, &y), CLF_ERR_SHAPE, "clf_add");
        EXPECT(clf_add(ctx, &x, &x, &z), CLF_ERR_SHAPE, "clf_add");
        EXPECT(clf_add(ctx, &x, &ids, &y), CLF_ERR_DTYPE, "clf_add");
        EXPECT(clf_add(ctx, &x, NULL, &y), CLF_ERR_INVALID_ARG, "clf_add");
        EXPECT(clf_add(ctx, &x, &foreign, &y), CLF_ERR_CONTEXT, "clf_add");
        /* b with more dimensions than a cannot broadcast. */
        clf_tensor b3;
        cr_assert_eq(clf_tensor_view(&big, 3, (int64_t[]){1, 4, 8}, (int64_t[]){32, 8, 1}, 0, &b3),
                     CLF_OK);
        EXPECT(clf_add(ctx, &x, &b3, &y), CLF_ERR_SHAPE, "clf_add");
        /* Partial overlap: y shifted by one element over x's buffer. */
        clf_tensor v0, v1;
        cr_assert_eq(clf_tensor_view(&big, 2, (int64_t[]){4, 8}, (int64_t[]){8, 1}, 0, &v0), CLF_OK);
        cr_assert_eq(clf_tensor_view(&big, 2, (int64_t[]){4, 8}, (int64_t[]){8, 1}, 1, &v1), CLF_OK);
        EXPECT(clf_activation(ctx, CLF_ACT_SILU, &v0, &v1), CLF_ERR_INVALID_ARG, "clf_activation");
        EXPECT(clf_add(ctx, &x, &v0, &v1), CLF_ERR_INVALID_ARG, "clf_add");
        /* A bias that y would overwrite while other rows still read it. */
        clf_tensor bias_in_y;
        cr_assert_eq(clf_tensor_view(&y, 1, (int64_t[]){8}, (int64_t[]){1}, 0, &bias_in_y), CLF_OK);
        EXPECT(clf_add(ctx, &x, &bias_in_y, &y), CLF_ERR_INVALID_ARG, "clf_add");
        cr_assert_eq(clf_activation(NULL, CLF_ACT_RELU, &x, &y), CLF_ERR_INVALID_ARG);
        cr_assert_eq(clf_add(NULL, &x, &x, &y), CLF_ERR_INVALID_ARG);
#undef EXPECT
        clf_tensor_free(&foreign);
        clf_context_free(other);
        clf_tensor_free(&x);
        clf_tensor_free(&y);
        clf_tensor_free(&z);
        clf_tensor_free(&ids);
        clf_tensor_free(&b_bad);
        clf_tensor_free(&big);
    }
}
