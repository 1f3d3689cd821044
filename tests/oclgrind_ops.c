/*
 * oclgrind_ops: every kernel of the kernel family a context uses, at small
 * shapes that still cross every tile, chunk and work-group edge, checked
 * against the float64 references of tests/ref/ (NMSE, TESTING.md's bounds) and
 * with sentinels around every output view. Meant to run under Oclgrind
 * (tools/oclgrind-check.sh), which adds the race, bounds, barrier and API
 * checks; it runs on any device too. Plain C, not Criterion: one process,
 * one context, nothing forked, so the simulator starts once.
 *
 *   oclgrind_ops [--list] [--exclude SUB]... [SUB | =NAME]...
 *
 * Runs the cases whose name contains one of the SUBs or is one of the NAMEs
 * (all cases without either) and contains none of the --exclude SUBs. Each case lists the kernels it must launch for
 * each family; the kernels that really ran (from the context's profile) must
 * be exactly those, so a family override that is ignored fails loudly. The
 * last line: "oclgrind_ops: family F: N passed, M failed (seed S)". Exit 0
 * when every selected case passed, 1 otherwise, 2 on a usage or device error.
 *
 * Environment: CLFORMER_TEST_SEED replays a run; CLFORMER_KERNELS=cpu|gpu
 * picks the family (the context's kernel profile says which one runs), and
 * the other CLFORMER_* variables reach the library as usual. The driver sets
 * CLFORMER_GEMM=builtin (CLBlast is not ours to check, and its auto
 * measurement would compile for minutes under the simulator) and makes its
 * own CLFORMER_GEMV_MAX_M choices (a second context with 8 for the GEMV cases,
 * so that a CPU family runs the GEMV at every M from 1 to 8).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <clformer/clformer.h>

#include "common/testutil.h"
#include "ref/ref_attention.h"
#include "ref/ref_copy.h"
#include "ref/ref_elementwise.h"
#include "ref/ref_embed.h"
#include "ref/ref_gemm.h"
#include "ref/ref_norm.h"
#include "ref/ref_softmax.h"
#include "ref/ref_topk.h"

#define SENTINEL 7.25f /* exact in f16; i32 buffers hold 7 */
#define MAX_OWNED 96
#define MAX_KEPT 2048
#define MAX_KERNELS 16

/* One case's state: the context, its rng, what to free, the first failure. */
typedef struct run {
    clf_context *ctx;
    clft_rng rng;
    int cpu; /* the family: 1 CPU, 0 GPU */
    char why[1024];
    double worst; /* largest NMSE / bound seen */
    void *mem[MAX_OWNED]; /* host memory: freed after the case */
    int n_mem;
} run;

/* Device tensors live until the end of the process. Oclgrind 21.10 reuses
 * the index of a released buffer for the next one, and its uninitialised-
 * value plugin never drops the shadow of a released buffer: a buffer that
 * is only written by kernels (the library's scratch) and lands on the index
 * of a smaller released one keeps the old, smaller shadow, so what the
 * kernels store past the old size is lost and read back as uninitialised
 * (seen: attn_decode_combine reading attn_decode_partial's records after
 * the attn/flash tensors were freed). The cases need a few MiB in all. */
static clf_tensor kept[MAX_KEPT];
static int n_kept;

static int failf(run *r, const char *fmt, ...)
{
    if (r->why[0]) return 1; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return 1;
}

#define TRY(r, expr)                                                                               \
    do {                                                                                           \
        clf_status st_ = (expr);                                                                   \
        if (st_ != CLF_OK)                                                                         \
            return failf(r, "%s: %s: %s", #expr, clf_status_name(st_),                           \
                         clf_context_last_error((r)->ctx));                                        \
    } while (0)

static void *hmem(run *r, size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p || r->n_mem == MAX_OWNED) {
        fprintf(stderr, "oclgrind_ops: out of host memory\n");
        exit(2);
    }
    return r->mem[r->n_mem++] = p;
}
#define HOST(r, type, n) ((type *)hmem((r), (size_t)(n) * sizeof(type)))

/* A 1-D device buffer of n elements with its host image (sentinels), and a
 * view into it that the op sees. */
typedef struct pview {
    clf_tensor whole, v;
    float *host;
    int64_t n;
} pview;

/* A view of shape stored in the order perm (NULL: row-major; storage
 * dimension i holds logical dimension perm[i]) with gap spare elements after
 * each innermost storage row and lead elements in front. */
static int pv_make(run *r, pview *p, clf_dtype dt, int ndim, const int64_t *shape, const int *perm,
                   int64_t lead, int64_t gap)
{
    static const int ident[4] = {0, 1, 2, 3};
    if (!perm) perm = ident;
    int64_t stride[4], s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[perm[i]] = s;
        s *= shape[perm[i]] + (i == ndim - 1 ? gap : 0);
    }
    p->n = lead + s + 3;
    if (n_kept == MAX_KEPT) return failf(r, "more than %d tensors", MAX_KEPT);
    TRY(r, clf_tensor_create(r->ctx, dt, 1, &p->n, &p->whole));
    kept[n_kept++] = p->whole;
    TRY(r, clf_tensor_view(&p->whole, ndim, shape, stride, lead, &p->v));
    p->host = HOST(r, float, p->n);
    for (int64_t i = 0; i < p->n; i++) p->host[i] = dt == CLF_I32 ? 7.0f : SENTINEL;
    return 0;
}

static int64_t at(const pview *p, int64_t i)
{
    return ref_view_index(p->v.ndim, p->v.shape, p->v.stride, p->v.offset, i);
}

static float stored(clf_dtype dt, float v)
{
    if (dt != CLF_F16) return v;
    uint16_t h;
    clf_f32_to_f16(&v, &h, 1);
    clf_f16_to_f32(&h, &v, 1);
    return v;
}

/* Puts vals (row-major over the view, rounded in place to the dtype) into
 * the view and uploads the buffer. */
static int pv_set(run *r, pview *p, float *vals)
{
    int64_t n = clf_tensor_numel(&p->v);
    for (int64_t i = 0; i < n; i++) p->host[at(p, i)] = vals[i] = stored(p->v.dtype, vals[i]);
    TRY(r, clf_tensor_write_f32(r->ctx, &p->whole, p->host, p->n));
    return 0;
}

