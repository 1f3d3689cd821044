/*
 * clf_gemm_pack_b: a GEMM weight copied once into the CPU micro-kernel's
 * panel layout (kernels/gemm_pack.cl), so that every later product reads it
 * as one contiguous stream of vectors instead of RN rows K elements apart
 * (rows of 768 or 1024 floats are 3 or 4 KiB apart: the same L1 sets, and
 * RN + RM streams for the prefetcher). The layout is a property of the
 * buffer (clf_buffer.pack_*), which clf_gemm reads; every other op refuses
 * such a tensor (clf__check_arg).
 */
#include <stdio.h>
#include <string.h>

#include "ops/gemm_internal.h"

static int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

/* One launch of clf_gemm_pack: (N, K) elements of es bytes from W at offW
 * (row stride ldw) into panels of pn rows and pv-wide k-steps at offP of P. */
static clf_status pack_launch(clf_context *ctx, int pn, int pv, int es, cl_int n, cl_int k,
                              cl_int kp, cl_mem W, cl_ulong offW, cl_int ldw, cl_mem P,
                              cl_ulong offP)
{
    char options[96];
    snprintf(options, sizeof options, "-DCLF_PN=%d -DCLF_PV=%d -DCLF_PACK_B16=%d -DCLF_PACK_B8=%d",
             pn, pv, es == 2, es == 1);
    cl_kernel kern;
    CLF_TRY(clf__kernel_get(ctx, "gemm_pack", options, "clf_gemm_pack", &kern));
    clf__karg args[] = {CLF_KARG(n),    CLF_KARG(k),   CLF_KARG(kp),   CLF_KARG(W),
                        CLF_KARG(offW), CLF_KARG(ldw), CLF_KARG(P),    CLF_KARG(offP)};
    CLF_TRY(clf__set_args(ctx, kern, "clf_gemm_pack", args, CLF_ARRAY_LEN(args)));
    size_t global[2] = {(size_t)kp, (size_t)round_up(n, pn)};
    return clf__launch(ctx, kern, "clf_gemm_pack", 2, global, NULL);
}

static clf_status pack_body(clf_context *ctx, const clf_tensor *w, clf_tensor *out)
{
    static const char *op = "clf_gemm_pack_b";
    char d[160];
    if (!out) return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: out is NULL", op);
    memset(out, 0, sizeof *out);
    CLF_TRY(clf__check_arg(ctx, op, "w", w, CLF__DT_FLOAT | CLF__DT(CLF_Q8), 2, 2));
    if (w->stride[1] != 1)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: w is %s; its rows must be contiguous", op,
                          clf__desc(w, d));
    const bool q8 = w->dtype == CLF_Q8;
    if (q8 && (w->stride[0] != w->buffer->q_cols || w->shape[1] != w->buffer->q_cols ||
               w->offset % w->buffer->q_cols))
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "%s: a q8 w (%s) is packed in whole rows of its buffer", op,
                          clf__desc(w, d));
    /* f32/f16: the register kernel's panels (PN = 2 vectors of rows, PV = 1).
     * Q8: rows interleaved in groups of the GEMV's columns per work-item,
     * K in steps of 16 (PN = G, PV = 16; gemm_common.cl CLF_B_ILV), so the rows a
     * work-item reads are one stream, and its scales copied behind. */
    clf__reg_tile t;
    clf__gemm_reg_tile(ctx, &t);
    if (q8) t.pn = ctx->kprof.gemv_cols_t, t.pv = 16;
    const int64_t n = w->shape[0], k = w->shape[1], kp = round_up(k, t.pv), np = round_up(n, t.pn);
    const int64_t lim = (int64_t)1 << 31;
    if (np * kp >= lim || (n - 1) * w->stride[0] + k >= lim)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "%s: w is %s; the packed form (%lld x %lld) must span fewer than 2^31 "
                          "elements",
                          op, clf__desc(w, d), (long long)np, (long long)kp);
    const size_t es = clf_dtype_size(w->dtype), codes = (size_t)(np * kp) * es;
    clf_buffer *buf = NULL;
    CLF_TRY(clf__buffer_create_weight(ctx, codes + (q8 ? (size_t)n * 4 : 0), &buf));
    if (q8) buf->q_rows = n, buf->q_cols = k, buf->q_scales = codes;
    buf->pack_n = t.pn;
    buf->pack_v = t.pv;
    buf->pack_kp = kp;
    buf->pack_rows = n;
    buf->pack_cols = k;
    cl_int cn = (cl_int)n, ck = (cl_int)k, ckp = (cl_int)kp, ldw = (cl_int)w->stride[0];
    clf_status st = pack_launch(ctx, t.pn, t.pv, w->dtype == CLF_F16 ? 2 : q8 ? 1 : 4, cn, ck, ckp,
                                w->buffer->mem, (cl_ulong)w->offset, ldw, buf->mem, 0);
    if (st == CLF_OK && q8) { /* the rows' scales behind the codes: a 1 x n copy */
        cl_int one = 1, cn1 = (cl_int)n;
        cl_ulong from = (cl_ulong)(w->buffer->q_scales / 4) + (cl_ulong)(w->offset / k);
        st = pack_launch(ctx, 1, 1, 4, one, cn1, cn1, w->buffer->mem, from, cn1, buf->mem,
                         (cl_ulong)(codes / 4));
    }
    if (st == CLF_OK) st = clf_tensor_on(buf, w->dtype, 2, (int64_t[]){n, k}, 0, out);
    if (st != CLF_OK) {
        clf_buffer_free(buf);
        memset(out, 0, sizeof *out);
    }
    return st;
}

clf_status clf_gemm_pack_b(clf_context *ctx, const clf_tensor *w, clf_tensor *out)
{
    CLF__GUARDED(ctx, "clf_gemm_pack_b", pack_body(ctx, w, out));
}

bool clf_tensor_is_packed(const clf_tensor *t) { return t && t->buffer && t->buffer->pack_n > 0; }
