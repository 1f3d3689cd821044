/*
 * clf_gemm: argument checks, the normalised problem, and the provider
 * choice (explicit, CLFORMER_GEMM, or auto from a cached measurement).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ops/gemm_internal.h"

clf_gemm_params clf_gemm_params_default(void)
{
    clf_gemm_params p;
    memset(&p, 0, sizeof p);
    p.alpha = 1.0f;
    return p;
}

static const char *provider_name(clf_gemm_provider p)
{
    return p == CLF_GEMM_CLBLAST ? "clblast" : p == CLF_GEMM_BUILTIN ? "builtin" : "auto";
}

/* Fills one operand from its tensor: rows are the second-to-last dimension. */
static void operand(const clf_tensor *t, clf__gemm_operand *o)
{
    o->t = t;
    o->mem = t->buffer->mem;
    o->offset = (cl_ulong)t->offset;
    o->dtype = t->dtype;
    o->scale_offset = t->dtype == CLF_Q8 ? (cl_ulong)(t->buffer->q_scales / 4) +
                                               (cl_ulong)(t->offset / t->buffer->q_cols)
                                         : 0;
    if (t->dtype == CLF_Q4) {
        /* The kernels index codes in whole groups: row r starts at code
         * r * G * 32 (byte r * G * 16), its scales at r * G (tensor.h "Q4"). */
        int64_t g = clf_q4_groups(t->buffer->q_cols), row0 = t->offset / t->buffer->q_cols;
        o->offset = (cl_ulong)(row0 * g * 16);
        o->scale_offset = (cl_ulong)(t->buffer->q_scales / 4) + (cl_ulong)(row0 * g);
        o->ld = g * 32;
        o->batch_stride = 0;
        return;
    }
    if (t->ndim == 2) {
        o->ld = t->stride[0];
        o->batch_stride = 0;
    } else {
        o->ld = t->stride[1];
        o->batch_stride = t->stride[0];
    }
}

/* A Q8 or Q4 B (tensor.h, "Q8", "Q4"): the weight of y = x B^T, 2-D, whole
 * rows of its buffer (the kernels find row n's scales from offset / cols). */
static clf_status check_quant(clf_context *ctx, const clf_tensor *b, const clf_gemm_params *p)
{
    char d[160];
    int64_t cols = b->buffer->q_cols;
    if (!p->trans_b || b->ndim != 2 || b->stride[0] != cols || b->shape[1] != cols)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "clf_gemm: a %s b (%s) is taken as the (N, K) weight of y = x b^T only: "
                          "trans_b, 2-D, whole rows of its buffer (rows of %lld codes)",
                          clf_dtype_name(b->dtype), clf__desc(b, d), (long long)cols);
    if (b->offset % cols != 0)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "clf_gemm: a %s b (%s) must start at a row (offset a multiple of %lld)",
                          clf_dtype_name(b->dtype), clf__desc(b, d), (long long)cols);
    return CLF_OK;
}

/* A packed weight (clf_gemm_pack_b) is read whole, as the (N, K) b of
 * y = x b^T: the panels hold no other view. */
static clf_status check_packed(clf_context *ctx, const clf_tensor *b, const clf_gemm_params *p)
{
    char d[160];
    const clf_buffer *buf = b->buffer;
    if (!p->trans_b || b->ndim != 2 || b->offset != 0 || b->shape[0] != buf->pack_rows ||
        b->shape[1] != buf->pack_cols)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "clf_gemm: b (%s) is a packed weight of (%lld, %lld): it is taken whole "
                          "as the (N, K) b of y = x b^T only (trans_b, no slice or view)",
                          clf__desc(b, d), (long long)buf->pack_rows, (long long)buf->pack_cols);
    return CLF_OK;
}