/* Random values in [lo, hi) for the view; returns them (row-major). */
static float *pv_random(run *r, pview *p, float lo, float hi)
{
    int64_t n = clf_tensor_numel(&p->v);
    float *v = HOST(r, float, n);
    clft_fill_uniform(&r->rng, v, (size_t)n, lo, hi);
    return pv_set(r, p, v) ? NULL : v;
}

/* An output: NaN in the view (an element never written fails), sentinels
 * around it. */
static int pv_poison(run *r, pview *p)
{
    int64_t n = clf_tensor_numel(&p->v);
    float *v = HOST(r, float, n);
    if (p->v.dtype == CLF_I32)
        for (int64_t i = 0; i < n; i++) v[i] = -12345.0f;
    else
        clft_poison(v, (size_t)n);
    return pv_set(r, p, v);
}

/* Reads the buffer back: out (row-major) gets the view; every element
 * outside it must be unchanged. */
static int pv_get(run *r, pview *p, float *out, const char *what)
{
    float *all = HOST(r, float, p->n);
    char *in = HOST(r, char, p->n);
    TRY(r, clf_tensor_read_f32(r->ctx, &p->whole, all, p->n));
    int64_t n = clf_tensor_numel(&p->v);
    for (int64_t i = 0; i < n; i++) {
        in[at(p, i)] = 1;
        out[i] = all[at(p, i)];
    }
    for (int64_t j = 0; j < p->n; j++)
        if (!in[j] && memcmp(&all[j], &p->host[j], sizeof(float)) != 0)
            return failf(r, "%s: element %lld outside the view changed to %g", what, (long long)j,
                         all[j]);
    return 0;
}

/* NMSE of the view against ref, under bound. */
static int pv_expect(run *r, pview *p, const double *ref, double bound, const char *what)
{
    int64_t n = clf_tensor_numel(&p->v);
    float *got = HOST(r, float, n);
    if (pv_get(r, p, got, what)) return 1;
    double e = clft_nmse(got, ref, (size_t)n);
    if (e / bound > r->worst) r->worst = e / bound;
    if (!(e < bound)) return failf(r, "%s: NMSE %.3g >= %.3g", what, e, bound);
    return 0;
}

/* Runs fn on each entry of the table t; 1 at the first failure. */
#define EACH(r, fn, t) each_((r), (fn), (t), sizeof(t) / sizeof((t)[0]), sizeof((t)[0]))
static int each_(run *r, int (*fn)(run *, const void *), const void *t, size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (fn(r, (const char *)t + i * size)) return 1;
    return 0;
}

static double *dense_d(run *r, const float *v, int64_t n)
{
    double *d = HOST(r, double, n);
    for (int64_t i = 0; i < n; i++) d[i] = v[i];
    return d;
}

/* ================================ GEMM ================================ */

typedef struct gcase {
    int64_t batch, m, n, k;
    int ta, tb;
    clf_dtype da, db, dc, dbias;
    float alpha, beta;
    int bias;
    clf_act act;
    int b_shared;
} gcase;

static int gemm_one(run *r, const void *arg)
{
    const gcase *g = arg;
    char what[200];
    snprintf(what, sizeof what, "gemm b%lld M%lld N%lld K%lld %s%s %s/%s/%s act %d",
             (long long)g->batch, (long long)g->m, (long long)g->n, (long long)g->k,
             g->ta ? "T" : "N", g->tb ? "T" : "N", clf_dtype_name(g->da), clf_dtype_name(g->db),
             clf_dtype_name(g->dc), (int)g->act);
    const int nd = g->batch > 1 ? 3 : 2, bnd = g->b_shared ? 2 : nd;
    int64_t as[3] = {g->batch}, bs[3] = {g->batch}, cs[3] = {g->batch};
    as[nd - 2] = g->ta ? g->k : g->m, as[nd - 1] = g->ta ? g->m : g->k;
    bs[bnd - 2] = g->tb ? g->n : g->k, bs[bnd - 1] = g->tb ? g->k : g->n;
    cs[nd - 2] = g->m, cs[nd - 1] = g->n;
    pview A, B, C, bias = {0};
    if (pv_make(r, &A, g->da, nd, as, NULL, 3, 5) || pv_make(r, &B, g->db, bnd, bs, NULL, 1, 2) ||
        pv_make(r, &C, g->dc, nd, cs, NULL, 7, 3))
        return 1;
    float *ha = pv_random(r, &A, -1, 1), *hb = pv_random(r, &B, -1, 1), *hc = NULL, *hbias = NULL;
    if (!ha || !hb) return 1;
    if (g->beta != 0) {
        if (!(hc = pv_random(r, &C, -1, 1))) return 1;
    } else if (pv_poison(r, &C)) { /* beta 0: C must not be read */
        return 1;
    }
    if (g->bias) {
        if (pv_make(r, &bias, g->dbias, 1, &g->n, NULL, 5, 0) ||
            !(hbias = pv_random(r, &bias, -1, 1)))
            return 1;
    }
    int64_t total = g->batch * g->m * g->n;
    double *want = HOST(r, double, total);
    ref_gemm(g->batch, g->m, g->n, g->k, g->ta, g->tb, g->alpha == 0 ? 1.0 : g->alpha, ha,
             g->batch, hb, g->b_shared ? 1 : g->batch, g->beta, hc, hbias, g->act, want);
    clf_gemm_params p = clf_gemm_params_default();
    p.trans_a = g->ta, p.trans_b = g->tb, p.alpha = g->alpha, p.beta = g->beta, p.act = g->act;
    p.bias = g->bias ? &bias.v : NULL;
    p.provider = CLF_GEMM_BUILTIN;
    TRY(r, clf_gemm(r->ctx, &A.v, &B.v, &C.v, &p));
    /* f32 accumulation: NMSE ~ K 2^-48; f16 C adds its rounding (test_gemm.c). */
    return pv_expect(r, &C, want, g->dc == CLF_F16 ? 1e-5 : 1e-8, what);
}

#define F32 CLF_F32
#define F16 CLF_F16
#define I32 CLF_I32

/* The tiled kernel's tiles are 64 x 64 x 16 (32 x 64 x 8 on small devices);
 * the CPU kernel's register blocks 3-6 x 4-16 and KC = 128 rows of packed B
 * (trans_b = 0). M, N, K below cross each of those edges. */
