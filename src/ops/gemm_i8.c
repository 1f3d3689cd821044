/*
 * int8 x int8 products (ops.h, clf_quantize_rows_q8 and clf_gemm_i8; kernels
 * in kernels/gemm_i8.cl): activations quantised per row on the device, times
 * a Q8 weight with exact int32 sums, and clf_gemm's dynamic path that chains
 * the two through a scratch buffer when the device profile asks for it.
 */
#include <stdio.h>

#include "ops/gemm_internal.h"

/* int32 sums of K products of codes within +-127 cannot overflow below this. */
#define CLF__I8_MAX_K 133000

/* One Q8 operand as the kernels see it: codes from byte off with rows ld
 * apart, row scales from float index soff of the same buffer. */
typedef struct i8_operand {
    cl_mem mem;
    cl_ulong off, soff;
    cl_int ld;
} i8_operand;

static i8_operand q8_operand(const clf_tensor *t)
{
    int64_t cols = t->buffer->q_cols, row0 = t->offset / cols;
    i8_operand o = {t->buffer->mem, (cl_ulong)t->offset,
                    (cl_ulong)(t->buffer->q_scales / 4) + (cl_ulong)row0, (cl_int)cols};
    return o;
}

static size_t group_size(const clf_context *ctx, size_t want)
{
    size_t lim = (size_t)clf__limits_group_max(&ctx->kprof.limits);
    while (want > 1 && want > lim) want /= 2;
    return want;
}

/* Rows [0, m) of the f32/f16 matrix at (mem, off elements, lda) into q. */
static clf_status launch_quant(clf_context *ctx, cl_mem a, cl_ulong off_a, cl_int lda,
                               clf_dtype a_dtype, int64_t m, int64_t k, const i8_operand *q)
{
    char opt[64];
    snprintf(opt, sizeof opt, "-DCLF_A_F16=%d", a_dtype == CLF_F16);
    cl_kernel kern;
    CLF_TRY(clf__kernel_get(ctx, "gemm_i8", opt, "clf_quant_rows_i8", &kern));
    cl_int M = (cl_int)m, K = (cl_int)k;
    clf__karg args[] = {CLF_KARG(M),      CLF_KARG(K),     CLF_KARG(a),   CLF_KARG(off_a),
                        CLF_KARG(lda),    CLF_KARG(q->mem), CLF_KARG(q->off), CLF_KARG(q->ld),
                        CLF_KARG(q->mem), CLF_KARG(q->soff)};
    CLF_TRY(clf__set_args(ctx, kern, "clf_quant_rows_i8", args, CLF_ARRAY_LEN(args)));
    size_t local = group_size(ctx, 8), global = ((size_t)m + local - 1) / local * local;
    return clf__launch(ctx, kern, "clf_quant_rows_i8", 1, &global, &local);
}

/* C (rows of ldc floats from element off_c) = a b^T (+ bias), 8 rows of a
 * per launch (the kernel holds CLF_GM rows). */
