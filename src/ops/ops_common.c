/* Shared argument checks and kernel-argument plumbing for the op files. */
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"

const char *clf__desc(const clf_tensor *t, char buf[160]) { return clf_tensor_describe(t, buf, 160); }

static void dtype_list(unsigned mask, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int d = CLF_F32; d <= CLF_I32 && used < size; d++)
        if (mask & CLF__DT(d))
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? " or " : "",
                                     clf_dtype_name((clf_dtype)d));
}

clf_status clf__check_arg(clf_context *ctx, const char *op, const char *arg, const clf_tensor *t,
                          unsigned dtype_mask, int min_ndim, int max_ndim)
{
    char d[160], list[64];
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: NULL context", op);
    if (!t || !t->buffer) return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: %s is NULL", op, arg);
    if (t->buffer->ctx != ctx)
        return clf__error(ctx, CLF_ERR_CONTEXT, "%s: %s belongs to another context", op, arg);
    if (!(dtype_mask & CLF__DT(t->dtype))) {
        dtype_list(dtype_mask, list, sizeof list);
        return clf__error(ctx, CLF_ERR_DTYPE, "%s: %s is %s; expected %s", op, arg,
                          clf__desc(t, d), list);
    }
    if (t->ndim < min_ndim || t->ndim > max_ndim)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: %s is %s; expected %d to %d dimensions", op,
                          arg, clf__desc(t, d), min_ndim, max_ndim);
    /* Re-check the view against its buffer: the struct is public and may
     * have been edited by hand. */
    int64_t last = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 1 || t->stride[i] < 0)
            return clf__error(ctx, CLF_ERR_SHAPE, "%s: %s is %s: bad size or stride", op, arg,
                              clf__desc(t, d));
        last += (t->shape[i] - 1) * t->stride[i];
    }
    if (t->offset < 0 || (uint64_t)(last + 1) * clf_dtype_size(t->dtype) > t->buffer->size)
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE, "%s: %s is %s, which reaches past its buffer",
                          op, arg, clf__desc(t, d));
    return CLF_OK;
}

/* Conservative: compares the byte spans the views reach, so two interleaved
 * but disjoint views (even and odd columns) count as overlapping. */
int clf__overlap(const clf_tensor *a, const clf_tensor *b)
{
    if (a->buffer != b->buffer) return 0;
    int64_t ea = (int64_t)clf_dtype_size(a->dtype), eb = (int64_t)clf_dtype_size(b->dtype);
    int64_t a1 = a->offset, b1 = b->offset;
    for (int i = 0; i < a->ndim; i++) a1 += (a->shape[i] - 1) * a->stride[i];
    for (int i = 0; i < b->ndim; i++) b1 += (b->shape[i] - 1) * b->stride[i];
    int64_t a_lo = a->offset * ea, a_hi = (a1 + 1) * ea, b_lo = b->offset * eb, b_hi = (b1 + 1) * eb;
    return a_lo < b_hi && b_lo < a_hi;
}

clf_status clf__set_args(clf_context *ctx, cl_kernel k, const char *name, const clf__karg *args,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cl_int err = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].value);
        if (err != CL_SUCCESS) {
            char what[128];
            snprintf(what, sizeof what, "clSetKernelArg(%s, %zu)", name, i);
            return clf__cl_error(ctx, err, what);
        }
    }
    return CLF_OK;
}