static int case_gemm_nt(run *r)
{
    static const gcase t[] = {
        /* batch m n k ta tb da db dc dbias alpha beta bias act shared */
        {1, 67, 66, 35, 0, 1, F32, F32, F32, F32, 0, 0, 1, CLF_ACT_GELU, 0},
        {3, 11, 9, 17, 0, 1, F32, F16, F32, F16, 0, 0, 1, CLF_ACT_SILU, 1},
    };
    return EACH(r, gemm_one, t);
}

static int case_gemm_nn(run *r)
{
    static const gcase t[] = {
        {1, 13, 37, 133, 0, 0, F32, F16, F32, F32, 0, 0.5f, 1, CLF_ACT_RELU, 0},
        {2, 9, 5, 7, 1, 0, F16, F32, F16, F16, -1.5f, 0, 1, CLF_ACT_GELU_TANH, 0},
    };
    return EACH(r, gemm_one, t);
}

/* M from 1 to 8 (the GEMV holds M rounded up to 1, 2, 4 or 8 rows), both
 * weight layouts, f16 weights, every epilogue; K crosses the GPU form's
 * 32-way split of 4-vectors and the CPU form's 16-vectors. */
static int case_gemv(run *r)
{
    static const gcase t[] = {
        {1, 1, 45, 67, 0, 1, F32, F16, F32, F32, 0, 0, 1, CLF_ACT_GELU, 0},
        {1, 2, 13, 130, 1, 1, F32, F32, F32, F32, 0, 0, 0, CLF_ACT_NONE, 0},
        {1, 3, 70, 9, 0, 0, F32, F16, F32, F16, 0, 0, 1, CLF_ACT_TANH, 0},
        {1, 4, 9, 33, 0, 1, F16, F16, F16, F32, 0, 0.5f, 1, CLF_ACT_SILU, 0},
        {2, 5, 11, 29, 0, 0, F32, F32, F32, F32, 2, 0, 0, CLF_ACT_RELU, 0},
        {1, 6, 17, 140, 0, 1, F32, F16, F32, F32, 0, 0, 1, CLF_ACT_GELU_TANH, 0},
        {1, 7, 66, 12, 1, 0, F32, F32, F32, F32, 0, 0, 1, CLF_ACT_NONE, 0},
        {3, 8, 5, 21, 1, 1, F32, F16, F32, F32, 0, 0, 1, CLF_ACT_GELU, 1},
    };
    return EACH(r, gemm_one, t);
}

/* ============================= attention ============================== */

typedef struct acase {
    int64_t b, lq, lk, h, d;
    int causal, pad, indirect;
    clf_dtype dt;
    clf_attn_impl impl;
} acase;

static int attention_one(run *r, const void *arg)
{
    const acase *c = arg;
    char what[160];
    snprintf(what, sizeof what, "attention B%lld Lq%lld Lk%lld H%lld D%lld %s causal %d pad %d%s",
             (long long)c->b, (long long)c->lq, (long long)c->lk, (long long)c->h,
             (long long)c->d, clf_dtype_name(c->dt), c->causal, c->pad,
             c->indirect ? " cache_rows" : "");
    int64_t qs[4] = {c->b, c->lq, c->h, c->d}, ks[4] = {c->b, c->lk, c->h, c->d};
    pview Q, K, V, O, KL = {0}, RW = {0};
    if (pv_make(r, &Q, c->dt, 4, qs, NULL, 3, 4) || pv_make(r, &K, c->dt, 4, ks, NULL, 1, 8) ||
        pv_make(r, &V, c->dt, 4, ks, NULL, 5, 4) || pv_make(r, &O, c->dt, 4, qs, NULL, 2, 4))
        return 1;
    float *q = pv_random(r, &Q, -1, 1), *k = pv_random(r, &K, -1, 1), *v = pv_random(r, &V, -1, 1);
    if (!q || !k || !v || pv_poison(r, &O)) return 1;
    clf_attention_params p = {.causal = c->causal, .impl = c->impl};
    int32_t *lens = NULL;
    if (c->pad) {
        /* (B): mixed lengths, one 0 (no visible key) when B > 2. */
        float *fl = HOST(r, float, c->b);
        lens = HOST(r, int32_t, c->b);
        for (int64_t b = 0; b < c->b; b++)
            fl[b] = (float)(b == 0 ? c->lk : b == 2 ? 0 : 1 + (int64_t)(clft_next(&r->rng) % (uint64_t)c->lk));
        /* key_lens must be a whole tensor (no offset). */
        if (pv_make(r, &KL, I32, 1, &c->b, NULL, 0, 0) || pv_set(r, &KL, fl)) return 1;
        for (int64_t b = 0; b < c->b; b++) lens[b] = (int32_t)fl[b];
        p.key_lens = &KL.v;
    }
    int64_t nk = c->b * c->lk * c->h * c->d;
    if (c->indirect) {
        /* (B, Lk): the batch row holding key j of entry b; -1 and B are out of
         * range and clamped. The reference reads the gathered cache. */
        int64_t rs[2] = {c->b, c->lk};
        float *rows = HOST(r, float, c->b * c->lk);
        for (int64_t i = 0; i < c->b * c->lk; i++)
            rows[i] = (float)((int64_t)(clft_next(&r->rng) % (uint64_t)(c->b + 2)) - 1);
        if (pv_make(r, &RW, I32, 2, rs, NULL, 3, 2) || pv_set(r, &RW, rows)) return 1;
        p.cache_rows = &RW.v;
        float *gk = HOST(r, float, nk), *gv = HOST(r, float, nk);
        int64_t row = c->h * c->d;
        for (int64_t b = 0; b < c->b; b++)
            for (int64_t j = 0; j < c->lk; j++) {
                int64_t src = (int64_t)rows[b * c->lk + j];
                src = src < 0 ? 0 : src >= c->b ? c->b - 1 : src;
                memcpy(&gk[(b * c->lk + j) * row], &k[(src * c->lk + j) * row], (size_t)row * 4);
                memcpy(&gv[(b * c->lk + j) * row], &v[(src * c->lk + j) * row], (size_t)row * 4);
            }
        k = gk, v = gv;
    }
    int64_t no = c->b * c->lq * c->h * c->d;
    double *want = HOST(r, double, no);
    clft_ref_attention(c->b, c->lq, c->lk, c->h, c->d, q, k, v, 1.0 / sqrt((double)c->d),
                       c->causal, lens, want, NULL);
    TRY(r, clf_attention(r->ctx, &Q.v, &K.v, &V.v, &O.v, &p));
    return pv_expect(r, &O, want, c->dt == F16 ? 1e-3 : 5e-6, what);
}

