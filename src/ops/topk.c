/*
 * clf_argmax and clf_topk over the rows of (R, V) logits. A work-group per
 * row suffices when there are many rows; with few rows (greedy or beam
 * decoding: R = batch or batch x beams) and a large vocabulary, each row is
 * split into G chunks so that every compute unit has work, and a second
 * launch of the same kernel reduces the G partial results per row. The
 * partials live in the context's top-k scratch slot.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"

#define TOPK_MAX 256

/* Local memory of one group (kernels/topk.cl): argmax_rows a value and an
 * index per work-item; topk_rows a 256-bin histogram, TOPK_MAX selected keys
 * and indices, a prefix-sum array per work-item and three words. */
static uint64_t topk_local_bytes(bool argmax, int wg)
{
    return argmax ? (uint64_t)wg * 8 : 256 * 4 + 2 * TOPK_MAX * 4 + (uint64_t)wg * 4 + 16;
}

/* Work-group size: 256, or the largest power of two the profile's device
 * limits (work-items and local memory) allow; the kernels take 32 to 256. */
static int topk_wg(const clf_context *ctx, bool argmax)
{
    const clf_device_limits *l = &ctx->kprof.limits;
    int wg = 256;
    while (wg > 32 && ((uint64_t)wg > clf__limits_group_max(l) ||
                       topk_local_bytes(argmax, wg) > l->local_mem_bytes))
        wg /= 2;
    return wg;
}

/* Chunks per row. Splitting pays when rows alone cannot fill the device
 * (about 4 work-groups per compute unit) and a chunk keeps enough columns
 * (>= 2048, and >= 4k so the second pass reads far less than the first). */
static int64_t chunks_per_row(const clf_context *ctx, int64_t R, int64_t V, int64_t k)
{
    int64_t chunk_min = 4 * k > 2048 ? 4 * k : 2048;
    int64_t want = (4 * (int64_t)clf__compute_units(ctx) + R - 1) / R;
    int64_t g = V / chunk_min;
    if (g > want) g = want;
    if (g > 256) g = 256;
    return g < 2 ? 1 : g;
}

/* One launch of argmax_rows or topk_rows. x: (rows, V) view given as
 * mem/offset/strides; cand: the column map when gather; outputs likewise. */
typedef struct topk_io {
    cl_mem x;
    cl_ulong x_off;
    cl_long x_rs, x_cs;
    clf_dtype x_dtype;
    cl_mem cand; /* gather only; else any valid buffer */
    cl_ulong c_off;
    cl_mem ov;
    cl_ulong ov_off;
    cl_long ov_rs, ov_cs;
    cl_mem oi;
    cl_ulong oi_off;
    cl_long oi_rs, oi_cs;
} topk_io;

/* kernels/topk.cl CLF_TOPK_ONLY: the program holds only the kernel used. */
static int only_of(const char *kernel)
{
    static const char *names[] = {"argmax_rows", "topk_rows", "argmax_rows_vec", "topk_rows_vec"};
    for (int i = 0; i < 4; i++)
        if (strcmp(kernel, names[i]) == 0) return i + 1;
    return 0;
}

static clf_status launch_rows(clf_context *ctx, const char *kernel, const topk_io *io, bool gather,
                              int64_t R, int64_t V, int64_t G, cl_int last)
{
    /* The group size is fixed at build time; a kernel whose own limit
     * (CL_KERNEL_WORK_GROUP_SIZE) is below it is rebuilt smaller. */
    bool argmax = strcmp(kernel, "argmax_rows") == 0;
    int wg = topk_wg(ctx, argmax);
    if (topk_local_bytes(argmax, wg) > ctx->kprof.limits.local_mem_bytes)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "%s needs %llu bytes of local memory at its smallest work-group (%d); "
                          "\"%s\" has %llu",
                          kernel, (unsigned long long)topk_local_bytes(argmax, wg), wg, ctx->info.name,
                          (unsigned long long)ctx->kprof.limits.local_mem_bytes);
    cl_kernel k;
    for (;;) {
        char options[128];
        snprintf(options, sizeof options,
                 "-DCLF_TOPK_WG=%d -DCLF_TOPK_F16=%d -DCLF_TOPK_GATHER=%d -DCLF_TOPK_ONLY=%d", wg,
                 io->x_dtype == CLF_F16, gather, only_of(kernel));
        CLF_TRY(clf__kernel_get(ctx, "topk", options, kernel, &k));
        size_t lim = clf__kernel_wg_limit(ctx, k);
        if ((size_t)wg <= lim) break;
        if (wg <= 32) return clf__check_group(ctx, k, kernel, (size_t)wg);
        while (wg > 32 && (size_t)wg > lim) wg /= 2;
    }
    cl_int v = (cl_int)V, g = (cl_int)G;
    const clf__karg args[] = {
        CLF_KARG(io->x),      CLF_KARG(io->x_off), CLF_KARG(io->x_rs),   CLF_KARG(io->x_cs),
        CLF_KARG(io->cand),   CLF_KARG(io->c_off), CLF_KARG(v),          CLF_KARG(g),
        CLF_KARG(io->ov),     CLF_KARG(io->ov_off), CLF_KARG(io->ov_rs), CLF_KARG(io->ov_cs),
        CLF_KARG(io->oi),     CLF_KARG(io->oi_off), CLF_KARG(io->oi_rs), CLF_KARG(io->oi_cs),
        CLF_KARG(last),
    };
    CLF_TRY(clf__set_args(ctx, k, kernel, args, CLF_ARRAY_LEN(args)));
    size_t global[2] = {(size_t)wg * (size_t)G, (size_t)R}, local[2] = {(size_t)wg, 1};
    return clf__launch(ctx, k, kernel, 2, global, local);
}

