/*
 * Q8 and Q4 weights on the host (tensor.h, "Q8", "Q4"): the quantisers,
 * their error figures, and the transfers of a whole quantised tensor (codes
 * and scales, which share one buffer).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "runtime/runtime.h"

/* gcc keeps q4_group's candidate loop scalar while it must assume that a
 * floating-point comparison or division may trap (its default); nothing here
 * relies on traps, and the values are the same either way (no reassociation,
 * no change of rounding). clang assumes no traps already. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

size_t clf_q8_scale_offset(int64_t codes)
{
    return codes <= 0 ? 0 : ((size_t)codes + 63) / 64 * 64;
}

/* The error accumulators of one matrix (clf_quant_error). */
typedef struct qerr {
    double sum_sq, sum_err_sq, max_abs, max_err;
} qerr;

static void qerr_add(qerr *a, float w, double dq)
{
    double e = (double)w - dq;
    a->sum_sq += (double)w * w;
    a->sum_err_sq += e * e;
    if (fabs(e) > a->max_err) a->max_err = fabs(e);
    if (fabs((double)w) > a->max_abs) a->max_abs = fabs((double)w);
}

static void qerr_out(const qerr *a, clf_quant_error *err)
{
    if (!err) return;
    err->max_rel = a->max_abs > 0 ? a->max_err / a->max_abs : 0;
    err->rms_rel = a->sum_sq > 0 ? sqrt(a->sum_err_sq / a->sum_sq) : 0;
}

/* fminf(fmaxf(c, lo), hi) for lo < hi, a NaN c giving lo as there, written
 * as comparisons: gcc calls libm for fminf and fmaxf (x86-64 without
 * -ffast-math), a quarter of Q4 quantisation's time in perf. */
static inline float clampf(float c, float lo, float hi)
{
    return c > lo ? (c < hi ? c : hi) : lo;
}

/* One symmetric code: w / scale rounded to nearest, ties to even (rintf in
 * the default mode), within [-qmax, qmax]; 0 when scale is 0. */
static float code_of(float w, float scale, float qmax)
{
    float q = scale > 0.0f ? rintf(w / scale) : 0.0f;
    return clampf(q, -qmax, qmax);
}

void clf_quantize_q8(const float *w, int64_t rows, int64_t cols, int8_t *codes, float *scales,
                     clf_quant_error *err)
{
    qerr acc = {0, 0, 0, 0};
    for (int64_t r = 0; r < rows; r++) {
        const float *row = w + r * cols;
        float amax = 0.0f;
        for (int64_t c = 0; c < cols; c++) amax = fmaxf(amax, fabsf(row[c]));
        float scale = amax / 127.0f;
        scales[r] = scale;
        for (int64_t c = 0; c < cols; c++) {
            float q = code_of(row[c], scale, 127.0f);
            codes[r * cols + c] = (int8_t)q;
            qerr_add(&acc, row[c], (double)q * (double)scale);
        }
    }
    qerr_out(&acc, err);
}

int64_t clf_q4_groups(int64_t cols)
{
    return cols < 1 ? 0 : (cols + 31) / 32;
}

/* rintf in the default rounding mode (to nearest, ties to even), written
 * out so that the candidate loop below vectorises: gcc inlines rintf as this
 * very sequence with a branch. |v| >= 2^23 (and NaN) is integral already. */
static inline float rint_nearest(float v)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    float a = fabsf(v);
    float t = (a + 8388608.0f) - 8388608.0f;
    return a < 8388608.0f ? copysignf(t, v) : v;
#else /* x87's wider intermediates would not round at 2^23 */
    return rintf(v);
#endif
}

/* One group: the (codes, scale) pair of least squared error among a small
 * grid of candidate scales, each refitted by least squares. The candidates
 * map the group's largest-magnitude value m (the first, on ties) to the code
 * c for c in +-{6.5, 7, 7.5, 8, 8.5, 9} (with the sign of m, a negative c
 * gives a negative scale: m lands on the -8 side, llama.cpp's Q4_0 idea, so
 * all 16 levels are used), plus the plain symmetric max / 7 scale that the
 * first version of the format used: the result is never worse than it.
 * For candidate scale d: the codes clamp(rint(x / d), -8, 7) (the nibble is
 * code + 8), then the least-squares scale for those codes, sum(x q) /
 * sum(q q), which never has more squared error than d itself; the error is
 * that of the refitted scale. Deterministic: a fixed order, ties to the
 * earlier. The candidates are the inner loop (16 lanes, the last 3 copies
 * of the first, never chosen), each summing over the group in element order
 * as one candidate at a time did, so the codes are the same bits
 * (tests/test_quant.c checks them against that plain form). gcc vectorises
 * it: a 3072 x 768 weight in 195-215 -> 158-186 ms with the clamps above
 * (2-core EPYC VM, SSE2 baseline, alternated runs). */
