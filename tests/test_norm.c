/*
 * Device tests for clf_norm against the float64 reference of
 * tests/ref/ref_norm.c: LayerNorm (with and without beta) and RMSNorm, rows
 * of 1 to 5000 columns, primes, batches, padded views with offsets, gaps and
 * an innermost stride of 2, every f32/f16 mix, the fused residual add with
 * and without sum_out (post-LN and pre-LN blocks), in place, a large mean,
 * errors.
 *
 * Thresholds (NMSE): 1e-7 with the output stored as f32 (inputs already
 * rounded to their storage), 1e-3 with the output stored as f16; the same
 * for sum_out.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ref/ref_norm.h"
#include "ref/ref_padded.h"

typedef struct shape_case {
    int ndim;
    int64_t shape[4];
    int64_t lead, gap, inner; /* the padded layout: see ref_padded.h */
} shape_case;

/* 1, primes, non-multiples of the work-group sizes (16..256), D > 4096,
 * batches, views with offsets, gaps and an innermost stride of 2. */
static const shape_case SHAPES[] = {
    {1, {1}, 0, 0, 1},          {1, {7}, 2, 0, 1},        {2, {3, 13}, 3, 2, 1},
    {2, {2, 127}, 1, 0, 2},     {3, {4, 5, 33}, 0, 1, 1}, {4, {2, 2, 3, 100}, 5, 3, 1},
    {3, {2, 3, 768}, 1, 4, 1},  {2, {3, 5000}, 1, 1, 1},  {2, {6, 1}, 2, 1, 1},
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
    int rms;
    clf_dtype xdt, ydt, gdt;
    int beta;         /* LayerNorm: pass beta */
    int residual;     /* 0 none, else residual of dtype rdt */
    clf_dtype rdt;
    int sum_out;      /* 0 none, else sum_out of dtype sdt */
    clf_dtype sdt;
    float eps;        /* 0 = default 1e-5 */
    int alias;        /* 0 none; 1 y = x; 2 sum_out = residual; 3 y = residual, sum_out = x */
    float offset;     /* added to x: a large mean */
} run_opts;