/* Runs kernel over x (R, V) into the final outputs (ov, oi with offsets and
 * strides in `out`), through a split first pass when that pays. `kk` is the
 * entries kept per row (1 for argmax); `last` is the kernel's last argument
 * for the final launch and for a first pass (argmax: has_val; topk: k). */
#define TOPK_SMALL 32 /* kernels/topk.cl: CLF_TOPK_SMALL */

/* CPU fast path (argmax_rows_vec / topk_rows_vec): one work-item per row
 * scanning it with float8 lanes, no barriers, one launch. */
static clf_status run_rows_vec(clf_context *ctx, const char *kernel, const clf_tensor *x,
                               const topk_io *out, int64_t kk)
{
    const int64_t R = x->shape[0], V = x->shape[1];
    char options[64];
    snprintf(options, sizeof options, "-DCLF_TOPK_F16=%d -DCLF_TOPK_ONLY=%d", x->dtype == CLF_F16,
             only_of(kernel));
    cl_kernel k;
    CLF_TRY(clf__kernel_get(ctx, "topk", options, kernel, &k));
    cl_mem xm = x->buffer->mem;
    cl_ulong x_off = (cl_ulong)x->offset;
    cl_long x_rs = x->stride[0];
    cl_int v = (cl_int)V, r = (cl_int)R, kc = (cl_int)kk;
    if (kk == 0) { /* argmax */
        const clf__karg args[] = {CLF_KARG(xm), CLF_KARG(x_off), CLF_KARG(x_rs),
                                  CLF_KARG(v),  CLF_KARG(r),     CLF_KARG(out->oi),
                                  CLF_KARG(out->oi_off), CLF_KARG(out->oi_rs)};
        CLF_TRY(clf__set_args(ctx, k, kernel, args, CLF_ARRAY_LEN(args)));
    } else {
        const clf__karg args[] = {
            CLF_KARG(xm),          CLF_KARG(x_off),      CLF_KARG(x_rs),      CLF_KARG(v),
            CLF_KARG(r),           CLF_KARG(out->ov),    CLF_KARG(out->ov_off),
            CLF_KARG(out->ov_rs),  CLF_KARG(out->ov_cs), CLF_KARG(out->oi),
            CLF_KARG(out->oi_off), CLF_KARG(out->oi_rs), CLF_KARG(out->oi_cs), CLF_KARG(kc)};
        CLF_TRY(clf__set_args(ctx, k, kernel, args, CLF_ARRAY_LEN(args)));
    }
    size_t local = clf__rows_local_size(ctx, k, R, 1);
    size_t global = clf__round_up((size_t)R, local);
    return clf__launch(ctx, k, kernel, 1, &global, &local);
}

static clf_status run_rows(clf_context *ctx, const char *kernel, const clf_tensor *x,
                           topk_io out, int64_t kk, cl_int last_final, cl_int last_partial)
{
    const int64_t R = x->shape[0], V = x->shape[1];
    /* On CPUs a work-item per row beats the work-group kernels (PoCL runs
     * their barriers and local atomics slowly) when the columns are
     * contiguous; top-k only for small k (its insertion is O(k)). */
    if (ctx->kprof.row_per_item && (x->stride[1] == 1 || V == 1) &&
        kk <= TOPK_SMALL) {
        int argmax = strcmp(kernel, "argmax_rows") == 0;
        return run_rows_vec(ctx, argmax ? "argmax_rows_vec" : "topk_rows_vec", x, &out,
                            argmax ? 0 : kk);
    }
    const int64_t G = chunks_per_row(ctx, R, V, kk);
    topk_io io = out;
    io.x = x->buffer->mem;
    io.x_off = (cl_ulong)x->offset;
    io.x_rs = x->stride[0];
    io.x_cs = x->stride[1];
    io.x_dtype = x->dtype;
    io.cand = x->buffer->mem;
    io.c_off = 0;
    if (G == 1) return launch_rows(ctx, kernel, &io, false, R, V, 1, last_final);

    /* Partials: values (R * G, kk) f32, then columns (R * G, kk) i32. */
    const int64_t n = R * G * kk;
    cl_mem scratch;
    CLF_TRY(clf__scratch(ctx, CLF__SCRATCH_TOPK, (size_t)n * 8, &scratch));
    io.ov = scratch;
    io.ov_off = 0;
    io.ov_rs = kk;
    io.ov_cs = 1;
    io.oi = scratch;
    io.oi_off = (cl_ulong)n;
    io.oi_rs = kk;
    io.oi_cs = 1;
    CLF_TRY(launch_rows(ctx, kernel, &io, false, R, V, G, last_partial));

    topk_io io2 = out;
    io2.x = scratch;
    io2.x_off = 0;
    io2.x_rs = G * kk;
    io2.x_cs = 1;
    io2.x_dtype = CLF_F32;
    io2.cand = scratch;
    io2.c_off = (cl_ulong)n;
    return launch_rows(ctx, kernel, &io2, true, R, G * kk, 1, last_final);
}

