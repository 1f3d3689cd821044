/*
 * clf_attention: fused scaled dot-product attention (online softmax over K/V
 * tiles in local memory), the split-key decode variant for few queries, and
 * the unfused reference path (GEMM, softmax, GEMM through a score matrix).
 * Kernel contract: docs/attention_kernels.md.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"

/* Tile configuration for the device in hand. */
typedef struct attn_config {
    int vec, block_m, block_n, dec_wg;
    int cpu_flash; /* > 0: attn_flash_cpu with FLASH_Q = cpu_flash query rows per work-item
                    * (no local memory) instead of attn_flash */
} attn_config;

/* The profile's tiles for head_dim hd, fitted to lim work-items per group
 * and to the local memory: K and V tiles of 2 x BLOCK_N x hd floats (flash),
 * DEC_WG x (hd + 2) + hd floats (decode). */
static attn_config pick_config(const clf_context *ctx, int64_t hd, size_t lim)
{
    const clf_kernel_profile *p = &ctx->kprof;
    const uint64_t local = p->limits.local_mem_bytes;
    bool gpu = p->family == CLF_KERNELS_GPU;
    attn_config c = {p->attn_vec, p->attn_block_m, p->attn_block_n, p->attn_decode_wg, p->attn_cpu_rows};
    if (gpu && hd > 80) c.block_n /= 2, c.dec_wg /= 2;
    if (hd % c.vec) c.vec = 4;
    while (c.block_n > 4 && (uint64_t)2 * c.block_n * hd * 4 > local) c.block_n /= 2;
    while (c.dec_wg > 4 && (uint64_t)(c.dec_wg * (hd + 2) + hd) * 4 > local) c.dec_wg /= 2;
    while (c.block_m > 1 && (size_t)c.block_m > lim) c.block_m /= 2;
    while (c.dec_wg > 1 && (size_t)c.dec_wg > lim) c.dec_wg /= 2;
    return c;
}

/* only: ATTN_ONLY of kernels/attention.cl, the kernels the program holds
 * (1 attn_flash, 2 attn_flash_cpu, 3 the decode pair): a program compiles
 * only what its caller launches. Half arithmetic (ATTN_HALF) where the
 * profile has it, for f16 tensors only (f32 ones keep f32 accuracy), in
 * attn_flash and the decode pair (attn_flash_cpu has no half path). */
static void options(const clf_context *ctx, char *buf, size_t size, int only, int64_t hd, clf_dtype dt,
                    const attn_config *c, bool indirect, bool append)
{
    bool half = ctx->kprof.half_math && ctx->kprof.limits.fp16 && dt == CLF_F16 && only != 2;
    snprintf(buf, size,
             "-DATTN_ONLY=%d -DHEAD_DIM=%lld -DSTORAGE_F16=%d -DVEC=%d -DBLOCK_M=%d -DBLOCK_N=%d "
             "-DDEC_WG=%d%s%s%s",
             only, (long long)hd, dt == CLF_F16, c->vec, c->block_m, c->block_n, c->dec_wg,
             indirect ? " -DATTN_INDIRECT=1" : "", half ? " -DATTN_HALF=1" : "",
             append ? " -DATTN_APPEND=1" : "");
}

/* The five kernel arguments of one (B, L, H, D) view: buffer, element
 * offset, and the batch, sequence and head strides. The values live in *v,
 * which must outlive the clf__set_args call. */
typedef struct view_arg {
    cl_ulong off;
    cl_long stride[3];
} view_arg;

static void view_args(const clf_tensor *t, view_arg *v, clf__karg out[5])
{
    v->off = (cl_ulong)t->offset;
    for (int i = 0; i < 3; i++) v->stride[i] = (cl_long)t->stride[i];
    out[0] = CLF_KMEM(t);
    out[1] = CLF_KARG(v->off);
    for (int i = 0; i < 3; i++) out[2 + i] = CLF_KARG(v->stride[i]);
}

typedef struct attn_problem {
    const clf_tensor *q, *k, *v, *kl;
    const clf_tensor *rows; /* cache_rows or NULL */
    const clf_tensor *kn, *vn; /* the new keys and values the one-pass decode kernel appends
                                * at pos first (ATTN_APPEND), or NULL */
    int64_t pos;
    clf_tensor *o;
    int64_t b, lq, lk, h, hd;
    float scale;
    cl_int causal;
} attn_problem;

