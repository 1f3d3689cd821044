/*
 * clf_embedding and clf_positional_encoding: gather token rows, scale them,
 * add learned or sinusoidal positions. Token ids are checked on the device
 * (reading them back would block), through the context's error word.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"

/* Work-group shape for a (rows, D) output: up to 64 columns by enough rows to
 * make 64 work-items, so a narrow model does not leave most lanes idle. */
/* The kernel `name` of embed.cl, in a program holding only it
 * (CLF_EMBED_ONLY = only): one kernel compiles in a fraction of the time. */
static clf_status embed_kernel(clf_context *ctx, const char *options, const char *name, int only,
                               cl_kernel *k)
{
    char opt[256];
    snprintf(opt, sizeof opt, "%s -DCLF_EMBED_ONLY=%d", options, only);
    return clf__kernel_get(ctx, "embed", opt, name, k);
}

/* wg work-items (a power of two) per group: columns first, then rows. */
static void launch_shape(size_t wg, int64_t rows, int64_t D, size_t global[2], size_t local[2])
{
    size_t l0 = 1;
    while (l0 < wg && l0 < (size_t)D) l0 *= 2;
    local[0] = l0;
    local[1] = wg / l0;
    global[0] = clf__round_up((size_t)D, local[0]);
    global[1] = clf__round_up((size_t)rows, local[1]);
}

