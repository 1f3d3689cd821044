/*
 * Q8 weights on the host (tensor.h, "Q8"): the quantiser, its error
 * figures, and the transfers of a whole Q8 tensor (codes and scales, which
 * share one buffer).
 */
#include <math.h>
#include <string.h>

#include "runtime/runtime.h"

size_t clf_q8_scale_offset(int64_t codes)
{
    return codes <= 0 ? 0 : ((size_t)codes + 63) / 64 * 64;
}

void clf_quantize_q8(const float *w, int64_t rows, int64_t cols, int8_t *codes, float *scales,
                     clf_quant_error *err)
{
    double sum_sq = 0, sum_err_sq = 0, max_abs = 0, max_err = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *row = w + r * cols;
        float amax = 0.0f;
        for (int64_t c = 0; c < cols; c++)
            amax = fmaxf(amax, fabsf(row[c]));
        float scale = amax / 127.0f;
        scales[r] = scale;
        for (int64_t c = 0; c < cols; c++) {
            /* rintf rounds to nearest, ties to even, in the default mode. */
            float q = scale > 0.0f ? rintf(row[c] / scale) : 0.0f;
            q = fminf(fmaxf(q, -127.0f), 127.0f);
            codes[r * cols + c] = (int8_t)q;
            double e = (double)row[c] - (double)q * (double)scale;
            sum_sq += (double)row[c] * row[c];
            sum_err_sq += e * e;
            if (fabs(e) > max_err) max_err = fabs(e);
        }
        if (amax > max_abs) max_abs = amax;
    }
    if (err) {
        err->max_rel = max_abs > 0 ? max_err / max_abs : 0;
        err->rms_rel = sum_sq > 0 ? sqrt(sum_err_sq / sum_sq) : 0;
    }
}

/* A Q8 tensor that covers its whole buffer: rows and cols of its codes. */
static clf_status whole_q8(clf_context *ctx, const clf_tensor *t, const char *op, int64_t *rows,
                           int64_t *cols)
{
    if (!ctx || !t || !t->buffer) return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: NULL argument", op);
    if (t->buffer->ctx != ctx)
        return clf__error(ctx, CLF_ERR_CONTEXT, "%s: the tensor belongs to another context", op);
    if (t->dtype != CLF_Q8 || !t->buffer->q8_cols)
        return clf__error(ctx, CLF_ERR_DTYPE, "%s: a %s tensor (q8 expected)", op,
                          clf_dtype_name(t->dtype));
    int64_t n = clf_tensor_numel(t);
    char d[160];
    if (t->offset != 0 || !clf_tensor_is_contiguous(t) || t->shape[t->ndim - 1] != t->buffer->q8_cols ||
        clf_q8_scale_offset(n) != t->buffer->q8_scales)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: %s is a view; whole q8 tensors (as made by clf_tensor_create) only",
                          op, clf_tensor_describe(t, d, sizeof d));
    *cols = t->buffer->q8_cols;
    *rows = n / *cols;
    return CLF_OK;
}

static clf_status write_q8_body(clf_context *ctx, clf_tensor *t, const int8_t *codes,
                                const float *scales)
{
    int64_t rows = 0, cols = 0;
    CLF_TRY(whole_q8(ctx, t, "clf_tensor_write_q8", &rows, &cols));
    if (!codes || !scales) return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_tensor_write_q8: NULL argument");
    /* One transfer of the whole buffer, the padding between codes and
     * scales zeroed: every byte of it is defined. */
    size_t size = t->buffer->size, n = (size_t)(rows * cols);
    unsigned char *image = clf__calloc(1, size);
    if (!image) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_tensor_write_q8: out of memory");
    memcpy(image, codes, n);
    memcpy(image + t->buffer->q8_scales, scales, (size_t)rows * 4);
    cl_int err = clf__cl_fault() ? CL_OUT_OF_RESOURCES
                                 : clEnqueueWriteBuffer(ctx->queue, t->buffer->mem, CL_TRUE, 0,
                                                        size, image, 0, NULL, NULL);
    clf__free(image);
    return err == CL_SUCCESS ? CLF_OK : clf__cl_error(ctx, err, "clf_tensor_write_q8");
}

clf_status clf_tensor_write_q8(clf_context *ctx, clf_tensor *t, const int8_t *codes,
                               const float *scales)
{
    CLF__GUARDED(ctx, "clf_tensor_write_q8", write_q8_body(ctx, t, codes, scales));
}

static clf_status read_q8_body(clf_context *ctx, const clf_tensor *t, int8_t *codes, float *scales)
{
    int64_t rows = 0, cols = 0;
    CLF_TRY(whole_q8(ctx, t, "clf_tensor_read_q8", &rows, &cols));
    if (!codes || !scales) return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_tensor_read_q8: NULL argument");
    cl_mem mem = t->buffer->mem;
    cl_int err = clf__cl_fault() ? CL_OUT_OF_RESOURCES
                                 : clEnqueueReadBuffer(ctx->queue, mem, CL_TRUE, 0,
                                                       (size_t)(rows * cols), codes, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueReadBuffer(ctx->queue, mem, CL_TRUE, t->buffer->q8_scales, (size_t)rows * 4,
                                  scales, 0, NULL, NULL);
    if (err != CL_SUCCESS) return clf__cl_error(ctx, err, "clf_tensor_read_q8");
    ctx->blocking_calls++;
    return clf__device_error_check(ctx);
}

clf_status clf_tensor_read_q8(clf_context *ctx, const clf_tensor *t, int8_t *codes, float *scales)
{
    CLF__GUARDED(ctx, "clf_tensor_read_q8", read_q8_body(ctx, t, codes, scales));
}

clf_status clf__q8_write_f32(clf_context *ctx, clf_tensor *t, const float *host)
{
    int64_t rows = 0, cols = 0;
    CLF_TRY(whole_q8(ctx, t, "clf_tensor_write_f32", &rows, &cols));
    int8_t *codes = clf__malloc((size_t)(rows * cols));
    float *scales = clf__malloc((size_t)rows * sizeof *scales);
    clf_status st = CLF_OK;
    if (!codes || !scales) {
        st = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_tensor_write_f32: out of memory");
    } else {
        clf_quantize_q8(host, rows, cols, codes, scales, NULL);
        st = write_q8_body(ctx, t, codes, scales);
    }
    clf__free(codes);
    clf__free(scales);
    return st;
}

clf_status clf__q8_read_f32(clf_context *ctx, const clf_tensor *t, float *host)
{
    int64_t rows = 0, cols = 0;
    CLF_TRY(whole_q8(ctx, t, "clf_tensor_read_f32", &rows, &cols));
    int8_t *codes = clf__malloc((size_t)(rows * cols));
    float *scales = clf__malloc((size_t)rows * sizeof *scales);
    clf_status st = CLF_OK;
    if (!codes || !scales) st = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_tensor_read_f32: out of memory");
    else st = read_q8_body(ctx, t, codes, scales);
    for (int64_t i = 0; st == CLF_OK && i < rows * cols; i++)
        host[i] = (float)codes[i] * scales[i / cols];
    clf__free(codes);
    clf__free(scales);
    return st;
}
