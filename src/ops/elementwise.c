/*
 * Elementwise ops: clf_activation, clf_scale, clf_add (kernels/elementwise.cl).
 *
 * Any strides on every operand (views, permutations, a non-unit innermost
 * stride), any mix of f32 and f16 storage. The host folds the operands into
 * one iteration shape of at most four dimensions, dropping size-1 dimensions
 * and merging dimensions that are contiguous in every operand, so the kernel
 * sees dense tensors as one dimension.
 *
 * Fast path: when the folded iteration is (R, N) with a unit innermost
 * stride on every operand (dense tensors, rows with gaps, a bias broadcast
 * over rows), the *_rows kernels handle 8 elements per work-item with vector
 * loads. Everything else takes the general kernels, one element per
 * work-item. The op and the storage dtypes are build options (one program
 * per combination, cached), so the kernels have no per-element branches.
 *
 * Aliasing: y may be the very same view as an input (in place). Any other
 * overlap would let one work-item overwrite what another still has to read,
 * so it is refused with CLF_ERR_INVALID_ARG.
 */
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"

#define EW_OP_SCALE 16 /* kernels/elementwise.cl: after the clf_act values */
#define EW_MAX_OPERANDS 3

/* One iteration shape and the strides of each operand over it. */
typedef struct ew_iter {
    int n_ops;
    int ndim;
    int64_t shape[CLF_MAX_DIMS];
    int64_t stride[EW_MAX_OPERANDS][CLF_MAX_DIMS];
} ew_iter;

/* The iteration over `shape` (ndim dims), operand k's tensor aligned to its
 * innermost dimensions: a dimension the operand lacks or has as size 1 gets
 * stride 0 (broadcast). Drops size-1 dimensions, then merges neighbours that
 * are contiguous in every operand, then pads to 4 dimensions in front. */
static void ew_iter_make(ew_iter *it, int ndim, const int64_t *shape, const clf_tensor *const *ops,
                         int n_ops)
{
    memset(it, 0, sizeof *it);
    it->n_ops = n_ops;
    int n = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        it->shape[n] = shape[d];
        for (int k = 0; k < n_ops; k++) {
            int kd = ops[k]->ndim - (ndim - d); /* the operand's own dimension index */
            it->stride[k][n] = (kd >= 0 && ops[k]->shape[kd] != 1) ? ops[k]->stride[kd] : 0;
        }
        n++;
    }
    /* Walk from the innermost dimension outwards, folding dimension d into
     * the one inside it when every operand steps over d exactly as if the
     * two were one dimension. Built innermost first, then reversed. */
    int64_t oshape[CLF_MAX_DIMS], ostride[EW_MAX_OPERANDS][CLF_MAX_DIMS];
    int m = 0;
    for (int d = n - 1; d >= 0; d--) {
        int fold = m > 0;
        for (int k = 0; fold && k < n_ops; k++)
            fold = it->stride[k][d] == ostride[k][m - 1] * oshape[m - 1];
        if (fold) {
            oshape[m - 1] *= it->shape[d];
            continue;
        }
        oshape[m] = it->shape[d];
        for (int k = 0; k < n_ops; k++) ostride[k][m] = it->stride[k][d];
        m++;
    }
    /* Outermost first, padded in front with size 1, stride 0. */
    for (int e = 0; e < CLF_MAX_DIMS; e++) {
        int src = CLF_MAX_DIMS - 1 - e; /* index into the innermost-first arrays */
        it->shape[e] = src < m ? oshape[src] : 1;
        for (int k = 0; k < n_ops; k++) it->stride[k][e] = src < m ? ostride[k][src] : 0;
    }
    it->ndim = CLF_MAX_DIMS;
}

static cl_long4 ew_long4(const int64_t *v)
{
    cl_long4 r;
    for (int i = 0; i < 4; i++) r.s[i] = (cl_long)v[i];
    return r;
}

static clf_status ew_launch(clf_context *ctx, cl_kernel k, const char *name, const ew_iter *it)
{
    int64_t total = 1;
    for (int i = 0; i < CLF_MAX_DIMS; i++) total *= it->shape[i];
    size_t local = clf__wg_fit(ctx, k, (size_t)ctx->kprof.elementwise_wg);
    size_t global = clf__round_up((size_t)total, local);
    return clf__launch(ctx, k, name, 1, &global, &local);
}

#define EW_VW 8 /* kernels/elementwise.cl: elements per work-item of the rows kernels */