static clf_status check(clf_context *ctx, const clf_tensor *q, const clf_tensor *k,
                        const clf_tensor *v, const clf_tensor *o, const clf_attention_params *p,
                        attn_problem *pr)
{
    static const char *op = "clf_attention";
    CLF_TRY(clf__check_arg(ctx, op, "q", q, CLF__DT_FLOAT, 4, 4));
    CLF_TRY(clf__check_arg(ctx, op, "k", k, CLF__DT_FLOAT, 4, 4));
    CLF_TRY(clf__check_arg(ctx, op, "v", v, CLF__DT_FLOAT, 4, 4));
    CLF_TRY(clf__check_arg(ctx, op, "o", o, CLF__DT_FLOAT, 4, 4));
    char dq[160], dk[160], dv[160], dout[160];
    if (k->dtype != q->dtype || v->dtype != q->dtype || o->dtype != q->dtype)
        return clf__error(ctx, CLF_ERR_DTYPE, "clf_attention: q %s, k %s, v %s, o %s must share one dtype",
                          clf__desc(q, dq), clf__desc(k, dk), clf__desc(v, dv), clf__desc(o, dout));
    int64_t b = q->shape[0], lq = q->shape[1], h = q->shape[2], hd = q->shape[3];
    int64_t lk = k->shape[1];
    /* With a cache-row table, k and v are the cache: any number of rows. */
    bool ok = (k->shape[0] == b || p->cache_rows) && k->shape[2] == h && k->shape[3] == hd;
    for (int i = 0; i < 4; i++) ok = ok && v->shape[i] == k->shape[i] && o->shape[i] == q->shape[i];
    if (!ok)
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "clf_attention: q %s, k %s, v %s, o %s: expected q and o (B, Lq, H, D), "
                          "k and v (B, Lk, H, D) (with cache_rows (R, Lk, H, D), any R)",
                          clf__desc(q, dq), clf__desc(k, dk), clf__desc(v, dv), clf__desc(o, dout));
    if (hd % 4 || hd > 256)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "clf_attention: head_dim %lld (supported: multiples of 4 up to 256)",
                          (long long)hd);
    const clf_tensor *all[] = {q, k, v, o};
    for (int i = 0; i < 4; i++)
        if (all[i]->stride[3] != 1)
            return clf__error(ctx, CLF_ERR_SHAPE,
                              "clf_attention: %s has a non-contiguous head_dim (stride %lld)",
                              clf__desc(all[i], dq), (long long)all[i]->stride[3]);
    if (clf__overlap(o, q) || clf__overlap(o, k) || clf__overlap(o, v))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_attention: o overlaps an input");
    if (p->key_lens) {
        CLF_TRY(clf__check_arg(ctx, op, "key_lens", p->key_lens, CLF__DT(CLF_I32), 1, 1));
        if (p->key_lens->shape[0] != b || p->key_lens->stride[0] != 1 || p->key_lens->offset != 0)
            return clf__error(ctx, CLF_ERR_SHAPE,
                              "clf_attention: key_lens is %s; expected a whole contiguous (%lld) tensor",
                              clf__desc(p->key_lens, dq), (long long)b);
    }
    if (p->cache_rows) {
        const clf_tensor *r = p->cache_rows;
        CLF_TRY(clf__check_arg(ctx, op, "cache_rows", r, CLF__DT(CLF_I32), 2, 2));
        if (r->shape[0] != b || r->shape[1] != lk || (lk > 1 && r->stride[1] != 1))
            return clf__error(ctx, CLF_ERR_SHAPE,
                              "clf_attention: cache_rows is %s; expected (%lld, %lld) with a "
                              "contiguous key axis",
                              clf__desc(r, dq), (long long)b, (long long)lk);
    }
    if (b * lq * h >= ((int64_t)1 << 31) / 64 || lk >= ((int64_t)1 << 31))
        return clf__error(ctx, CLF_ERR_UNSUPPORTED, "clf_attention: %lld x %lld x %lld queries is too many",
                          (long long)b, (long long)lq, (long long)h);
    *pr = (attn_problem){q, k, v, p->key_lens, p->cache_rows, NULL, NULL, 0, (clf_tensor *)o,
                         b, lq, lk, h, hd,
                         p->scale != 0.0f ? p->scale : (float)(1.0 / sqrt((double)hd)),
                         p->causal ? 1 : 0};
    return CLF_OK;
}

