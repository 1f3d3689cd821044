/*
 * Device tests for clf_softmax against the float64 reference of
 * tests/ref/ref_softmax.c: rows of 1 to 65536 columns, primes, batches,
 * padded views with offsets, gaps and an innermost stride of 2, every f32/f16
 * mix of x, y and mask, scale, (rows, cols) and key-padding masks with -inf
 * entries, causal (including rows with nothing visible), log-softmax, fully
 * masked rows, in place, errors.
 *
 * Thresholds (NMSE): 1e-7 with the output stored as f32 (inputs are already
 * rounded to their storage, so only f32 arithmetic differs from the
 * reference), 1e-3 with the output stored as f16. Infinities (masked
 * log-softmax entries) must match exactly (clft_nmse).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ref/ref_padded.h"
#include "ref/ref_softmax.h"

typedef struct shape_case {
    int ndim;
    int64_t shape[4];
    int64_t lead, gap, inner; /* the padded layout: see ref_padded.h */
} shape_case;

/* 1, primes, non-multiples of the work-group sizes (16..256), > 4096 and
 * 65536 columns, batches, more rows than columns (causal rows with nothing
 * visible), views with offsets, gaps and an innermost stride of 2. */
static const shape_case SHAPES[] = {
    {1, {1}, 0, 0, 1},           {1, {7}, 2, 0, 1},         {2, {3, 13}, 3, 2, 1},
    {2, {2, 127}, 1, 0, 2},      {3, {4, 5, 33}, 0, 1, 1},  {4, {2, 2, 3, 100}, 5, 3, 1},
    {3, {2, 9, 4}, 1, 1, 1},     {2, {2, 4097}, 1, 1, 1},   {2, {1, 65536}, 3, 0, 1},
};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

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

typedef struct run_opts {
    clf_dtype xdt, ydt, mdt;
    float scale;      /* 0 = 1 */
    int mask;         /* 0 none, 1 (rows, cols), 2 (lead..., 1, ..., cols) key padding */
    int causal, log;
    int in_place;
    int masked_row;   /* mask row 0 entirely -inf */
} run_opts;

