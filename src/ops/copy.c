/*
 * clf_copy, clf_kv_append and clf_kv_append_rows: strided element copies
 * with dtype conversion.
 * A KV-cache append is a copy into a slice of the cache, so both share one
 * implementation that names the public op in its messages.
 */
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"

/* The shape and both sides' strides after dropping size-1 dimensions and
 * merging neighbours that are contiguous on both sides, right-aligned in 4
 * slots (leading slots have size 1). A dense copy becomes one dimension. */
typedef struct copy_plan {
    int64_t shape[4];
    int64_t ss[4]; /* source strides, elements */
    int64_t ds[4]; /* destination strides, elements */
} copy_plan;

static void plan_copy(const clf_tensor *src, const clf_tensor *dst, copy_plan *p)
{
    int64_t sh[4], ss[4], ds[4];
    int n = 0;
    for (int i = 0; i < src->ndim; i++) {
        if (src->shape[i] == 1) continue;
        if (n > 0 && ss[n - 1] == src->shape[i] * src->stride[i] &&
            ds[n - 1] == src->shape[i] * dst->stride[i]) {
            /* The previous dimension steps exactly over this one on both
             * sides: fold this one into it. */
            sh[n - 1] *= src->shape[i];
            ss[n - 1] = src->stride[i];
            ds[n - 1] = dst->stride[i];
            continue;
        }
        sh[n] = src->shape[i];
        ss[n] = src->stride[i];
        ds[n] = dst->stride[i];
        n++;
    }
    for (int i = 0; i < 4; i++) {
        int j = i - (4 - n);
        p->shape[i] = j >= 0 ? sh[j] : 1;
        p->ss[i] = j >= 0 ? ss[j] : 0;
        p->ds[i] = j >= 0 ? ds[j] : 0;
    }
}

/* The kernels of kernels/copy.cl in its order: -DCLF_COPY_ONLY=i+1 compiles
 * copy_kernels[i] alone. */
static const char *const copy_kernels[12] = {
    "copy_b32",      "copy_b16",      "copy_f32_f16",      "copy_f16_f32",
    "copy_rows_b32", "copy_rows_b16", "copy_rows_f32_f16", "copy_rows_f16_f32",
    "kv_rows_b32",   "kv_rows_b16",   "kv_rows_f32_f16",   "kv_rows_f16_f32",
};

/* The index in copy_kernels for a src -> dst dtype pair, element-wise (0),
 * by rows (1) or per-row KV append (2); -1 for i32 <-> float, not a
 * conversion we offer. */
static int kernel_index(clf_dtype s, clf_dtype d, int rows)
{
    int k;
    if (s == d) k = s == CLF_F16 ? 1 : 0;
    else if (s == CLF_F32 && d == CLF_F16) k = 2;
    else if (s == CLF_F16 && d == CLF_F32) k = 3;
    else return -1;
    return k + 4 * rows;
}