/* Flash: query blocks of 64 (GPU) / 4-row groups (CPU), key tiles of 32 and
 * key chunks; self-attention causal with padding (a batch entry with no key),
 * cross-attention both ways (Lq < Lk causal, Lq > Lk), f16 storage. */
static int case_attn_flash(run *r)
{
    static const acase t[] = {
        /* b lq lk h d causal pad indirect dtype impl */
        {3, 67, 67, 2, 32, 1, 1, 0, F32, CLF_ATTN_FUSED},
        {1, 9, 41, 3, 32, 1, 0, 0, F16, CLF_ATTN_FUSED},
        {2, 37, 13, 1, 40, 0, 1, 0, F32, CLF_ATTN_FUSED},
    };
    return EACH(r, attention_one, t);
}

/* Split-key decode: one row of 601 keys split across work-groups (uneven
 * splits: how many follows the compute units), a batch with a padding mask
 * (one entry sees no key), then the cache-row table (indirect rows, clamped
 * entries) with causal q_len 2 in f16. */
static int case_attn_decode(run *r)
{
    static const acase t[] = {
        {1, 1, 601, 1, 32, 0, 0, 0, F32, CLF_ATTN_AUTO},
        {3, 1, 300, 1, 32, 0, 1, 0, F32, CLF_ATTN_DECODE},
        {3, 2, 45, 2, 32, 1, 0, 1, F16, CLF_ATTN_AUTO},
    };
    return EACH(r, attention_one, t);
}

/* The reference path: scores by GEMM, attn_mask_keys, softmax, GEMM. */
static int case_attn_unfused(run *r)
{
    static const acase t[] = {{3, 5, 11, 2, 32, 1, 1, 0, F32, CLF_ATTN_UNFUSED}};
    return EACH(r, attention_one, t);
}

/* ============================== softmax =============================== */

typedef struct scase {
    int ndim;
    int64_t shape[4];
    int inner2; /* innermost stride 2: the work-group kernel on every family */
    clf_dtype dx, dy;
    int mask, causal, log;
    float scale;
} scase;

static int softmax_one(run *r, const void *arg)
{
    const scase *c = arg;
    char what[128];
    snprintf(what, sizeof what, "softmax cols %lld %s->%s mask %d causal %d log %d",
             (long long)c->shape[c->ndim - 1], clf_dtype_name(c->dx), clf_dtype_name(c->dy),
             c->mask, c->causal, c->log);
    static const int t1[4] = {0, 1, 3, 2}, t2[3] = {0, 2, 1}; /* innermost stride != 1 */
    const int *perm = c->inner2 ? (c->ndim == 4 ? t1 : t2) : NULL;
    pview X, Y, M = {0};
    if (pv_make(r, &X, c->dx, c->ndim, c->shape, perm, 3, 1) ||
        pv_make(r, &Y, c->dy, c->ndim, c->shape, NULL, 1, 3))
        return 1;
    float *x = pv_random(r, &X, -4, 4), *m = NULL;
    if (!x || pv_poison(r, &Y)) return 1;
    int64_t ms[2] = {c->shape[c->ndim - 2], c->shape[c->ndim - 1]};
    if (c->mask) {
        if (pv_make(r, &M, c->dx, 2, ms, NULL, 1, 1)) return 1;
        m = HOST(r, float, ms[0] * ms[1]);
        for (int64_t i = 0; i < ms[0] * ms[1]; i++)
            m[i] = i < ms[1] || clft_next(&r->rng) % 5 == 0 ? -INFINITY : clft_uniform(&r->rng, -2, 2);
        if (pv_set(r, &M, m)) return 1; /* row 0 fully masked: zeros (log: -inf) */
    }
    int64_t n = clf_tensor_numel(&X.v);
    double *want = HOST(r, double, n);
    clft_ref_softmax(c->ndim, c->shape, x, c->scale == 0 ? 1.0 : c->scale, c->mask ? 2 : 0, ms, m,
                     c->causal, c->log, want);
    clf_softmax_params p = {.scale = c->scale, .mask = c->mask ? &M.v : NULL, .causal = c->causal,
                            .log = c->log};
    TRY(r, clf_softmax(r->ctx, &X.v, &Y.v, &p));
    return pv_expect(r, &Y, want, c->dx == F16 || c->dy == F16 ? 1e-3 : 1e-7, what);
}

/* Row lengths cross the work-group sizes (CPU 16..128, GPU 32..256). */
static int case_softmax_rows(run *r)
{
    static const scase t[] = {
        {4, {2, 2, 5, 37}, 1, F32, F16, 1, 0, 0, 0.5f},
        {3, {1, 3, 300}, 1, F16, F32, 0, 1, 1, 0},
    };
    return EACH(r, softmax_one, t);
}

/* Contiguous rows: the row-vector kernel on the CPU family. */
static int case_softmax_vec(run *r)
{
    static const scase t[] = {
        {3, {2, 7, 130}, 0, F32, F32, 1, 1, 0, 2},
        {2, {7, 5}, 0, F16, F16, 0, 1, 1, 0}, /* causal with rows > cols: empty rows */
        {3, {3, 4, 19}, 0, F32, F32, 1, 0, 1, 0},
    };
    return EACH(r, softmax_one, t);
}

/* =============================== norms ================================ */

typedef struct ncase {
    int rms, residual, beta, sum_out, inner2;
    int64_t rows, d;
    clf_dtype dx, dr, dg, dy;
} ncase;

