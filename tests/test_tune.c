/*
 * The autotuner's two promises that a run of `clformer tune` cannot show by
 * itself: every kernel variant it may choose computes the right answer, and
 * a stored result is used exactly when it should be.
 *
 * Conformance under tuned configurations: the corners of the search space
 * (every tunable field at its lowest, then its highest valid candidate, from
 * the registry in src/ops/tune.c, for the context's family and limits; CI
 * runs the suite under both families) run the GEMV and GPU tiled GEMM, the
 * GEMMs over Q8 / Q4 weights (the CPU family's integer forms), flash and
 * decode attention, layer norm and softmax on odd sizes against
 * the float64 references of tests/ref. Small shapes: a few seconds a run.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ops/tune_internal.h"
#include "ref/ref_attention.h"
#include "ref/ref_gemm.h"
#include "ref/ref_norm.h"
#include "ref/ref_softmax.h"
#include "runtime/runtime.h"

/* A dense f32 tensor of shape dims filled from rng, its host copy in *host. */
static clf_tensor upload(clf_context *ctx, int nd, const int64_t *dims, clft_rng *rng, float **host)
{
    clf_tensor t;
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, nd, dims, &t), CLF_OK, "%s", clf_context_last_error(ctx));
    int64_t n = clf_tensor_numel(&t);
    *host = malloc((size_t)n * sizeof **host);
    clft_fill_uniform(rng, *host, (size_t)n, -1, 1);
    cr_assert_eq(clf_tensor_write_f32(ctx, &t, *host, n), CLF_OK);
    return t;
}

/* Reads t (poisoned before the op ran) and compares with ref. */
static void expect_close(clf_context *ctx, const clf_tensor *t, const double *ref, double bound,
                         const char *what, const char *spec, uint64_t seed)
{
    int64_t n = clf_tensor_numel(t);
    float *got = malloc((size_t)n * sizeof *got);
    cr_assert_eq(clf_tensor_read_f32(ctx, t, got, n), CLF_OK, "%s", clf_context_last_error(ctx));
    double e = clft_nmse(got, ref, (size_t)n);
    cr_expect(e <= bound, "%s on %s (%s): NMSE %.3g > %.1g, seed %llu", what, spec,
              clf_kernel_family_name(clf_context_kernel_profile(ctx)->family), e, bound,
              (unsigned long long)seed);
    free(got);
}

/* C = A B^T with B f32, or quantised (Q8 packed, as a model's, or Q4): then the integer forms
 * (kernels/gemv.cl CLF_GI16 at M = 1, gemm_i16.cl above), whose activations are quantised,
 * run against the float64 product with the dequantised weights (read back from B). Bounds:
 * f32 over K <= 200 of uniform inputs is about 1e-14, 5e-6 as the suite's GEMM bound; Q4's
 * int8 activations give an NMSE near 2e-5 (Q8's int16 far less), 2e-4 as the tuner's, where
 * a wrong row or group gives 1e-2 or more. */
