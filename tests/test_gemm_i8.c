/*
 * int8 x int8 products (ops.h, clf_quantize_rows_q8 and clf_gemm_i8, and
 * clf_gemm's dynamic int8 path under the profile's gemm_i8), on every device,
 * in both summation forms where the device has cl_khr_integer_dot_product.
 *
 * References. The device's quantised activations are read back and checked
 * against the host quantiser (same rule: scales equal, codes within one where
 * a quotient sits at a half); the products are then checked against a float64
 * reference of the same codes and scales: exact integer sums times the two
 * scales, so the only differences are f32 roundings of the scale product, of
 * an integer sum above 2^24 and of the activation: relative 3e-7 per element
 * at most, NMSE bound 1e-11. Against the unquantised f32 product (both
 * operands int8: about 0.4% RMS each) the bound is NMSE 1e-3. Outputs are
 * poisoned with NaN and each row has 3 sentinel columns that must stay NaN.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clformer/clformer.h>

#include "common/testutil.h"

typedef struct i8_case {
    int64_t m, n, k;
    bool bias;
    clf_act act;
} i8_case;

/* Odd sizes: K of 1, below and above 16, a prime above 4096; M of 1, up to 8
 * and 13 (two launches of rows); N not a multiple of 4. */
static const i8_case cases[] = {
    {1, 1, 1, false, CLF_ACT_NONE},   {1, 13, 33, true, CLF_ACT_NONE},
    {3, 17, 127, false, CLF_ACT_GELU}, {5, 9, 45, true, CLF_ACT_NONE},
    {13, 5, 31, true, CLF_ACT_RELU},  {1, 19, 4099, false, CLF_ACT_NONE},
};

static double act_ref(double x, clf_act act)
{
    switch (act) {
    case CLF_ACT_RELU: return x > 0 ? x : 0;
    case CLF_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    default: return x;
    }
}

/* Uploads host values (rows, cols) as a new f32 tensor. */
static clf_tensor upload(clf_context *ctx, const float *x, int64_t rows, int64_t cols)
{
    clf_tensor t;
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){rows, cols}, &t), CLF_OK);
    cr_assert_eq(clf_tensor_write_f32(ctx, &t, x, rows * cols), CLF_OK);
    return t;
}

/* C (m, n) out of a NaN-poisoned (m, n + 3) tensor: the view and its owner. */
static void poisoned_c(clf_context *ctx, int64_t m, int64_t n, clf_tensor *owner, clf_tensor *view)
{
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){m, n + 3}, owner), CLF_OK);
    cr_assert_eq(clf_tensor_fill(ctx, owner, NAN), CLF_OK);
    *view = *owner;
    view->shape[1] = n;
}

/* Reads C back; the sentinel columns must still be NaN. */
static void read_c(clf_context *ctx, const clf_tensor *owner, int64_t m, int64_t n, float *out,
                   const char *what)
{
    float *all = malloc((size_t)(m * (n + 3)) * sizeof *all);
    cr_assert_eq(clf_tensor_read_f32(ctx, owner, all, m * (n + 3)), CLF_OK);
    for (int64_t r = 0; r < m; r++) {
        for (int64_t j = 0; j < 3; j++)
            cr_assert(isnan(all[r * (n + 3) + n + j]), "%s: sentinel (%lld, %lld) written", what,
                      (long long)r, (long long)(n + j));
        memcpy(out + r * n, all + r * (n + 3), (size_t)n * sizeof *out);
    }
    free(all);
}