static void check_norm(clf_context *ctx, const shape_case *sc, const run_opts *o, uint64_t stream)
{
    clft_rng rng = clft_rng_make(clft_seed(), stream);
    const int64_t D = sc->shape[sc->ndim - 1];
    clft_padded px, pr, py, ps, pg, pb;
    clft_padded_make(ctx, o->xdt, sc->ndim, sc->shape, sc->lead, sc->gap, sc->inner, &px);
    const int64_t n = px.numel, rows = n / D;
    float *x = malloc((size_t)n * sizeof *x), *r = malloc((size_t)n * sizeof *r);
    float *out = malloc((size_t)n * sizeof *out), *sout = malloc((size_t)n * sizeof *sout);
    float *g = malloc((size_t)D * sizeof *g), *b = malloc((size_t)D * sizeof *b);
    double *ref = malloc((size_t)n * sizeof *ref), *sref = malloc((size_t)n * sizeof *sref);
    cr_assert(x && r && out && sout && g && b && ref && sref);
    clft_fill_uniform(&rng, x, (size_t)n, -1.0f, 1.0f);
    for (int64_t i = 0; i < n; i++) x[i] += o->offset;
    clft_fill_uniform(&rng, r, (size_t)n, -1.0f, 1.0f);
    clft_fill_uniform(&rng, g, (size_t)D, -1.0f, 1.0f);
    clft_fill_uniform(&rng, b, (size_t)D, -1.0f, 1.0f);
    clft_padded_set(&px, x);
    clft_padded_upload(ctx, &px);
    clft_padded_make(ctx, o->gdt, 1, &D, 3, 0, 1, &pg);
    clft_padded_set(&pg, g);
    clft_padded_upload(ctx, &pg);
    if (o->beta) {
        clft_padded_make(ctx, o->gdt, 1, &D, 1, 0, 2, &pb);
        clft_padded_set(&pb, b);
        clft_padded_upload(ctx, &pb);
    }
    if (o->residual) {
        clft_padded_make(ctx, o->rdt, sc->ndim, sc->shape, sc->lead + 1, sc->gap, sc->inner, &pr);
        clft_padded_set(&pr, r);
        clft_padded_upload(ctx, &pr);
    }
    /* Outputs: fresh padded tensors (NaN inside, sentinels around) unless
     * they alias an input. */
    clft_padded *ty = &py, *ts = o->sum_out ? &ps : NULL;
    if (o->alias == 1) ty = &px;
    if (o->alias == 3) ty = &pr;
    if (ty == &py) {
        clft_padded_make(ctx, o->ydt, sc->ndim, sc->shape, sc->lead + 2, sc->gap + 1, 1, &py);
        clft_padded_upload(ctx, &py);
    }
    if (o->alias == 2) ts = &pr;
    if (o->alias == 3) ts = &px;
    if (ts == &ps) {
        clft_padded_make(ctx, o->sdt, sc->ndim, sc->shape, 4, 1, 1, &ps);
        clft_padded_upload(ctx, &ps);
    }

    clf_norm_params p = {.type = o->rms ? CLF_NORM_RMS : CLF_NORM_LAYER, .eps = o->eps,
                         .residual = o->residual ? &pr.view : NULL,
                         .sum_out = ts ? &ts->view : NULL};
    clf_status st = clf_norm(ctx, &px.view, &pg.view, o->beta ? &pb.view : NULL, &ty->view, &p);
    char sh[128], opts[400];
    snprintf(opts, sizeof opts,
             "%s %s x %s -> y %s, gamma%s %s, residual %s, sum_out %s, eps %g, alias %d, "
             "offset %g",
             o->rms ? "rms" : "layer", shape_str(sc, sh, sizeof sh), clf_dtype_name(o->xdt),
             clf_dtype_name(ty->view.dtype), o->beta ? "+beta" : "", clf_dtype_name(o->gdt),
             o->residual ? clf_dtype_name(o->rdt) : "none",
             ts ? clf_dtype_name(ts->view.dtype) : "none", o->eps, o->alias, o->offset);
    cr_assert_eq(st, CLF_OK, "norm %s: %s (seed %llu)", opts, clf_context_last_error(ctx),
                 (unsigned long long)clft_seed());
    int64_t bad = clft_padded_download(ctx, ty, out);
    int64_t sbad = ts ? clft_padded_download(ctx, ts, sout) : 0;
    double eps = o->eps == 0 ? (double)1e-5f : (double)o->eps;
    clft_ref_norm(o->rms, x, o->residual ? r : NULL, g, o->beta ? b : NULL, rows, D, eps, ref,
                  sref);
    double e = clft_nmse(out, ref, (size_t)n);
    double thr = threshold(ty->view.dtype);
    cr_assert(e <= thr, "norm %s: y NMSE %.3g > %.0e (seed %llu)", opts, e, thr,
              (unsigned long long)clft_seed());
    cr_assert_eq(bad, 0, "norm %s: %lld elements outside y changed (seed %llu)", opts,
                 (long long)bad, (unsigned long long)clft_seed());
    if (ts) {
        double es = clft_nmse(sout, sref, (size_t)n), sthr = threshold(ts->view.dtype);
        cr_assert(es <= sthr, "norm %s: sum_out NMSE %.3g > %.0e (seed %llu)", opts, es, sthr,
                  (unsigned long long)clft_seed());
        cr_assert_eq(sbad, 0, "norm %s: %lld elements outside sum_out changed (seed %llu)", opts,
                     (long long)sbad, (unsigned long long)clft_seed());
    }
    /* Inputs that are not outputs keep their padding too. */
    cr_assert_eq(clft_padded_download(ctx, &pg, g), 0, "norm %s: gamma's padding changed", opts);
    if (ty == &py) clft_padded_free(&py);
    if (ts == &ps) clft_padded_free(&ps);
    if (o->residual) clft_padded_free(&pr);
    if (o->beta) clft_padded_free(&pb);
    clft_padded_free(&pg);
    clft_padded_free(&px);
    free(x);
    free(r);
    free(out);
    free(sout);
    free(g);
    free(b);
    free(ref);
    free(sref);
}

static const clf_dtype DT_PAIRS[][2] = {
    {CLF_F32, CLF_F32}, {CLF_F16, CLF_F16}, {CLF_F16, CLF_F32}, {CLF_F32, CLF_F16}};

Test(norm, layernorm_matches_float64_on_every_shape_and_dtype_mix)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++)
            for (int di = 0; di < 4; di++) {
                run_opts o = {.xdt = DT_PAIRS[di][0], .ydt = DT_PAIRS[di][1],
                              .gdt = di == 1 ? CLF_F16 : CLF_F32, .beta = di != 2};
                check_norm(ctx, &SHAPES[si], &o, (uint64_t)(si * 10 + di));
            }
    }
}

Test(norm, rmsnorm_matches_float64_on_every_shape_and_dtype_mix)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++)
            for (int di = 0; di < 4; di++) {
                run_opts o = {.rms = 1, .xdt = DT_PAIRS[di][0], .ydt = DT_PAIRS[di][1],
                              .gdt = di == 3 ? CLF_F16 : CLF_F32, .eps = di == 0 ? 1e-6f : 0};
                check_norm(ctx, &SHAPES[si], &o, (uint64_t)(100 + si * 10 + di));
            }
    }
}