static clf_status launch_gemv(clf_context *ctx, int64_t m, int64_t n, int64_t k, const i8_operand *a,
                              const i8_operand *b, cl_mem c, cl_ulong off_c, cl_int ldc,
                              const clf_tensor *bias)
{
    const int gn = 4;
    for (int64_t r0 = 0; r0 < m; r0 += 8) {
        int64_t rows = m - r0 < 8 ? m - r0 : 8;
        int gm = rows <= 1 ? 1 : rows <= 2 ? 2 : rows <= 4 ? 4 : 8;
        char opt[128];
        /* The dot-product built-ins are OpenCL C 3.0 functions of the
         * extension (feature __opencl_c_integer_dot_product_input_4x8bit):
         * compilers declare them only under -cl-std=CL3.0. */
        bool dot = ctx->kprof.gemm_i8_dot;
        snprintf(opt, sizeof opt, "-DCLF_GM=%d -DCLF_GN=%d -DCLF_I8_DOT=%d -DCLF_BIAS_F16=%d%s", gm,
                 gn, dot, bias && bias->dtype == CLF_F16, dot ? " -cl-std=CL3.0" : "");
        cl_kernel kern;
        CLF_TRY(clf__kernel_get(ctx, "gemm_i8", opt, "clf_gemv_i8", &kern));
        cl_int M = (cl_int)rows, N = (cl_int)n, K = (cl_int)k, has_bias = bias != NULL;
        cl_ulong oa = a->off + (cl_ulong)(r0 * a->ld), osa = a->soff + (cl_ulong)r0;
        cl_ulong oc = off_c + (cl_ulong)(r0 * ldc), ob = bias ? (cl_ulong)bias->offset : 0;
        cl_mem bias_mem = bias ? bias->buffer->mem : NULL;
        clf__karg args[] = {
            CLF_KARG(M),      CLF_KARG(N),      CLF_KARG(K),      CLF_KARG(a->mem),
            CLF_KARG(oa),     CLF_KARG(a->ld),  CLF_KARG(a->mem), CLF_KARG(osa),
            CLF_KARG(b->mem), CLF_KARG(b->off), CLF_KARG(b->ld),  CLF_KARG(b->mem),
            CLF_KARG(b->soff), CLF_KARG(c),     CLF_KARG(oc),     CLF_KARG(ldc),
            {sizeof(cl_mem), bias ? &bias_mem : NULL}, CLF_KARG(ob), CLF_KARG(has_bias),
        };
        CLF_TRY(clf__set_args(ctx, kern, "clf_gemv_i8", args, CLF_ARRAY_LEN(args)));
        size_t items = ((size_t)n + (size_t)gn - 1) / (size_t)gn;
        size_t local = group_size(ctx, 8), global = (items + local - 1) / local * local;
        CLF_TRY(clf__launch(ctx, kern, "clf_gemv_i8", 1, &global, &local));
    }
    return CLF_OK;
}

/* A whole-row 2-D Q8 view (any row slice of a Q8 tensor). */
static clf_status check_q8_rows(clf_context *ctx, const char *op, const char *arg,
                                const clf_tensor *t)
{
    CLF_TRY(clf__check_arg(ctx, op, arg, t, CLF__DT(CLF_Q8), 2, 2));
    char d[160];
    int64_t cols = t->buffer->q_cols;
    if (t->shape[1] != cols || t->stride[0] != cols || t->stride[1] != 1 || t->offset % cols)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: %s is %s; whole rows of its Q8 buffer (rows of %lld) expected",
                          op, arg, clf__desc(t, d), (long long)cols);
    return CLF_OK;
}

static clf_status quantize_rows_body(clf_context *ctx, const clf_tensor *a, clf_tensor *q)
{
    static const char *op = "clf_quantize_rows_q8";
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: NULL context", op);
    CLF_TRY(clf__check_arg(ctx, op, "a", a, CLF__DT_FLOAT, 2, 2));
    CLF_TRY(check_q8_rows(ctx, op, "q", q));
    char da[160], dq[160];
    if (a->shape[0] != q->shape[0] || a->shape[1] != q->shape[1] || a->stride[1] != 1)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: a %s into q %s: same shape, contiguous rows expected",
                          op, clf__desc(a, da), clf__desc(q, dq));
    i8_operand o = q8_operand(q);
    return launch_quant(ctx, a->buffer->mem, (cl_ulong)a->offset, (cl_int)a->stride[0], a->dtype,
                        a->shape[0], a->shape[1], &o);
}

clf_status clf_quantize_rows_q8(clf_context *ctx, const clf_tensor *a, clf_tensor *q)
{
    CLF__GUARDED(ctx, "clf_quantize_rows_q8", quantize_rows_body(ctx, a, q));
}