static int norm_one(run *r, const void *arg)
{
    const ncase *c = arg;
    char what[128];
    snprintf(what, sizeof what, "norm %s rows %lld D %lld res %d beta %d sum %d",
             c->rms ? "rms" : "layer", (long long)c->rows, (long long)c->d, c->residual, c->beta,
             c->sum_out);
    static const int tr[2] = {1, 0};
    const int *perm = c->inner2 ? tr : NULL;
    int64_t shape[2] = {c->rows, c->d};
    pview X, R = {0}, G, Bt = {0}, Y, S = {0};
    if (pv_make(r, &X, c->dx, 2, shape, perm, 2, 3) || pv_make(r, &G, c->dg, 1, &c->d, NULL, 1, 0) ||
        pv_make(r, &Y, c->dy, 2, shape, NULL, 3, 1))
        return 1;
    float *x = pv_random(r, &X, -2, 2), *g = pv_random(r, &G, 0.5f, 1.5f), *res = NULL, *b = NULL;
    if (!x || !g || pv_poison(r, &Y)) return 1;
    if (c->residual && (pv_make(r, &R, c->dr, 2, shape, NULL, 1, 1) || !(res = pv_random(r, &R, -1, 1))))
        return 1;
    if (c->beta && (pv_make(r, &Bt, c->dg, 1, &c->d, NULL, 2, 0) || !(b = pv_random(r, &Bt, -1, 1))))
        return 1;
    if (c->sum_out && (pv_make(r, &S, c->dr, 2, shape, perm, 1, 2) || pv_poison(r, &S))) return 1;
    int64_t n = c->rows * c->d;
    double *want = HOST(r, double, n), *sum = HOST(r, double, n);
    clft_ref_norm(c->rms, x, res, g, b, c->rows, c->d, 1e-5, want, sum);
    clf_norm_params p = {.type = c->rms ? CLF_NORM_RMS : CLF_NORM_LAYER,
                         .residual = c->residual ? &R.v : NULL, .sum_out = c->sum_out ? &S.v : NULL};
    TRY(r, clf_norm(r->ctx, &X.v, &G.v, c->beta ? &Bt.v : NULL, &Y.v, &p));
    int half = c->dx == F16 || c->dr == F16 || c->dg == F16 || c->dy == F16;
    if (pv_expect(r, &Y, want, half ? 1e-3 : 1e-7, what)) return 1;
    return c->sum_out ? pv_expect(r, &S, sum, c->dr == F16 ? 1e-3 : 1e-10, "norm sum_out") : 0;
}

/* Strided rows: the work-group kernel (D crosses 128 and 256). */
static int case_norm_rows(run *r)
{
    static const ncase t[] = {
        {0, 1, 1, 1, 1, 3, 300, F32, F16, F32, F32},
        {1, 1, 0, 0, 1, 5, 37, F16, F32, F16, F16},
        {0, 0, 0, 1, 1, 4, 129, F32, F32, F32, F16},
    };
    return EACH(r, norm_one, t);
}

/* Contiguous rows: the row-vector kernel on the CPU family. */
static int case_norm_vec(run *r)
{
    static const ncase t[] = {
        {0, 1, 1, 1, 0, 17, 70, F32, F32, F32, F32},
        {1, 1, 0, 1, 0, 3, 13, F16, F16, F32, F16},
        {0, 0, 1, 0, 0, 4, 257, F32, F32, F16, F32},
        {0, 0, 0, 0, 1, 2, 1, F32, F32, F32, F32}, /* D = 1: any stride is a row */
    };
    return EACH(r, norm_one, t);
}

/* ============================ elementwise ============================= */

/* Activations and scale: contiguous rows at odd element offsets (f16 reads
 * and writes off vector alignment), then a transposed view (strided
 * kernel). */
static int case_ew_unary(run *r)
{
    int64_t shape[3] = {2, 3, 37};
    static const int tr[3] = {0, 2, 1};
    for (int i = 0; i < 8; i++) {
        int op = i < 6 ? i : -1; /* -1: clf_scale */
        int strided = i == 5 || i == 7;
        clf_dtype dx = i % 2 ? F16 : F32, dy = i % 3 ? F32 : F16;
        pview X, Y;
        if (pv_make(r, &X, dx, 3, shape, strided ? tr : NULL, 3, strided ? 0 : 1) ||
            pv_make(r, &Y, dy, 3, shape, NULL, 5, 1))
            return 1;
        float *x = pv_random(r, &X, -3, 3);
        if (!x || pv_poison(r, &Y)) return 1;
        int64_t n = clf_tensor_numel(&X.v);
        double *want = HOST(r, double, n);
        if (op >= 0) {
            clft_ref_activation(op, x, want, (size_t)n);
            TRY(r, clf_activation(r->ctx, (clf_act)op, &X.v, &Y.v));
        } else {
            clft_ref_scale(x, -0.375, want, (size_t)n);
            TRY(r, clf_scale(r->ctx, &X.v, -0.375f, &Y.v));
        }
        char what[64];
        snprintf(what, sizeof what, "ew op %d %s->%s%s", op, clf_dtype_name(dx), clf_dtype_name(dy),
                 strided ? " strided" : "");
        if (pv_expect(r, &Y, want, dx == F16 || dy == F16 ? 1e-3 : 1e-7, what)) return 1;
    }
    return 0;
}

/* Residual and bias adds (rows kernel), broadcast over a transposed view
 * (strided kernel), f16 at odd offsets. */
static int case_ew_add(run *r)
{
    static const int tr[3] = {0, 2, 1};
    int64_t shape[3] = {2, 5, 21}, bshape[2][2] = {{1, 21}, {5, 1}};
    for (int i = 0; i < 4; i++) {
        int strided = i >= 2, bnd = i == 1 ? 3 : 2;
        int64_t *bs = i == 1 ? shape : bshape[i % 2];
        clf_dtype da = i % 2 ? F16 : F32, db = i ? F16 : F32, dy = i == 2 ? F16 : F32;
        pview A, B, Y;
        if (pv_make(r, &A, da, 3, shape, strided ? tr : NULL, 1, strided ? 0 : 3) ||
            pv_make(r, &B, db, bnd, bs, NULL, 3, 1) || pv_make(r, &Y, dy, 3, shape, NULL, 1, 1))
            return 1;
        float *a = pv_random(r, &A, -1, 1), *b = pv_random(r, &B, -1, 1);
        if (!a || !b || pv_poison(r, &Y)) return 1;
        double *want = HOST(r, double, clf_tensor_numel(&A.v));
        clft_ref_add(3, shape, a, bnd, bs, b, want);
        TRY(r, clf_add(r->ctx, &A.v, &B.v, &Y.v));
        char what[64];
        snprintf(what, sizeof what, "add case %d", i);
        if (pv_expect(r, &Y, want, da == F16 || db == F16 || dy == F16 ? 1e-3 : 1e-7, what)) return 1;
    }
    return 0;
}

/* ============================= embeddings ============================= */