enum { Q4_CANDS = 13, Q4_LANES = 16 };

static float q4_group(const float *x, int64_t len, float *q)
{
    float m = 0.0f;
    for (int64_t j = 0; j < len; j++)
        if (fabsf(x[j]) > fabsf(m)) m = x[j];
    if (m == 0.0f) {
        for (int64_t j = 0; j < len; j++) q[j] = 0.0f;
        return 0.0f;
    }
    static const float cands[Q4_CANDS - 1] = {7.0f, -8.0f, -7.5f, -8.5f, -9.0f, -7.0f,
                                              -6.5f, 6.5f, 7.5f,  8.0f,  8.5f,  9.0f};
    float d[Q4_LANES], dd[Q4_LANES], tq[32][Q4_LANES];
    double xq[Q4_LANES] = {0}, qq[Q4_LANES] = {0}, sse[Q4_LANES] = {0};
    d[0] = fabsf(m) / 7.0f;
    for (int i = 1; i < Q4_LANES; i++) d[i] = i < Q4_CANDS ? m / cands[i - 1] : d[0];
    for (int64_t j = 0; j < len; j++) {
        const float xj = x[j];
        for (int i = 0; i < Q4_LANES; i++) {
            /* dividing unconditionally (d is 0 only for a denormal m) lets the loop vectorise */
            const float r = rint_nearest(xj / d[i]);
            const float c = clampf(d[i] != 0.0f ? r : 0.0f, -8.0f, 7.0f);
            tq[j][i] = c;
            xq[i] += (double)xj * c;
            qq[i] += (double)c * c;
        }
    }
    for (int i = 0; i < Q4_LANES; i++) dd[i] = qq[i] > 0 ? (float)(xq[i] / qq[i]) : 0.0f;
    for (int64_t j = 0; j < len; j++)
        for (int i = 0; i < Q4_LANES; i++) {
            double e = (double)x[j] - (double)tq[j][i] * (double)dd[i];
            sse[i] += e * e;
        }
    int best = 0;
    for (int i = 1; i < Q4_CANDS; i++)
        if (sse[i] < sse[best]) best = i;
    for (int64_t j = 0; j < len; j++) q[j] = tq[j][best];
    return dd[best];
}

void clf_quantize_q4(const float *w, int64_t rows, int64_t cols, uint8_t *codes, float *scales,
                     clf_quant_error *err)
{
    qerr acc = {0, 0, 0, 0};
    int64_t G = clf_q4_groups(cols);
    memset(codes, 0, (size_t)(rows * G * 16));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t g = 0; g < G; g++) {
            const float *x = w + r * cols + g * 32;
            int64_t len = cols - g * 32 < 32 ? cols - g * 32 : 32;
            float q[32];
            float scale = q4_group(x, len, q);
            scales[r * G + g] = scale;
            uint8_t *b = codes + (r * G + g) * 16;
            for (int64_t j = 0; j < 32; j++) {
                /* Past the row's end the code is 0 (nibble 8). */
                int c = j < len ? (int)q[j] : 0;
                uint8_t nib = (uint8_t)(c + 8);
                b[j & 15] |= (uint8_t)(j < 16 ? nib : nib << 4);
                if (j < len) qerr_add(&acc, x[j], (double)c * (double)scale);
            }
        }
    }
    qerr_out(&acc, err);
}

uint64_t clf__buffer_elems(const clf_buffer *b, clf_dtype dtype)
{
    if (dtype == CLF_Q8) return b->q_scales;
    if (dtype == CLF_Q4) return (uint64_t)(b->q_rows * b->q_cols);
    size_t e = clf_dtype_size(dtype);
    return e ? b->size / e : 0;
}