/* One case on one context: returns through *checked. */
static void run_case(clf_context *ctx, const char *spec, const i8_case *c, uint64_t seed, int mode)
{
    int64_t M = c->m, N = c->n, K = c->k;
    clft_rng rng = clft_rng_make(seed, (uint64_t)(M * 131 + N * 7 + K));
    float *a = malloc((size_t)(M * K) * 4), *w = malloc((size_t)(N * K) * 4);
    float *bias = malloc((size_t)N * 4), *out = malloc((size_t)(M * N) * 4);
    int8_t *qa = malloc((size_t)(M * K)), *qw = malloc((size_t)(N * K)), *ha = malloc((size_t)(M * K));
    float *sa = malloc((size_t)M * 4), *sw = malloc((size_t)N * 4), *hs = malloc((size_t)M * 4);
    double *ref = malloc((size_t)(M * N) * 8), *raw = malloc((size_t)(M * N) * 8);
    clft_fill_uniform(&rng, a, (size_t)(M * K), -1, 1);
    clft_fill_uniform(&rng, w, (size_t)(N * K), -1, 1);
    clft_fill_uniform(&rng, bias, (size_t)N, -1, 1);
    char what[700];
    snprintf(what, sizeof what, "%s mode %d M=%lld N=%lld K=%lld bias %d act %d (seed %llu)", spec,
             mode, (long long)M, (long long)N, (long long)K, c->bias, (int)c->act,
             (unsigned long long)seed);

    clf_tensor ta = upload(ctx, a, M, K), tb = upload(ctx, bias, 1, N), tqa, tqw, own, tc;
    cr_assert_eq(clf_tensor_create(ctx, CLF_Q8, 2, (int64_t[]){M, K}, &tqa), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_Q8, 2, (int64_t[]){N, K}, &tqw), CLF_OK);
    cr_assert_eq(clf_tensor_write_f32(ctx, &tqw, w, N * K), CLF_OK);
    cr_assert_eq(clf_tensor_read_q8(ctx, &tqw, qw, sw), CLF_OK);

    /* The device quantiser against the host's. */
    cr_assert_eq(clf_quantize_rows_q8(ctx, &ta, &tqa), CLF_OK, "%s: %s", what, clf_context_last_error(ctx));
    cr_assert_eq(clf_tensor_read_q8(ctx, &tqa, qa, sa), CLF_OK);
    clf_quantize_q8(a, M, K, ha, hs, NULL);
    int64_t off_by_one = 0;
    for (int64_t r = 0; r < M; r++) {
        cr_assert(fabsf(sa[r] - hs[r]) <= 1.2e-7f * hs[r], "%s: row %lld scale %.9g, host %.9g", what,
                  (long long)r, sa[r], hs[r]);
        for (int64_t k = 0; k < K; k++) {
            int d = abs(qa[r * K + k] - ha[r * K + k]);
            cr_assert(d <= 1, "%s: code (%lld, %lld) %d, host %d", what, (long long)r, (long long)k,
                      qa[r * K + k], ha[r * K + k]);
            off_by_one += d;
        }
    }
    cr_assert(off_by_one * 100 <= M * K, "%s: %lld codes differ from the host's", what, (long long)off_by_one);

    /* References: the same codes (exact sums), and the unquantised product. */
    for (int64_t r = 0; r < M; r++)
        for (int64_t n = 0; n < N; n++) {
            long long s = 0;
            double f = 0;
            for (int64_t k = 0; k < K; k++) {
                s += (long long)qa[r * K + k] * qw[n * K + k];
                f += (double)a[r * K + k] * w[n * K + k];
            }
            double b = c->bias ? bias[n] : 0;
            ref[r * N + n] = act_ref((double)s * sa[r] * sw[n] + b, c->act);
            raw[r * N + n] = act_ref(f + b, c->act);
        }

    clf_gemm_params p = clf_gemm_params_default();
    p.trans_b = true;
    clf_tensor bias_v = tb;
    bias_v.ndim = 1, bias_v.shape[0] = N, bias_v.stride[0] = 1;
    p.bias = c->bias ? &bias_v : NULL;
    p.act = c->act;
    poisoned_c(ctx, M, N, &own, &tc);
    cr_assert_eq(clf_gemm_i8(ctx, &tqa, &tqw, &tc, &p), CLF_OK, "%s: %s", what, clf_context_last_error(ctx));
    read_c(ctx, &own, M, N, out, what);
    double e = clft_nmse(out, ref, (size_t)(M * N)), er = clft_nmse(out, raw, (size_t)(M * N));
    cr_assert(e <= 1e-11, "%s: clf_gemm_i8 NMSE vs same codes %.3g > 1e-11", what, e);
    cr_assert(er <= 1e-3, "%s: clf_gemm_i8 NMSE vs unquantised %.3g > 1e-3", what, er);

    /* clf_gemm's dynamic path (the context forces gemm_i8), M within the GEMV. */
    if (M <= clf_context_kernel_profile(ctx)->gemv_max_m) {
        cr_assert_eq(clf_tensor_fill(ctx, &own, NAN), CLF_OK);
        cr_assert_eq(clf_gemm(ctx, &ta, &tqw, &tc, &p), CLF_OK, "%s: %s", what, clf_context_last_error(ctx));
        read_c(ctx, &own, M, N, out, what);
        double ed = clft_nmse(out, ref, (size_t)(M * N));
        cr_assert(ed <= 1e-11, "%s: clf_gemm (dynamic int8) NMSE vs same codes %.3g > 1e-11", what, ed);
    }
    clf_tensor *ts[] = {&ta, &tb, &tqa, &tqw, &own};
    for (int i = 0; i < 5; i++) clf_tensor_free(ts[i]);
    free(a), free(w), free(bias), free(out), free(qa), free(qw), free(ha), free(sa), free(sw);
    free(hs), free(ref), free(raw);
}

