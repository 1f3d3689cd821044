/* Device tests of clf_argmax and clf_topk: exact indices against a full sort,
 * row-split (two-pass) and single-pass shapes, views with offsets and
 * strides, f32 and f16 logits, ties, -inf and NaN, and the error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ref/ref_strided.h"
#include "ref/ref_topk.h"

typedef struct rows_case {
    int64_t R, V, k;
    int transposed; /* x stored (V, R) and viewed as (R, V): column stride R + pad */
} rows_case;

/* Rows of distinct values: a random permutation of V levels per row, exact
 * in the storage dtype (f16: integers with |x| <= 2048, so V <= 4096). */
static void distinct_rows(clft_rng *r, clf_dtype dt, int64_t R, int64_t V, float *x)
{
    int64_t *perm = malloc((size_t)V * sizeof *perm);
    for (int64_t row = 0; row < R; row++) {
        for (int64_t i = 0; i < V; i++) perm[i] = i;
        for (int64_t i = V - 1; i > 0; i--) {
            int64_t j = (int64_t)(clft_next(r) % (uint64_t)(i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int64_t c = 0; c < V; c++)
            x[row * V + c] = dt == CLF_F16 ? (float)(perm[c] - V / 2)
                                           : (float)perm[c] / (float)V * 2.0f - 1.0f;
    }
    free(perm);
}

/* Uploads x (R, V) into a padded (optionally transposed) view. */
static void upload_x(clf_context *ctx, clf_dtype dt, const rows_case *c, const float *x, pbuf *xb,
                     clf_tensor *xv)
{
    static const int tperm[2] = {1, 0};
    const int64_t shape[2] = {c->R, c->V};
    pbuf_make_view(ctx, dt, 2, shape, c->transposed ? tperm : NULL, 3, 17, xb, xv);
    pbuf_set(xb, xv, x);
    pbuf_upload(ctx, xb);
}

static void check_argmax(clf_context *ctx, clf_dtype dt, const rows_case *c, const float *x,
                         const char *tag)
{
    char what[160];
    snprintf(what, sizeof what, "%s: x %s (%lld, %lld)%s", tag, clf_dtype_name(dt),
             (long long)c->R, (long long)c->V, c->transposed ? " transposed" : "");
    pbuf xb, ib;
    clf_tensor xv, iv;
    upload_x(ctx, dt, c, x, &xb, &xv);
    /* idx: a 1-D view with stride 3 at offset 2; the gaps are sentinels. */
    pbuf_make(ctx, CLF_I32, 3 * c->R + 5, &ib);
    const int64_t stride = 3;
    cr_assert_eq(clf_tensor_view(&ib.base, 1, &c->R, &stride, 2, &iv), CLF_OK);
    float *got = malloc((size_t)c->R * sizeof *got);
    int32_t *ref = malloc((size_t)c->R * sizeof *ref);
    for (int64_t r = 0; r < c->R; r++) got[r] = -99.0f; /* poison: no valid index */
    pbuf_set(&ib, &iv, got);
    pbuf_upload(ctx, &ib);
    clf_status st = clf_argmax(ctx, &xv, &iv);
    cr_assert_eq(st, CLF_OK, "clf_argmax(%s): %s", what, clf_context_last_error(ctx));
    pbuf_fetch(ctx, &ib, &iv, got, what);
    ref_argmax(x, c->R, c->V, ref);
    for (int64_t r = 0; r < c->R; r++)
        cr_assert(got[r] == (float)ref[r], "clf_argmax(%s): row %lld gives %g, expected %d (seed %llu)",
                  what, (long long)r, got[r], ref[r], (unsigned long long)clft_seed());
    free(got);
    free(ref);
    pbuf_free(&xb);
    pbuf_free(&ib);
}

static void check_topk(clf_context *ctx, clf_dtype dt, const rows_case *c, const float *x,
                       const char *tag)
{
    char what[160];
    snprintf(what, sizeof what, "%s: x %s (%lld, %lld)%s k=%lld", tag, clf_dtype_name(dt),
             (long long)c->R, (long long)c->V, c->transposed ? " transposed" : "",
             (long long)c->k);
    const int64_t R = c->R, k = c->k, n = R * k, oshape[2] = {R, k};
    static const int tperm[2] = {1, 0};
    pbuf xb, vb, ib;
    clf_tensor xv, vv, iv;
    upload_x(ctx, dt, c, x, &xb, &xv);
    pbuf_make_view(ctx, CLF_F32, 2, oshape, NULL, 2, 5, &vb, &vv);
    pbuf_make_view(ctx, CLF_I32, 2, oshape, c->transposed ? tperm : NULL, 1, 3, &ib, &iv);
    float *vals = malloc((size_t)n * sizeof *vals), *idx = malloc((size_t)n * sizeof *idx);
    double *rv = malloc((size_t)n * sizeof *rv);
    int32_t *ri = malloc((size_t)n * sizeof *ri);
    for (int64_t i = 0; i < n; i++) {
        vals[i] = NAN;
        idx[i] = -99.0f;
    }
    pbuf_set(&vb, &vv, vals);
    pbuf_set(&ib, &iv, idx);
    pbuf_upload(ctx, &vb);
    pbuf_upload(ctx, &ib);
    clf_status st = clf_topk(ctx, &xv, k, &vv, &iv);
    cr_assert_eq(st, CLF_OK, "clf_topk(%s): %s", what, clf_context_last_error(ctx));
    pbuf_fetch(ctx, &vb, &vv, vals, what);
    pbuf_fetch(ctx, &ib, &iv, idx, what);
    ref_topk(x, R, c->V, k, rv, ri);
    for (int64_t i = 0; i < n; i++) {
        cr_assert(idx[i] == (float)ri[i],
                  "clf_topk(%s): row %lld rank %lld has column %g, expected %d (seed %llu)", what,
                  (long long)(i / k), (long long)(i % k), idx[i], ri[i],
                  (unsigned long long)clft_seed());
        cr_assert((isnan(vals[i]) && isnan(rv[i])) || vals[i] == (float)rv[i],
                  "clf_topk(%s): row %lld rank %lld has value %.9g, expected %.9g (seed %llu)",
                  what, (long long)(i / k), (long long)(i % k), vals[i], rv[i],
                  (unsigned long long)clft_seed());
    }
    /* The values are inputs copied exactly (f16 converts exactly to f32):
     * the 1e-10 of exact ops. Skipped for rows with NaN (checked above). */
    bool any_nan = false;
    for (int64_t i = 0; i < n; i++) any_nan |= isnan(rv[i]);
    double e = any_nan ? 0.0 : clft_nmse(vals, rv, (size_t)n);
    cr_assert(e <= 1e-10, "clf_topk(%s): NMSE %.3g (seed %llu)", what, e,
              (unsigned long long)clft_seed());
    free(vals);
    free(idx);
    free(rv);
    free(ri);
    pbuf_free(&xb);
    pbuf_free(&vb);
    pbuf_free(&ib);
}

/* Shapes: 1, primes, non-multiples of the work-group (256), > 4096 columns,
 * vocabulary sizes (GPT-2 50257, 256000) that split rows into chunks when
 * rows are few, and many rows that do not. */
static const rows_case argmax_cases[] = {
    {1, 1, 1, 0},     {1, 7, 1, 0},      {13, 127, 1, 0},    {3, 4097, 1, 0},
    {1, 50257, 1, 0}, {2, 256000, 1, 0}, {37, 1000, 1, 1},   {8, 30001, 1, 0},
    {64, 257, 1, 0},  {1, 8191, 1, 1},
};

Test(topk, argmax_finds_the_largest_column)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clft_rng rng = clft_rng_make(clft_seed(), 20);
        for (size_t i = 0; i < LEN(argmax_cases); i++) {
            const rows_case *c = &argmax_cases[i];
            float *x = malloc((size_t)(c->R * c->V) * sizeof *x);
            distinct_rows(&rng, CLF_F32, c->R, c->V, x);
            check_argmax(ctx, CLF_F32, c, x, "distinct");
            if (c->V <= 4096) {
                distinct_rows(&rng, CLF_F16, c->R, c->V, x);
                check_argmax(ctx, CLF_F16, c, x, "distinct");
            }
            free(x);
        }
        clf_context_free(ctx);
    }
}

