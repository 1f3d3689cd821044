/*
 * The builtin GEMM provider: our kernels (kernels/gemm_*.cl, gemv.cl; contract in
 * docs/gemm_kernels.md) with the bias and activation fused into the store.
 * Four kernels, one argument list: a register-blocked vector micro-kernel
 * for CPUs, a local-memory tiled kernel for GPUs, a GEMV for small M that
 * reads each weight once for all rows, and, on CPUs, int16 products for a
 * quantised weight at M > 1.
 */
#include <stdio.h>
#include <string.h>

#include "ops/gemm_internal.h"

typedef struct launch_plan {
    const char *program; /* kernels/<program>.cl */
    const char *kernel;
    bool trans_b_off; /* build with CLF_TRANS_B=0 although B is (N, K): broadcast-form panels */
    char options[256]; /* kernel-specific -D options */
    size_t global[3], local[3];
    int walk; /* clf_gemv's walking form: rows per work-group (CLF_GWALK), else 0 */
    bool dyn; /* the walking form's blocks taken from a counter (CLF_GDYN) */
} launch_plan;

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

static bool gpu_family(const clf_context *ctx) { return ctx->kprof.family == CLF_KERNELS_GPU; }

/* CLF_B_ILV for d: the group rows of a packed Q8 B (clf_gemm_pack_b: rows
 * interleaved in groups, kernels/gemm_common.cl), 0 for any other B. */
static int interleaved(const clf__gemm_desc *d)
{
    return d->b.packed && d->b.dtype == CLF_Q8 ? d->b.t->buffer->pack_n : 0;
}

/* M <= 8: every weight element read once for all rows. The rows held per
 * work-item are M rounded up to 1, 2, 4 or 8 (the kernel computes the extra
 * rows on a clamped duplicate and stores nothing): four programs per operand
 * set instead of eight, so a cold start compiles half as many, for at most
 * 1.6x the (cheap) row arithmetic of a bandwidth-bound kernel. The GPU family
 * splits K over GS work-items and reduces in local memory: GLY x GS items and
 * a reduction buffer of GLY x GM x columns x (GS + 1) floats, both kept within
 * the limits (16,896 B at GS 32 for M 5-8 with B not transposed: too much
 * for a 16 KiB device, so GLY, then GS, shrink). Vector width, columns per
 * work-item and GLY come from the profile per layout (tunable). */