static void gemm_case(clf_context *ctx, clf_dtype wt, int64_t m, int64_t n, int64_t k, clft_rng *rng,
                      const char *spec, uint64_t seed, const char *corner)
{
    float *ha, *hb, *hc;
    clf_tensor a = upload(ctx, 2, (int64_t[]){m, k}, rng, &ha);
    clf_tensor b = upload(ctx, 2, (int64_t[]){n, k}, rng, &hb);
    clf_tensor c = upload(ctx, 2, (int64_t[]){m, n}, rng, &hc);
    if (wt != CLF_F32) {
        clf_tensor q, bp;
        cr_assert_eq(clf_tensor_create(ctx, wt, 2, (int64_t[]){n, k}, &q), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert_eq(clf_tensor_write_f32(ctx, &q, hb, n * k), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert_eq(clf_tensor_read_f32(ctx, &q, hb, n * k), CLF_OK); /* the dequantised weights */
        if (wt == CLF_Q8) {
            cr_assert_eq(clf_gemm_pack_b(ctx, &q, &bp), CLF_OK, "%s", clf_context_last_error(ctx));
            clf_tensor_free(&q);
            q = bp;
        }
        clf_tensor_free(&b);
        b = q;
    }
    cr_assert_eq(clf_tensor_fill(ctx, &c, NAN), CLF_OK);
    clf_gemm_params p = clf_gemm_params_default();
    p.trans_b = true;
    p.provider = CLF_GEMM_BUILTIN;
    cr_assert_eq(clf_gemm(ctx, &a, &b, &c, &p), CLF_OK, "%s: %s", corner, clf_context_last_error(ctx));
    double *ref = malloc((size_t)(m * n) * sizeof *ref);
    ref_gemm(1, m, n, k, false, true, 1.0, ha, 1, hb, 1, 0.0, NULL, NULL, CLF_ACT_NONE, ref);
    char what[96];
    snprintf(what, sizeof what, "gemm %s M=%lld N=%lld K=%lld, %s corner", clf_dtype_name(wt),
             (long long)m, (long long)n, (long long)k, corner);
    expect_close(ctx, &c, ref, wt == CLF_F32 ? 5e-6 : 2e-4, what, spec, seed);
    free(ref), free(ha), free(hb), free(hc);
    clf_tensor_free(&a), clf_tensor_free(&b), clf_tensor_free(&c);
}

static void attention_case(clf_context *ctx, int64_t lq, int64_t lk, int causal, clft_rng *rng,
                           const char *spec, uint64_t seed, const char *corner)
{
    const int64_t B = 2, H = 3, D = 64;
    float *hq, *hk, *hv, *ho;
    clf_tensor q = upload(ctx, 4, (int64_t[]){B, lq, H, D}, rng, &hq);
    clf_tensor k = upload(ctx, 4, (int64_t[]){B, lk, H, D}, rng, &hk);
    clf_tensor v = upload(ctx, 4, (int64_t[]){B, lk, H, D}, rng, &hv);
    clf_tensor o = upload(ctx, 4, (int64_t[]){B, lq, H, D}, rng, &ho);
    cr_assert_eq(clf_tensor_fill(ctx, &o, NAN), CLF_OK);
    clf_attention_params p = {.causal = causal, .impl = lq <= 8 ? CLF_ATTN_DECODE : CLF_ATTN_FUSED};
    cr_assert_eq(clf_attention(ctx, &q, &k, &v, &o, &p), CLF_OK, "%s: %s", corner, clf_context_last_error(ctx));
    double *ref = malloc((size_t)(B * lq * H * D) * sizeof *ref);
    clft_ref_attention(B, lq, lk, H, D, hq, hk, hv, 1.0 / 8.0, causal, NULL, ref, NULL);
    char what[96];
    snprintf(what, sizeof what, "attention Lq=%lld Lk=%lld causal=%d, %s corner", (long long)lq, (long long)lk, causal, corner);
    expect_close(ctx, &o, ref, 5e-6, what, spec, seed);
    free(ref), free(hq), free(hk), free(hv), free(ho);
    clf_tensor_free(&q), clf_tensor_free(&k), clf_tensor_free(&v), clf_tensor_free(&o);
}

static void rows_case(clf_context *ctx, clft_rng *rng, const char *spec, uint64_t seed, const char *corner)
{
    const int64_t R = 37, D = 771;
    float *hx, *hg, *hb, *hy;
    clf_tensor x = upload(ctx, 2, (int64_t[]){R, D}, rng, &hx);
    clf_tensor g = upload(ctx, 1, (int64_t[]){D}, rng, &hg);
    clf_tensor b = upload(ctx, 1, (int64_t[]){D}, rng, &hb);
    clf_tensor y = upload(ctx, 2, (int64_t[]){R, D}, rng, &hy);
    double *ref = malloc((size_t)(R * D) * sizeof *ref);
    char what[96];
    cr_assert_eq(clf_tensor_fill(ctx, &y, NAN), CLF_OK);
    cr_assert_eq(clf_norm(ctx, &x, &g, &b, &y, NULL), CLF_OK, "%s", clf_context_last_error(ctx));
    clft_ref_norm(0, hx, NULL, hg, hb, R, D, 1e-5, ref, NULL);
    snprintf(what, sizeof what, "layer norm %lldx%lld, %s corner", (long long)R, (long long)D, corner);
    expect_close(ctx, &y, ref, 1e-7, what, spec, seed);
    cr_assert_eq(clf_tensor_fill(ctx, &y, NAN), CLF_OK);
    cr_assert_eq(clf_softmax(ctx, &x, &y, NULL), CLF_OK, "%s", clf_context_last_error(ctx));
    clft_ref_softmax(2, (int64_t[]){R, D}, hx, 1.0, 0, NULL, NULL, 0, 0, ref);
    snprintf(what, sizeof what, "softmax %lldx%lld, %s corner", (long long)R, (long long)D, corner);
    expect_close(ctx, &y, ref, 1e-7, what, spec, seed);
    free(ref), free(hx), free(hg), free(hb), free(hy);
    clf_tensor_free(&x), clf_tensor_free(&g), clf_tensor_free(&b), clf_tensor_free(&y);
}

static void run_corner(bool high)
{
    const char *corner = high ? "highest" : "lowest";
    uint64_t seed = clft_seed();
    CLFT_EACH_DEVICE(ctx)
    {
        clf_kernel_profile p;
        /* The 8 x 8 per-item GEMM block (a 128 x 128 x 32 tile) compiled for 29 s on
         * Intel's CPU runtime: too slow for a suite that CI runs eight times. The
         * tuner still checks it against the reference before it may choose it. */
        clf__tune_extreme(clf_context_default_profile(ctx), high, 4, &p);
        cr_assert_eq(clf_kernel_profile_check(&p), CLF_OK, "%s", clf_context_last_error(NULL));
        /* The corner must move something, or this test checks the defaults again. */
        cr_assert(memcmp(&p, clf_context_kernel_profile(ctx), sizeof p) != 0, "%s: the %s corner is the default",
                  specs_[d_], corner);
        cr_assert_eq(clf_context_set_kernel_profile(ctx, &p), CLF_OK, "%s", clf_context_last_error(ctx));
        clft_rng rng = clft_rng_make(seed, (uint64_t)d_);
        /* GEMV: one row (lowest corner), or 5 rounded up to 8 (highest: the
         * largest reduction buffer of the split-K GPU form). One program each. */
        gemm_case(ctx, CLF_F32, high ? 5 : 1, high ? 37 : 67, high ? 200 : 131, &rng, specs_[d_], seed, corner);
        if (p.family == CLF_KERNELS_GPU) gemm_case(ctx, CLF_F32, 37, 67, 131, &rng, specs_[d_], seed, corner); /* tiled */
        /* Q8 / Q4 weights: the GEMV (one row) and clf_gemm_i16 (37 rows: QM-row groups and
         * a short last one) in the CPU family; the GEMV and the tiled GEMM in the GPU one.
         * K 1000: whole quads of Q4 groups, a last pair and a short tail. */
        for (int q = 0; q < 2; q++)
            for (int r = 0; r < 2; r++)
                gemm_case(ctx, q ? CLF_Q4 : CLF_Q8, r ? 37 : 1, 67, 1000, &rng, specs_[d_], seed, corner);
        attention_case(ctx, 37, 37, 1, &rng, specs_[d_], seed, corner); /* flash */
        attention_case(ctx, 1, 133, 0, &rng, specs_[d_], seed, corner); /* split-key decode */
        rows_case(ctx, &rng, specs_[d_], seed, corner);
    }
}

Test(tune, lowest_candidates_match_the_references) { run_corner(false); }

Test(tune, highest_candidates_match_the_references) { run_corner(true); }

/* A context on spec with cache folder dir, tuned or not. */
static clf_context *open_in(const char *spec, const char *dir, bool untuned)
{
    clf_context_params p = clf_context_params_default();
    p.device = spec;
    p.cache_dir = dir;
    p.untuned = untuned;
    clf_context *ctx = NULL;
    cr_assert_eq(clf_context_create(&p, &ctx), CLF_OK, "%s", clf_context_last_error(NULL));
    return ctx;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

Test(tune, stored_result_is_used_unless_disabled_or_damaged)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < n; d++) {
        char dir[512], path[4400];
        clft_tempdir(dir, sizeof dir, "tune");
        unsetenv("CLFORMER_TUNE");
        clf_context *ctx = open_in(specs[d], dir, false);
        cr_assert(!clf_context_kernel_profile(ctx)->tuned, "%s: tuned without a file", specs[d]);
        cr_assert_eq(clf_tune_file_path(ctx, path, sizeof path), CLF_OK);
        /* A valid non-default value, stored as clf_tune stores it. */
        clf_kernel_profile p = *clf_context_default_profile(ctx);
        p.attn_splits_per_cu = p.attn_splits_per_cu == 8 ? 2 : 8;
        cr_assert_eq(clf__tune_save(ctx, &p, path, sizeof path), CLF_OK, "%s", clf_context_last_error(ctx));
        clf_context_free(ctx);

        ctx = open_in(specs[d], dir, false);
        cr_expect(clf_context_kernel_profile(ctx)->tuned);
        cr_expect_eq(clf_context_kernel_profile(ctx)->attn_splits_per_cu, p.attn_splits_per_cu);
        cr_expect_neq(clf_context_default_profile(ctx)->attn_splits_per_cu, p.attn_splits_per_cu);
        clf_context_free(ctx);
        ctx = open_in(specs[d], dir, true); /* params.untuned */
        cr_expect(!clf_context_kernel_profile(ctx)->tuned);
        clf_context_free(ctx);
        setenv("CLFORMER_TUNE", "0", 1);
        ctx = open_in(specs[d], dir, false);
        cr_expect(!clf_context_kernel_profile(ctx)->tuned, "CLFORMER_TUNE=0 still applied the file");
        clf_context_free(ctx);
        unsetenv("CLFORMER_TUNE");

        /* Damaged files: ignored (with a warning), the defaults stay. */
        size_t len = 0;
        char *good = clft_slurp(path, &len);
        cr_assert(len > 0 && strstr(good, "attn_splits_per_cu"), "%s: %s", path, good);
        const char *bad[] = {"garbage\n", "clformer-tune 1\nattn_splits_per_cu x\n",
                             "clformer-tune 1\nno_such_field 4\n",
                             "clformer-tune 1\nattn_block_m 3\n", /* not a power of two */
                             "clformer-tune 1\nattn_decode_wg 65536\n" /* above the limit */};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            write_file(path, bad[i]);
            ctx = open_in(specs[d], dir, false);
            cr_expect(!clf_context_kernel_profile(ctx)->tuned, "%s: damaged file %zu applied", specs[d], i);
            cr_expect_eq(memcmp(clf_context_kernel_profile(ctx), clf_context_default_profile(ctx),
                                sizeof(clf_kernel_profile)), 0);
            clf_context_free(ctx);
        }
        free(good);
        clft_rmtree(dir);
    }
}