static const rows_case topk_cases[] = {
    {1, 1, 1, 0},       {1, 7, 7, 0},      {13, 127, 5, 0},    {3, 4097, 256, 0},
    {1, 50257, 50, 0},  {2, 256000, 256, 0}, {37, 1000, 13, 1}, {4, 20011, 100, 0},
    {1, 8192, 1, 0},    {5, 300, 256, 1},   {64, 509, 2, 0},
};

Test(topk, topk_returns_the_k_largest_in_order)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clft_rng rng = clft_rng_make(clft_seed(), 21);
        for (size_t i = 0; i < LEN(topk_cases); i++) {
            const rows_case *c = &topk_cases[i];
            float *x = malloc((size_t)(c->R * c->V) * sizeof *x);
            distinct_rows(&rng, CLF_F32, c->R, c->V, x);
            check_topk(ctx, CLF_F32, c, x, "distinct");
            if (c->V <= 4096) {
                distinct_rows(&rng, CLF_F16, c->R, c->V, x);
                check_topk(ctx, CLF_F16, c, x, "distinct");
            }
            free(x);
        }
        clf_context_free(ctx);
    }
}

/* Ties: the lower column wins, also across chunk boundaries of split rows;
 * -0 equals +0; masked (-inf) columns fill up after the finite ones; NaN
 * comes after every number; f16 logits with many equal values. */