static void plan_gemv(const clf_context *ctx, const clf__gemm_desc *d, size_t lim, launch_plan *p)
{
    const clf_kernel_profile *pr = &ctx->kprof;
    int gm = d->m <= 1 ? 1 : d->m <= 2 ? 2 : d->m <= 4 ? 4 : 8;
    int gv = d->trans_b ? pr->gemv_vec : pr->gemv_vec_n, gn = d->trans_b ? pr->gemv_cols_t : pr->gemv_cols_n;
    int gs = pr->gemv_split, ly = d->trans_b ? pr->gemv_rows_t : pr->gemv_rows_n;
    /* Q4 rows (the group loop of clf_gemv) on the CPU family: at most the
     * profile's q4_gemv_cols per item (default 2), half that (at least 1) for
     * rows of 2048 codes or more. GPT-2 small decode on PoCL
     * (AVX-512), ms per 31 steps over the 12 layers at 4 / 2 / 1 rows: QKV
     * (2304 x 768) 33 / 24 / 26, FFN in (3072 x 768) 45 / 37 / 48, FFN out
     * (768 x 3072) 57 / 44 / 30; 121 -> 139 tokens/s. */
    if (d->b.dtype == CLF_Q4 && !gpu_family(ctx)) {
        int qc = d->k >= 2048 ? (pr->q4_gemv_cols + 1) / 2 : pr->q4_gemv_cols;
        gn = gn < qc ? gn : qc;
    }
    if (!gpu_family(ctx)) gs = 1; /* no local memory in the CPU family */
    /* Integer products (kernels/gemv.cl, CLF_GI16: int16 x Q8, int8 x Q4) in
     * the walking form below, which quantises the row of A once per group of
     * int_gemv_rows rows (default 128; Q4 at 64 rows a group spent a sixth of
     * its time quantising, perf, PoCL, AVX2 EPYC). */
    bool i16 = pr->gemv_i16 && (interleaved(d) || d->b.dtype == CLF_Q4) && gm == 1 && gs == 1 &&
               d->k <= 4096 && 8192 + 4 * 32 <= pr->limits.local_mem_bytes;
    for (;;) {
        size_t cols = d->trans_b ? (size_t)gn : (size_t)(gv * gn);
        uint64_t red = gs > 1 ? (uint64_t)ly * (uint64_t)gm * cols * (uint64_t)(gs + 1) * 4 : 0;
        if (((size_t)(gs * ly) <= lim && red <= pr->limits.local_mem_bytes) || (gs == 1 && ly == 1))
            break;
        if (ly > 1) ly /= 2;
        else gs /= 2;
    }
    size_t cpw = d->trans_b ? (size_t)gn : (size_t)(gv * gn);
    p->program = "gemv", p->kernel = "clf_gemv";
    /* Q4 and interleaved Q8 at M 1 without a split of K (the CPU family):
     * one work-item walks a work-group's int_gemv_rows rows (kernels/gemv.cl CLF_GWALK, in blocks
     * of 8 outputs, 6 at 3 rows an item). PoCL, AVX2 EPYC, GPT-2 small
     * decode, us per launch (medians, alternated): Q4 FFN in 160 -> 127,
     * attention out 42 -> 36, FFN out 112-122 -> 103-110; the Q8 head
     * 2230-2650 -> 2000-2180 (docs/quantisation.md). */
    int walk = 0;
    if ((d->b.dtype == CLF_Q4 || (interleaved(d) && interleaved(d) == gn)) && gm == 1 && gs == 1 &&
        d->trans_b && !d->trans_a) {
        int ch = (8 / gn) * gn;
        walk = (pr->int_gemv_rows + ch - 1) / ch * ch;
    }
    /* With more blocks of rows than compute units, one work-group per unit
     * takes blocks from a counter (CLF_GDYN): each quantises (and
     * normalises) its row of A once instead of once per block, and a unit
     * slowed by other work takes fewer blocks. PoCL, AVX2 EPYC, paired
     * medians of alternated runs (docs/gemm_kernels.md): Q4 GPT-2 decode
     * shapes 0.87-0.98 of the time, with the folded norm 0.83-0.91, the
     * packed Q8 head 0.90. */
    size_t blocks = walk ? ceil_div((size_t)d->n, (size_t)walk) : 0;
    size_t cus = clf__compute_units(ctx);
    p->dyn = walk && d->batch == 1 && blocks > cus && blocks + cus < ((size_t)1 << 20);
    snprintf(p->options, sizeof p->options,
             "-DCLF_GM=%d -DCLF_GV=%d -DCLF_GN=%d -DCLF_GS=%d -DCLF_GLY=%d -DCLF_B_ILV=%d"
             " -DCLF_GI16=%d -DCLF_GWALK=%d -DCLF_GDYN=%d",
             gm, gv, gn, gs, walk ? 1 : ly, interleaved(d), walk && i16 ? pr->gemv_i16 : 0, walk,
             p->dyn);
    p->walk = walk;
    if (walk) {
        p->local[0] = p->local[1] = p->local[2] = 1;
        p->global[0] = 1;
        p->global[1] = p->dyn ? cus : blocks;
        p->global[2] = (size_t)d->batch;
        return;
    }
    p->local[0] = (size_t)gs, p->local[1] = (size_t)ly, p->local[2] = 1;
    p->global[0] = (size_t)gs;
    p->global[1] = ceil_div(ceil_div((size_t)d->n, cpw), (size_t)ly) * (size_t)ly;
    p->global[2] = (size_t)d->batch;
}

/* Dot products along K, rm x rn accumulators of rv floats. A native width
 * of 16 floats is a 512-bit SIMD unit with 32 vector registers: 4 x 6
 * accumulators (24 registers) load 10 vectors per 24 FMAs; narrower units
 * (16 registers) keep 3 x 4. Measured on PoCL, AVX-512 (2-core Xeon):
 * BERT-base batch 1 229 ms with 3 x 4, 173 ms with 4 x 6, 250 ms with 8-wide
 * vectors. */