/* True when the iteration is (R, N) with a unit innermost stride on every
 * operand: the rows kernels apply (a dense tensor is R = 1). A single
 * element counts too (its strides do not matter). */
static int ew_is_rows(const ew_iter *it)
{
    if (it->shape[0] != 1 || it->shape[1] != 1) return 0;
    if (it->shape[3] == 1) return 1;
    for (int k = 0; k < it->n_ops; k++)
        if (it->stride[k][3] != 1) return 0;
    return 1;
}

/* Launches a rows kernel over (R, N): EW_VW columns per work-item along
 * dimension 0, one row per index of dimension 1. */
static clf_status ew_launch_rows(clf_context *ctx, cl_kernel k, const char *name,
                                 const ew_iter *it)
{
    size_t n8 = (size_t)((it->shape[3] + EW_VW - 1) / EW_VW);
    size_t l0 = clf__wg_fit(ctx, k, (size_t)ctx->kprof.elementwise_wg);
    while (l0 > 8 && l0 / 2 >= n8) l0 /= 2; /* short rows: fewer idle work-items */
    size_t global[2] = {clf__round_up(n8, l0), (size_t)it->shape[2]}, local[2] = {l0, 1};
    return clf__launch(ctx, k, name, 2, global, local);
}

/* The build options of one op and dtype combination. */
static const char *ew_options(char buf[96], int op, clf_dtype x, clf_dtype b, clf_dtype y)
{
    snprintf(buf, 96, "-DEW_OP=%d -DEW_X16=%d -DEW_B16=%d -DEW_Y16=%d", op, x == CLF_F16,
             b == CLF_F16, y == CLF_F16);
    return buf;
}

/* y = op(x) for an activation or EW_OP_SCALE. */
static clf_status unary(clf_context *ctx, const char *opname, int op, const clf_tensor *x,
                        float s, clf_tensor *y)
{
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: ctx is NULL", opname);
    CLF_TRY(clf__check_arg(ctx, opname, "x", x, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));
    CLF_TRY(clf__check_arg(ctx, opname, "y", y, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));
    char d1[160], d2[160];
    if (!clf__same_shape(x, y))
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: x is %s but y is %s", opname, clf__desc(x, d1),
                          clf__desc(y, d2));
    CLF_TRY(clf__check_alias(ctx, opname, "y", y, "x", x, 1));

    const clf_tensor *ops[2] = {x, y};
    ew_iter it;
    ew_iter_make(&it, x->ndim, x->shape, ops, 2);

    cl_kernel k;
    char opt[96];
    ew_options(opt, op, x->dtype, CLF_F32, y->dtype);
    cl_ulong xoff = (cl_ulong)x->offset, yoff = (cl_ulong)y->offset;
    if (ew_is_rows(&it)) {
        CLF_TRY(clf__kernel_get(ctx, "elementwise", opt, "ew_unary_rows", &k));
        cl_long xrs = (cl_long)it.stride[0][2], yrs = (cl_long)it.stride[1][2];
        cl_long n = (cl_long)it.shape[3];
        const clf__karg args[] = {CLF_KMEM(x),    CLF_KARG(xoff), CLF_KARG(xrs), CLF_KMEM(y),
                                  CLF_KARG(yoff), CLF_KARG(yrs),  CLF_KARG(n),   CLF_KARG(s)};
        CLF_TRY(clf__set_args(ctx, k, "ew_unary_rows", args, CLF_ARRAY_LEN(args)));
        return ew_launch_rows(ctx, k, "ew_unary_rows", &it);
    }
    CLF_TRY(clf__kernel_get(ctx, "elementwise", opt, "ew_unary", &k));
    cl_long4 xs = ew_long4(it.stride[0]), ys = ew_long4(it.stride[1]), shape = ew_long4(it.shape);
    const clf__karg args[] = {CLF_KMEM(x),     CLF_KARG(xoff), CLF_KARG(xs), CLF_KMEM(y),
                              CLF_KARG(yoff),  CLF_KARG(ys),   CLF_KARG(shape), CLF_KARG(s)};
    CLF_TRY(clf__set_args(ctx, k, "ew_unary", args, CLF_ARRAY_LEN(args)));
    return ew_launch(ctx, k, "ew_unary", &it);
}

static clf_status activation_body(clf_context *ctx, clf_act act, const clf_tensor *x, clf_tensor *y)
{
    if ((int)act < CLF_ACT_NONE || (int)act > CLF_ACT_TANH)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_activation: unknown activation %d",
                          (int)act);
    return unary(ctx, "clf_activation", (int)act, x, 0.0f, y);
}