Test(topk, ties_go_to_the_lower_column)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clft_rng rng = clft_rng_make(clft_seed(), 22);

        /* Zeros of both signs. */
        rows_case zc = {3, 1000, 10, 0};
        float *x = malloc(3 * 1000 * sizeof *x);
        for (int i = 0; i < 3000; i++) x[i] = (i % 3) ? 0.0f : -0.0f;
        check_argmax(ctx, CLF_F32, &zc, x, "zeros");
        check_topk(ctx, CLF_F32, &zc, x, "zeros");
        free(x);

        /* Equal maxima at scattered columns, so that the work-item that holds
         * the lower column is not always the lower work-item: column 200 is
         * the first of work-item 200, column 773 the fourth of work-item 5. */
        rows_case tc = {16, 1000, 4, 0};
        x = malloc(16 * 1000 * sizeof *x);
        clft_fill_uniform(&rng, x, 16 * 1000, -1.0f, 0.5f);
        x[773] = x[200] = 1.0f;
        for (int r = 1; r < 16; r++)
            for (int j = 0; j < 3; j++) x[r * 1000 + (int64_t)(clft_next(&rng) % 1000)] = 1.0f;
        check_argmax(ctx, CLF_F32, &tc, x, "scattered ties");
        check_topk(ctx, CLF_F32, &tc, x, "scattered ties");
        free(x);

        /* A split row (two passes): equal maxima in different chunks. */
        const int64_t V = 50000;
        rows_case sc = {1, V, 3, 0};
        x = malloc((size_t)V * sizeof *x);
        clft_fill_uniform(&rng, x, (size_t)V, -1.0f, 0.5f);
        const int64_t at[] = {49999, 30000, 12345, 7, 25000};
        for (size_t i = 0; i < LEN(at); i++) x[at[i]] = 1.0f;
        check_argmax(ctx, CLF_F32, &sc, x, "split-row ties");
        check_topk(ctx, CLF_F32, &sc, x, "split-row ties");
        sc.k = 256;
        check_topk(ctx, CLF_F32, &sc, x, "split-row ties");
        free(x);

        /* Masked rows: 5 finite columns, the rest -inf; k = 20. */
        rows_case mc = {2, 300, 20, 0};
        x = malloc(600 * sizeof *x);
        for (int i = 0; i < 600; i++) x[i] = -INFINITY;
        for (int i = 0; i < 5; i++) {
            x[17 + 50 * i] = clft_uniform(&rng, -1.0f, 1.0f);
            x[300 + 299 - 40 * i] = clft_uniform(&rng, -1.0f, 1.0f);
        }
        check_topk(ctx, CLF_F32, &mc, x, "masked");
        check_argmax(ctx, CLF_F32, &mc, x, "masked");
        for (int i = 0; i < 300; i++) x[i] = -INFINITY; /* a fully masked row */
        check_argmax(ctx, CLF_F32, &mc, x, "all -inf");
        check_topk(ctx, CLF_F32, &mc, x, "all -inf");

        /* NaN: never picked before a number; a row of NaN gives column 0. */
        for (int i = 0; i < 600; i++) x[i] = (i % 3 == 0) ? NAN : clft_uniform(&rng, -1.0f, 1.0f);
        for (int i = 0; i < 300; i++) x[i] = NAN;
        mc.k = 256;
        check_argmax(ctx, CLF_F32, &mc, x, "NaN");
        check_topk(ctx, CLF_F32, &mc, x, "NaN");
        mc.k = 7; /* small k: the CPU devices' one-work-item-per-row kernel */
        check_topk(ctx, CLF_F32, &mc, x, "NaN, k = 7");
        free(x);

        /* f16 logits: 50000 values from about 30000 levels, many ties. */
        rows_case hc[] = {{1, 50000, 256, 0}, {3, 5000, 64, 1}};
        for (size_t i = 0; i < LEN(hc); i++) {
            int64_t n = hc[i].R * hc[i].V;
            x = malloc((size_t)n * sizeof *x);
            random_values(&rng, CLF_F16, x, n);
            check_argmax(ctx, CLF_F16, &hc[i], x, "f16 ties");
            check_topk(ctx, CLF_F16, &hc[i], x, "f16 ties");
            free(x);
        }
        clf_context_free(ctx);
    }
}