void clf__gemm_reg_tile(const clf_context *ctx, clf__reg_tile *t)
{
    t->rv = ctx->kprof.gemm_vec;
    if (t->rv == 16) t->rm = 4, t->rn = 6, t->lx = 2, t->ly = 8;
    else t->rv = 8, t->rm = 3, t->rn = 4, t->lx = 4, t->ly = 4;
    /* Packed: the broadcast form, as OpenBLAS's and MLAS's AVX-512 kernels
     * (12 rows x 2 vectors: 24 accumulators, 2 loads + 12 broadcasts per 24
     * FMAs, no horizontal sums); narrower units 6 x 2 (12 of 16 registers).
     * (A dot-product form over panels of the plain kernel's 6 rows measured
     * no better on PoCL or Intel, bench/results/2026-12-05-epyc-pocl-intel.) */
    t->pn = 2 * t->rv, t->pv = 1, t->prm = t->rv == 16 ? 12 : 6;
}

/* Rows per work-item of the packed (broadcast) kernel for M rows: the
 * profile's prm (12 on 512-bit units) unless its last block would pad M by
 * more than an eighth, else whichever of prm, 8 (where prm > 8) and 4 rows
 * pads least (the larger on a tie). M = 128: 12 (132 rows); M = 16, a
 * 16-row batched decode step: 8 (16 rows, where 12 computes 24); M = 1: 1.
 * Each row of a block is one broadcast per k, so 4 to 12 rows all keep the
 * FMA units the bound. Measured on PoCL (clformer bench --filter batch,
 * gpt2-small, alternating binaries, load 1-3): 103.9 / 102.0 -> 113.7 /
 * 113.1 tokens/s batched. */
static int packed_rows(int64_t m, int prm)
{
    if (m <= 1) return 1;
    int64_t pad = (m + prm - 1) / prm * prm - m;
    if (pad * 8 <= m) return prm;
    const int cand[3] = {prm, prm > 8 ? 8 : 4, 4};
    int best = 0;
    int64_t best_rows = 0;
    for (int i = 0; i < 3; i++) {
        int64_t rows = (m + cand[i] - 1) / cand[i] * cand[i];
        if (!best || rows < best_rows) best = cand[i], best_rows = rows;
    }
    return best;
}

/* CPU family: each work-item a vector micro-kernel over a small block of C. */
static void plan_reg(const clf_context *ctx, const clf__gemm_desc *d, size_t lim, launch_plan *p)
{
    int rv = ctx->kprof.gemm_vec;
    int rm, rn, lx, ly, kc = 0;
    if (d->trans_b) {
        clf__reg_tile t;
        clf__gemm_reg_tile(ctx, &t);
        rm = t.rm, rn = t.rn, rv = t.rv, lx = t.lx, ly = t.ly;
        const clf_buffer *pb = d->b.packed && !interleaved(d) ? d->b.t->buffer : NULL;
        if (pb) {
            /* Broadcast form: the rows per item follow short M (M = 1: a
             * decode step computes no duplicate rows); a work-group is a
             * column of items on one panel. */
            rn = pb->pack_n, rm = packed_rows(d->m, t.prm), lx = 1, ly = 8;
        }
        /* The dot form over a quantised B converts each vector of codes before
         * its RM FMAs: on 8-wide units (16 registers) 3 x 4 accumulators
         * spilled to the stack, 2 x 4 do not (GPT-2 small's 16-token prompt on
         * PoCL, AVX2 EPYC, device time: Q8 166 -> 114 ms, Q4 256 -> 181 ms). */
        if (!pb && rv == 8 && (d->b.dtype == CLF_Q8 || d->b.dtype == CLF_Q4)) rm = 2;
        size_t rows_of_items = ceil_div((size_t)d->m, (size_t)rm);
        while (ly > 1 && (size_t)ly / 2 >= rows_of_items) ly /= 2; /* short M: no idle rows */
        /* The fewest padding items for that many groups down M: 11 row
         * blocks (M = 128 in blocks of 12) are one group of 11, not two of
         * 8 whose 5 padding items compute duplicates. */
        if (pb) ly = (int)ceil_div(rows_of_items, ceil_div(rows_of_items, (size_t)ly));
    } else {
        /* B rows with large power-of-two strides alias in the cache: pack
         * them into a local tile, KC rows at a time. */
        rm = 6, rn = 16, kc = 128, lx = 4;
        if (rv > 8) rv = 8; /* the tuned outer-product form (16-wide: a 4 s compile on PoCL) */
        ly = (int)ceil_div((size_t)d->m, 6);
        if (ly > 22) ly = 22;
        /* The packed tile is KC x (LX * RN) floats: 32 KiB at KC 128. */
        while (kc > 8 && (uint64_t)kc * (uint64_t)(lx * rn) * 4 > ctx->kprof.limits.local_mem_bytes) kc /= 2;
    }
    while ((size_t)(lx * ly) > lim && ly > 1) ly /= 2;
    while ((size_t)(lx * ly) > lim && lx > 1) lx /= 2;
    p->program = "gemm_reg", p->kernel = "clf_gemm_reg";
    bool panels = d->b.packed && !interleaved(d);
    snprintf(p->options, sizeof p->options,
             "-DCLF_RM=%d -DCLF_RN=%d -DCLF_RV=%d -DCLF_KC=%d -DCLF_RLX=%d -DCLF_B_ILV=%d%s",
             rm, rn, rv, kc, lx, interleaved(d), panels ? " -DCLF_B_PACKED=1" : "");
    p->trans_b_off = panels; /* a panel is K x RN */
    size_t gx = ceil_div((size_t)d->n, (size_t)rn), gy = ceil_div((size_t)d->m, (size_t)rm);
    p->local[0] = (size_t)lx, p->local[1] = (size_t)ly, p->local[2] = 1;
    p->global[0] = ceil_div(gx, (size_t)lx) * (size_t)lx;
    p->global[1] = ceil_div(gy, (size_t)ly) * (size_t)ly;
    p->global[2] = (size_t)d->batch;
}

