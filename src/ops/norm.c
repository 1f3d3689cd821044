/*
 * clf_norm (kernels/norm.cl): LayerNorm and RMSNorm over the last dimension,
 * with the residual add of a transformer block fused in front.
 *
 * One work-group per row: a mean (or mean of squares) reduction, for
 * LayerNorm a second, centred reduction for the variance, then a pass that
 * writes y and, when asked, sum_out = x + residual. Any strides on every
 * tensor (views, an innermost stride other than 1), any f32/f16 mix.
 *
 * Aliasing: y and sum_out may each be the very same view as x or residual
 * (post-LN writes y over x; pre-LN keeps the residual stream in place with
 * sum_out = residual); any other overlap among the tensors is refused with
 * CLF_ERR_INVALID_ARG, because another work-item could still need what is
 * overwritten.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"

static const char *OP = "clf_norm";

/* kernels/norm.cl flag bits. */
enum {
    NM_X16 = 1,
    NM_R16 = 2,
    NM_G16 = 4,
    NM_B16 = 8,
    NM_Y16 = 16,
    NM_S16 = 32,
    NM_HAS_R = 64,
    NM_HAS_B = 128,
    NM_HAS_S = 256,
    NM_RMS = 512,
};

static clf_status check_same_shape(clf_context *ctx, const char *name, const clf_tensor *t,
                                   const clf_tensor *x)
{
    if (clf__same_shape(t, x)) return CLF_OK;
    char d1[160], d2[160];
    return clf__error(ctx, CLF_ERR_SHAPE, "%s: x is %s but %s is %s", OP, clf__desc(x, d1), name,
                      clf__desc(t, d2));
}