Test(gemm_i8, products_match_float64_references_of_the_same_codes, .timeout = 300)
{
    uint64_t seed = clft_seed();
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < n; d++)
        for (int mode = 1; mode <= 2; mode++) {
            setenv("CLFORMER_GEMM_I8", mode == 1 ? "1" : "2", 1);
            clf_context *ctx = clft_model_context(specs[d]);
            const clf_kernel_profile *pr = clf_context_kernel_profile(ctx);
            cr_assert(pr->gemm_i8, "CLFORMER_GEMM_I8=%d did not set gemm_i8", mode);
            if (mode == 2 && !pr->gemm_i8_dot) {
                printf("[gemm_i8] %s: no dot form (no cl_khr_integer_dot_product, or OpenCL C below 3.0)\n", specs[d]);
            } else {
                for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                    run_case(ctx, specs[d], &cases[i], seed, mode);
            }
            clf_context_free(ctx);
            unsetenv("CLFORMER_GEMM_I8");
        }
}

Test(gemm_i8, refuses_what_it_cannot_do)
{
    CLFT_EACH_DEVICE(ctx)
    {
        clf_tensor a, q, w, c;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){2, 8}, &a), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_Q8, 2, (int64_t[]){2, 8}, &q), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_Q8, 2, (int64_t[]){3, 8}, &w), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){2, 3}, &c), CLF_OK);
        cr_assert_eq(clf_gemm_i8(ctx, &a, &w, &c, NULL), CLF_ERR_DTYPE);
        cr_assert(strstr(clf_context_last_error(ctx), "clf_gemm_i8"), "%s", clf_context_last_error(ctx));
        clf_gemm_params p = clf_gemm_params_default();
        p.trans_b = true;
        p.beta = 1.0f;
        cr_assert_eq(clf_gemm_i8(ctx, &q, &w, &c, &p), CLF_ERR_UNSUPPORTED);
        cr_assert(strstr(clf_context_last_error(ctx), "beta"), "%s", clf_context_last_error(ctx));
        cr_assert_eq(clf_gemm_i8(ctx, &q, &w, &a, NULL), CLF_ERR_SHAPE);
        cr_assert_eq(clf_quantize_rows_q8(ctx, &a, &w), CLF_ERR_SHAPE);
        cr_assert_eq(clf_quantize_rows_q8(ctx, &q, &q), CLF_ERR_DTYPE);
        cr_assert_eq(clf_quantize_rows_q8(ctx, NULL, &q), CLF_ERR_INVALID_ARG);
        clf_tensor_free(&a), clf_tensor_free(&q), clf_tensor_free(&w), clf_tensor_free(&c);
    }
}