/* Integer products (kernels/gemm_i16.cl) for M > 1 rows times a Q8
 * (interleaved or plain) or a Q4 weight, where the profile allows them
 * (gemv_i16: the CPU family). The register kernel's dot form widens each
 * weight to f32 once per 2 rows and converts it (3 instructions per 8
 * products); here each weight is widened once per QR rows, Q8 to int16 (16
 * products in 2 instructions), Q4 to bytes against int8 activations (64 in
 * 7). PoCL, AVX2 EPYC, M = 16, 3072 x 768: Q8 17.6 -> 27.9 GMAC/s, Q4 11.4 ->
 * 21.2 (docs/gemm_kernels.md). A work-group quantises QM rows of up to 4096
 * codes into local memory: 16 where the device has the ~130 KiB, fewer on a
 * smaller one (a simulated device), none below one row. */
enum { I16_MAX_K = 4096 };

static int i16_rows(const clf_context *ctx, const clf__gemm_desc *d)
{
    const clf_kernel_profile *pr = &ctx->kprof;
    if (!pr->gemv_i16 || d->m < 2 || d->trans_a || !d->trans_b || d->k > I16_MAX_K ||
        (d->b.dtype != CLF_Q8 && d->b.dtype != CLF_Q4))
        return 0;
    /* local memory per row: Q8 int16 codes and a scale; Q4 int8 codes, a scale and an
     * offset per 8 codes (kernels/gemm_i16.cl) */
    uint64_t row = d->b.dtype == CLF_Q4 ? I16_MAX_K + 64 + I16_MAX_K : (I16_MAX_K + 16) * 2 + 4;
    uint64_t qm = pr->limits.local_mem_bytes / row;
    return qm < 16 ? (int)qm : 16;
}

static void plan_i16(const clf_context *ctx, const clf__gemm_desc *d, int qm, size_t lim,
                     launch_plan *p)
{
    /* Q8: the packing's group of rows (4 for a plain weight, a row slice, say); Q4: the
     * profile's int_gemm_q4_cols (default 2: 1 x 4, 2 x 2, 2 x 4 and 4 x 2 rows x columns
     * measured, 2 x 2 the best or level at 3072 x 768 and 768 x 3072). Rows per pass
     * (int_gemm_pass, 2) and per group (int_gemm_rows, 16, within qm from local memory)
     * from the profile too; clformer tune's gemm_int group searches all three. */
    const clf_kernel_profile *pr = &ctx->kprof;
    int qn = interleaved(d) ? interleaved(d) : d->b.dtype == CLF_Q8 ? 4 : pr->int_gemm_q4_cols;
    int qr = qn > 4 ? 1 : pr->int_gemm_pass;
    if (qm > pr->int_gemm_rows) qm = pr->int_gemm_rows;
    size_t lx = 32;
    while (lx > lim) lx /= 2;
    p->program = "gemm_i16", p->kernel = "clf_gemm_i16";
    snprintf(p->options, sizeof p->options,
             "-DCLF_QM=%d -DCLF_QN=%d -DCLF_QR=%d -DCLF_B_ILV=%d -DCLF_QI16=%d", qm, qn, qr,
             interleaved(d), ctx->kprof.gemv_i16);
    p->local[0] = lx, p->local[1] = 1, p->local[2] = 1;
    p->global[0] = ceil_div(ceil_div((size_t)d->n, (size_t)qn), lx) * lx;
    p->global[1] = ceil_div((size_t)d->m, (size_t)qm);
    /* At most int_gemm_groups work-groups per compute unit (with those along M), each
     * taking an equal share of the column blocks: every group quantises its QM rows of A
     * once, whatever N. One group per block of LX items quantised the rows 36 times for
     * GPT-2's 16-row QKV. PoCL, AVX2 EPYC, Q4, paired medians of alternated runs, 2 per
     * unit against one per block: M 16 0.76-0.83 of the time, M 128 0.70-0.75 (GPT-2
     * small's four shapes); Q8 M 16 0.90-1.02 (docs/gemm_kernels.md). */
    size_t cus = clf__compute_units(ctx);
    size_t blocks = p->global[0] / lx, groups = ceil_div(cus * (size_t)pr->int_gemm_groups, p->global[1]);
    size_t per = ceil_div(blocks, groups);
    p->global[0] = ceil_div(blocks, per) * lx;
    p->global[2] = (size_t)d->batch;
}