/* The arguments after the views that both kernel families take, in order:
 * key_len, use_key_len, q_len, kv_len, scale, causal. */
typedef struct tail_arg {
    cl_mem key_len;
    cl_int use_key_len, q_len, kv_len;
} tail_arg;

static void tail_args(const attn_problem *pr, tail_arg *t, clf__karg out[6])
{
    t->key_len = pr->kl ? pr->kl->buffer->mem : NULL;
    t->use_key_len = pr->kl != NULL;
    t->q_len = (cl_int)pr->lq;
    t->kv_len = (cl_int)pr->lk;
    /* OpenCL 1.2 allows a NULL buffer argument (value pointer NULL). */
    out[0] = (clf__karg){sizeof(cl_mem), pr->kl ? &t->key_len : NULL};
    out[1] = CLF_KARG(t->use_key_len);
    out[2] = CLF_KARG(t->q_len);
    out[3] = CLF_KARG(t->kv_len);
    out[4] = CLF_KARG(pr->scale);
    out[5] = CLF_KARG(pr->causal);
}

/* The cache-row table's four kernel arguments (ATTN_INDIRECT): the table,
 * its element offset and batch stride, and the rows K and V have. The values
 * live in *t, which must outlive the clf__set_args call. */
typedef struct indirect_arg {
    cl_ulong off;
    cl_long sb;
    cl_int kv_batch;
} indirect_arg;

static void indirect_args(const attn_problem *pr, indirect_arg *t, clf__karg *out)
{
    t->off = (cl_ulong)pr->rows->offset;
    t->sb = (cl_long)pr->rows->stride[0];
    t->kv_batch = (cl_int)pr->k->shape[0];
    out[0] = CLF_KMEM(pr->rows);
    out[1] = CLF_KARG(t->off);
    out[2] = CLF_KARG(t->sb);
    out[3] = CLF_KARG(t->kv_batch);
}

/* The flash kernel of configuration *c: attn_flash (GPU family) or
 * attn_flash_cpu (with its FLASH_G groups of rows per work-item in *fg). */
static clf_status flash_kernel(clf_context *ctx, const attn_problem *pr, const attn_config *cc,
                               cl_kernel *kout, const char **nout, int *fgout)
{
    attn_config c = *cc;
    char opts[256];
    options(ctx, opts, sizeof opts, c.cpu_flash ? 2 : 1, pr->hd, pr->q->dtype, &c, false, false);
    /* attn_flash_cpu: FLASH_G groups of FLASH_Q rows per work-item (the profile's
     * attn_cpu_acc floats of accumulators), walked against chunks of FLASH_KC keys
     * (attn_cpu_kv floats of K and V, sized to stay in L2 while every group uses them). */
    int fg = 1;
    if (c.cpu_flash) {
        fg = (int)(ctx->kprof.attn_cpu_acc / (c.cpu_flash * pr->hd));
        if (fg < 1) fg = 1;
        int kc = (int)(ctx->kprof.attn_cpu_kv / pr->hd) / 8 * 8;
        if (kc < 8) kc = 8;
        size_t n = strlen(opts);
        snprintf(opts + n, sizeof opts - n, " -DFLASH_Q=%d -DFLASH_G=%d -DFLASH_KC=%d",
                 c.cpu_flash, fg, kc);
    }
    const char *name = c.cpu_flash ? "attn_flash_cpu" : "attn_flash";
    *nout = name;
    *fgout = fg;
    return clf__kernel_get(ctx, "attention", opts, name, kout);
}