static clf_status describe(clf_context *ctx, const clf_tensor *a, const clf_tensor *b,
                           clf_tensor *c, const clf_gemm_params *p, clf__gemm_desc *d)
{
    static const char *op = "clf_gemm";
    CLF_TRY(clf__check_arg(ctx, op, "a", a, CLF__DT_FLOAT, 2, 3));
    CLF_TRY(clf__check_arg(ctx, op, "b", b,
                           CLF__DT_FLOAT | CLF__DT(CLF_Q8) | CLF__DT(CLF_Q4) | CLF__PACKED_OK, 2, 3));
    CLF_TRY(clf__check_arg(ctx, op, "c", c, CLF__DT_FLOAT, 2, 3));
    char da[160], db[160], dc[160];
    const int ra = a->ndim - 2, rb = b->ndim - 2, rc = c->ndim - 2; /* row dims */
    int64_t m = p->trans_a ? a->shape[ra + 1] : a->shape[ra];
    int64_t k = p->trans_a ? a->shape[ra] : a->shape[ra + 1];
    int64_t kb = p->trans_b ? b->shape[rb + 1] : b->shape[rb];
    int64_t n = p->trans_b ? b->shape[rb] : b->shape[rb + 1];
    int64_t batch = c->ndim == 3 ? c->shape[0] : 1;
    if (k != kb || c->shape[rc] != m || c->shape[rc + 1] != n || a->ndim != c->ndim ||
        (a->ndim == 3 && a->shape[0] != batch) || (b->ndim == 3 && b->shape[0] != batch))
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "clf_gemm: a %s%s times b %s%s does not give c %s (op(A) is M x K, "
                          "op(B) K x N, C M x N; a and c have the same batch, b is 2-D or has it "
                          "too)",
                          clf__desc(a, da), p->trans_a ? " (transposed)" : "", clf__desc(b, db),
                          p->trans_b ? " (transposed)" : "", clf__desc(c, dc));
    const clf_tensor *all[] = {a, b, c};
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        if (all[i]->stride[all[i]->ndim - 1] != 1)
            return clf__error(ctx, CLF_ERR_SHAPE,
                              "clf_gemm: %s is %s; its innermost dimension must be contiguous",
                              names[i], clf__desc(all[i], da));
    if (b->dtype == CLF_Q8 || b->dtype == CLF_Q4) CLF_TRY(check_quant(ctx, b, p));
    if (b->buffer->pack_n) CLF_TRY(check_packed(ctx, b, p));
    if (clf__overlap(c, a) || clf__overlap(c, b))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_gemm: c overlaps an input");
    if (p->bias) {
        CLF_TRY(clf__check_arg(ctx, op, "bias", p->bias, CLF__DT_FLOAT, 1, 1));
        if (p->bias->shape[0] != n || p->bias->stride[0] != 1)
            return clf__error(ctx, CLF_ERR_SHAPE, "clf_gemm: bias is %s; expected (%lld) contiguous",
                              clf__desc(p->bias, da), (long long)n);
    }
    if ((unsigned)p->act > CLF_ACT_TANH)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_gemm: unknown activation %d", (int)p->act);
    memset(d, 0, sizeof *d);
    d->m = m;
    d->n = n;
    d->k = k;
    d->batch = batch;
    d->trans_a = p->trans_a;
    d->trans_b = p->trans_b;
    operand(a, &d->a);
    operand(b, &d->b);
    if (b->buffer->pack_n) d->b.packed = true, d->b.ld = b->buffer->pack_kp;
    operand(c, &d->c);
    d->alpha = p->alpha == 0.0f ? 1.0f : p->alpha;
    d->beta = p->beta;
    d->bias = p->bias;
    d->act = p->act;
    d->c_tensor = c;
    /* A batch of row blocks that sit back to back against a shared B is one
     * tall product: fewer, larger launches. */
    if (batch > 1 && d->b.batch_stride == 0 && !d->trans_a && d->a.batch_stride == m * d->a.ld &&
        d->c.batch_stride == m * d->c.ld) {
        d->m = m * batch;
        d->batch = 1;
    }
    return CLF_OK;
}

static clf_status env_provider(clf_context *ctx, clf_gemm_provider *out)
{
    const char *env = getenv("CLFORMER_GEMM");
    if (!env || !*env || strcasecmp(env, "auto") == 0 || strcasecmp(env, "measure") == 0)
        return CLF_ERR_NOT_FOUND;
    if (strcasecmp(env, "clblast") == 0) *out = CLF_GEMM_CLBLAST;
    else if (strcasecmp(env, "builtin") == 0) *out = CLF_GEMM_BUILTIN;
    else
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "CLFORMER_GEMM=\"%s\": expected auto, measure, clblast or builtin", env);
    return CLF_OK;
}

/* An f32 view of shape (1, k) or (k) (ndim 2 or 1) with unit innermost stride. */
static bool f32_row(const clf_tensor *t, int ndim, int64_t k)
{
    return t && t->dtype == CLF_F32 && t->ndim == ndim && t->shape[ndim - 1] == k &&
           t->stride[ndim - 1] == 1 && (ndim == 1 || t->shape[0] == 1);
}

/* Whether clf_gemm can fold the norm n into a (clf_gemm_norm's conditions, less the
 * walking GEMV's, which the caller asks the plan): f32 rows, and the sum, which work-group 0
 * writes while the others read, overlapping nothing they read or write. */