/* dst = src for already-checked tensors; op names the public call. */
static clf_status copy_impl(clf_context *ctx, const char *op, const clf_tensor *src,
                            clf_tensor *dst)
{
    char d1[160], d2[160];
    int ki = kernel_index(src->dtype, dst->dtype, 0);
    if (ki < 0)
        return clf__error(ctx, CLF_ERR_DTYPE,
                          "%s: cannot copy %s into %s (f32 <-> f16 or i32 -> i32 only)", op,
                          clf__desc(src, d1), clf__desc(dst, d2));
    bool same = src->ndim == dst->ndim;
    for (int i = 0; same && i < src->ndim; i++) same = src->shape[i] == dst->shape[i];
    if (!same)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: src is %s but dst is %s (shapes must match)",
                          op, clf__desc(src, d1), clf__desc(dst, d2));
    if (clf__overlap(src, dst))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: src %s and dst %s overlap in one buffer",
                          op, clf__desc(src, d1), clf__desc(dst, d2));

    copy_plan p;
    plan_copy(src, dst, &p);
    const uint64_t total = (uint64_t)clf_tensor_numel(src);
    cl_ulong s_off = (cl_ulong)src->offset, d_off = (cl_ulong)dst->offset;
    cl_long ss[4], ds[4];
    for (int i = 0; i < 4; i++) {
        ss[i] = (cl_long)p.ss[i];
        ds[i] = (cl_long)p.ds[i];
    }
    cl_ulong n1 = (cl_ulong)p.shape[1], n2 = (cl_ulong)p.shape[2], n3 = (cl_ulong)p.shape[3];
    cl_kernel k;

    /* Fast path: unit innermost stride on both sides (a single element
     * counts), 8 elements per work-item. */
    if ((p.ss[3] == 1 && p.ds[3] == 1) || total == 1) {
        const int kr = ki + 4; /* the copy_rows_* of the pair */
        const char *name = copy_kernels[kr];
        char only[32];
        snprintf(only, sizeof only, "-DCLF_COPY_ONLY=%d", kr + 1);
        CLF_TRY(clf__kernel_get(ctx, "copy", only, name, &k));
        const clf__karg args[] = {
            CLF_KMEM(src),   CLF_KARG(s_off), CLF_KARG(ss[0]), CLF_KARG(ss[1]),
            CLF_KARG(ss[2]), CLF_KMEM(dst),   CLF_KARG(d_off), CLF_KARG(ds[0]),
            CLF_KARG(ds[1]), CLF_KARG(ds[2]), CLF_KARG(n1),    CLF_KARG(n2),
            CLF_KARG(n3),
        };
        CLF_TRY(clf__set_args(ctx, k, name, args, CLF_ARRAY_LEN(args)));
        size_t n8 = (size_t)((p.shape[3] + 7) / 8);
        size_t l0 = clf__wg_fit(ctx, k, (size_t)ctx->kprof.elementwise_wg);
        size_t want = l0;
        while (l0 > 1 && l0 / 2 >= n8) l0 /= 2; /* short rows: several rows per group */
        size_t l1 = want / l0;
        while (l1 > 1 && l1 / 2 >= (size_t)p.shape[2]) l1 /= 2;
        size_t global[3] = {clf__round_up(n8, l0), clf__round_up((size_t)p.shape[2], l1),
                            (size_t)(p.shape[0] * p.shape[1])};
        size_t local[3] = {l0, l1, 1};
        return clf__launch(ctx, k, name, 3, global, local);
    }

    /* 32-bit index arithmetic unless the view is too large for it. */
    const char *name = copy_kernels[ki];
    char options[64];
    snprintf(options, sizeof options, "-DCLF_COPY_ONLY=%d%s", ki + 1,
             total > 0xffffffffull ? " -DCLF_COPY_WIDE=1" : "");
    CLF_TRY(clf__kernel_get(ctx, "copy", options, name, &k));
    cl_ulong tot = (cl_ulong)total;
    const clf__karg args[] = {
        CLF_KMEM(src),  CLF_KARG(s_off), CLF_KARG(ss[0]), CLF_KARG(ss[1]), CLF_KARG(ss[2]),
        CLF_KARG(ss[3]), CLF_KMEM(dst),  CLF_KARG(d_off), CLF_KARG(ds[0]), CLF_KARG(ds[1]),
        CLF_KARG(ds[2]), CLF_KARG(ds[3]), CLF_KARG(n1),   CLF_KARG(n2),    CLF_KARG(n3),
        CLF_KARG(tot),
    };
    CLF_TRY(clf__set_args(ctx, k, name, args, CLF_ARRAY_LEN(args)));
    size_t local = clf__wg_fit(ctx, k, 256);
    size_t global = clf__round_up((size_t)total, local);
    return clf__launch(ctx, k, name, 1, &global, &local);
}

static clf_status copy_body(clf_context *ctx, const clf_tensor *src, clf_tensor *dst)
{
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_copy: NULL context");
    const unsigned any = CLF__DT_FLOAT | CLF__DT(CLF_I32);
    CLF_TRY(clf__check_arg(ctx, "clf_copy", "src", src, any, 1, CLF_MAX_DIMS));
    CLF_TRY(clf__check_arg(ctx, "clf_copy", "dst", dst, any, 1, CLF_MAX_DIMS));
    return copy_impl(ctx, "clf_copy", src, dst);
}

