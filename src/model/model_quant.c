/*
 * Q8 and Q4 weights of a model (model.h, weight_dtype CLF_Q8 / CLF_Q4): a
 * layer matrix is quantised on the host as it is loaded; under CLF_Q4 it is
 * stored as Q4 when its RMS relative error is at most CLF__Q4_MAX_RMS; else
 * (and under CLF_Q8) as Q8 when its Q8 RMS relative error is at most
 * CLF__Q8_MAX_RMS, else as f16; either way the error of the format tried
 * last goes into clf_model_info.
 *
 * Why a limit: per-row int8 with scale max|w| / 127 suits matrices without
 * outliers (random-initialised goldens: 0.5-0.7% RMS error), but
 * all-MiniLM-L6-v2's FFN output projections (linear2) have a few large
 * weights per row and come out at 1.4-2.1%, which alone took the sentence
 * embeddings' minimum cosine with f32 from 0.9992 to 0.9966 (issue 16 asks
 * for 0.999). Keeping those in f16 restores it at a small cost in bytes.
 */
#include <string.h>

#include "model/model_internal.h"

/* Q8 is kept when the RMS relative error is at most this. */
#define CLF__Q8_MAX_RMS 0.01
/* Q4 (weight_dtype CLF_Q4) is kept when its RMS relative error is at most
 * this; above it the matrix is tried as Q8 (then f16, as above). Gaussian or
 * uniform weights come out at 7-9% with groups of 32 (step max / 7 over 32
 * values); 12% lets those through and sends matrices with outliers, whose
 * groups' maxima stretch the step, to Q8. */
#define CLF__Q4_MAX_RMS 0.12

static clf_status record(clf_model *m, const char *name, int64_t rows, int64_t cols,
                         const clf_quant_error *e, clf_dtype stored)
{
    if (m->n_quant == m->cap_quant) {
        int64_t cap = m->cap_quant ? 2 * m->cap_quant : 32;
        clf_weight_quant *q = clf__realloc(m->quant, (size_t)cap * sizeof *q);
        if (!q) return clf__error(m->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
        m->quant = q;
        m->cap_quant = cap;
    }
    char *copy = clf__strdup(name);
    if (!copy) return clf__error(m->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    clf_weight_quant *w = &m->quant[m->n_quant++];
    w->name = copy;
    w->rows = rows;
    w->cols = cols;
    w->error = *e;
    w->stored = stored;
    return CLF_OK;
}

clf_status clf__model_quant_prepare(clf_model *m, const char *name, int64_t rows, int64_t cols,
                                    const float *host, bool allow_q4, clf__quant_host *q)
{
    memset(q, 0, sizeof *q);
    bool q4 = m->wdtype == CLF_Q4 && allow_q4;
    size_t g = (size_t)clf_q4_groups(cols);
    size_t code_bytes = (size_t)(rows * cols), n_scales = (size_t)rows;
    if (q4 && (size_t)rows * g * 16 > code_bytes) code_bytes = (size_t)rows * g * 16;
    if (q4) n_scales = (size_t)rows * g;
    q->codes = clf__malloc(code_bytes);
    q->scales = clf__malloc(n_scales * sizeof *q->scales);
    if (!q->codes || !q->scales) {
        clf__quant_host_free(q);
        return clf__error(m->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory for \"%s\"", name);
    }
    clf_quant_error e;
    q->stored = CLF_F16;
    if (q4) {
        clf_quantize_q4(host, rows, cols, q->codes, q->scales, &e);
        if (e.rms_rel <= CLF__Q4_MAX_RMS) q->stored = CLF_Q4;
    }
    if (q->stored == CLF_F16) {
        /* Q8 asked for, or the Q4 fallback; the error recorded is the
         * stored format's (f16's is left as Q8's: below 1% either way). */
        clf_quantize_q8(host, rows, cols, q->codes, q->scales, &e);
        if (e.rms_rel <= CLF__Q8_MAX_RMS) q->stored = CLF_Q8;
    }
    clf_status st = record(m, name, rows, cols, &e, q->stored);
    if (st != CLF_OK) clf__quant_host_free(q);
    return st;
}

void clf__quant_host_free(clf__quant_host *q)
{
    clf__free(q->codes);
    clf__free(q->scales);
    q->codes = NULL;
    q->scales = NULL;
}

clf_status clf__model_random_host(clf_model *m, const int64_t *shape, uint64_t stream, float lo,
                                  float hi, float **out)
{
    /* The values an f32 model of the seed gets: made on the device, read back. */
    clf_context *ctx = m->wctx ? m->wctx : m->ctx;
    int64_t n = shape[0] * shape[1];
    clf_tensor tmp;
    *out = NULL;
    CLF_TRY(clf_tensor_create(ctx, CLF_F32, 2, shape, &tmp));
    float *host = clf__malloc((size_t)n * sizeof *host);
    clf_status st = host ? clf_tensor_fill_uniform(ctx, &tmp, stream, lo, hi)
                         : clf__error(m->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    if (st == CLF_OK) st = clf_tensor_read_f32(ctx, &tmp, host, n);
    clf_tensor_free(&tmp);
    if (st != CLF_OK) clf__free(host);
    else *out = host;
    return st;
}

void clf__model_quant_free(clf_model *m)
{
    for (int64_t i = 0; i < m->n_quant; i++) clf__free((void *)m->quant[i].name);
    clf__free(m->quant);
    m->quant = NULL;
    m->n_quant = m->cap_quant = 0;
}

void clf__model_quant_info(clf_model *m)
{
    size_t bytes = 0;
    for (int i = 0; i < m->n_owned; i++) bytes += clf_buffer_size(m->owned[i].buffer);
    m->info.weight_dtype = m->wdtype;
    m->info.weight_bytes = bytes;
    m->info.n_weight_quant = m->n_quant;
    m->info.weight_quant = m->n_quant ? m->quant : NULL;
}