static clf_status run_flash(clf_context *ctx, const attn_problem *pr)
{
    /* BLOCK_M is the group size, fixed at build: a kernel whose own limit is
     * lower is rebuilt with a smaller BLOCK_M. */
    attn_config c;
    cl_kernel k;
    const char *name;
    int fg = 1;
    for (size_t lim = (size_t)clf__limits_group_max(&ctx->kprof.limits);;) {
        c = pick_config(ctx, pr->hd, lim);
        CLF_TRY(flash_kernel(ctx, pr, &c, &k, &name, &fg));
        size_t klim = clf__kernel_wg_limit(ctx, k), items = c.cpu_flash ? 1 : (size_t)c.block_m;
        if (items <= klim) break;
        if (klim >= lim) return clf__check_group(ctx, k, name, items);
        lim = klim;
    }
    view_arg va[4];
    tail_arg ta;
    clf__karg args[26];
    view_args(pr->q, &va[0], &args[0]);
    view_args(pr->k, &va[1], &args[5]);
    view_args(pr->v, &va[2], &args[10]);
    view_args(pr->o, &va[3], &args[15]);
    tail_args(pr, &ta, &args[20]);
    CLF_TRY(clf__set_args(ctx, k, name, args, CLF_ARRAY_LEN(args)));
    size_t local[3] = {(size_t)c.block_m, 1, 1};
    size_t global[3] = {clf__round_up((size_t)pr->lq, local[0]), (size_t)pr->h, (size_t)pr->b};
    if (c.cpu_flash) {
        /* One work-item = FLASH_G * FLASH_Q query rows (tens of microseconds of work at
         * least), so one item per work-group balances the cores best. */
        size_t items = (size_t)((pr->lq + c.cpu_flash * fg - 1) / (c.cpu_flash * fg));
        local[0] = 1;
        global[0] = clf__round_up(items, local[0]);
    }
    return clf__launch(ctx, k, name, 3, global, local);
}

/* Splits so that every compute unit has work, but each split keeps enough
 * keys to be worth a work-group. */
static int choose_splits(const clf_context *ctx, const attn_problem *pr, const attn_config *c)
{
    int64_t rows = pr->b * pr->lq * pr->h;
    int64_t target = (int64_t)ctx->info.compute_units * ctx->kprof.attn_splits_per_cu;
    int64_t splits = (target + rows - 1) / rows;
    int64_t max_by_keys = pr->lk / (4 * c->dec_wg);
    if (splits > max_by_keys) splits = max_by_keys;
    if (splits > 64) splits = 64;
    return splits < 1 ? 1 : (int)splits;
}

/* The one-pass decode kernel's configuration in *c when it takes pr: the
 * CPU family, where the rows alone give every compute unit work (one split).
 * Otherwise the split pair (few rows over many keys), and on GPUs, whose
 * work-groups share a row's keys among DEC_WG items. */
static bool decode_rows(const clf_context *ctx, const attn_problem *pr, attn_config *c)
{
    if (ctx->kprof.family == CLF_KERNELS_GPU) return false;
    *c = pick_config(ctx, pr->hd, (size_t)clf__limits_group_max(&ctx->kprof.limits));
    return choose_splits(ctx, pr, c) == 1;
}

/* The appended keys' or values' four kernel arguments (ATTN_APPEND): buffer,
 * element offset, batch and head strides. */
typedef struct append_arg {
    cl_ulong off;
    cl_long sb, sh;
} append_arg;

static void append_args(const clf_tensor *t, append_arg *v, clf__karg out[4])
{
    v->off = (cl_ulong)t->offset;
    v->sb = (cl_long)t->stride[0];
    v->sh = (cl_long)t->stride[2];
    out[0] = CLF_KMEM(t);
    out[1] = CLF_KARG(v->off);
    out[2] = CLF_KARG(v->sb);
    out[3] = CLF_KARG(v->sh);
}

/* attn_decode_rows: one work-item per query row over all its keys, O written
 * directly (CPU family, when no row needs splitting: see decode_rows). With
 * many rows the local size is left to the runtime (measured on PoCL: 1, 8 or
 * 8 x 4 items per group within 10 %), with few it is 1 (below). With pr->kn
 * (q_len 1, no table) each item first appends its head's new key and value. */