static clf_status gemm_i8_body(clf_context *ctx, const clf_tensor *a, const clf_tensor *b,
                               clf_tensor *c, const clf_gemm_params *params)
{
    static const char *op = "clf_gemm_i8";
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: NULL context", op);
    clf_gemm_params p = params ? *params : clf_gemm_params_default();
    if (!params) p.trans_b = true;
    CLF_TRY(check_q8_rows(ctx, op, "a", a));
    CLF_TRY(check_q8_rows(ctx, op, "b", b));
    CLF_TRY(clf__check_arg(ctx, op, "c", c, CLF__DT(CLF_F32), 2, 2));
    char da[160], db[160], dc[160];
    int64_t m = a->shape[0], k = a->shape[1], n = b->shape[0];
    if (b->shape[1] != k || c->shape[0] != m || c->shape[1] != n || c->stride[1] != 1)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: a %s times b %s^T does not give c %s (contiguous rows)",
                          op, clf__desc(a, da), clf__desc(b, db), clf__desc(c, dc));
    if (!p.trans_b || p.trans_a || (p.alpha != 0.0f && p.alpha != 1.0f) || p.beta != 0.0f ||
        k >= CLF__I8_MAX_K)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "%s: only C = act(A B^T + bias): trans_b, no trans_a, alpha 1, beta 0, "
                          "K < %d (got trans_a %d trans_b %d alpha %g beta %g K %lld)",
                          op, CLF__I8_MAX_K, p.trans_a, p.trans_b, p.alpha, p.beta, (long long)k);
    if (p.bias) {
        CLF_TRY(clf__check_arg(ctx, op, "bias", p.bias, CLF__DT_FLOAT, 1, 1));
        if (p.bias->shape[0] != n || p.bias->stride[0] != 1)
            return clf__error(ctx, CLF_ERR_SHAPE, "%s: bias is %s; expected (%lld) contiguous", op,
                              clf__desc(p.bias, da), (long long)n);
    }
    if ((unsigned)p.act > CLF_ACT_TANH)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: unknown activation %d", op, (int)p.act);
    if (clf__overlap(c, a) || clf__overlap(c, b))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: c overlaps an input", op);
    i8_operand oa = q8_operand(a), ob = q8_operand(b);
    CLF_TRY(launch_gemv(ctx, m, n, k, &oa, &ob, c->buffer->mem, (cl_ulong)c->offset,
                        (cl_int)c->stride[0], p.bias));
    return p.act != CLF_ACT_NONE ? clf_activation(ctx, p.act, c, c) : CLF_OK;
}

clf_status clf_gemm_i8(clf_context *ctx, const clf_tensor *a, const clf_tensor *b, clf_tensor *c,
                       const clf_gemm_params *params)
{
    CLF__GUARDED(ctx, "clf_gemm_i8", gemm_i8_body(ctx, a, b, c, params));
}

bool clf__gemm_i8_eligible(const clf_context *ctx, const clf__gemm_desc *d)
{
    /* Plain Q8 rows only: a packed (row-interleaved) B takes the GEMV. */
    return ctx->kprof.gemm_i8 && d->b.dtype == CLF_Q8 && !d->b.packed && d->c.dtype == CLF_F32 &&
           !d->trans_a && d->trans_b && d->batch == 1 && d->m <= ctx->kprof.gemv_max_m &&
           d->alpha == 1.0f && d->beta == 0.0f && d->k < CLF__I8_MAX_K;
}

clf_status clf__gemm_i8_dynamic(clf_context *ctx, const clf__gemm_desc *d)
{
    /* The activations' codes (rows of K, padded to 64 bytes) then their scales. */
    size_t code_bytes = ((size_t)(d->m * d->k) + 63) / 64 * 64;
    cl_mem scratch;
    CLF_TRY(clf__scratch(ctx, CLF__SCRATCH_I8, code_bytes + (size_t)d->m * 4, &scratch));
    i8_operand qa = {scratch, 0, code_bytes / 4, (cl_int)d->k};
    i8_operand qb = {d->b.mem, d->b.offset, d->b.scale_offset, (cl_int)d->b.ld};
    CLF_TRY(launch_quant(ctx, d->a.mem, d->a.offset, (cl_int)d->a.ld, d->a.dtype, d->m, d->k, &qa));
    CLF_TRY(launch_gemv(ctx, d->m, d->n, d->k, &qa, &qb, d->c.mem, d->c.offset, (cl_int)d->c.ld,
                        d->bias));
    return d->act != CLF_ACT_NONE ? clf_activation(ctx, d->act, d->c_tensor, d->c_tensor) : CLF_OK;
}