static clf_status embedding_body(clf_context *ctx, const clf_tensor *table, const clf_tensor *ids,
                                 clf_tensor *out, const clf_embed_params *params)
{
    static const char op[] = "clf_embedding";
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: NULL context", op);
    CLF_TRY(clf__check_arg(ctx, op, "table", table,
                           CLF__DT_FLOAT | CLF__DT(CLF_Q8) | CLF__PACKED_OK, 2, 2));
    CLF_TRY(clf__check_arg(ctx, op, "ids", ids, CLF__DT(CLF_I32), 1, 2));
    CLF_TRY(clf__check_arg(ctx, op, "out", out, CLF__DT_FLOAT, 2, 3));
    const clf_embed_params p = params ? *params : (clf_embed_params){0};
    char d1[160], d2[160], d3[160];

    const int64_t V = table->shape[0], D = table->shape[1];
    const int64_t B = ids->ndim == 2 ? ids->shape[0] : 1, S = ids->shape[ids->ndim - 1];
    bool fits = out->ndim == ids->ndim + 1 && out->shape[out->ndim - 1] == D;
    for (int i = 0; fits && i < ids->ndim; i++) fits = out->shape[i] == ids->shape[i];
    if (!fits)
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "%s: out is %s; expected the shape of ids %s followed by D = %lld "
                          "(table %s)",
                          op, clf__desc(out, d3), clf__desc(ids, d2), (long long)D,
                          clf__desc(table, d1));
    if (V > INT_MAX || D > INT_MAX || B * S > INT_MAX)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: table %s with ids %s is too large", op,
                          clf__desc(table, d1), clf__desc(ids, d2));
    if (p.positions < CLF_POS_NONE || p.positions > CLF_POS_SINUSOIDAL_CONCAT)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: unknown position type %d", op,
                          (int)p.positions);
    if (p.positions != CLF_POS_NONE && (p.pos_offset < 0 || p.pos_offset > INT_MAX - S))
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE, "%s: pos_offset %lld is out of range", op,
                          (long long)p.pos_offset);

    const clf_tensor *pos = NULL, *rp = p.row_positions;
    if (p.positions == CLF_POS_LEARNED) {
        CLF_TRY(clf__check_arg(ctx, op, "pos_table", p.pos_table, CLF__DT_FLOAT, 2, 2));
        pos = p.pos_table;
        if (pos->shape[1] != D)
            return clf__error(ctx, CLF_ERR_SHAPE, "%s: pos_table is %s but table is %s (same D)",
                              op, clf__desc(pos, d1), clf__desc(table, d2));
        if (!rp && p.pos_offset + S > pos->shape[0])
            return clf__error(ctx, CLF_ERR_OUT_OF_RANGE,
                              "%s: positions %lld..%lld are past the learned table %s (%lld "
                              "positions)",
                              op, (long long)p.pos_offset, (long long)(p.pos_offset + S - 1),
                              clf__desc(pos, d1), (long long)pos->shape[0]);
        if (clf__overlap(out, pos))
            return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: out %s overlaps pos_table %s", op,
                              clf__desc(out, d1), clf__desc(pos, d2));
    }
    if (rp) {
        CLF_TRY(clf__check_arg(ctx, op, "row_positions", rp, CLF__DT(CLF_I32), 1, 1));
        if (rp->shape[0] != B)
            return clf__error(ctx, CLF_ERR_SHAPE,
                              "%s: row_positions is %s; expected (B) = (%lld), one per row of ids "
                              "%s",
                              op, clf__desc(rp, d1), (long long)B, clf__desc(ids, d2));
        if (clf__overlap(out, rp))
            return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: out %s overlaps row_positions %s", op,
                              clf__desc(out, d1), clf__desc(rp, d2));
    }
    if (clf__overlap(out, table) || clf__overlap(out, ids))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: out %s overlaps table %s or ids %s", op,
                          clf__desc(out, d1), clf__desc(table, d2), clf__desc(ids, d3));

    cl_mem err_word;
    CLF_TRY(clf__device_error_buffer(ctx, &err_word));
    char options[160];
    bool q8 = table->dtype == CLF_Q8;
    const clf_buffer *pk = table->buffer->pack_n ? table->buffer : NULL;
    snprintf(options, sizeof options,
             "-DCLF_TABLE_F16=%d -DCLF_POS_F16=%d -DCLF_OUT_F16=%d -DCLF_TABLE_Q8=%d%s",
             table->dtype == CLF_F16, pos ? pos->dtype == CLF_F16 : 0, out->dtype == CLF_F16, q8,
             pk ? " -DCLF_TABLE_PACKED=1" : "");
    cl_kernel k;

    /* ids and out as (B, S, ...) whatever their rank: a 1-D ids has B = 1. */
    const int o = out->ndim;
    cl_ulong t_off = (cl_ulong)table->offset, i_off = (cl_ulong)ids->offset;
    cl_ulong o_off = (cl_ulong)out->offset;
    cl_long t_rs = table->stride[0], t_cs = table->stride[1];
    cl_long i_bs = ids->ndim == 2 ? ids->stride[0] : 0, i_ss = ids->stride[ids->ndim - 1];
    cl_long o_bs = o == 3 ? out->stride[0] : 0, o_ss = out->stride[o - 2], o_ds = out->stride[o - 1];
    cl_ulong p_off = pos ? (cl_ulong)pos->offset : 0;
    cl_long p_rs = pos ? pos->stride[0] : 0, p_cs = pos ? pos->stride[1] : 0;
    cl_int v = (cl_int)V, dd = (cl_int)D, s = (cl_int)S, b = (cl_int)B;
    cl_int pos_type = (cl_int)p.positions;
    cl_long pos_offset = p.pos_offset;
    cl_float scale = p.scale == 0.0f ? 1.0f : p.scale;
    /* The sinusoid's frequency exponent step, -2 log2(10000) / D, rounded
     * once (kernels/embed.cl: emb_sinusoid8). */
    cl_float freq_k = (cl_float)(-2.0 * log2(10000.0) / (double)D);
    cl_ulong r_off = rp ? (cl_ulong)rp->offset : 0;
    cl_long r_s = rp ? rp->stride[0] : 0, P = pos ? pos->shape[0] : INT_MAX;
    cl_int has_rpos = rp != NULL;
    size_t global[2], local[2];
    /* A Q8 table: row r's scale at float index q_scales / 4 + r of its buffer. */
    cl_ulong t_scales = q8 ? (cl_ulong)(table->buffer->q_scales / 4) +
                                 (cl_ulong)(table->offset / table->buffer->q_cols)
                           : 0;
    if (q8 && (t_cs != 1 || o_ds != 1 || (pos && p_cs != 1) || t_rs != table->buffer->q_cols ||
               table->offset % table->buffer->q_cols))
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "%s: a q8 table (%s) needs whole rows and unit column strides of out "
                          "and pos_table", op, clf__desc(table, d1));
    /* A packed table (the tied output head of a model on the CPU family,
     * clf_gemm_pack_b): whole, read in its panel layout by embedding_vec. */
    cl_int pk_n = pk ? pk->pack_n : 0, pk_v = pk ? pk->pack_v : 0;
    cl_long pk_kp = pk ? pk->pack_kp : 0;
    if (pk && (table->offset != 0 || V != pk->pack_rows || D != pk->pack_cols || o_ds != 1 ||
               (pos && p_cs != 1)))
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "%s: a packed table (%s) is read whole, with unit column strides of "
                          "out and pos_table", op, clf__desc(table, d1));
    if (t_cs == 1 && o_ds == 1 && (!pos || p_cs == 1)) {
        /* Fast path: unit column strides, 8 columns per work-item. */
        char vopt[192];
        snprintf(vopt, sizeof vopt, "%s -DCLF_POS_KIND=%d", options, (int)p.positions);
        CLF_TRY(embed_kernel(ctx, vopt, "embedding_vec", 3, &k));
        const clf__karg vargs[] = {
            CLF_KMEM(table), CLF_KARG(t_off), CLF_KARG(t_rs), CLF_KMEM(ids),
            CLF_KARG(i_off), CLF_KARG(i_bs),  CLF_KARG(i_ss), CLF_KMEM(out),
            CLF_KARG(o_off), CLF_KARG(o_bs),  CLF_KARG(o_ss), pos ? CLF_KMEM(pos) : CLF_KMEM(table),
            CLF_KARG(p_off), CLF_KARG(p_rs),  CLF_KARG(v),    CLF_KARG(dd),
            CLF_KARG(s),     CLF_KARG(b),     CLF_KARG(scale), CLF_KARG(pos_type),
            CLF_KARG(pos_offset), CLF_KARG(freq_k), CLF_KARG(err_word),
            rp ? CLF_KMEM(rp) : CLF_KMEM(ids), CLF_KARG(r_off), CLF_KARG(r_s),
            CLF_KARG(has_rpos), CLF_KARG(P), CLF_KARG(t_scales), CLF_KARG(pk_n),
            CLF_KARG(pk_v), CLF_KARG(pk_kp),
        };
        CLF_TRY(clf__set_args(ctx, k, "embedding_vec", vargs, CLF_ARRAY_LEN(vargs)));
        launch_shape(clf__wg_fit(ctx, k, 64), B * S, (D + 7) / 8, global, local);
        return clf__launch(ctx, k, "embedding_vec", 2, global, local);
    }
    CLF_TRY(embed_kernel(ctx, options, "embedding", 1, &k));
    const clf__karg args[] = {
        CLF_KMEM(table), CLF_KARG(t_off), CLF_KARG(t_rs),  CLF_KARG(t_cs),
        CLF_KMEM(ids),   CLF_KARG(i_off), CLF_KARG(i_bs),  CLF_KARG(i_ss),
        CLF_KMEM(out),   CLF_KARG(o_off), CLF_KARG(o_bs),  CLF_KARG(o_ss),
        CLF_KARG(o_ds),  pos ? CLF_KMEM(pos) : CLF_KMEM(table), CLF_KARG(p_off), CLF_KARG(p_rs),
        CLF_KARG(p_cs),  CLF_KARG(v),     CLF_KARG(dd),    CLF_KARG(s),
        CLF_KARG(b),     CLF_KARG(scale), CLF_KARG(pos_type), CLF_KARG(pos_offset),
        CLF_KARG(err_word), rp ? CLF_KMEM(rp) : CLF_KMEM(ids), CLF_KARG(r_off), CLF_KARG(r_s),
        CLF_KARG(has_rpos), CLF_KARG(P),
    };
    CLF_TRY(clf__set_args(ctx, k, "embedding", args, CLF_ARRAY_LEN(args)));
    launch_shape(clf__wg_fit(ctx, k, 64), B * S, D, global, local);
    return clf__launch(ctx, k, "embedding", 2, global, local);
}