static clf_status run_decode_rows(clf_context *ctx, const attn_problem *pr, const attn_config *c)
{
    char opts[256];
    options(ctx, opts, sizeof opts, 5, pr->hd, pr->q->dtype, c, pr->rows != NULL, pr->kn != NULL);
    cl_kernel k;
    CLF_TRY(clf__kernel_get(ctx, "attention", opts, "attn_decode_rows", &k));
    view_arg va[4];
    tail_arg ta;
    indirect_arg ia;
    append_arg aa[2];
    cl_int pos = (cl_int)pr->pos;
    clf__karg a[35];
    view_args(pr->q, &va[0], &a[0]);
    view_args(pr->k, &va[1], &a[5]);
    view_args(pr->v, &va[2], &a[10]);
    view_args(pr->o, &va[3], &a[15]);
    tail_args(pr, &ta, &a[20]);
    cl_uint na = 26;
    if (pr->rows) indirect_args(pr, &ia, &a[26]), na = 30;
    if (pr->kn) {
        append_args(pr->kn, &aa[0], &a[26]);
        append_args(pr->vn, &aa[1], &a[30]);
        a[34] = CLF_KARG(pos);
        na = 35;
    }
    CLF_TRY(clf__set_args(ctx, k, "attn_decode_rows", a, na));
    /* A work-group per row where the rows are few: left to itself, PoCL made GPT-2 small's
     * 12 rows (B 1) one group, run by one thread (AVX2 EPYC, 2 threads: 38-43 -> 28-36 us
     * per attention, alternated runs); with many rows (Transformer-base B 16, 128) its own
     * choice measured as well or better. */
    size_t g[3] = {(size_t)pr->h, (size_t)(pr->b * pr->lq), 1}, one[3] = {1, 1, 1};
    bool few = (uint64_t)pr->h * (uint64_t)(pr->b * pr->lq) <= 16u * ctx->info.compute_units;
    return clf__launch(ctx, k, "attn_decode_rows", 2, g, few ? one : NULL);
}

static clf_status run_decode(clf_context *ctx, const attn_problem *pr)
{
    attn_config c;
    if (decode_rows(ctx, pr, &c)) return run_decode_rows(ctx, pr, &c);
    cl_kernel k1, k2;
    for (size_t lim = (size_t)clf__limits_group_max(&ctx->kprof.limits);;) { /* DEC_WG is fixed at build, as BLOCK_M above */
        c = pick_config(ctx, pr->hd, lim);
        char opts[256];
        options(ctx, opts, sizeof opts, 3, pr->hd, pr->q->dtype, &c, pr->rows != NULL, false);
        CLF_TRY(clf__kernel_get(ctx, "attention", opts, "attn_decode_partial", &k1));
        CLF_TRY(clf__kernel_get(ctx, "attention", opts, "attn_decode_combine", &k2));
        size_t klim = clf__kernel_wg_limit(ctx, k1);
        if ((size_t)c.dec_wg <= klim) break;
        if (klim >= lim) return clf__check_group(ctx, k1, "attn_decode_partial", (size_t)c.dec_wg);
        lim = klim;
    }
    cl_int splits = choose_splits(ctx, pr, &c);
    size_t part_bytes = (size_t)(pr->b * pr->lq * pr->h * splits * (pr->hd + 2)) * 4;
    cl_mem part;
    CLF_TRY(clf__scratch(ctx, CLF__SCRATCH_ATTENTION, part_bytes, &part));
    view_arg va[4];
    tail_arg ta;
    indirect_arg ia;
    clf__karg a1[27], a2[8];
    view_args(pr->q, &va[0], &a1[0]);
    view_args(pr->k, &va[1], &a1[5]);
    view_args(pr->v, &va[2], &a1[10]);
    a1[15] = CLF_KARG(part);
    tail_args(pr, &ta, &a1[16]);
    a1[22] = CLF_KARG(splits);
    if (pr->rows) indirect_args(pr, &ia, &a1[23]); /* ATTN_INDIRECT: the cache-row table */
    CLF_TRY(clf__set_args(ctx, k1, "attn_decode_partial", a1, pr->rows ? 27 : 23));
    size_t l1[3] = {(size_t)c.dec_wg, 1, 1};
    size_t g1[3] = {(size_t)splits * l1[0], (size_t)pr->h, (size_t)(pr->b * pr->lq)};
    CLF_TRY(clf__launch(ctx, k1, "attn_decode_partial", 3, g1, l1));
    a2[0] = CLF_KARG(part);
    view_args(pr->o, &va[3], &a2[1]);
    a2[6] = CLF_KARG(ta.q_len);
    a2[7] = CLF_KARG(splits);
    CLF_TRY(clf__set_args(ctx, k2, "attn_decode_combine", a2, CLF_ARRAY_LEN(a2)));
    size_t g2[3] = {(size_t)pr->hd, (size_t)pr->h, (size_t)(pr->b * pr->lq)};
    return clf__launch(ctx, k2, "attn_decode_combine", 3, g2, NULL);
}