static clf_status check_rows(clf_context *ctx, const char *op, const clf_tensor *x)
{
    CLF_TRY(clf__check_arg(ctx, op, "x", x, CLF__DT_FLOAT, 2, 2));
    char d[160];
    if (x->shape[0] > INT_MAX || x->shape[1] > INT_MAX)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: x is %s; at most 2^31 - 1 rows and columns",
                          op, clf__desc(x, d));
    return CLF_OK;
}

static clf_status argmax_body(clf_context *ctx, const clf_tensor *x, clf_tensor *idx)
{
    static const char op[] = "clf_argmax";
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: NULL context", op);
    CLF_TRY(check_rows(ctx, op, x));
    CLF_TRY(clf__check_arg(ctx, op, "idx", idx, CLF__DT(CLF_I32), 1, 1));
    char d1[160], d2[160];
    if (idx->shape[0] != x->shape[0])
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: x is %s, so idx must be (%lld); got %s", op,
                          clf__desc(x, d1), (long long)x->shape[0], clf__desc(idx, d2));
    if (clf__overlap(x, idx))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: idx %s overlaps x %s", op,
                          clf__desc(idx, d2), clf__desc(x, d1));
    topk_io out = {0};
    out.ov = idx->buffer->mem; /* not written by the final pass (has_val = 0) */
    out.oi = idx->buffer->mem;
    out.oi_off = (cl_ulong)idx->offset;
    out.oi_rs = idx->stride[0];
    out.oi_cs = 1;
    return run_rows(ctx, "argmax_rows", x, out, 1, 0, 1);
}

clf_status clf_argmax(clf_context *ctx, const clf_tensor *x, clf_tensor *idx)
{
    CLF__GUARDED(ctx, "clf_argmax", argmax_body(ctx, x, idx));
}

static clf_status topk_body(clf_context *ctx, const clf_tensor *x, int64_t k, clf_tensor *values,
                            clf_tensor *indices)
{
    static const char op[] = "clf_topk";
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: NULL context", op);
    CLF_TRY(check_rows(ctx, op, x));
    CLF_TRY(clf__check_arg(ctx, op, "values", values, CLF__DT(CLF_F32), 2, 2));
    CLF_TRY(clf__check_arg(ctx, op, "indices", indices, CLF__DT(CLF_I32), 2, 2));
    char d1[160], d2[160], d3[160];
    if (k < 1 || k > TOPK_MAX)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: k = %lld; 1 <= k <= %d", op,
                          (long long)k, TOPK_MAX);
    const int64_t R = x->shape[0], V = x->shape[1];
    if (k > V)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: k = %lld is more than the %lld columns of x %s",
                          op, (long long)k, (long long)V, clf__desc(x, d1));
    if (values->shape[0] != R || values->shape[1] != k || indices->shape[0] != R ||
        indices->shape[1] != k)
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "%s: x is %s and k = %lld, so values and indices must be (%lld, %lld); "
                          "got %s and %s",
                          op, clf__desc(x, d1), (long long)k, (long long)R, (long long)k,
                          clf__desc(values, d2), clf__desc(indices, d3));
    if (clf__overlap(x, values) || clf__overlap(x, indices) || clf__overlap(values, indices))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: x %s, values %s and indices %s overlap",
                          op, clf__desc(x, d1), clf__desc(values, d2), clf__desc(indices, d3));
    topk_io out = {0};
    out.ov = values->buffer->mem;
    out.ov_off = (cl_ulong)values->offset;
    out.ov_rs = values->stride[0];
    out.ov_cs = values->stride[1];
    out.oi = indices->buffer->mem;
    out.oi_off = (cl_ulong)indices->offset;
    out.oi_rs = indices->stride[0];
    out.oi_cs = indices->stride[1];
    return run_rows(ctx, "topk_rows", x, out, k, (cl_int)k, (cl_int)k);
}

clf_status clf_topk(clf_context *ctx, const clf_tensor *x, int64_t k, clf_tensor *values,
                    clf_tensor *indices)
{
    CLF__GUARDED(ctx, "clf_topk", topk_body(ctx, x, k, values, indices));
}
