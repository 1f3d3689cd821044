/*
 * The autotuner's workloads: one op on fixed random inputs, run as the
 * context's profile shapes it, and a float64 host reference to check a
 * candidate's output before it is timed. The references are written here
 * from the ops' definitions (ops.h), independent of the kernels.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/tune_internal.h"

/* B's dtype in a GEMM workload: F32, or the quantised ones' Q8 / Q4. */
static clf_dtype weight_dtype(clf__tune_op op)
{
    return op == CLF__TUNE_GEMM_Q8 ? CLF_Q8 : op == CLF__TUNE_GEMM_Q4 ? CLF_Q4 : CLF_F32;
}

void clf__tune_shape_text(const clf__tune_shape *sh, char *buf, size_t size)
{
    const int64_t *s = sh->s;
    switch (sh->op) {
    case CLF__TUNE_GEMM:
    case CLF__TUNE_GEMM_Q8:
    case CLF__TUNE_GEMM_Q4:
        snprintf(buf, size, "gemm%s%s M=%lld N=%lld K=%lld", sh->op == CLF__TUNE_GEMM ? "" : " ",
                 sh->op == CLF__TUNE_GEMM ? "" : clf_dtype_name(weight_dtype(sh->op)),
                 (long long)s[0], (long long)s[1], (long long)s[2]);
        break;
    case CLF__TUNE_ATTN:
        snprintf(buf, size, "attn Lq=%lld Lk=%lld H=%lld D=%lld", (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3]);
        break;
    case CLF__TUNE_NORM: snprintf(buf, size, "norm %lldx%lld", (long long)s[0], (long long)s[1]); break;
    case CLF__TUNE_SOFTMAX: snprintf(buf, size, "softmax %lldx%lld", (long long)s[0], (long long)s[1]); break;
    }
}

/* splitmix64: uniform floats in [-1, 1). */
static float next_uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)((double)(z >> 40) / (double)(1ull << 23) - 1.0);
}

/* The tensors' shapes of a problem: inputs first, the output last. */
static int shapes_of(const clf__tune_shape *sh, int ndim[5], int64_t dims[5][4])
{
    const int64_t *s = sh->s;
    switch (sh->op) {
    case CLF__TUNE_GEMM:
    case CLF__TUNE_GEMM_Q8:
    case CLF__TUNE_GEMM_Q4:
        ndim[0] = ndim[1] = ndim[2] = 2;
        memcpy(dims[0], (int64_t[]){s[0], s[2]}, 2 * sizeof(int64_t));
        memcpy(dims[1], (int64_t[]){s[1], s[2]}, 2 * sizeof(int64_t));
        memcpy(dims[2], (int64_t[]){s[0], s[1]}, 2 * sizeof(int64_t));
        return 3;
    case CLF__TUNE_ATTN:
        for (int i = 0; i < 4; i++) {
            ndim[i] = 4;
            int64_t l = i == 1 || i == 2 ? s[1] : s[0];
            memcpy(dims[i], (int64_t[]){1, l, s[2], s[3]}, 4 * sizeof(int64_t));
        }
        return 4;
    case CLF__TUNE_NORM:
        ndim[0] = ndim[3] = 2, ndim[1] = ndim[2] = 1;
        memcpy(dims[0], (int64_t[]){s[0], s[1]}, 2 * sizeof(int64_t));
        dims[1][0] = dims[2][0] = s[1];
        memcpy(dims[3], (int64_t[]){s[0], s[1]}, 2 * sizeof(int64_t));
        return 4;
    case CLF__TUNE_SOFTMAX:
        ndim[0] = ndim[1] = 2;
        memcpy(dims[0], (int64_t[]){s[0], s[1]}, 2 * sizeof(int64_t));
        memcpy(dims[1], (int64_t[]){s[0], s[1]}, 2 * sizeof(int64_t));
        return 2;
    }
    return 0;
}

static int64_t numel(int nd, const int64_t *d)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= d[i];
    return n;
}

void clf__tune_work_free(clf__tune_work *w)
{
    for (int i = 0; i < 5; i++) {
        clf_tensor_free(&w->t[i]);
        clf__free(w->host[i]);
    }
    memset(w, 0, sizeof *w);
}

clf_status clf__tune_work_make(clf_context *ctx, const clf__tune_shape *sh, uint64_t seed,
                               bool keep_host, clf__tune_work *w)
{
    memset(w, 0, sizeof *w);
    w->shape = *sh;
    int ndim[5];
    int64_t dims[5][4];
    w->n_tensors = shapes_of(sh, ndim, dims);
    clf_status st = CLF_OK;
    for (int i = 0; i < w->n_tensors && st == CLF_OK; i++) {
        /* a quantised GEMM's B (input 1): written from f32 (quantised as at a model's load),
         * its host copy the dequantised values the reference multiplies */
        const clf_dtype dt = i == 1 ? weight_dtype(sh->op) : CLF_F32;
        const bool q = dt != CLF_F32;
        st = clf_tensor_create(ctx, dt, ndim[i], dims[i], &w->t[i]);
        if (st != CLF_OK || i == w->n_tensors - 1) break;
        int64_t n = numel(ndim[i], dims[i]);
        float *h = clf__malloc((size_t)n * sizeof *h);
        if (!h) {
            st = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_tune: out of host memory");
            break;
        }
        for (int64_t e = 0; e < n; e++) h[e] = next_uniform(&seed);
        st = clf_tensor_write_f32(ctx, &w->t[i], h, n);
        if (st == CLF_OK && q && keep_host) st = clf_tensor_read_f32(ctx, &w->t[i], h, n);
        if (st == CLF_OK && dt == CLF_Q8) { /* packed, as a model's Q8 weights are */
            clf_tensor packed;
            st = clf_gemm_pack_b(ctx, &w->t[i], &packed);
            if (st == CLF_OK) clf_tensor_free(&w->t[i]), w->t[i] = packed;
        }
        if (keep_host) w->host[i] = h;
        else clf__free(h);
    }
    if (st != CLF_OK) clf__tune_work_free(w);
    return st;
}