static bool norm_foldable(const clf_tensor *a, const clf_tensor *c, const clf_gemm_norm *n)
{
    const clf_norm_params *q = &n->norm;
    int64_t k = a->shape[a->ndim - 1];
    if (!f32_row(a, 2, k) || !f32_row(n->gamma, 1, k) || (n->beta && !f32_row(n->beta, 1, k)) ||
        (q->residual && !f32_row(q->residual, 2, k)) || (q->sum_out && !f32_row(q->sum_out, 2, k)))
        return false;
    if ((q->type != CLF_NORM_LAYER && q->type != CLF_NORM_RMS) ||
        (q->type == CLF_NORM_RMS && n->beta) || !(q->eps >= 0.0f) || isinf(q->eps))
        return false; /* clf_norm's errors */
    const clf_tensor *s = q->sum_out;
    return !s || !(clf__overlap(s, a) || (q->residual && clf__overlap(s, q->residual)) ||
                   clf__overlap(s, n->gamma) || (n->beta && clf__overlap(s, n->beta)) ||
                   clf__overlap(s, c));
}

static clf_status gemm_body(clf_context *ctx, const clf_tensor *a, const clf_tensor *b,
                            clf_tensor *c, const clf_gemm_params *params);

/* clf_gemm with params->norm: folded into the walking GEMV where it can be, else clf_norm
 * into normed, then the product of normed. */
static clf_status gemm_normed(clf_context *ctx, const clf_tensor *a, const clf_tensor *b,
                              clf_tensor *c, const clf_gemm_params *params)
{
    const clf_gemm_norm *n = params->norm;
    clf_gemm_params p = *params;
    p.norm = NULL;
    char d1[160], d2[160];
    CLF_TRY(clf__check_arg(ctx, "clf_gemm", "a", a, CLF__DT_FLOAT, 2, 3));
    CLF_TRY(clf__check_arg(ctx, "clf_gemm", "norm.normed", n->normed, CLF__DT_FLOAT, 2, 3));
    if (!clf__same_shape(a, n->normed) || n->normed->dtype != a->dtype)
        return clf__error(ctx, CLF_ERR_SHAPE, "clf_gemm: norm.normed %s must have a's shape and "
                                              "dtype (a %s)", clf__desc(n->normed, d1),
                          clf__desc(a, d2));
    clf_gemm_provider prov = p.provider;
    if (prov == CLF_GEMM_AUTO && env_provider(ctx, &prov) != CLF_OK) prov = CLF_GEMM_AUTO;
    if (prov != CLF_GEMM_CLBLAST && !p.trans_a && norm_foldable(a, c, n)) {
        clf__gemm_desc d;
        CLF_TRY(describe(ctx, a, b, c, &p, &d));
        if (!clf__gemm_i8_eligible(ctx, &d) && clf__gemm_builtin_walks(ctx, &d)) {
            const clf_norm_params *q = &n->norm;
            clf__gemm_norm g = {q->type == CLF_NORM_RMS ? 2 : 1, q->eps == 0.0f ? 1e-5f : q->eps,
                                q->residual, n->gamma, n->beta, q->sum_out};
            d.norm = &g;
            return clf__gemm_builtin(ctx, &d);
        }
    }
    CLF_TRY(clf_norm(ctx, a, n->gamma, n->beta, n->normed, &n->norm));
    return gemm_body(ctx, n->normed, b, c, &p);
}

static clf_status gemm_body(clf_context *ctx, const clf_tensor *a, const clf_tensor *b,
                            clf_tensor *c, const clf_gemm_params *params)
{
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_gemm: NULL context");
    if (params && params->norm) return gemm_normed(ctx, a, b, c, params);
    clf_gemm_params p = params ? *params : clf_gemm_params_default();
    clf__gemm_desc d;
    CLF_TRY(describe(ctx, a, b, c, &p, &d));
    clf_gemm_provider prov = p.provider;
    if (prov != CLF_GEMM_CLBLAST && clf__gemm_i8_eligible(ctx, &d)) return clf__gemm_i8_dynamic(ctx, &d);
    if (prov == CLF_GEMM_AUTO) {
        clf_status st = env_provider(ctx, &prov);
        if (st == CLF_ERR_NOT_FOUND) st = clf__gemm_auto_provider(ctx, &d, &prov);
        if (st != CLF_OK) return st;
        /* An override CLBlast cannot honour for these dtypes falls back. */
        if (prov == CLF_GEMM_CLBLAST && !clf__gemm_clblast_supports(ctx, &d)) prov = CLF_GEMM_BUILTIN;
    }
    switch (prov) {
    case CLF_GEMM_CLBLAST: return clf__gemm_clblast(ctx, &d);
    case CLF_GEMM_BUILTIN: return clf__gemm_builtin(ctx, &d);
    case CLF_GEMM_AUTO: break;
    }
    return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_gemm: unknown provider %d (%s)", (int)prov,
                      provider_name(prov));
}

clf_status clf_gemm(clf_context *ctx, const clf_tensor *a, const clf_tensor *b, clf_tensor *c,
                    const clf_gemm_params *params)
{
    CLF__GUARDED(ctx, "clf_gemm", gemm_body(ctx, a, b, c, params));
}