static int embed_one(run *r, int pos, int strided, clf_dtype dt, clf_dtype dout)
{
    const int64_t V = 11, D = 13, B = 2, S = 5, P = 9, off = 2;
    int64_t ts[2] = {V, D}, is[2] = {B, S}, os[3] = {B, S, D}, ps[2] = {P, D};
    static const int tr[3] = {0, 2, 1};
    pview T, I, O, PT = {0};
    if (pv_make(r, &T, dt, 2, ts, NULL, 1, 3) || pv_make(r, &I, I32, 2, is, NULL, 2, 1) ||
        pv_make(r, &O, dout, 3, os, strided ? tr : NULL, 1, 2))
        return 1;
    float *t = pv_random(r, &T, -1, 1), *ids = HOST(r, float, B * S);
    int32_t *iid = HOST(r, int32_t, B * S);
    for (int64_t i = 0; i < B * S; i++) iid[i] = (int32_t)(ids[i] = (float)(clft_next(&r->rng) % V));
    if (!t || pv_set(r, &I, ids) || pv_poison(r, &O)) return 1;
    float *pt = NULL;
    if (pos == CLF_POS_LEARNED && (pv_make(r, &PT, dt, 2, ps, NULL, 0, 1) || !(pt = pv_random(r, &PT, -1, 1))))
        return 1;
    double *want = HOST(r, double, B * S * D);
    ref_embedding(dense_d(r, t, V * D), V, D, iid, B, S, 1.5, pos, pt ? dense_d(r, pt, P * D) : NULL,
                  off, want);
    clf_embed_params p = {.scale = 1.5f, .positions = (clf_pos_type)pos,
                          .pos_table = pt ? &PT.v : NULL, .pos_offset = off};
    TRY(r, clf_embedding(r->ctx, &T.v, &I.v, &O.v, &p));
    return pv_expect(r, &O, want, dt == F16 || dout == F16 ? 1e-3 : 1e-7, "embedding");
}

static int posenc_one(run *r, int type, int strided, clf_dtype dt)
{
    int64_t shape[2] = {7, 13};
    static const int tr[2] = {1, 0};
    pview O;
    if (pv_make(r, &O, dt, 2, shape, strided ? tr : NULL, 3, 1) || pv_poison(r, &O)) return 1;
    double *want = HOST(r, double, 7 * 13);
    ref_positional_encoding(type, 5, 7, 13, want);
    TRY(r, clf_positional_encoding(r->ctx, (clf_pos_type)type, 5, &O.v));
    return pv_expect(r, &O, want, dt == F16 ? 1e-3 : 1e-7, "positional_encoding");
}

/* Row-vector kernels (contiguous rows) and strided ones, every position
 * type. */
static int case_embed(run *r)
{
    return embed_one(r, CLF_POS_LEARNED, 0, F16, F32) ||
           embed_one(r, CLF_POS_SINUSOIDAL, 0, F32, F16) ||
           embed_one(r, CLF_POS_SINUSOIDAL_CONCAT, 1, F32, F32) ||
           embed_one(r, CLF_POS_NONE, 1, F16, F16) || posenc_one(r, CLF_POS_SINUSOIDAL, 0, F32) ||
           posenc_one(r, CLF_POS_SINUSOIDAL_CONCAT, 1, F16);
}

/* =========================== argmax / top-k =========================== */

/* x (R, V) with ties and a NaN; k = 0: argmax. col2: column stride 2. */
static int topk_one(run *r, int64_t R, int64_t V, int64_t k, int col2, clf_dtype dt)
{
    char what[96];
    snprintf(what, sizeof what, "%s R%lld V%lld k%lld %s%s", k ? "topk" : "argmax", (long long)R,
             (long long)V, (long long)k, clf_dtype_name(dt), col2 ? " strided" : "");
    int64_t shape[2] = {R, V}, kk = k ? k : 1;
    static const int tr[2] = {1, 0};
    pview X, OV, OI;
    if (pv_make(r, &X, dt, 2, shape, col2 ? tr : NULL, 1, 1)) return 1;
    float *x = HOST(r, float, R * V);
    for (int64_t i = 0; i < R * V; i++) /* coarse values: ties */
        x[i] = (float)((int64_t)(clft_next(&r->rng) % 2001) - 1000) / 8.0f;
    if (kk < V) x[V / 2] = NAN; /* never among the k reported */
    if (pv_set(r, &X, x)) return 1;
    int64_t os[2] = {R, kk};
    if (pv_make(r, &OI, I32, k ? 2 : 1, os, NULL, 2, 1) || pv_poison(r, &OI)) return 1;
    double *want = HOST(r, double, R * kk), *wantv = HOST(r, double, R * kk);
    int32_t *wi = HOST(r, int32_t, R * kk);
    if (k) {
        if (pv_make(r, &OV, F32, 2, os, NULL, 1, 2) || pv_poison(r, &OV)) return 1;
        ref_topk(x, R, V, k, wantv, wi);
        TRY(r, clf_topk(r->ctx, &X.v, k, &OV.v, &OI.v));
    } else {
        ref_argmax(x, R, V, wi);
        TRY(r, clf_argmax(r->ctx, &X.v, &OI.v));
    }
    for (int64_t i = 0; i < R * kk; i++) want[i] = wi[i];
    if (pv_expect(r, &OI, want, 1e-10, what)) return 1;
    return k ? pv_expect(r, &OV, wantv, 1e-10, what) : 0;
}

/* Contiguous rows with small k: the row-vector kernels on the CPU family. */
static int case_topk_vec(run *r)
{
    return topk_one(r, 5, 37, 0, 0, F16) || topk_one(r, 3, 70, 5, 0, F32) ||
           topk_one(r, 2, 9, 9, 0, F16);
}

/* The work-group kernels on every family (a column stride, k > 32), and
 * one row of 4500 split into chunks of 2048+ with a second, gathering pass. */
static int case_topk_rows(run *r)
{
    return topk_one(r, 3, 300, 0, 1, F32) || topk_one(r, 2, 100, 40, 0, F16) ||
           topk_one(r, 1, 4500, 0, 1, F16) || topk_one(r, 1, 4500, 7, 1, F32);
}

/* ============================ data movement =========================== */

/* Every dtype pair, contiguous rows (row kernels) and a transpose (element
 * kernels), f16 at odd offsets; then a KV-cache append. */