/* GPU family: local-memory tiles, the profile's tile or, when a kernel's
 * own limit is lower, the next smaller one of the table that fits (each
 * tile needs (TM/WM) x (TN/WN) work-items: 256 down to 4). False when none
 * fits: the caller takes the register-blocked kernel, which needs neither. */
static bool plan_tiled(const clf_context *ctx, const clf__gemm_desc *d, size_t lim, launch_plan *p)
{
    const clf_kernel_profile *pr = &ctx->kprof;
    int t[5] = {pr->gemm_tile_m, pr->gemm_tile_n, pr->gemm_tile_k, pr->gemm_work_m, pr->gemm_work_n};
    if (!t[0] || (size_t)((t[0] / t[3]) * (t[1] / t[4])) > lim) {
        int i = 0;
        while (i < clf__gemm_tile_count() && !clf__gemm_tile_fits(i, lim, pr->limits.local_mem_bytes)) i++;
        if (i == clf__gemm_tile_count()) return false;
        clf__gemm_tile(i, t);
    }
    int tm = t[0], tn = t[1], tk = t[2], wm = t[3], wn = t[4];
    p->program = "gemm_tiled", p->kernel = "clf_gemm_tiled";
    snprintf(p->options, sizeof p->options, "-DCLF_TM=%d -DCLF_TN=%d -DCLF_TK=%d -DCLF_WM=%d -DCLF_WN=%d",
             tm, tn, tk, wm, wn);
    p->local[0] = (size_t)(tn / wn), p->local[1] = (size_t)(tm / wm), p->local[2] = 1;
    p->global[0] = ceil_div((size_t)d->n, (size_t)tn) * p->local[0];
    p->global[1] = ceil_div((size_t)d->m, (size_t)tm) * p->local[1];
    p->global[2] = (size_t)d->batch;
    return true;
}

/* The plan for d within lim work-items per group. The largest M that takes
 * the GEMV kernel is the profile's (CLFORMER_GEMV_MAX_M moves it). */
static void make_plan(const clf_context *ctx, const clf__gemm_desc *d, size_t lim, launch_plan *p)
{
    memset(p, 0, sizeof *p);
    int qm;
    /* A packed f32/f16 B is read by the register kernel alone, at every M;
     * a packed Q8 one (row-interleaved) by the GEMV, int16 and register kernels. */
    if (d->b.packed && !interleaved(d)) plan_reg(ctx, d, lim, p);
    else if (d->m <= ctx->kprof.gemv_max_m) plan_gemv(ctx, d, lim, p);
    else if ((qm = i16_rows(ctx, d)) > 0) plan_i16(ctx, d, qm, lim, p);
    else if (interleaved(d) || !gpu_family(ctx) || !plan_tiled(ctx, d, lim, p)) plan_reg(ctx, d, lim, p);
}

bool clf__gemm_builtin_walks(const clf_context *ctx, const clf__gemm_desc *d)
{
    launch_plan p;
    make_plan(ctx, d, (size_t)clf__limits_group_max(&ctx->kprof.limits), &p);
    return p.walk != 0;
}