clf_status clf_embedding(clf_context *ctx, const clf_tensor *table, const clf_tensor *ids,
                         clf_tensor *out, const clf_embed_params *params)
{
    CLF__GUARDED(ctx, "clf_embedding", embedding_body(ctx, table, ids, out, params));
}

static clf_status positional_encoding_body(clf_context *ctx, clf_pos_type type, int64_t offset,
                                           clf_tensor *out)
{
    static const char op[] = "clf_positional_encoding";
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: NULL context", op);
    CLF_TRY(clf__check_arg(ctx, op, "out", out, CLF__DT_FLOAT, 2, 2));
    if (type != CLF_POS_SINUSOIDAL && type != CLF_POS_SINUSOIDAL_CONCAT)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: type %d is not a sinusoidal kind (CLF_POS_SINUSOIDAL or "
                          "CLF_POS_SINUSOIDAL_CONCAT)",
                          op, (int)type);
    const int64_t S = out->shape[0], D = out->shape[1];
    char d1[160];
    if (S > INT_MAX || D > INT_MAX)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: out %s is too large", op, clf__desc(out, d1));
    if (offset < 0 || offset > INT_MAX - S)
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE, "%s: offset %lld is out of range", op,
                          (long long)offset);
    /* The option string of an f32-table embedding: both kernels share a build. */
    char options[96];
    snprintf(options, sizeof options, "-DCLF_TABLE_F16=0 -DCLF_POS_F16=0 -DCLF_OUT_F16=%d",
             out->dtype == CLF_F16);
    cl_kernel k;
    cl_ulong o_off = (cl_ulong)out->offset;
    cl_long o_ss = out->stride[0], o_ds = out->stride[1], off = offset;
    cl_int s = (cl_int)S, dd = (cl_int)D, t = (cl_int)type;
    size_t global[2], local[2];
    if (o_ds == 1) {
        /* Fast path: a unit column stride, 8 columns per work-item. */
        cl_float freq_k = (cl_float)(-2.0 * log2(10000.0) / (double)D);
        CLF_TRY(embed_kernel(ctx, options, "positional_encoding_vec", 4, &k));
        const clf__karg vargs[] = {CLF_KMEM(out), CLF_KARG(o_off), CLF_KARG(o_ss),
                                   CLF_KARG(s),   CLF_KARG(dd),    CLF_KARG(t),
                                   CLF_KARG(off), CLF_KARG(freq_k)};
        CLF_TRY(clf__set_args(ctx, k, "positional_encoding_vec", vargs, CLF_ARRAY_LEN(vargs)));
        launch_shape(clf__wg_fit(ctx, k, 64), S, (D + 7) / 8, global, local);
        return clf__launch(ctx, k, "positional_encoding_vec", 2, global, local);
    }
    CLF_TRY(embed_kernel(ctx, options, "positional_encoding", 2, &k));
    const clf__karg args[] = {CLF_KMEM(out), CLF_KARG(o_off), CLF_KARG(o_ss), CLF_KARG(o_ds),
                              CLF_KARG(s),   CLF_KARG(dd),    CLF_KARG(t),    CLF_KARG(off)};
    CLF_TRY(clf__set_args(ctx, k, "positional_encoding", args, CLF_ARRAY_LEN(args)));
    launch_shape(clf__wg_fit(ctx, k, 64), S, D, global, local);
    return clf__launch(ctx, k, "positional_encoding", 2, global, local);
}

clf_status clf_positional_encoding(clf_context *ctx, clf_pos_type type, int64_t offset,
                                   clf_tensor *out)
{
    CLF__GUARDED(ctx, "clf_positional_encoding", positional_encoding_body(ctx, type, offset, out));
}
