/*
 * clf_softmax (kernels/softmax.cl): softmax or log-softmax over the last
 * dimension with a scale, an additive mask and the causal rule.
 *
 * One work-group per row, an online (max, sum) per work-item and a tree merge
 * in local memory, then one more pass that writes: two reads of each row, any
 * row length (the tests go to 65536 columns). Any strides on x, y and the
 * mask (views, an innermost stride other than 1), any f32/f16 mix.
 *
 * The mask: the documented (rows, cols) is added to every leading batch; more
 * generally any mask whose shape lines up with x's innermost dimensions with
 * each size equal to x's or 1 is broadcast, so a key-padding mask
 * (B, 1, 1, cols) for scores (B, H, rows, cols) also works.
 */
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"

static const char *OP = "clf_softmax";

static clf_status softmax_body(clf_context *ctx, const clf_tensor *x, clf_tensor *y,
                               const clf_softmax_params *params)
{
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: ctx is NULL", OP);
    clf_softmax_params p = {0};
    if (params) p = *params;
    CLF_TRY(clf__check_arg(ctx, OP, "x", x, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));
    CLF_TRY(clf__check_arg(ctx, OP, "y", y, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));
    char d1[160], d2[160];
    int same = x->ndim == y->ndim;
    for (int i = 0; same && i < x->ndim; i++) same = x->shape[i] == y->shape[i];
    if (!same)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: x is %s but y is %s", OP, clf__desc(x, d1),
                          clf__desc(y, d2));
    CLF_TRY(clf__check_alias(ctx, OP, "y", y, "x", x, 1));
    const clf_tensor *mask = p.mask;
    if (mask) {
        CLF_TRY(clf__check_arg(ctx, OP, "mask", mask, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));
        int fits = mask->ndim <= x->ndim;
        for (int i = 0; fits && i < mask->ndim; i++) {
            int64_t mn = mask->shape[mask->ndim - 1 - i], xn = x->shape[x->ndim - 1 - i];
            fits = mn == xn || mn == 1;
        }
        if (!fits)
            return clf__error(ctx, CLF_ERR_SHAPE,
                              "%s: mask is %s for x %s; expected (rows, cols) = the last two "
                              "sizes of x (sizes of 1 broadcast)",
                              OP, clf__desc(mask, d1), clf__desc(x, d2));
        /* y written while other rows still read the mask would corrupt it. */
        if (clf__overlap(mask, y))
            return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: y %s overlaps mask %s", OP,
                              clf__desc(y, d1), clf__desc(mask, d2));
    }
    float scale = p.scale == 0.0f ? 1.0f : p.scale;

    int64_t shape[4], mshape[4];
    cl_long4 xs, ys, ms;
    clf__as4(x, shape, &xs);
    clf__as4(y, mshape, &ys); /* same shape as x */
    if (mask) {
        clf__as4(mask, mshape, &ms);
        for (int e = 0; e < 4; e++)
            if (mshape[e] == 1) ms.s[e] = 0; /* broadcast */
    } else {
        memset(&ms, 0, sizeof ms);
    }
    int64_t rows = shape[0] * shape[1] * shape[2];
    cl_long n1 = (cl_long)shape[1], n2 = (cl_long)shape[2], C = (cl_long)shape[3];
    cl_ulong xoff = (cl_ulong)x->offset, yoff = (cl_ulong)y->offset;
    cl_ulong moff = mask ? (cl_ulong)mask->offset : 0;
    int flags = (x->dtype == CLF_F16 ? 1 : 0) | (y->dtype == CLF_F16 ? 2 : 0) |
                (mask && mask->dtype == CLF_F16 ? 4 : 0) | (mask ? 8 : 0) | (p.causal ? 16 : 0) |
                (p.log ? 32 : 0);
    char options[32];
    snprintf(options, sizeof options, "-DSM_FLAGS=%d", flags);
    /* Without a mask the kernel never reads it; x's buffer stands in so that
     * no NULL buffer reaches the driver. */
    const clf_tensor *mt = mask ? mask : x;

    /* CPU fast path: a work-item per row with float8 arithmetic, when every
     * row is contiguous. */
    int unit = C == 1 || (xs.s[3] == 1 && ys.s[3] == 1 && (!mask || ms.s[3] == 1));
    cl_kernel k;
    if (unit && ctx->kprof.row_per_item) {
        CLF_TRY(clf__kernel_get(ctx, "softmax", options, "softmax_rows_vec", &k));
        cl_long nrows = (cl_long)rows;
        const clf__karg args[] = {
            CLF_KMEM(x),  CLF_KARG(xoff), CLF_KARG(xs),   CLF_KMEM(y),  CLF_KARG(yoff),
            CLF_KARG(ys), CLF_KMEM(mt),   CLF_KARG(moff), CLF_KARG(ms), CLF_KARG(n1),
            CLF_KARG(n2), CLF_KARG(C),    CLF_KARG(scale), CLF_KARG(nrows),
        };
        CLF_TRY(clf__set_args(ctx, k, "softmax_rows_vec", args, CLF_ARRAY_LEN(args)));
        size_t local = clf__rows_local_size(ctx, k, (int64_t)rows, 4);
        size_t global = clf__round_up((size_t)rows, local);
        return clf__launch(ctx, k, "softmax_rows_vec", 1, &global, &local);
    }

    CLF_TRY(clf__kernel_get(ctx, "softmax", options, "softmax_rows", &k));
    size_t local = clf__row_local_size(ctx, k, C);
    const clf__karg args[] = {
        CLF_KMEM(x),     CLF_KARG(xoff), CLF_KARG(xs), CLF_KMEM(y),    CLF_KARG(yoff),
        CLF_KARG(ys),    CLF_KMEM(mt),   CLF_KARG(moff), CLF_KARG(ms), CLF_KARG(n1),
        CLF_KARG(n2),    CLF_KARG(C),    CLF_KARG(scale),
        CLF_KLOCAL(local * sizeof(cl_float2)),
    };
    CLF_TRY(clf__set_args(ctx, k, "softmax_rows", args, CLF_ARRAY_LEN(args)));
    size_t global = (size_t)rows * local;
    return clf__launch(ctx, k, "softmax_rows", 1, &global, &local);
}

clf_status clf_softmax(clf_context *ctx, const clf_tensor *x, clf_tensor *y,
                       const clf_softmax_params *params)
{
    CLF__GUARDED(ctx, "clf_softmax", softmax_body(ctx, x, y, params));
}