/* One softmax on one shape with one set of options, against float64. */
static void check_softmax(clf_context *ctx, const shape_case *sc, const run_opts *o,
                          uint64_t stream)
{
    clft_rng rng = clft_rng_make(clft_seed(), stream);
    clft_padded px, py, pm;
    clft_padded_make(ctx, o->xdt, sc->ndim, sc->shape, sc->lead, sc->gap, sc->inner, &px);
    const int64_t n = px.numel, C = sc->shape[sc->ndim - 1];
    const int64_t R = sc->ndim >= 2 ? sc->shape[sc->ndim - 2] : 1;
    float *x = malloc((size_t)n * sizeof *x), *out = malloc((size_t)n * sizeof *out);
    double *ref = malloc((size_t)n * sizeof *ref);
    cr_assert(x && out && ref);
    clft_fill_uniform(&rng, x, (size_t)n, -1.0f, 1.0f);
    clft_padded_set(&px, x);
    clft_padded_upload(ctx, &px);

    int m_ndim = 0;
    int64_t m_shape[4] = {1, 1, 1, 1};
    float *m = NULL;
    if (o->mask == 1) { /* (rows, cols); (cols) for a 1-D x */
        m_ndim = sc->ndim >= 2 ? 2 : 1;
        m_shape[0] = m_ndim == 2 ? R : C;
        m_shape[1] = C;
    } else if (o->mask == 2) { /* x's leading sizes, 1 for the rows, then cols */
        m_ndim = sc->ndim;
        for (int d = 0; d < sc->ndim; d++) m_shape[d] = sc->shape[d];
        if (sc->ndim >= 2) m_shape[sc->ndim - 2] = 1;
    }
    if (m_ndim) {
        int64_t mn = 1;
        for (int d = 0; d < m_ndim; d++) mn *= m_shape[d];
        m = malloc((size_t)mn * sizeof *m);
        cr_assert(m);
        for (int64_t i = 0; i < mn; i++) {
            /* About one entry in eight masked out, the rest small biases. */
            m[i] = (clft_next(&rng) & 7) == 0 ? -INFINITY : clft_uniform(&rng, -1.0f, 1.0f);
        }
        if (o->masked_row)
            for (int64_t c = 0; c < C; c++) m[c] = -INFINITY;
        clft_padded_make(ctx, o->mdt, m_ndim, m_shape, 2, 1, 1, &pm);
        clft_padded_set(&pm, m);
        clft_padded_upload(ctx, &pm);
    }

    clft_padded *target = &px;
    if (!o->in_place) {
        clft_padded_make(ctx, o->ydt, sc->ndim, sc->shape, sc->lead + 2, sc->gap + 1, 1, &py);
        clft_padded_upload(ctx, &py); /* NaN in the view, sentinels around it */
        target = &py;
    }
    clf_softmax_params p = {.scale = o->scale, .mask = m ? &pm.view : NULL,
                            .causal = o->causal, .log = o->log};
    clf_status st = clf_softmax(ctx, &px.view, &target->view, &p);
    char sh[128], opts[400];
    snprintf(opts, sizeof opts, "%s x %s -> y %s, mask %d (%s)%s, scale %g, causal %d, log %d%s",
             shape_str(sc, sh, sizeof sh), clf_dtype_name(o->xdt),
             clf_dtype_name(target->view.dtype), o->mask, clf_dtype_name(o->mdt),
             o->masked_row ? " row 0 all -inf" : "", o->scale, o->causal, o->log,
             o->in_place ? ", in place" : "");
    cr_assert_eq(st, CLF_OK, "softmax %s: %s (seed %llu)", opts, clf_context_last_error(ctx),
                 (unsigned long long)clft_seed());
    int64_t bad = clft_padded_download(ctx, target, out);
    clft_ref_softmax(sc->ndim, sc->shape, x, o->scale == 0 ? 1.0 : o->scale, m_ndim, m_shape, m,
                     o->causal, o->log, ref);
    double e = clft_nmse(out, ref, (size_t)n);
    double thr = threshold(target->view.dtype);
    cr_assert(e <= thr, "softmax %s: NMSE %.3g > %.0e (seed %llu)", opts, e, thr,
              (unsigned long long)clft_seed());
    cr_assert_eq(bad, 0, "softmax %s: %lld elements outside the output view changed (seed %llu)",
                 opts, (long long)bad, (unsigned long long)clft_seed());
    if (m) {
        int64_t mbad = clft_padded_download(ctx, &pm, m); /* the mask is read, never written */
        cr_assert_eq(mbad, 0, "softmax %s: the mask's padding changed (seed %llu)", opts,
                     (unsigned long long)clft_seed());
        clft_padded_free(&pm);
        free(m);
    }
    if (!o->in_place) clft_padded_free(&py);
    clft_padded_free(&px);
    free(x);
    free(out);
    free(ref);
}

Test(softmax, plain_rows_match_float64_on_every_shape_and_dtype_mix)
{
    static const clf_dtype pairs[][2] = {
        {CLF_F32, CLF_F32}, {CLF_F16, CLF_F16}, {CLF_F16, CLF_F32}, {CLF_F32, CLF_F16}};
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++)
            for (int di = 0; di < 4; di++) {
                run_opts o = {.xdt = pairs[di][0], .ydt = pairs[di][1]};
                check_softmax(ctx, &SHAPES[si], &o, (uint64_t)(si * 10 + di));
            }
    }
}

Test(softmax, scale_mask_causal_and_log_options_match_float64)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++) {
            const shape_case *sc = &SHAPES[si];
            uint64_t s = (uint64_t)(1000 + si * 20);
            run_opts o = {CLF_F32, CLF_F32, CLF_F32, .scale = 0.37f};
            check_softmax(ctx, sc, &o, s + 0);
            o = (run_opts){CLF_F32, CLF_F32, CLF_F32, .mask = 1};
            check_softmax(ctx, sc, &o, s + 1);
            o = (run_opts){CLF_F16, CLF_F32, CLF_F16, .mask = 1, .scale = 2.5f};
            check_softmax(ctx, sc, &o, s + 2);
            o = (run_opts){CLF_F32, CLF_F32, CLF_F32, .causal = 1};
            check_softmax(ctx, sc, &o, s + 3);
            o = (run_opts){CLF_F32, CLF_F32, CLF_F32, .log = 1};
            check_softmax(ctx, sc, &o, s + 4);
            o = (run_opts){CLF_F16, CLF_F16, CLF_F32, .log = 1, .causal = 1, .mask = 1,
                           .scale = 0.125f};
            check_softmax(ctx, sc, &o, s + 5);
            o = (run_opts){CLF_F32, CLF_F16, CLF_F32, .mask = 2, .causal = 1};
            check_softmax(ctx, sc, &o, s + 6);
            o = (run_opts){CLF_F32, CLF_F32, CLF_F16, .mask = 2, .log = 1};
            check_softmax(ctx, sc, &o, s + 7);
        }
    }
}