clf_status clf_activation(clf_context *ctx, clf_act act, const clf_tensor *x, clf_tensor *y)
{
    CLF__GUARDED(ctx, "clf_activation", activation_body(ctx, act, x, y));
}

static clf_status scale_body(clf_context *ctx, const clf_tensor *x, float s, clf_tensor *y)
{
    return unary(ctx, "clf_scale", EW_OP_SCALE, x, s, y);
}

clf_status clf_scale(clf_context *ctx, const clf_tensor *x, float s, clf_tensor *y)
{
    CLF__GUARDED(ctx, "clf_scale", scale_body(ctx, x, s, y));
}

static clf_status add_body(clf_context *ctx, const clf_tensor *a, const clf_tensor *b,
                           clf_tensor *y)
{
    static const char *op = "clf_add";
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: ctx is NULL", op);
    CLF_TRY(clf__check_arg(ctx, op, "a", a, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));
    CLF_TRY(clf__check_arg(ctx, op, "b", b, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));
    CLF_TRY(clf__check_arg(ctx, op, "y", y, CLF__DT_FLOAT, 1, CLF_MAX_DIMS));
    char d1[160], d2[160];
    /* b lines up with a's innermost dimensions; each of its sizes is a's or
     * 1 (broadcast), as in NumPy: (N) and (1, N) are bias adds on (..., N). */
    int fits = b->ndim <= a->ndim;
    for (int i = 0; fits && i < b->ndim; i++) {
        int64_t bn = b->shape[b->ndim - 1 - i], an = a->shape[a->ndim - 1 - i];
        fits = bn == an || bn == 1;
    }
    if (!fits)
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "%s: b is %s, which does not broadcast to a %s (b's sizes must match "
                          "a's innermost sizes or be 1)",
                          op, clf__desc(b, d1), clf__desc(a, d2));
    if (!clf__same_shape(a, y))
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: a is %s but y is %s", op, clf__desc(a, d1),
                          clf__desc(y, d2));
    CLF_TRY(clf__check_alias(ctx, op, "y", y, "a", a, 1));
    CLF_TRY(clf__check_alias(ctx, op, "y", y, "b", b, 1));

    const clf_tensor *ops[3] = {a, b, y};
    ew_iter it;
    ew_iter_make(&it, a->ndim, a->shape, ops, 3);

    cl_kernel k;
    char opt[96];
    ew_options(opt, 0, a->dtype, b->dtype, y->dtype);
    cl_ulong aoff = (cl_ulong)a->offset, boff = (cl_ulong)b->offset, yoff = (cl_ulong)y->offset;
    if (ew_is_rows(&it)) {
        CLF_TRY(clf__kernel_get(ctx, "elementwise", opt, "ew_add_rows", &k));
        cl_long ars = (cl_long)it.stride[0][2], brs = (cl_long)it.stride[1][2];
        cl_long yrs = (cl_long)it.stride[2][2], n = (cl_long)it.shape[3];
        const clf__karg args[] = {CLF_KMEM(a),    CLF_KARG(aoff), CLF_KARG(ars), CLF_KMEM(b),
                                  CLF_KARG(boff), CLF_KARG(brs),  CLF_KMEM(y),   CLF_KARG(yoff),
                                  CLF_KARG(yrs),  CLF_KARG(n)};
        CLF_TRY(clf__set_args(ctx, k, "ew_add_rows", args, CLF_ARRAY_LEN(args)));
        return ew_launch_rows(ctx, k, "ew_add_rows", &it);
    }
    CLF_TRY(clf__kernel_get(ctx, "elementwise", opt, "ew_add", &k));
    cl_long4 as = ew_long4(it.stride[0]), bs = ew_long4(it.stride[1]),
             ys = ew_long4(it.stride[2]), shape = ew_long4(it.shape);
    const clf__karg args[] = {CLF_KMEM(a),     CLF_KARG(aoff), CLF_KARG(as),
                              CLF_KMEM(b),     CLF_KARG(boff), CLF_KARG(bs),
                              CLF_KMEM(y),     CLF_KARG(yoff), CLF_KARG(ys),
                              CLF_KARG(shape)};
    CLF_TRY(clf__set_args(ctx, k, "ew_add", args, CLF_ARRAY_LEN(args)));
    return ew_launch(ctx, k, "ew_add", &it);
}

clf_status clf_add(clf_context *ctx, const clf_tensor *a, const clf_tensor *b, clf_tensor *y)
{
    CLF__GUARDED(ctx, "clf_add", add_body(ctx, a, b, y));
}