/* The profile's half arithmetic level for this GEMM, or 0: only for weights
 * the caller stored as f16 (an f32 B keeps f32 accuracy whatever the
 * device), and only in the tiled and GEMV kernels (the register-blocked CPU
 * kernel has no half path: on CPUs half products measured slower). */
static int half_math(const clf_context *ctx, const clf__gemm_desc *d, const launch_plan *p)
{
    if (!ctx->kprof.half_math || !ctx->kprof.limits.fp16 || d->b.dtype != CLF_F16) return 0;
    return strcmp(p->kernel, "clf_gemm_reg") == 0 ? 0 : ctx->kprof.half_math;
}

/* The walking GEMV's folded-norm arguments (kernels/gemv.cl CLF_GNORM), after the common
 * ones: a scratch row per work-group (groups of them), then the norm's tensors. The values
 * live in *v, which must outlive the clf__set_args call. */
typedef struct norm_arg {
    cl_mem w, r, g, b, s;
    cl_ulong r_off, g_off, b_off, s_off;
    cl_int has_r, has_b, has_s;
    float eps;
} norm_arg;
enum { NORM_ARGS = 13 };

static clf_status norm_args(clf_context *ctx, const clf__gemm_desc *d, size_t groups,
                            norm_arg *v, clf__karg out[NORM_ARGS])
{
    const clf__gemm_norm *nm = d->norm;
    CLF_TRY(clf__scratch(ctx, CLF__SCRATCH_GEMV_NORM, groups * (size_t)d->k * sizeof(float), &v->w));
    v->r = nm->residual ? nm->residual->buffer->mem : NULL;
    v->g = nm->gamma->buffer->mem;
    v->b = nm->beta ? nm->beta->buffer->mem : NULL;
    v->s = nm->sum ? nm->sum->buffer->mem : NULL;
    v->r_off = nm->residual ? (cl_ulong)nm->residual->offset : 0;
    v->g_off = (cl_ulong)nm->gamma->offset;
    v->b_off = nm->beta ? (cl_ulong)nm->beta->offset : 0;
    v->s_off = nm->sum ? (cl_ulong)nm->sum->offset : 0;
    v->has_r = v->r != NULL, v->has_b = v->b != NULL, v->has_s = v->s != NULL;
    v->eps = nm->eps;
    const clf__karg a[NORM_ARGS] = {
        CLF_KARG(v->w),     {sizeof(cl_mem), v->r ? &v->r : NULL}, CLF_KARG(v->r_off),
        CLF_KARG(v->has_r), CLF_KARG(v->g),                        CLF_KARG(v->g_off),
        {sizeof(cl_mem), v->b ? &v->b : NULL},                     CLF_KARG(v->b_off),
        CLF_KARG(v->has_b), {sizeof(cl_mem), v->s ? &v->s : NULL}, CLF_KARG(v->s_off),
        CLF_KARG(v->has_s), CLF_KARG(v->eps),
    };
    memcpy(out, a, sizeof a);
    return CLF_OK;
}