Test(topk, rejects_bad_arguments_with_the_documented_status)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clf_context *other = clft_context(specs[dev], NULL);
        const int64_t xs[2] = {3, 10}, r3[1] = {3}, r4[1] = {4}, k4[2] = {3, 4}, k5[2] = {3, 5};
        const int64_t x3s[3] = {1, 3, 10}, k11[2] = {3, 11};
        clf_tensor x, xi, x3, idx, idx4, idxf, vals, inds, vals5, valsh, indsf, xo, vals11, inds11;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, xs, &x), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, xs, &xi), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 3, x3s, &x3), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 1, r3, &idx), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 1, r4, &idx4), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, r3, &idxf), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, k4, &vals), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, k4, &inds), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, k5, &vals5), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F16, 2, k4, &valsh), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, k4, &indsf), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, k11, &vals11), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, k11, &inds11), CLF_OK);
        cr_assert_eq(clf_tensor_create(other, CLF_F32, 2, xs, &xo), CLF_OK);
        const char *op = "clf_argmax";
        cr_assert_eq(clf_argmax(NULL, &x, &idx), CLF_ERR_INVALID_ARG);
        expect_error(ctx, clf_argmax(ctx, NULL, &idx), CLF_ERR_INVALID_ARG, op, "NULL x");
        expect_error(ctx, clf_argmax(ctx, &x, NULL), CLF_ERR_INVALID_ARG, op, "NULL idx");
        expect_error(ctx, clf_argmax(ctx, &xi, &idx), CLF_ERR_DTYPE, op, "i32 x");
        expect_error(ctx, clf_argmax(ctx, &x, &idxf), CLF_ERR_DTYPE, op, "f32 idx");
        expect_error(ctx, clf_argmax(ctx, &x, &idx4), CLF_ERR_SHAPE, op, "idx (4) for 3 rows");
        expect_error(ctx, clf_argmax(ctx, &x3, &idx), CLF_ERR_SHAPE, op, "3-D x");
        expect_error(ctx, clf_argmax(ctx, &xo, &idx), CLF_ERR_CONTEXT, op, "x of another context");
        /* idx as i32 over the same buffer as x: overlap. */
        clf_tensor alias;
        cr_assert_eq(clf_tensor_on(x.buffer, CLF_I32, 1, r3, 0, &alias), CLF_OK);
        expect_error(ctx, clf_argmax(ctx, &x, &alias), CLF_ERR_INVALID_ARG, op, "idx overlaps x");

        op = "clf_topk";
        cr_assert_eq(clf_topk(NULL, &x, 4, &vals, &inds), CLF_ERR_INVALID_ARG);
        expect_error(ctx, clf_topk(ctx, NULL, 4, &vals, &inds), CLF_ERR_INVALID_ARG, op, "NULL x");
        expect_error(ctx, clf_topk(ctx, &x, 4, NULL, &inds), CLF_ERR_INVALID_ARG, op, "NULL values");
        expect_error(ctx, clf_topk(ctx, &x, 4, &vals, NULL), CLF_ERR_INVALID_ARG, op, "NULL indices");
        expect_error(ctx, clf_topk(ctx, &x, 0, &vals, &inds), CLF_ERR_INVALID_ARG, op, "k = 0");
        expect_error(ctx, clf_topk(ctx, &x, 257, &vals, &inds), CLF_ERR_INVALID_ARG, op, "k = 257");
        expect_error(ctx, clf_topk(ctx, &x, 11, &vals11, &inds11), CLF_ERR_SHAPE, op, "k = 11 > V = 10");
        expect_error(ctx, clf_topk(ctx, &x, 4, &vals5, &inds), CLF_ERR_SHAPE, op, "values (3, 5) for k = 4");
        expect_error(ctx, clf_topk(ctx, &x, 5, &vals5, &inds), CLF_ERR_SHAPE, op, "indices (3, 4) for k = 5");
        expect_error(ctx, clf_topk(ctx, &xi, 4, &vals, &inds), CLF_ERR_DTYPE, op, "i32 x");
        expect_error(ctx, clf_topk(ctx, &x, 4, &valsh, &inds), CLF_ERR_DTYPE, op, "f16 values");
        expect_error(ctx, clf_topk(ctx, &x, 4, &vals, &indsf), CLF_ERR_DTYPE, op, "f32 indices");
        expect_error(ctx, clf_topk(ctx, &x3, 4, &vals, &inds), CLF_ERR_SHAPE, op, "3-D x");
        expect_error(ctx, clf_topk(ctx, &xo, 4, &vals, &inds), CLF_ERR_CONTEXT, op, "x of another context");
        clf_tensor ialias;
        cr_assert_eq(clf_tensor_on(vals.buffer, CLF_I32, 2, k4, 0, &ialias), CLF_OK);
        expect_error(ctx, clf_topk(ctx, &x, 4, &vals, &ialias), CLF_ERR_INVALID_ARG, op, "values overlap indices");
        cr_assert_eq(clf_topk(ctx, &x, 4, &vals, &inds), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert_eq(clf_argmax(ctx, &x, &idx), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert_eq(clf_context_finish(ctx), CLF_OK, "%s", clf_context_last_error(ctx));

        clf_tensor *all[] = {&x, &xi, &x3, &idx, &idx4, &idxf, &vals, &inds, &vals5, &valsh,
                             &indsf, &vals11, &inds11};
        for (size_t i = 0; i < LEN(all); i++) clf_tensor_free(all[i]);
        clf_tensor_free(&xo);
        clf_context_free(ctx);
        clf_context_free(other);
    }
}
