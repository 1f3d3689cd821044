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

static clf_status pack_body(clf_context *ctx, const clf_tensor *w, clf_tensor *out)
{
    static const char *op = "clf_gemm_pack_b";
    char d[160];
    if (!out) return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: out is NULL", op);
    memset(out, 0, sizeof *out);
    CLF_TRY(clf__check_arg(ctx, op, "w", w, CLF__DT_FLOAT, 2, 2));
    if (w->stride[1] != 1)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: w is %s; its rows must be contiguous", op,
                          clf__desc(w, d));
    clf__reg_tile t;
    clf__gemm_reg_tile(ctx, &t);
    const int64_t n = w->shape[0], k = w->shape[1], kp = round_up(k, t.pv), np = round_up(n, t.pn);
    const int64_t lim = (int64_t)1 << 31;
    if (np * kp >= lim || (n - 1) * w->stride[0] + k >= lim)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "%s: w is %s; the packed form (%lld x %lld) must span fewer than 2^31 "
                          "elements",
                          op, clf__desc(w, d), (long long)np, (long long)kp);
    const size_t es = clf_dtype_size(w->dtype);
    clf_buffer *buf = NULL;
    CLF_TRY(clf_buffer_create(ctx, (size_t)(np * kp) * es, &buf));
    buf->pack_n = t.pn;
    buf->pack_v = t.pv;
    buf->pack_kp = kp;
    buf->pack_rows = n;
    buf->pack_cols = k;
    char options[96];
    snprintf(options, sizeof options, "-DCLF_PN=%d -DCLF_PV=%d -DCLF_PACK_B16=%d", t.pn, t.pv,
             w->dtype == CLF_F16);
    cl_kernel kern;
    clf_status st = clf__kernel_get(ctx, "gemm_pack", options, "clf_gemm_pack", &kern);
    cl_int cn = (cl_int)n, ck = (cl_int)k, ckp = (cl_int)kp, ldw = (cl_int)w->stride[0];
    cl_ulong off = (cl_ulong)w->offset;
    clf__karg args[] = {CLF_KARG(cn),  CLF_KARG(ck),  CLF_KARG(ckp),     CLF_KMEM(w),
                        CLF_KARG(off), CLF_KARG(ldw), CLF_KARG(buf->mem)};
    if (st == CLF_OK) st = clf__set_args(ctx, kern, "clf_gemm_pack", args, CLF_ARRAY_LEN(args));
    size_t global[2] = {(size_t)kp, (size_t)np};
    if (st == CLF_OK) st = clf__launch(ctx, kern, "clf_gemm_pack", 2, global, NULL);
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