clf_status clf_copy(clf_context *ctx, const clf_tensor *src, clf_tensor *dst)
{
    CLF__GUARDED(ctx, "clf_copy", copy_body(ctx, src, dst));
}

static clf_status kv_append_body(clf_context *ctx, clf_tensor *cache, int64_t pos,
                                 const clf_tensor *src)
{
    static const char op[] = "clf_kv_append";
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: NULL context", op);
    CLF_TRY(clf__check_arg(ctx, op, "cache", cache, CLF__DT_FLOAT, 4, 4));
    CLF_TRY(clf__check_arg(ctx, op, "src", src, CLF__DT_FLOAT, 4, 4));
    char d1[160], d2[160];
    if (cache->shape[0] != src->shape[0] || cache->shape[2] != src->shape[2] ||
        cache->shape[3] != src->shape[3])
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "%s: cache is %s but src is %s (expected (B, capacity, H, Dh) and "
                          "(B, n, H, Dh))",
                          op, clf__desc(cache, d1), clf__desc(src, d2));
    const int64_t n = src->shape[1], cap = cache->shape[1];
    if (pos < 0 || pos > cap - n)
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE,
                          "%s: positions [%lld, %lld) do not fit the cache's capacity %lld", op,
                          (long long)pos, (long long)(pos + n), (long long)cap);
    clf_tensor slot = *cache; /* (B, n, H, Dh) at [pos, pos + n): always inside the cache */
    slot.shape[1] = n;
    slot.offset += pos * cache->stride[1];
    return copy_impl(ctx, op, src, &slot);
}

clf_status clf_kv_append(clf_context *ctx, clf_tensor *cache, int64_t pos, const clf_tensor *src)
{
    CLF__GUARDED(ctx, "clf_kv_append", kv_append_body(ctx, cache, pos, src));
}

/* rows NULL: clf_kv_append_rows (row b of src into row b of the cache);
 * else clf_kv_append_at (into row rows[b], cache rows R independent of B). */