Test(tune, set_kernel_profile_refuses_invalid_values)
{
    CLFT_EACH_DEVICE(ctx)
    {
        clf_kernel_profile p = *clf_context_kernel_profile(ctx);
        p.gemv_vec = 5;
        cr_expect_eq(clf_context_set_kernel_profile(ctx, &p), CLF_ERR_INVALID_ARG);
        cr_expect(strstr(clf_context_last_error(ctx), "gemv_vec"), "%s", clf_context_last_error(ctx));
        p = *clf_context_kernel_profile(ctx);
        p.family = p.family == CLF_KERNELS_CPU ? CLF_KERNELS_GPU : CLF_KERNELS_CPU;
        cr_expect_eq(clf_context_set_kernel_profile(ctx, &p), CLF_ERR_INVALID_ARG);
        p = *clf_context_kernel_profile(ctx);
        p.limits.local_mem_bytes /= 2;
        cr_expect_eq(clf_context_set_kernel_profile(ctx, &p), CLF_ERR_INVALID_ARG);
        p = *clf_context_kernel_profile(ctx);
        p.attn_decode_wg = (int)clf__limits_group_max(&p.limits) * 2;
        cr_expect_eq(clf_context_set_kernel_profile(ctx, &p), CLF_ERR_INVALID_ARG);
        cr_expect(strstr(clf_context_last_error(ctx), "attn_decode_wg"), "%s", clf_context_last_error(ctx));
    }
}