static int case_copy(run *r)
{
    static const clf_dtype pairs[5][2] = {{F32, F32}, {F16, F16}, {F32, F16}, {F16, F32}, {I32, I32}};
    static const int tr[3] = {1, 0, 2}, tr_in[3] = {0, 2, 1};
    int64_t shape[3] = {3, 4, 19};
    for (int i = 0; i < 10; i++) {
        clf_dtype ds = pairs[i % 5][0], dd = pairs[i % 5][1];
        int strided = i >= 5;
        pview S, D;
        if (pv_make(r, &S, ds, 3, shape, strided ? tr_in : tr, 3, 1) ||
            pv_make(r, &D, dd, 3, shape, NULL, 1, 2))
            return 1;
        float *s = HOST(r, float, 3 * 4 * 19);
        for (int64_t j = 0; j < 3 * 4 * 19; j++)
            s[j] = ds == I32 ? (float)((int64_t)(clft_next(&r->rng) % 20001) - 10000)
                             : clft_uniform(&r->rng, -1, 1);
        if (pv_set(r, &S, s) || pv_poison(r, &D)) return 1;
        double *want = HOST(r, double, 3 * 4 * 19);
        for (int64_t j = 0; j < 3 * 4 * 19; j++) want[j] = stored(dd, s[j]);
        TRY(r, clf_copy(r->ctx, &S.v, &D.v));
        char what[64];
        snprintf(what, sizeof what, "copy %s->%s%s", clf_dtype_name(ds), clf_dtype_name(dd),
                 strided ? " strided" : "");
        if (pv_expect(r, &D, want, 1e-10, what)) return 1;
    }
    /* kv_append: cache (2, 9, 3, 8) f16 gets (2, 4, 3, 8) f32 at position 3. */
    int64_t cs[4] = {2, 9, 3, 8}, ns[4] = {2, 4, 3, 8}, nc = 2 * 9 * 3 * 8;
    pview C, N;
    if (pv_make(r, &C, F16, 4, cs, NULL, 1, 1) || pv_make(r, &N, F32, 4, ns, NULL, 3, 1)) return 1;
    float *c = pv_random(r, &C, -1, 1), *n = pv_random(r, &N, -1, 1);
    if (!c || !n) return 1;
    double *want = dense_d(r, c, nc), *src = HOST(r, double, 2 * 4 * 3 * 8);
    for (int64_t j = 0; j < 2 * 4 * 3 * 8; j++) src[j] = stored(F16, n[j]);
    ref_kv_append(want, 2, 9, 3, 8, 3, src, 4);
    TRY(r, clf_kv_append(r->ctx, &C.v, 3, &N.v));
    return pv_expect(r, &C, want, 1e-10, "kv_append");
}

/* clf_tensor_fill and fill_uniform (the weight initialiser) on dense and
 * strided views; a uniform fill is checked for its range and spread. */
static int case_fill(run *r)
{
    static const int tr[2] = {1, 0};
    int64_t shape[2] = {5, 27};
    static const clf_dtype dts[3] = {F32, F16, I32};
    for (int i = 0; i < 10; i++) {
        clf_dtype dt = dts[i % 5 < 3 ? i % 5 : i % 5 - 3];
        int uniform = i % 5 >= 3, strided = i >= 5;
        if (uniform) dt = i % 5 == 3 ? F32 : F16;
        pview T;
        if (pv_make(r, &T, dt, 2, shape, strided ? tr : NULL, 1, strided ? 1 : 0) || pv_poison(r, &T))
            return 1;
        float got[5 * 27];
        double want[5 * 27];
        if (uniform) {
            TRY(r, clf_tensor_fill_uniform(r->ctx, &T.v, 99, -0.5f, 0.25f));
            if (pv_get(r, &T, got, "fill_uniform")) return 1;
            double mean = 0;
            for (int j = 0; j < 5 * 27; j++) {
                if (!(got[j] >= -0.5f && got[j] <= 0.25f))
                    return failf(r, "fill_uniform %s: element %d = %g outside [-0.5, 0.25)",
                                 clf_dtype_name(dt), j, got[j]);
                mean += got[j] / (5 * 27);
            }
            if (fabs(mean + 0.125) > 0.06)
                return failf(r, "fill_uniform %s: mean %g, expected about -0.125",
                             clf_dtype_name(dt), mean);
        } else {
            for (int j = 0; j < 5 * 27; j++) want[j] = dt == I32 ? -3 : stored(dt, -3.3f);
            TRY(r, clf_tensor_fill(r->ctx, &T.v, dt == I32 ? -3.0f : -3.3f));
            if (pv_expect(r, &T, want, 1e-10, "fill")) return 1;
        }
    }
    return 0;
}

/* clf_context_selftest: smoke_axpy over 100003 elements. */
static int case_selftest(run *r)
{
    double err = 0;
    TRY(r, clf_context_selftest(r->ctx, &err));
    return 0;
}

/* ================================ driver ============================== */

typedef struct ocase {
    const char *name;
    int (*fn)(run *);
    const char *cpu, *gpu; /* the kernels it must launch in each family, space-separated */
    int gemv8;             /* runs on the context with CLFORMER_GEMV_MAX_M=8 */
} ocase;