static clf_status kv_append_rows_body(clf_context *ctx, const char *op, clf_tensor *cache,
                                      const clf_tensor *rows, const clf_tensor *positions,
                                      const clf_tensor *src)
{
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: NULL context", op);
    CLF_TRY(clf__check_arg(ctx, op, "cache", cache, CLF__DT_FLOAT, 4, 4));
    CLF_TRY(clf__check_arg(ctx, op, "positions", positions, CLF__DT(CLF_I32), 1, 1));
    CLF_TRY(clf__check_arg(ctx, op, "src", src, CLF__DT_FLOAT, 4, 4));
    if (rows) CLF_TRY(clf__check_arg(ctx, op, "rows", rows, CLF__DT(CLF_I32), 1, 1));
    char d1[160], d2[160], d3[160];
    if ((!rows && cache->shape[0] != src->shape[0]) || cache->shape[2] != src->shape[2] ||
        cache->shape[3] != src->shape[3] || positions->shape[0] != src->shape[0] ||
        (rows && rows->shape[0] != src->shape[0]))
        return clf__error(ctx, CLF_ERR_SHAPE,
                          rows ? "%s: cache is %s, positions %s, src %s (expected (R, capacity, H, "
                                 "Dh), (B) and (B, n, H, Dh), and rows (B))"
                               : "%s: cache is %s, positions %s, src %s (expected (B, capacity, H, "
                                 "Dh), (B) and (B, n, H, Dh))",
                          op, clf__desc(cache, d1), clf__desc(positions, d2), clf__desc(src, d3));
    const int64_t B = src->shape[0], n = src->shape[1], H = src->shape[2], Dh = src->shape[3];
    const int64_t cap = cache->shape[1];
    if (n > cap)
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE, "%s: %lld new positions exceed capacity %lld",
                          op, (long long)n, (long long)cap);
    if (cache->stride[3] != 1 || src->stride[3] != 1)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: the head axis must be contiguous on both sides (cache %s, src %s)",
                          op, clf__desc(cache, d1), clf__desc(src, d2));
    if (clf__overlap(src, cache) || clf__overlap(positions, cache) ||
        (rows && clf__overlap(rows, cache)))
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: src %s, positions %s or rows overlaps cache %s", op,
                          clf__desc(src, d1), clf__desc(positions, d2), clf__desc(cache, d3));
    int ki = kernel_index(src->dtype, cache->dtype, 2);
    if (clf_tensor_numel(src) == 0) return CLF_OK;
    const char *name = copy_kernels[ki];
    char only[32];
    snprintf(only, sizeof only, "-DCLF_COPY_ONLY=%d", ki + 1);
    cl_kernel k;
    CLF_TRY(clf__kernel_get(ctx, "copy", only, name, &k));
    cl_mem err_word;
    CLF_TRY(clf__device_error_buffer(ctx, &err_word));
    cl_ulong s_off = (cl_ulong)src->offset, d_off = (cl_ulong)cache->offset;
    cl_ulong p_off = (cl_ulong)positions->offset;
    cl_long ss0 = src->stride[0], ss1 = src->stride[1], ss2 = src->stride[2];
    cl_long ds0 = cache->stride[0], ds1 = cache->stride[1], ds2 = cache->stride[2];
    cl_long p_s = positions->stride[0], ccap = cap;
    cl_ulong nn = (cl_ulong)n, hh = (cl_ulong)H, dh = (cl_ulong)Dh;
    cl_ulong r_off = rows ? (cl_ulong)rows->offset : 0;
    cl_long r_s = rows ? rows->stride[0] : 0, R = cache->shape[0];
    cl_int has_rows = rows != NULL;
    const clf__karg args[] = {
        CLF_KMEM(src),   CLF_KARG(s_off), CLF_KARG(ss0),  CLF_KARG(ss1),  CLF_KARG(ss2),
        CLF_KMEM(cache), CLF_KARG(d_off), CLF_KARG(ds0),  CLF_KARG(ds1),  CLF_KARG(ds2),
        CLF_KARG(nn),    CLF_KARG(hh),    CLF_KARG(dh),   CLF_KMEM(positions), CLF_KARG(p_off),
        CLF_KARG(p_s),   CLF_KARG(ccap),  CLF_KARG(err_word), rows ? CLF_KMEM(rows) : CLF_KMEM(positions),
        CLF_KARG(r_off), CLF_KARG(r_s),   CLF_KARG(has_rows), CLF_KARG(R),
    };
    CLF_TRY(clf__set_args(ctx, k, name, args, CLF_ARRAY_LEN(args)));
    size_t n8 = (size_t)((Dh + 7) / 8);
    size_t l0 = clf__wg_fit(ctx, k, (size_t)ctx->kprof.elementwise_wg), want = l0;
    while (l0 > 1 && l0 / 2 >= n8) l0 /= 2; /* short heads: several heads per group */
    size_t l1 = want / l0;
    while (l1 > 1 && l1 / 2 >= (size_t)H) l1 /= 2;
    size_t global[3] = {clf__round_up(n8, l0), clf__round_up((size_t)H, l1), (size_t)(B * n)};
    size_t local[3] = {l0, l1, 1};
    return clf__launch(ctx, k, name, 3, global, local);
}

clf_status clf_kv_append_rows(clf_context *ctx, clf_tensor *cache, const clf_tensor *positions,
                              const clf_tensor *src)
{
    CLF__GUARDED(ctx, "clf_kv_append_rows",
                 kv_append_rows_body(ctx, "clf_kv_append_rows", cache, NULL, positions, src));
}

clf_status clf_kv_append_at(clf_context *ctx, clf_tensor *cache, const clf_tensor *rows,
                            const clf_tensor *positions, const clf_tensor *src)
{
    if (!rows) return clf_kv_append_rows(ctx, cache, positions, src);
    CLF__GUARDED(ctx, "clf_kv_append_at",
                 kv_append_rows_body(ctx, "clf_kv_append_at", cache, rows, positions, src));
}