clf_status clf__gemm_builtin(clf_context *ctx, const clf__gemm_desc *d)
{
    /* In-matrix indices are 32-bit in the kernels. */
    int64_t ra = d->trans_a ? d->k : d->m, rb = d->trans_b ? d->n : d->k;
    const int64_t lim = (int64_t)1 << 31;
    if (d->m >= lim || d->n >= lim || d->k >= lim || ra * d->a.ld >= lim || rb * d->b.ld >= lim ||
        d->m * d->c.ld >= lim)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "clf_gemm (builtin): a matrix of M=%lld N=%lld K=%lld spans 2^31 "
                          "elements or more",
                          (long long)d->m, (long long)d->n, (long long)d->k);
    /* Plan within the profile's limits; when the built kernel's own limit
     * (CL_KERNEL_WORK_GROUP_SIZE) is lower, plan again within it. */
    size_t wg = (size_t)clf__limits_group_max(&ctx->kprof.limits);
    launch_plan plan;
    cl_kernel k;
    for (int attempt = 0;; attempt++) {
        make_plan(ctx, d, wg, &plan);
        char options[512];
        clf_dtype bias_dt = d->bias ? d->bias->dtype : CLF_F32;
        char extra[40] = ""; /* half arithmetic, a folded norm */
        int hm = half_math(ctx, d, &plan);
        if (hm) snprintf(extra, sizeof extra, " -DCLF_HALF_MATH=%d", hm);
        if (d->norm && !plan.walk)
            return clf__error(ctx, CLF_ERR_INVALID_ARG,
                              "clf_gemm (builtin): a folded norm needs the walking GEMV");
        if (d->norm) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " -DCLF_GNORM=%d",
                              d->norm->type);
        snprintf(options, sizeof options,
                 "-DCLF_A_F16=%d -DCLF_B_F16=%d -DCLF_C_F16=%d -DCLF_BIAS_F16=%d -DCLF_TRANS_A=%d "
                 "-DCLF_TRANS_B=%d%s%s%s %s",
                 d->a.dtype == CLF_F16, d->b.dtype == CLF_F16, d->c.dtype == CLF_F16,
                 bias_dt == CLF_F16, d->trans_a, d->trans_b && !plan.trans_b_off,
                 d->b.dtype == CLF_Q8 ? " -DCLF_B_Q8=1" : "",
                 d->b.dtype == CLF_Q4 ? " -DCLF_B_Q4=1" : "", extra, plan.options);
        CLF_TRY(clf__kernel_get(ctx, plan.program, options, plan.kernel, &k));
        size_t items = plan.local[0] * plan.local[1], klim = clf__kernel_wg_limit(ctx, k);
        if (items <= klim) break;
        if (attempt == 3 || klim >= wg) return clf__check_group(ctx, k, plan.kernel, items);
        wg = klim;
    }

    cl_int m = (cl_int)d->m, n = (cl_int)d->n, kk = (cl_int)d->k;
    cl_int lda = (cl_int)d->a.ld, ldb = (cl_int)d->b.ld, ldc = (cl_int)d->c.ld;
    cl_ulong sa = (cl_ulong)d->a.batch_stride, sb = (cl_ulong)d->b.batch_stride,
             sc = (cl_ulong)d->c.batch_stride;
    cl_ulong off_bias = d->bias ? (cl_ulong)d->bias->offset : 0;
    float alpha = d->alpha, beta = d->beta;
    cl_mem bias_mem = d->bias ? d->bias->buffer->mem : NULL;
    cl_int has_bias = d->bias != NULL, act = (cl_int)d->act;
    /* Q8, Q4: the scales are in B's own buffer (tensor.h, "Q8", "Q4"). */
    cl_mem scale_mem = d->b.dtype == CLF_Q8 || d->b.dtype == CLF_Q4 ? d->b.mem : NULL;
    cl_ulong off_scale = d->b.scale_offset;
    enum { COMMON_ARGS = 23, DYN_ARGS = 2 };
    clf__karg args[COMMON_ARGS + DYN_ARGS + NORM_ARGS] = {
        CLF_KARG(m),        CLF_KARG(n),        CLF_KARG(kk),         CLF_KARG(alpha),
        CLF_KARG(beta),     CLF_KARG(d->a.mem), CLF_KARG(d->a.offset), CLF_KARG(lda),
        CLF_KARG(sa),       CLF_KARG(d->b.mem), CLF_KARG(d->b.offset), CLF_KARG(ldb),
        CLF_KARG(sb),       CLF_KARG(d->c.mem), CLF_KARG(d->c.offset), CLF_KARG(ldc),
        CLF_KARG(sc),       {sizeof(cl_mem), d->bias ? &bias_mem : NULL}, CLF_KARG(off_bias),
        CLF_KARG(has_bias), CLF_KARG(act), {sizeof(cl_mem), scale_mem ? &scale_mem : NULL},
        CLF_KARG(off_scale),
    };
    int nargs = COMMON_ARGS;
    cl_mem ctr;
    cl_uint epoch;
    if (plan.dyn) {
        CLF_TRY(clf__work_counter(ctx, &ctr, &epoch));
        args[nargs++] = CLF_KARG(ctr);
        args[nargs++] = CLF_KARG(epoch);
    }
    norm_arg na;
    if (d->norm) {
        CLF_TRY(norm_args(ctx, d, plan.global[1], &na, &args[nargs]));
        nargs += NORM_ARGS;
    }
    CLF_TRY(clf__set_args(ctx, k, plan.kernel, args, nargs));
    CLF_TRY(clf__launch(ctx, k, plan.kernel, 3, plan.global, plan.local));
    if (plan.dyn) clf__work_counter_used(ctx, epoch);
    return CLF_OK;
}