/* One batch entry's heads as a batch of matrices: (H, L, D) with the head
 * stride as the batch stride. */
static clf_status heads_view(const clf_tensor *t, int64_t b, clf_tensor *out)
{
    return clf_tensor_view(t, 3, (int64_t[]){t->shape[2], t->shape[1], t->shape[3]},
                           (int64_t[]){t->stride[2], t->stride[1], 1}, t->offset + b * t->stride[0],
                           out);
}

/* The reference path: scores = scale * Q K^T (H, Lq, Lk) per batch entry in
 * a temporary, padding keys set to -inf, causal softmax, then P V. */
static clf_status run_unfused(clf_context *ctx, const attn_problem *pr)
{
    clf_tensor scores;
    CLF_TRY(clf_tensor_create(ctx, CLF_F32, 3, (int64_t[]){pr->h, pr->lq, pr->lk}, &scores));
    clf_status st = CLF_OK;
    cl_kernel mask = NULL;
    if (pr->kl) st = clf__kernel_get(ctx, "attention", "-DATTN_ONLY=4", "attn_mask_keys", &mask);
    for (int64_t b = 0; b < pr->b && st == CLF_OK; b++) {
        clf_tensor qh, kh, vh, oh;
        st = heads_view(pr->q, b, &qh);
        if (st == CLF_OK) st = heads_view(pr->k, b, &kh);
        if (st == CLF_OK) st = heads_view(pr->v, b, &vh);
        if (st == CLF_OK) st = heads_view(pr->o, b, &oh);
        clf_gemm_params g = clf_gemm_params_default();
        g.trans_b = true;
        g.alpha = pr->scale;
        if (st == CLF_OK) st = clf_gemm(ctx, &qh, &kh, &scores, &g);
        if (st == CLF_OK && mask) {
            cl_ulong off = 0;
            cl_int rows = (cl_int)(pr->h * pr->lq), cols = (cl_int)pr->lk, bi = (cl_int)b;
            clf__karg a[] = {CLF_KMEM(&scores), CLF_KARG(off), CLF_KARG(rows), CLF_KARG(cols),
                             CLF_KMEM(pr->kl), CLF_KARG(bi)};
            st = clf__set_args(ctx, mask, "attn_mask_keys", a, CLF_ARRAY_LEN(a));
            size_t global[2] = {(size_t)cols, (size_t)rows};
            if (st == CLF_OK) st = clf__launch(ctx, mask, "attn_mask_keys", 2, global, NULL);
        }
        clf_softmax_params sp = {.causal = pr->causal != 0};
        if (st == CLF_OK) st = clf_softmax(ctx, &scores, &scores, &sp);
        g = clf_gemm_params_default();
        if (st == CLF_OK) st = clf_gemm(ctx, &scores, &vh, &oh, &g);
    }
    clf_tensor_free(&scores); /* OpenCL keeps it alive until the kernels finish */
    return st;
}

/* The append arguments (clf_attention_params k_new, v_new, append_pos) against the
 * checked problem. */