/* clf_tune end to end on its cheapest group: a report with measured times,
 * the winners applied to the context, stored, and picked up by the next
 * context on the same cache folder. */
Test(tune, tune_stores_what_the_next_context_applies)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < n; d++) {
        char dir[512], path[4400];
        clft_tempdir(dir, sizeof dir, "tune-run");
        unsetenv("CLFORMER_TUNE");
        clf_context *ctx = open_in(specs[d], dir, false);
        clf_tune_params tp = {.quick = true, .reps = 1, .groups = "rows"};
        clf_tune_report rep;
        cr_assert_eq(clf_tune(ctx, &tp, &rep), CLF_OK, "%s: %s", specs[d], clf_context_last_error(ctx));
        cr_assert_eq(rep.n_groups, 1);
        cr_expect_str_eq(rep.groups[0].name, "rows");
        cr_expect(rep.groups[0].default_s > 0 && rep.groups[0].tuned_s > 0);
        /* Kept defaults report the default's time; changed values 2% faster. */
        cr_expect(rep.groups[0].changed ? rep.groups[0].tuned_s < 0.98 * rep.groups[0].default_s
                                        : rep.groups[0].tuned_s == rep.groups[0].default_s,
                  "%s: changed %d with %.3g s tuned against %.3g s default", specs[d], rep.groups[0].changed,
                  rep.groups[0].tuned_s, rep.groups[0].default_s);
        cr_expect(rep.groups[0].tried >= 1, "%s: no candidate timed", specs[d]);
        cr_expect(strstr(rep.groups[0].values, "row"), "%s", rep.groups[0].values);
        cr_assert_eq(clf_tune_file_path(ctx, path, sizeof path), CLF_OK);
        cr_expect_str_eq(rep.path, path);
        const clf_kernel_profile tuned = *clf_context_kernel_profile(ctx);
        cr_expect(tuned.tuned);
        clf_context_free(ctx);

        ctx = open_in(specs[d], dir, false);
        const clf_kernel_profile *again = clf_context_kernel_profile(ctx);
        cr_expect(again->tuned, "%s: the stored result was not applied", specs[d]);
        cr_expect(again->rows_wg == tuned.rows_wg && again->row_wg_max == tuned.row_wg_max &&
                  again->row_wg_min == tuned.row_wg_min && again->attn_block_m == tuned.attn_block_m);
        /* An unknown group is refused before anything runs. */
        tp.groups = "rows,nope";
        cr_expect_eq(clf_tune(ctx, &tp, &rep), CLF_ERR_INVALID_ARG);
        cr_expect(strstr(clf_context_last_error(ctx), "\"nope\""), "%s", clf_context_last_error(ctx));
        clf_context_free(ctx);
        clft_rmtree(dir);
    }
}