#define EW_ALL "ew_unary_rows ew_unary"
static const ocase CASES[] = {
    {"gemm/nt", case_gemm_nt, "clf_gemm_reg", "clf_gemm_tiled", 0},
    {"gemm/nn", case_gemm_nn, "clf_gemm_reg", "clf_gemm_tiled", 0},
    {"gemm/gemv", case_gemv, "clf_gemv", "clf_gemv", 1},
    {"attn/flash", case_attn_flash, "attn_flash_cpu", "attn_flash", 0},
    {"attn/decode", case_attn_decode, "attn_decode_partial attn_decode_combine",
     "attn_decode_partial attn_decode_combine", 0},
    {"attn/unfused", case_attn_unfused, "clf_gemm_reg attn_mask_keys softmax_rows_vec",
     "clf_gemv attn_mask_keys softmax_rows", 0},
    {"softmax/rows", case_softmax_rows, "softmax_rows", "softmax_rows", 0},
    {"softmax/vec", case_softmax_vec, "softmax_rows_vec", "softmax_rows", 0},
    {"norm/rows", case_norm_rows, "norm_rows", "norm_rows", 0},
    {"norm/vec", case_norm_vec, "norm_rows_vec", "norm_rows", 0},
    {"ew/unary", case_ew_unary, EW_ALL, EW_ALL, 0},
    {"ew/add", case_ew_add, "ew_add_rows ew_add", "ew_add_rows ew_add", 0},
    {"embed", case_embed,
     "embedding_vec embedding positional_encoding_vec positional_encoding",
     "embedding_vec embedding positional_encoding_vec positional_encoding", 0},
    {"topk/vec", case_topk_vec, "argmax_rows_vec topk_rows_vec", "argmax_rows topk_rows", 0},
    {"topk/rows", case_topk_rows, "argmax_rows topk_rows", "argmax_rows topk_rows", 0},
    {"copy", case_copy,
     "copy_rows_b32 copy_rows_b16 copy_rows_f32_f16 copy_rows_f16_f32 copy_b32 copy_b16 "
     "copy_f32_f16 copy_f16_f32",
     "copy_rows_b32 copy_rows_b16 copy_rows_f32_f16 copy_rows_f16_f32 copy_b32 copy_b16 "
     "copy_f32_f16 copy_f16_f32", 0},
    {"tensor/fill", case_fill,
     "fill_f32 fill_f16 fill_i32 fill_uniform_f32_dense fill_uniform_f16_dense fill_uniform_f32 "
     "fill_uniform_f16",
     "fill_f32 fill_f16 fill_i32 fill_uniform_f32_dense fill_uniform_f16_dense fill_uniform_f32 "
     "fill_uniform_f16", 0},
    {"selftest", case_selftest, "", "", 0},
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

/* The kernels run since the last call, each once in order of first launch,
 * into names, with how many times each ran into counts. */
static int launched(run *r, const char **names, int *counts, int cap)
{
    static clf_profile_record rec[4096];
    size_t n = 0;
    int count = 0;
    if (clf_context_profile(r->ctx, rec, 4096, &n) != CLF_OK) return -1;
    for (size_t i = 0; i < n; i++) {
        int j = 0;
        while (j < count && strcmp(names[j], rec[i].kernel) != 0) j++;
        if (j == count && count < cap) names[count] = rec[i].kernel, counts[count++] = 0;
        if (j < count) counts[j]++;
    }
    return count;
}

/* Whether the set of names equals the space-separated list want. */
static int same_set(const char **names, int n, const char *want)
{
    int listed = 0;
    for (const char *p = want; *p;) {
        size_t len = strcspn(p, " ");
        int found = 0;
        for (int i = 0; i < n && !found; i++) found = strlen(names[i]) == len && !strncmp(names[i], p, len);
        if (!found) return 0;
        listed++;
        p += len;
        p += strspn(p, " ");
    }
    return listed == n;
}

static int selected(const char *name, int argc, char **argv)
{
    int any = 0, hit = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--exclude") == 0) {
            if (strstr(name, argv[++i])) return 0;
        } else if (argv[i][0] == '=') {
            any = 1;
            hit = hit || strcmp(name, argv[i] + 1) == 0;
        } else if (argv[i][0] != '-') {
            any = 1;
            hit = hit || strstr(name, argv[i]) != NULL;
        }
    }
    return !any || hit;
}

static clf_context *open_context(int gemv8)
{
    if (gemv8) setenv("CLFORMER_GEMV_MAX_M", "8", 1);
    else unsetenv("CLFORMER_GEMV_MAX_M");
    clf_context_params p = clf_context_params_default();
    p.profiling = true; /* the kernel names of each case */
    clf_context *ctx = NULL;
    clf_status st = clf_context_create(&p, &ctx);
    if (st != CLF_OK) {
        fprintf(stderr, "oclgrind_ops: clf_context_create: %s: %s\n", clf_status_name(st),
                clf_context_last_error(NULL));
        return NULL;
    }
    return ctx;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (size_t c = 0; c < N_CASES; c++) printf("%s\n", CASES[c].name);
            return 0;
        }
        if (strcmp(argv[i], "--exclude") == 0 && i + 1 == argc) {
            fprintf(stderr, "usage: oclgrind_ops [--list] [--exclude SUB]... [SUB | =NAME]...\n");
            return 2;
        }
        if (strcmp(argv[i], "--exclude") == 0) i++;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "oclgrind_ops: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    setenv("CLFORMER_GEMM", "builtin", 1);
    uint64_t seed = clft_seed();
    clf_context *ctx[2] = {open_context(0), NULL};
    if (!ctx[0]) return 2;
    const clf_kernel_profile *prof = clf_context_kernel_profile(ctx[0]);
    const int cpu = prof->family == CLF_KERNELS_CPU;
    const char *fam = clf_kernel_family_name(prof->family);
    printf("oclgrind_ops: device \"%s\" (%s), kernel family %s (%s)%s\n",
           clf_context_device(ctx[0])->name,
           clf_device_class_name(clf_context_device(ctx[0])->device_class), fam,
           prof->family_reason, prof->limits_simulated ? ", limits simulated" : "");
    int passed = 0, failed = 0;
    for (size_t c = 0; c < N_CASES; c++) {
        const ocase *oc = &CASES[c];
        if (!selected(oc->name, argc, argv)) continue;
        if (oc->gemv8 && !ctx[1] && !(ctx[1] = open_context(1))) return 2;
        run r;
        memset(&r, 0, sizeof r);
        r.ctx = ctx[oc->gemv8];
        r.rng = clft_rng_make(seed, c + 1);
        r.cpu = cpu;
        double t0 = now();
        int bad = oc->fn(&r);
        const char *names[MAX_KERNELS];
        int counts[MAX_KERNELS];
        int nk = launched(&r, names, counts, MAX_KERNELS);
        const char *want = cpu ? oc->cpu : oc->gpu;
        if (!bad && (nk < 0 || !same_set(names, nk, want)))
            bad = failf(&r, "the kernels launched are not the %s family's: expected {%s}", fam, want);
        printf("%s %-14s %5.1f s  nmse/bound %.1e  [", bad ? "FAIL" : "ok  ", oc->name, now() - t0,
               r.worst);
        for (int i = 0; i < nk; i++) printf("%s%s x%d", i ? " " : "", names[i], counts[i]);
        printf("]\n");
        if (bad) printf("     %s (seed %llu)\n", r.why, (unsigned long long)seed);
        fflush(stdout);
        for (int i = 0; i < r.n_mem; i++) free(r.mem[i]);
        passed += !bad;
        failed += bad;
    }
    for (int i = 0; i < n_kept; i++) clf_tensor_free(&kept[i]);
    clf_context_free(ctx[0]);
    clf_context_free(ctx[1]);
    printf("oclgrind_ops: family %s: %d passed, %d failed (seed %llu)\n", fam, passed, failed,
           (unsigned long long)seed);
    return failed ? 1 : 0;
}