Test(softmax, fully_masked_rows_give_zeros_or_minus_infinity)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++)
            for (int lg = 0; lg < 2; lg++) {
                run_opts o = {CLF_F32, lg ? CLF_F16 : CLF_F32, CLF_F16, .mask = 1, .log = lg,
                              .masked_row = 1};
                check_softmax(ctx, &SHAPES[si], &o, (uint64_t)(2000 + si * 10 + lg));
            }
        /* Causal with more rows than columns: rows 0..4 of (9, 4) see nothing. */
        float out[9 * 4];
        clf_tensor x, y;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){9, 4}, &x), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){9, 4}, &y), CLF_OK);
        cr_assert_eq(clf_tensor_fill(ctx, &x, 0.5f), CLF_OK);
        for (int lg = 0; lg < 2; lg++) {
            clf_softmax_params p = {.causal = true, .log = lg};
            cr_assert_eq(clf_softmax(ctx, &x, &y, &p), CLF_OK, "%s", clf_context_last_error(ctx));
            cr_assert_eq(clf_tensor_read_f32(ctx, &y, out, 36), CLF_OK);
            for (int r = 0; r < 9; r++)
                for (int c = 0; c < 4; c++) {
                    int visible = c <= r - 5, n_vis = r - 4;
                    float want = !visible ? (lg ? -INFINITY : 0.0f)
                                          : (lg ? -logf((float)n_vis) : 1.0f / (float)n_vis);
                    cr_assert(fabsf(out[r * 4 + c] - want) <= 1e-6f || out[r * 4 + c] == want,
                              "causal (9,4) log %d: [%d][%d] = %g, want %g", lg, r, c,
                              out[r * 4 + c], want);
                }
        }
        clf_tensor_free(&x);
        clf_tensor_free(&y);
    }
}

Test(softmax, works_in_place)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++)
            for (int dt = 0; dt < 2; dt++) {
                clf_dtype d = dt ? CLF_F16 : CLF_F32;
                run_opts o = {d, d, CLF_F32, .in_place = 1, .mask = 1, .causal = dt};
                check_softmax(ctx, &SHAPES[si], &o, (uint64_t)(3000 + si * 10 + dt));
                o = (run_opts){d, d, CLF_F32, .in_place = 1, .log = 1, .scale = 3.0f};
                check_softmax(ctx, &SHAPES[si], &o, (uint64_t)(3100 + si * 10 + dt));
            }
    }
}

Test(softmax, is_stable_for_large_inputs)
{
    CLFT_EACH_DEVICE(ctx)
    {
        /* Logits around 1e4 overflow exp() unless the row maximum is
         * subtracted first. */
        const int64_t C = 300;
        float x[2 * 300], out[2 * 300];
        double ref[2 * 300];
        clft_rng rng = clft_rng_make(clft_seed(), 4000);
        for (int i = 0; i < 2 * C; i++) x[i] = 1e4f + 50.0f * clft_uniform(&rng, -1, 1);
        clf_tensor tx, ty;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){2, C}, &tx), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){2, C}, &ty), CLF_OK);
        cr_assert_eq(clf_tensor_write_f32(ctx, &tx, x, 2 * C), CLF_OK);
        for (int lg = 0; lg < 2; lg++) {
            clf_softmax_params p = {.log = lg};
            cr_assert_eq(clf_softmax(ctx, &tx, &ty, &p), CLF_OK);
            cr_assert_eq(clf_tensor_read_f32(ctx, &ty, out, 2 * C), CLF_OK);
            clft_ref_softmax(2, (int64_t[]){2, C}, x, 1.0, 0, NULL, NULL, 0, lg, ref);
            double e = clft_nmse(out, ref, (size_t)(2 * C));
            cr_assert(e <= 1e-7, "logits ~1e4 (2,300) log %d: NMSE %.3g > 1e-7 (seed %llu)", lg,
                      e, (unsigned long long)clft_seed());
        }
        clf_tensor_free(&tx);
        clf_tensor_free(&ty);
    }
}