static clf_status norm_body(clf_context *ctx, const clf_tensor *x, const clf_tensor *gamma,
                            const clf_tensor *beta, clf_tensor *y, const clf_norm_params *params)
{
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: ctx is NULL", OP);
    clf_norm_params p = {0};
    if (params) p = *params;
    if (p.type != CLF_NORM_LAYER && p.type != CLF_NORM_RMS)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: unknown norm type %d", OP, (int)p.type);
    if (!(p.eps >= 0.0f) || isinf(p.eps))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: eps %g must be finite and >= 0", OP,
                          (double)p.eps);
    float eps = p.eps == 0.0f ? 1e-5f : p.eps;

    CLF_TRY(clf__check_arg(ctx, OP, "x", x, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));
    CLF_TRY(clf__check_arg(ctx, OP, "y", y, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));
    CLF_TRY(clf__check_arg(ctx, OP, "gamma", gamma, CLF__DT_FLOAT, 1, 1));
    if (beta) {
        if (p.type == CLF_NORM_RMS)
            return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: RMSNorm takes no beta (pass NULL)",
                              OP);
        CLF_TRY(clf__check_arg(ctx, OP, "beta", beta, CLF__DT_FLOAT, 1, 1));
    }
    const clf_tensor *res = p.residual;
    const clf_tensor *so = p.sum_out;
    if (res) CLF_TRY(clf__check_arg(ctx, OP, "residual", res, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));
    if (so) CLF_TRY(clf__check_arg(ctx, OP, "sum_out", so, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));

    const int64_t D = x->shape[x->ndim - 1];
    char d1[160], d2[160];
    CLF_TRY(check_same_shape(ctx, "y", y, x));
    if (res) CLF_TRY(check_same_shape(ctx, "residual", res, x));
    if (so) CLF_TRY(check_same_shape(ctx, "sum_out", so, x));
    if (gamma->shape[0] != D)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: gamma is %s for x %s; expected (%lld)", OP,
                          clf__desc(gamma, d1), clf__desc(x, d2), (long long)D);
    if (beta && beta->shape[0] != D)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: beta is %s for x %s; expected (%lld)", OP,
                          clf__desc(beta, d1), clf__desc(x, d2), (long long)D);

    CLF_TRY(clf__check_alias(ctx, OP, "y", y, "x", x, 1));
    CLF_TRY(clf__check_alias(ctx, OP, "y", y, "residual", res, 1));
    CLF_TRY(clf__check_alias(ctx, OP, "y", y, "gamma", gamma, 0));
    CLF_TRY(clf__check_alias(ctx, OP, "y", y, "beta", beta, 0));
    CLF_TRY(clf__check_alias(ctx, OP, "sum_out", so, "x", x, 1));
    CLF_TRY(clf__check_alias(ctx, OP, "sum_out", so, "residual", res, 1));
    CLF_TRY(clf__check_alias(ctx, OP, "sum_out", so, "gamma", gamma, 0));
    CLF_TRY(clf__check_alias(ctx, OP, "sum_out", so, "beta", beta, 0));
    CLF_TRY(clf__check_alias(ctx, OP, "sum_out", so, "y", y, 0));

    int64_t shape[4], unused[4];
    cl_long4 xs, rs, ys, ss;
    clf__as4(x, shape, &xs);
    clf__as4(y, unused, &ys);
    /* An absent tensor is replaced by one of the call's own (never read or
     * written: the flags say so), so that no NULL buffer reaches the driver. */
    const clf_tensor *rt = res ? res : x, *bt = beta ? beta : gamma;
    const clf_tensor *st = so ? so : y;
    clf__as4(rt, unused, &rs);
    clf__as4(st, unused, &ss);
    int64_t rows = shape[0] * shape[1] * shape[2];
    cl_long n1 = (cl_long)shape[1], n2 = (cl_long)shape[2], dd = (cl_long)D;
    cl_ulong xoff = (cl_ulong)x->offset, roff = (cl_ulong)rt->offset, goff = (cl_ulong)gamma->offset;
    cl_ulong boff = (cl_ulong)bt->offset, yoff = (cl_ulong)y->offset, soff = (cl_ulong)st->offset;
    cl_long gs = (cl_long)gamma->stride[0], bs = (cl_long)bt->stride[0];
    int flags = (x->dtype == CLF_F16 ? NM_X16 : 0) | (rt->dtype == CLF_F16 ? NM_R16 : 0) |
                   (gamma->dtype == CLF_F16 ? NM_G16 : 0) | (bt->dtype == CLF_F16 ? NM_B16 : 0) |
                   (y->dtype == CLF_F16 ? NM_Y16 : 0) | (st->dtype == CLF_F16 ? NM_S16 : 0) |
                   (res ? NM_HAS_R : 0) | (beta ? NM_HAS_B : 0) | (so ? NM_HAS_S : 0) |
                   (p.type == CLF_NORM_RMS ? NM_RMS : 0);

    /* CPU fast path: a work-item per row with float8 arithmetic, when every
     * row (and gamma, beta) is contiguous. */
    int unit = D == 1 || (xs.s[3] == 1 && rs.s[3] == 1 && ys.s[3] == 1 && ss.s[3] == 1 &&
                          gs == 1 && bs == 1);
    bool vec = unit && ctx->kprof.row_per_item;
    /* The CPU kernel takes the presence bits as an argument (one program for
     * every norm of a stack); the GPU kernel keeps them folded in. */
    const int presence = NM_HAS_R | NM_HAS_B | NM_HAS_S;
    cl_int opt = vec ? flags & presence : 0;
    char options[48];
    snprintf(options, sizeof options, "-DNM_FLAGS=%d -DNM_ONLY=%d", vec ? flags & ~presence : flags,
             vec ? 2 : 1);
    cl_kernel k;
    if (vec) {
        CLF_TRY(clf__kernel_get(ctx, "norm", options, "norm_rows_vec", &k));
        cl_long nrows = (cl_long)rows;
        const clf__karg args[] = {
            CLF_KMEM(x),    CLF_KARG(xoff), CLF_KARG(xs),   CLF_KMEM(rt),   CLF_KARG(roff),
            CLF_KARG(rs),   CLF_KMEM(gamma), CLF_KARG(goff), CLF_KMEM(bt),  CLF_KARG(boff),
            CLF_KMEM(y),    CLF_KARG(yoff), CLF_KARG(ys),   CLF_KMEM(st),   CLF_KARG(soff),
            CLF_KARG(ss),   CLF_KARG(n1),   CLF_KARG(n2),   CLF_KARG(dd),   CLF_KARG(eps),
            CLF_KARG(nrows), CLF_KARG(opt),
        };
        CLF_TRY(clf__set_args(ctx, k, "norm_rows_vec", args, CLF_ARRAY_LEN(args)));
        size_t local = clf__rows_local_size(ctx, k, (int64_t)rows, 4);
        size_t global = clf__round_up((size_t)rows, local);
        return clf__launch(ctx, k, "norm_rows_vec", 1, &global, &local);
    }

    CLF_TRY(clf__kernel_get(ctx, "norm", options, "norm_rows", &k));
    size_t local = clf__row_local_size(ctx, k, D);
    const clf__karg args[] = {
        CLF_KMEM(x),     CLF_KARG(xoff),  CLF_KARG(xs),   CLF_KMEM(rt),   CLF_KARG(roff),
        CLF_KARG(rs),    CLF_KMEM(gamma), CLF_KARG(goff), CLF_KARG(gs),   CLF_KMEM(bt),
        CLF_KARG(boff),  CLF_KARG(bs),    CLF_KMEM(y),    CLF_KARG(yoff), CLF_KARG(ys),
        CLF_KMEM(st),    CLF_KARG(soff),  CLF_KARG(ss),   CLF_KARG(n1),   CLF_KARG(n2),
        CLF_KARG(dd),    CLF_KARG(eps),   CLF_KLOCAL(local * sizeof(cl_float)),
    };
    CLF_TRY(clf__set_args(ctx, k, "norm_rows", args, CLF_ARRAY_LEN(args)));
    size_t global = (size_t)rows * local;
    return clf__launch(ctx, k, "norm_rows", 1, &global, &local);
}

clf_status clf_norm(clf_context *ctx, const clf_tensor *x, const clf_tensor *gamma,
                    const clf_tensor *beta, clf_tensor *y, const clf_norm_params *params)
{
    CLF__GUARDED(ctx, "clf_norm", norm_body(ctx, x, gamma, beta, y, params));
}