Test(norm, fused_residual_add_for_post_ln_and_pre_ln_blocks)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++) {
            uint64_t s = (uint64_t)(200 + si * 10);
            /* Post-LN: y = LN(x + residual). */
            run_opts o = {.xdt = CLF_F32, .ydt = CLF_F32, .gdt = CLF_F32, .beta = 1,
                          .residual = 1, .rdt = CLF_F32};
            check_norm(ctx, &SHAPES[si], &o, s + 0);
            /* Pre-LN: sum_out keeps x + residual for the next add. */
            o = (run_opts){.xdt = CLF_F32, .ydt = CLF_F32, .gdt = CLF_F32, .beta = 1,
                           .residual = 1, .rdt = CLF_F32, .sum_out = 1, .sdt = CLF_F32};
            check_norm(ctx, &SHAPES[si], &o, s + 1);
            o = (run_opts){.rms = 1, .xdt = CLF_F16, .ydt = CLF_F16, .gdt = CLF_F16,
                           .residual = 1, .rdt = CLF_F32, .sum_out = 1, .sdt = CLF_F32};
            check_norm(ctx, &SHAPES[si], &o, s + 2);
            o = (run_opts){.xdt = CLF_F32, .ydt = CLF_F32, .gdt = CLF_F32, .residual = 1,
                           .rdt = CLF_F16, .sum_out = 1, .sdt = CLF_F16};
            check_norm(ctx, &SHAPES[si], &o, s + 3);
            /* sum_out without a residual is a copy of x. */
            o = (run_opts){.rms = 1, .xdt = CLF_F32, .ydt = CLF_F32, .gdt = CLF_F32,
                           .sum_out = 1, .sdt = CLF_F32};
            check_norm(ctx, &SHAPES[si], &o, s + 4);
        }
    }
}

Test(norm, works_in_place_and_with_the_residual_stream_updated_in_place)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int si = 0; si < N_SHAPES; si++)
            for (int dt = 0; dt < 2; dt++) {
                clf_dtype d = dt ? CLF_F16 : CLF_F32;
                uint64_t s = (uint64_t)(300 + si * 10 + dt * 5);
                run_opts o = {.xdt = d, .ydt = d, .gdt = CLF_F32, .beta = 1, .alias = 1};
                check_norm(ctx, &SHAPES[si], &o, s + 0);
                o = (run_opts){.rms = 1, .xdt = d, .ydt = d, .gdt = d, .residual = 1, .rdt = d,
                               .sum_out = 1, .sdt = d, .alias = 1};
                check_norm(ctx, &SHAPES[si], &o, s + 1);
                o = (run_opts){.xdt = d, .ydt = CLF_F32, .gdt = CLF_F32, .beta = 1,
                               .residual = 1, .rdt = d, .sum_out = 1, .sdt = d, .alias = 2};
                check_norm(ctx, &SHAPES[si], &o, s + 2);
                o = (run_opts){.xdt = d, .ydt = d, .gdt = CLF_F32, .residual = 1, .rdt = d,
                               .sum_out = 1, .sdt = d, .alias = 3};
                check_norm(ctx, &SHAPES[si], &o, s + 3);
            }
    }
}

Test(norm, layernorm_stays_accurate_when_the_mean_dwarfs_the_spread)
{
    CLFT_EACH_DEVICE(ctx)
    {
        /* Rows around 300 with spread 1: E[s^2] - mean^2 would lose most
         * digits in f32; the two-pass variance does not. */
        const shape_case sc[] = {{2, {4, 1000}, 1, 1, 1}, {2, {2, 4999}, 0, 0, 1}};
        for (int i = 0; i < 2; i++) {
            run_opts o = {.xdt = CLF_F32, .ydt = CLF_F32, .gdt = CLF_F32, .beta = 1,
                          .offset = 300.0f};
            check_norm(ctx, &sc[i], &o, (uint64_t)(400 + i));
        }
    }
}

Test(norm, bad_arguments_return_the_documented_status_naming_the_op)
{
    CLFT_EACH_DEVICE(ctx)
    {
        clf_tensor x, y, z, ids, g, gbad, g2, big;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 8}, &x), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 8}, &y), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){8, 4}, &z), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, (int64_t[]){4, 8}, &ids), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){8}, &g), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){7}, &gbad), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){1, 8}, &g2), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){80}, &big), CLF_OK);
        clf_context *other = clft_context(specs_[d_], NULL);
        clf_tensor foreign;
        cr_assert_eq(clf_tensor_create(other, CLF_F32, 2, (int64_t[]){4, 8}, &foreign), CLF_OK);