/* A quantised tensor's layout in its buffer. */
typedef struct qlayout {
    int64_t rows, cols;
    size_t code_bytes, n_scales;
} qlayout;

/* A Q8 or Q4 tensor (dtype) that covers its whole buffer. */
static clf_status whole_q(clf_context *ctx, const clf_tensor *t, clf_dtype dtype, const char *op,
                          qlayout *l)
{
    if (!ctx || !t || !t->buffer) return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: NULL argument", op);
    if (!clf__same_root(t->buffer->ctx, ctx))
        return clf__error(ctx, CLF_ERR_CONTEXT, "%s: the tensor belongs to another context", op);
    if (t->dtype != dtype || !t->buffer->q_cols)
        return clf__error(ctx, CLF_ERR_DTYPE, "%s: a %s tensor (%s expected)", op,
                          clf_dtype_name(t->dtype), clf_dtype_name(dtype));
    int64_t n = clf_tensor_numel(t);
    char d[160];
    if (t->buffer->pack_n)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "%s: %s is a packed GEMM weight (clf_gemm_pack_b): its codes are "
                          "interleaved for the kernels, not in rows",
                          op, clf_tensor_describe(t, d, sizeof d));
    if (t->offset != 0 || !clf_tensor_is_contiguous(t) || t->shape[t->ndim - 1] != t->buffer->q_cols ||
        n != t->buffer->q_rows * t->buffer->q_cols)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: %s is a view; whole %s tensors (as made by clf_tensor_create) only",
                          op, clf_tensor_describe(t, d, sizeof d), clf_dtype_name(dtype));
    l->cols = t->buffer->q_cols;
    l->rows = t->buffer->q_rows;
    int64_t G = dtype == CLF_Q4 ? clf_q4_groups(l->cols) : 1;
    l->code_bytes = dtype == CLF_Q4 ? (size_t)(l->rows * G * 16) : (size_t)n;
    l->n_scales = (size_t)(l->rows * G);
    return CLF_OK;
}

static clf_status write_q_body(clf_context *ctx, clf_tensor *t, clf_dtype dtype, const char *op,
                               const void *codes, const float *scales)
{
    qlayout l = {0, 0, 0, 0};
    CLF_TRY(whole_q(ctx, t, dtype, op, &l));
    if (!codes || !scales) return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: NULL argument", op);
    /* One transfer of the whole buffer, the padding between codes and
     * scales zeroed: every byte of it is defined. */
    size_t size = t->buffer->size;
    unsigned char *image = clf__calloc(1, size);
    if (!image) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    memcpy(image, codes, l.code_bytes);
    memcpy(image + t->buffer->q_scales, scales, l.n_scales * 4);
    cl_int err = clf__cl_fault() ? CL_OUT_OF_RESOURCES
                                 : clEnqueueWriteBuffer(ctx->queue, t->buffer->mem, CL_TRUE, 0,
                                                        size, image, 0, NULL, NULL);
    clf__free(image);
    return err == CL_SUCCESS ? CLF_OK : clf__cl_error(ctx, err, op);
}