clf_status clf__tune_work_run(clf_context *ctx, const clf__tune_work *w)
{
    const clf_tensor *t = w->t;
    switch (w->shape.op) {
    case CLF__TUNE_GEMM:
    case CLF__TUNE_GEMM_Q8:
    case CLF__TUNE_GEMM_Q4: {
        clf_gemm_params p = clf_gemm_params_default();
        p.trans_b = true;
        /* Our kernels are what the profile shapes: never CLBlast here (on a
         * GPU auto may pick it, and its first call compiles for seconds). */
        p.provider = CLF_GEMM_BUILTIN;
        return clf_gemm(ctx, &t[0], &t[1], (clf_tensor *)&t[2], &p);
    }
    case CLF__TUNE_ATTN: return clf_attention(ctx, &t[0], &t[1], &t[2], (clf_tensor *)&t[3], NULL);
    case CLF__TUNE_NORM: return clf_norm(ctx, &t[0], &t[1], &t[2], (clf_tensor *)&t[3], NULL);
    case CLF__TUNE_SOFTMAX: return clf_softmax(ctx, &t[0], (clf_tensor *)&t[1], NULL);
    }
    return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_tune: unknown workload");
}

/* The float64 reference of w's output into ref. */
static void reference(const clf__tune_work *w, double *ref)
{
    const int64_t *s = w->shape.s;
    float *const *h = w->host;
    if (w->shape.op == CLF__TUNE_GEMM || weight_dtype(w->shape.op) != CLF_F32) {
        for (int64_t m = 0; m < s[0]; m++)
            for (int64_t n = 0; n < s[1]; n++) {
                double acc = 0;
                for (int64_t k = 0; k < s[2]; k++) acc += (double)h[0][m * s[2] + k] * h[1][n * s[2] + k];
                ref[m * s[1] + n] = acc;
            }
    } else if (w->shape.op == CLF__TUNE_ATTN) {
        int64_t lq = s[0], lk = s[1], nh = s[2], d = s[3];
        double scale = 1.0 / sqrt((double)d), sc[4096];
        for (int64_t i = 0; i < lq; i++)
            for (int64_t hh = 0; hh < nh; hh++) {
                const float *q = h[0] + (i * nh + hh) * d;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < lk; j++) {
                    const float *k = h[1] + (j * nh + hh) * d;
                    double dot = 0;
                    for (int64_t e = 0; e < d; e++) dot += (double)q[e] * k[e];
                    sc[j] = dot * scale;
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int64_t j = 0; j < lk; j++) sum += sc[j] = exp(sc[j] - mx);
                double *o = ref + (i * nh + hh) * d;
                for (int64_t e = 0; e < d; e++) o[e] = 0;
                for (int64_t j = 0; j < lk; j++)
                    for (int64_t e = 0; e < d; e++) o[e] += sc[j] / sum * h[2][(j * nh + hh) * d + e];
            }
    } else if (w->shape.op == CLF__TUNE_NORM) {
        for (int64_t r = 0; r < s[0]; r++) {
            const float *x = h[0] + r * s[1];
            double mean = 0, var = 0;
            for (int64_t c = 0; c < s[1]; c++) mean += x[c];
            mean /= (double)s[1];
            for (int64_t c = 0; c < s[1]; c++) var += (x[c] - mean) * (x[c] - mean);
            var /= (double)s[1];
            for (int64_t c = 0; c < s[1]; c++)
                ref[r * s[1] + c] = (x[c] - mean) / sqrt(var + 1e-5) * h[1][c] + h[2][c];
        }
    } else {
        for (int64_t r = 0; r < s[0]; r++) {
            const float *x = h[0] + r * s[1];
            double mx = -INFINITY, sum = 0;
            for (int64_t c = 0; c < s[1]; c++) mx = x[c] > mx ? x[c] : mx;
            for (int64_t c = 0; c < s[1]; c++) sum += exp(x[c] - mx);
            for (int64_t c = 0; c < s[1]; c++) ref[r * s[1] + c] = exp(x[c] - mx) / sum;
        }
    }
}

clf_status clf__tune_work_check(clf_context *ctx, const clf__tune_work *w, double *nmse)
{
    const clf_tensor *out = &w->t[w->n_tensors - 1];
    if (w->shape.op == CLF__TUNE_ATTN && w->shape.s[1] > 4096)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_tune: check shapes keep Lk <= 4096");
    int64_t n = clf_tensor_numel(out);
    float *got = clf__malloc((size_t)n * sizeof *got);
    double *ref = clf__malloc((size_t)n * sizeof *ref);
    clf_status st = got && ref ? CLF_OK : clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_tune: out of host memory");
    if (st == CLF_OK) st = clf_tensor_fill(ctx, (clf_tensor *)out, NAN);
    if (st == CLF_OK) st = clf__tune_work_run(ctx, w);
    if (st == CLF_OK) st = clf_tensor_read_f32(ctx, out, got, n);
    if (st == CLF_OK) {
        reference(w, ref);
        double num = 0, den = 0;
        for (int64_t i = 0; i < n; i++) {
            double e = (double)got[i] - ref[i];
            num += e * e;
            den += ref[i] * ref[i];
        }
        *nmse = isfinite(num) ? num / (den > 0 ? den : 1) : INFINITY;
    }
    clf__free(got);
    clf__free(ref);
    return st;
}