#define EXPECT(call, status)                                                                       \
    do {                                                                                           \
        clf_status st_ = (call);                                                                   \
        cr_assert_eq(st_, status, "%s returned %s, expected %s", #call, clf_status_name(st_),       \
                     clf_status_name(status));                                                     \
        cr_assert(strstr(clf_context_last_error(ctx), "clf_norm"),                                \
                  "%s: message \"%s\" lacks clf_norm", #call, clf_context_last_error(ctx));        \
    } while (0)

        clf_norm_params p = {0}, rms = {.type = CLF_NORM_RMS};
        EXPECT(clf_norm(ctx, &x, &g, NULL, &z, NULL), CLF_ERR_SHAPE);
        EXPECT(clf_norm(ctx, &x, &gbad, NULL, &y, NULL), CLF_ERR_SHAPE);
        EXPECT(clf_norm(ctx, &x, &g2, NULL, &y, NULL), CLF_ERR_SHAPE);
        EXPECT(clf_norm(ctx, &x, &g, &gbad, &y, NULL), CLF_ERR_SHAPE);
        EXPECT(clf_norm(ctx, &ids, &g, NULL, &y, NULL), CLF_ERR_DTYPE);
        EXPECT(clf_norm(ctx, &x, &g, NULL, &ids, NULL), CLF_ERR_DTYPE);
        EXPECT(clf_norm(ctx, NULL, &g, NULL, &y, NULL), CLF_ERR_INVALID_ARG);
        EXPECT(clf_norm(ctx, &x, NULL, NULL, &y, NULL), CLF_ERR_INVALID_ARG);
        EXPECT(clf_norm(ctx, &x, &g, NULL, NULL, NULL), CLF_ERR_INVALID_ARG);
        EXPECT(clf_norm(ctx, &foreign, &g, NULL, &y, NULL), CLF_ERR_CONTEXT);
        EXPECT(clf_norm(ctx, &x, &g, NULL, &foreign, NULL), CLF_ERR_CONTEXT);
        EXPECT(clf_norm(ctx, &x, &g, &g, &y, &rms), CLF_ERR_INVALID_ARG); /* RMS with beta */
        p.type = (clf_norm_type)7;
        EXPECT(clf_norm(ctx, &x, &g, NULL, &y, &p), CLF_ERR_INVALID_ARG);
        p = (clf_norm_params){.eps = -1.0f};
        EXPECT(clf_norm(ctx, &x, &g, NULL, &y, &p), CLF_ERR_INVALID_ARG);
        p = (clf_norm_params){.residual = &z};
        EXPECT(clf_norm(ctx, &x, &g, NULL, &y, &p), CLF_ERR_SHAPE);
        p = (clf_norm_params){.residual = &ids};
        EXPECT(clf_norm(ctx, &x, &g, NULL, &y, &p), CLF_ERR_DTYPE);
        p = (clf_norm_params){.residual = &foreign};
        EXPECT(clf_norm(ctx, &x, &g, NULL, &y, &p), CLF_ERR_CONTEXT);
        p = (clf_norm_params){.sum_out = &z};
        EXPECT(clf_norm(ctx, &x, &g, NULL, &y, &p), CLF_ERR_SHAPE);
        /* Overlaps: y and sum_out the same memory; y shifted over x; y over gamma. */
        p = (clf_norm_params){.sum_out = &y};
        EXPECT(clf_norm(ctx, &x, &g, NULL, &y, &p), CLF_ERR_INVALID_ARG);
        clf_tensor v0, v1, gv;
        cr_assert_eq(clf_tensor_view(&big, 2, (int64_t[]){4, 8}, (int64_t[]){8, 1}, 0, &v0), CLF_OK);
        cr_assert_eq(clf_tensor_view(&big, 2, (int64_t[]){4, 8}, (int64_t[]){8, 1}, 3, &v1), CLF_OK);
        EXPECT(clf_norm(ctx, &v0, &g, NULL, &v1, NULL), CLF_ERR_INVALID_ARG);
        cr_assert_eq(clf_tensor_view(&big, 1, (int64_t[]){8}, (int64_t[]){1}, 0, &gv), CLF_OK);
        EXPECT(clf_norm(ctx, &x, &gv, NULL, &v0, NULL), CLF_ERR_INVALID_ARG);
        cr_assert_eq(clf_norm(NULL, &x, &g, NULL, &y, NULL), CLF_ERR_INVALID_ARG);
        /* Still fine afterwards. */
        cr_assert_eq(clf_norm(ctx, &x, &g, &g, &y, NULL), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert_eq(clf_context_finish(ctx), CLF_OK);
#undef EXPECT
        clf_tensor_free(&foreign);
        clf_context_free(other);
        clf_tensor_free(&x);
        clf_tensor_free(&y);
        clf_tensor_free(&z);
        clf_tensor_free(&ids);
        clf_tensor_free(&g);
        clf_tensor_free(&gbad);
        clf_tensor_free(&g2);
        clf_tensor_free(&big);
    }
}
