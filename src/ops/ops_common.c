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
    if (!clf__same_root(t->buffer->ctx, ctx))
        return clf__error(ctx, CLF_ERR_CONTEXT, "%s: %s belongs to another context", op, arg);
    if (t->buffer->pack_n && !(dtype_mask & CLF__PACKED_OK))
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "%s: %s is %s, a packed GEMM weight (clf_gemm_pack_b): only clf_gemm "
                          "reads it, as b",
                          op, arg, clf__desc(t, d));
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
    if (t->offset < 0 || (uint64_t)(last + 1) > clf__buffer_elems(t->buffer, t->dtype))
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

int clf__same_shape(const clf_tensor *a, const clf_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

int clf__same_view(const clf_tensor *a, const clf_tensor *b)
{
    if (a->buffer != b->buffer || a->dtype != b->dtype || a->offset != b->offset ||
        !clf__same_shape(a, b))
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != 1 && a->stride[i] != b->stride[i]) return 0;
    return 1;
}

clf_status clf__check_alias(clf_context *ctx, const char *op, const char *oname,
                            const clf_tensor *out, const char *iname, const clf_tensor *in,
                            int allow_same)
{
    if (!in || !out || !clf__overlap(out, in)) return CLF_OK;
    if (allow_same && clf__same_view(out, in)) return CLF_OK;
    char d1[160], d2[160];
    return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: %s %s %soverlaps %s %s%s", op, oname,
                      clf__desc(out, d1), allow_same ? "partially " : "", iname,
                      clf__desc(in, d2), allow_same ? " (in place needs the same view)" : "");
}

void clf__as4(const clf_tensor *t, int64_t shape[4], cl_long4 *stride)
{
    for (int e = 0; e < 4; e++) {
        int d = t->ndim - 4 + e;
        shape[e] = d >= 0 ? t->shape[d] : 1;
        stride->s[e] = d >= 0 ? (cl_long)t->stride[d] : 0;
    }
}

size_t clf__row_local_size(clf_context *ctx, cl_kernel k, int64_t cols)
{
    const clf_kernel_profile *p = &ctx->kprof;
    size_t want = 1;
    while ((int64_t)want < cols && want < (size_t)p->row_wg_max) want *= 2;
    if (want < (size_t)p->row_wg_min) want = (size_t)p->row_wg_min;
    return clf__wg_fit(ctx, k, want);
}

clf_status clf__check_group(clf_context *ctx, cl_kernel k, const char *name, size_t items)
{
    size_t lim = clf__kernel_wg_limit(ctx, k);
    if (items <= lim) return CLF_OK;
    return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                      "%s needs work-groups of %zu work-items but \"%s\" allows %zu for this "
                      "kernel (CL_KERNEL_WORK_GROUP_SIZE and the device's limit)",
                      name, items, ctx->info.name, lim);
}

size_t clf__compute_units(const clf_context *ctx)
{
    return ctx->info.compute_units ? ctx->info.compute_units : 1;
}

size_t clf__rows_local_size(clf_context *ctx, cl_kernel k, int64_t rows, int groups_per_cu)
{
    size_t cus = clf__compute_units(ctx);
    size_t local = clf__wg_fit(ctx, k, (size_t)ctx->kprof.rows_wg);
    while (local > 1 && (size_t)rows < local * (size_t)groups_per_cu * cus) local /= 2;
    return local;
}

clf_status clf__ops_state_get(clf_context *ctx, clf__ops_state **out)
{
    if (!ctx->ops_state) {
        ctx->ops_state = clf__calloc(1, sizeof(clf__ops_state));
        if (!ctx->ops_state) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "ops state: out of memory");
    }
    *out = ctx->ops_state;
    return CLF_OK;
}