static clf_status read_q_body(clf_context *ctx, const clf_tensor *t, clf_dtype dtype,
                              const char *op, void *codes, float *scales)
{
    qlayout l = {0, 0, 0, 0};
    CLF_TRY(whole_q(ctx, t, dtype, op, &l));
    if (!codes || !scales) return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: NULL argument", op);
    cl_mem mem = t->buffer->mem;
    cl_int err = clf__cl_fault() ? CL_OUT_OF_RESOURCES
                                 : clEnqueueReadBuffer(ctx->queue, mem, CL_TRUE, 0, l.code_bytes,
                                                       codes, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueReadBuffer(ctx->queue, mem, CL_TRUE, t->buffer->q_scales, l.n_scales * 4,
                                  scales, 0, NULL, NULL);
    if (err != CL_SUCCESS) return clf__cl_error(ctx, err, op);
    ctx->blocking_calls++;
    return clf__device_error_check(ctx);
}

clf_status clf_tensor_write_q8(clf_context *ctx, clf_tensor *t, const int8_t *codes,
                               const float *scales)
{
    CLF__GUARDED(ctx, "clf_tensor_write_q8",
                 write_q_body(ctx, t, CLF_Q8, "clf_tensor_write_q8", codes, scales));
}

clf_status clf_tensor_read_q8(clf_context *ctx, const clf_tensor *t, int8_t *codes, float *scales)
{
    CLF__GUARDED(ctx, "clf_tensor_read_q8",
                 read_q_body(ctx, t, CLF_Q8, "clf_tensor_read_q8", codes, scales));
}

clf_status clf_tensor_write_q4(clf_context *ctx, clf_tensor *t, const uint8_t *codes,
                               const float *scales)
{
    CLF__GUARDED(ctx, "clf_tensor_write_q4",
                 write_q_body(ctx, t, CLF_Q4, "clf_tensor_write_q4", codes, scales));
}

clf_status clf_tensor_read_q4(clf_context *ctx, const clf_tensor *t, uint8_t *codes, float *scales)
{
    CLF__GUARDED(ctx, "clf_tensor_read_q4",
                 read_q_body(ctx, t, CLF_Q4, "clf_tensor_read_q4", codes, scales));
}

/* Host buffers for a whole quantised tensor's codes and scales. */
static clf_status q_alloc(clf_context *ctx, const qlayout *l, void **codes, float **scales)
{
    *codes = clf__malloc(l->code_bytes ? l->code_bytes : 1);
    *scales = clf__malloc(l->n_scales * sizeof **scales);
    if (*codes && *scales) return CLF_OK;
    clf__free(*codes);
    clf__free(*scales);
    *codes = NULL;
    *scales = NULL;
    return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_tensor_write_f32/read_f32: out of memory");
}

/* write_f32 / read_f32 of a whole Q8 (q4 false) or Q4 tensor. */
static clf_status q_write_f32(clf_context *ctx, clf_tensor *t, bool q4, const float *host)
{
    qlayout l = {0, 0, 0, 0};
    clf_dtype dt = q4 ? CLF_Q4 : CLF_Q8;
    CLF_TRY(whole_q(ctx, t, dt, "clf_tensor_write_f32", &l));
    void *codes;
    float *scales;
    CLF_TRY(q_alloc(ctx, &l, &codes, &scales));
    if (q4) clf_quantize_q4(host, l.rows, l.cols, codes, scales, NULL);
    else clf_quantize_q8(host, l.rows, l.cols, codes, scales, NULL);
    clf_status st = write_q_body(ctx, t, dt, "clf_tensor_write_f32", codes, scales);
    clf__free(codes);
    clf__free(scales);
    return st;
}

static clf_status q_read_f32(clf_context *ctx, const clf_tensor *t, bool q4, float *host)
{
    qlayout l = {0, 0, 0, 0};
    clf_dtype dt = q4 ? CLF_Q4 : CLF_Q8;
    CLF_TRY(whole_q(ctx, t, dt, "clf_tensor_read_f32", &l));
    void *codes;
    float *scales;
    CLF_TRY(q_alloc(ctx, &l, &codes, &scales));
    clf_status st = read_q_body(ctx, t, dt, "clf_tensor_read_f32", codes, scales);
    int64_t G = clf_q4_groups(l.cols);
    for (int64_t r = 0; st == CLF_OK && r < l.rows; r++)
        for (int64_t c = 0; c < l.cols; c++) {
            float v;
            if (q4) {
                const uint8_t *b = (const uint8_t *)codes + (r * G + c / 32) * 16;
                int j = (int)(c % 32), nib = j < 16 ? b[j] & 15 : b[j - 16] >> 4;
                v = (float)(nib - 8) * scales[r * G + c / 32];
            } else {
                v = (float)((const int8_t *)codes)[r * l.cols + c] * scales[r];
            }
            host[r * l.cols + c] = v;
        }
    clf__free(codes);
    clf__free(scales);
    return st;
}

clf_status clf__q8_write_f32(clf_context *ctx, clf_tensor *t, const float *host)
{
    return q_write_f32(ctx, t, false, host);
}

clf_status clf__q8_read_f32(clf_context *ctx, const clf_tensor *t, float *host)
{
    return q_read_f32(ctx, t, false, host);
}

clf_status clf__q4_write_f32(clf_context *ctx, clf_tensor *t, const float *host)
{
    return q_write_f32(ctx, t, true, host);
}

clf_status clf__q4_read_f32(clf_context *ctx, const clf_tensor *t, float *host)
{
    return q_read_f32(ctx, t, true, host);
}