Test(softmax, bad_arguments_return_the_documented_status_naming_the_op)
{
    CLFT_EACH_DEVICE(ctx)
    {
        clf_tensor x, y, z, ids, mbad, mgood, big;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 3, (int64_t[]){2, 4, 8}, &x), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 3, (int64_t[]){2, 4, 8}, &y), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 3, (int64_t[]){2, 8, 4}, &z), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 3, (int64_t[]){2, 4, 8}, &ids), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){8, 4}, &mbad), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 8}, &mgood), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){80}, &big), CLF_OK);
        clf_context *other = clft_context(specs_[d_], NULL);
        clf_tensor foreign;
        cr_assert_eq(clf_tensor_create(other, CLF_F32, 2, (int64_t[]){4, 8}, &foreign), CLF_OK);

#define EXPECT(call, status)                                                                       \
    do {                                                                                           \
        clf_status st_ = (call);                                                                   \
        cr_assert_eq(st_, status, "%s returned %s, expected %s", #call, clf_status_name(st_),       \
                     clf_status_name(status));                                                     \
        cr_assert(strstr(clf_context_last_error(ctx), "clf_softmax"),                             \
                  "%s: message \"%s\" lacks clf_softmax", #call, clf_context_last_error(ctx));     \
    } while (0)

        clf_softmax_params p = {0};
        EXPECT(clf_softmax(ctx, &x, &z, NULL), CLF_ERR_SHAPE);
        EXPECT(clf_softmax(ctx, &ids, &y, NULL), CLF_ERR_DTYPE);
        EXPECT(clf_softmax(ctx, &x, &ids, NULL), CLF_ERR_DTYPE);
        EXPECT(clf_softmax(ctx, NULL, &y, NULL), CLF_ERR_INVALID_ARG);
        EXPECT(clf_softmax(ctx, &x, NULL, NULL), CLF_ERR_INVALID_ARG);
        EXPECT(clf_softmax(ctx, &foreign, &y, NULL), CLF_ERR_CONTEXT);
        p.mask = &mbad;
        EXPECT(clf_softmax(ctx, &x, &y, &p), CLF_ERR_SHAPE);
        p.mask = &ids;
        EXPECT(clf_softmax(ctx, &x, &y, &p), CLF_ERR_DTYPE);
        p.mask = &foreign;
        EXPECT(clf_softmax(ctx, &x, &y, &p), CLF_ERR_CONTEXT);
        /* A mask with more dimensions than x. */
        clf_tensor m3;
        cr_assert_eq(clf_tensor_view(&big, 4, (int64_t[]){2, 2, 4, 8}, (int64_t[]){0, 0, 8, 1}, 0, &m3),
                     CLF_OK);
        p.mask = &m3;
        EXPECT(clf_softmax(ctx, &x, &y, &p), CLF_ERR_SHAPE);
        /* y overlapping the mask (it would be overwritten while read). */
        clf_tensor y_as_mask;
        cr_assert_eq(clf_tensor_view(&y, 2, (int64_t[]){4, 8}, (int64_t[]){8, 1}, 0, &y_as_mask),
                     CLF_OK);
        p.mask = &y_as_mask;
        EXPECT(clf_softmax(ctx, &x, &y, &p), CLF_ERR_INVALID_ARG);
        /* Partial overlap of x and y. */
        clf_tensor v0, v1;
        cr_assert_eq(clf_tensor_view(&big, 2, (int64_t[]){4, 8}, (int64_t[]){8, 1}, 0, &v0), CLF_OK);
        cr_assert_eq(clf_tensor_view(&big, 2, (int64_t[]){4, 8}, (int64_t[]){8, 1}, 8, &v1), CLF_OK);
        EXPECT(clf_softmax(ctx, &v0, &v1, NULL), CLF_ERR_INVALID_ARG);
        cr_assert_eq(clf_softmax(NULL, &x, &y, NULL), CLF_ERR_INVALID_ARG);
        /* The good mask still works after all that. */
        p.mask = &mgood;
        cr_assert_eq(clf_softmax(ctx, &x, &y, &p), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert_eq(clf_context_finish(ctx), CLF_OK);
#undef EXPECT
        clf_tensor_free(&foreign);
        clf_context_free(other);
        clf_tensor_free(&x);
        clf_tensor_free(&y);
        clf_tensor_free(&z);
        clf_tensor_free(&ids);
        clf_tensor_free(&mbad);
        clf_tensor_free(&mgood);
        clf_tensor_free(&big);
    }
}