static clf_status check_append(clf_context *ctx, const clf_attention_params *p,
                               const attn_problem *pr)
{
    static const char *op = "clf_attention";
    char d1[160], d2[160];
    if (!p->k_new || !p->v_new)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_attention: k_new and v_new go together "
                                                    "(one of them is NULL)");
    CLF_TRY(clf__check_arg(ctx, op, "k_new", p->k_new, CLF__DT_FLOAT, 4, 4));
    CLF_TRY(clf__check_arg(ctx, op, "v_new", p->v_new, CLF__DT_FLOAT, 4, 4));
    const clf_tensor *kn = p->k_new, *vn = p->v_new;
    if (kn->dtype != pr->k->dtype || vn->dtype != pr->k->dtype)
        return clf__error(ctx, CLF_ERR_DTYPE, "clf_attention: k_new %s and v_new %s must have k's "
                                              "dtype %s", clf__desc(kn, d1), clf__desc(vn, d2),
                          clf_dtype_name(pr->k->dtype));
    bool ok = kn->shape[0] == pr->k->shape[0] && kn->shape[2] == pr->h && kn->shape[3] == pr->hd &&
              kn->stride[3] == 1 && vn->stride[3] == 1;
    for (int i = 0; i < 4; i++) ok = ok && vn->shape[i] == kn->shape[i];
    if (!ok)
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "clf_attention: k_new %s and v_new %s: expected (%lld, n, %lld, %lld) "
                          "each, head_dim contiguous",
                          clf__desc(kn, d1), clf__desc(vn, d2), (long long)pr->k->shape[0],
                          (long long)pr->h, (long long)pr->hd);
    if (p->append_pos < 0 || p->append_pos > pr->lk - kn->shape[1])
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE,
                          "clf_attention: appending at positions [%lld, %lld) of k and v's %lld",
                          (long long)p->append_pos, (long long)(p->append_pos + kn->shape[1]),
                          (long long)pr->lk);
    /* written: k and v (at the positions), o; read: q, k_new, v_new (these three may share
     * a fused QKV buffer) */
    const clf_tensor *w[3] = {pr->k, pr->v, pr->o};
    bool clash = clf__overlap(pr->q, pr->k) || clf__overlap(pr->q, pr->v);
    for (int i = 0; i < 3; i++)
        clash = clash || clf__overlap(kn, w[i]) || clf__overlap(vn, w[i]);
    if (clash)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "clf_attention: with an append, q, k_new and v_new may not overlap k, "
                          "v or o");
    return CLF_OK;
}

static clf_status attention_body(clf_context *ctx, const clf_tensor *q, const clf_tensor *k,
                                 const clf_tensor *v, clf_tensor *o,
                                 const clf_attention_params *params)
{
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_attention: NULL context");
    clf_attention_params p;
    if (params) p = *params;
    else memset(&p, 0, sizeof p);
    attn_problem pr;
    CLF_TRY(check(ctx, q, k, v, o, &p, &pr));
    if (pr.rows && (p.impl == CLF_ATTN_FUSED || p.impl == CLF_ATTN_UNFUSED))
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "clf_attention: cache_rows needs impl AUTO or DECODE (got %s)",
                          p.impl == CLF_ATTN_FUSED ? "FUSED" : "UNFUSED");
    if (p.k_new || p.v_new) {
        CLF_TRY(check_append(ctx, &p, &pr));
        attn_config c;
        bool decode = p.impl == CLF_ATTN_DECODE || (p.impl == CLF_ATTN_AUTO && pr.lq <= 8);
        if (decode && pr.lq == 1 && p.k_new->shape[1] == 1 && !pr.rows && decode_rows(ctx, &pr, &c)) {
            pr.kn = p.k_new, pr.vn = p.v_new, pr.pos = p.append_pos;
            return run_decode_rows(ctx, &pr, &c);
        }
        clf_tensor kc = *k, vc = *v;
        CLF_TRY(clf_kv_append(ctx, &kc, p.append_pos, p.k_new));
        CLF_TRY(clf_kv_append(ctx, &vc, p.append_pos, p.v_new));
    }
    switch (p.impl) {
    case CLF_ATTN_AUTO: return pr.lq <= 8 || pr.rows ? run_decode(ctx, &pr) : run_flash(ctx, &pr);
    case CLF_ATTN_FUSED: return run_flash(ctx, &pr);
    case CLF_ATTN_DECODE: return run_decode(ctx, &pr);
    case CLF_ATTN_UNFUSED: return run_unfused(ctx, &pr);
    }
    return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_attention: unknown impl %d", (int)p.impl);
}

clf_status clf_attention(clf_context *ctx, const clf_tensor *q, const clf_tensor *k,
                         const clf_tensor *v, clf_tensor *o, const clf_attention_params *params)
{
    CLF__GUARDED(ctx, "clf_attention", attention_body(ctx, q, k, v, o, params));
}
