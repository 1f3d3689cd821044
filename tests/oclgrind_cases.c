/*
 * The cases of tests/oclgrind_ops, op by op: small shapes that still cross
 * every tile, chunk and work-group edge of both kernel families, each output
 * checked against the float64 reference of tests/ref/ with TESTING.md's
 * bounds (f16 storage: 1e-3).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oclgrind_ops.h"
#include "ref/ref_attention.h"
#include "ref/ref_copy.h"
#include "ref/ref_elementwise.h"
#include "ref/ref_embed.h"
#include "ref/ref_gemm.h"
#include "ref/ref_norm.h"
#include "ref/ref_softmax.h"
#include "ref/ref_topk.h"

/* ================================ GEMM ================================ */

typedef struct gcase {
    int64_t batch, m, n, k;
    int ta, tb;
    clf_dtype da, db, dc, dbias;
    float alpha, beta;
    int bias;
    clf_act act;
    int b_shared;
    int packed; /* B through clf_gemm_pack_b (2-D, tb) */
} gcase;

static int gemm_one(og_run *r, const void *arg)
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
    og_view A, B, C, bias = {0};
    if (og_pv_make(r, &A, g->da, nd, as, NULL, 3, 5) ||
        og_pv_make(r, &B, g->db, bnd, bs, NULL, 1, 2) ||
        og_pv_make(r, &C, g->dc, nd, cs, NULL, 7, 3))
        return 1;
    float *ha = og_pv_random(r, &A, -1, 1), *hb = og_pv_random(r, &B, -1, 1), *hc = NULL,
          *hbias = NULL;
    if (!ha || !hb) return 1;
    if (g->beta != 0) {
        if (!(hc = og_pv_random(r, &C, -1, 1))) return 1;
    } else if (og_pv_poison(r, &C)) { /* beta 0: C must not be read */
        return 1;
    }
    if (g->bias) {
        if (og_pv_make(r, &bias, g->dbias, 1, &g->n, NULL, 5, 0) ||
            !(hbias = og_pv_random(r, &bias, -1, 1)))
            return 1;
    }
    int64_t total = g->batch * g->m * g->n;
    double *want = HOST(r, double, total);
    ref_gemm(g->batch, g->m, g->n, g->k, g->ta, g->tb, g->alpha == 0 ? 1.0 : g->alpha, ha, g->batch,
             hb, g->b_shared ? 1 : g->batch, g->beta, hc, hbias, g->act, want);
    clf_gemm_params p = clf_gemm_params_default();
    p.trans_a = g->ta, p.trans_b = g->tb, p.alpha = g->alpha, p.beta = g->beta, p.act = g->act;
    p.bias = g->bias ? &bias.v : NULL;
    p.provider = CLF_GEMM_BUILTIN;
    clf_tensor packed = {0};
    if (g->packed) TRY(r, clf_gemm_pack_b(r->ctx, &B.v, &packed));
    clf_status st = clf_gemm(r->ctx, &A.v, g->packed ? &packed : &B.v, &C.v, &p);
    clf_tensor_free(&packed);
    TRY(r, st);
    /* f32 accumulation: NMSE ~ K 2^-48; f16 C adds its rounding (test_gemm.c). Half
     * arithmetic (CLFORMER_HALF_MATH, f16 B only, where the device reports cl_khr_fp16:
     * Oclgrind 21.10 does not, so CI has no half run here): test_gemm.c's bound, <= 8.7e-6. */
    bool half = clf_context_kernel_profile(r->ctx)->half_math && g->db == CLF_F16;
    return og_pv_expect(r, &C, want, half || g->dc == CLF_F16 ? 1e-5 : 1e-8, what);
}

/* The tiled kernel's tiles are 64 x 64 x 16 (32 x 64 x 8 on small devices);
 * the CPU kernel's register blocks 3-6 x 4-16 and KC = 128 rows of packed B
 * (trans_b = 0). M, N, K below cross each of those edges. */
int case_gemm_nt(og_run *r)
{
    static const gcase t[] = {
        /* batch m n k ta tb da db dc dbias alpha beta bias act shared */
        {1, 67, 66, 35, 0, 1, F32, F32, F32, F32, 0, 0, 1, CLF_ACT_GELU, 0, 0},
        {3, 11, 9, 17, 0, 1, F32, F16, F32, F16, 0, 0, 1, CLF_ACT_SILU, 1, 0},
    };
    return EACH(r, gemm_one, t);
}

/* Packed weights (clf_gemm_pack_b): panels of 4 or 6 rows, K-steps of 8 or
 * 16; N and K below leave a partial panel and a partial K-step (the masked
 * A tail), and the pack kernel's zero padding is read. */
int case_gemm_packed(og_run *r)
{
    static const gcase t[] = {
        {1, 9, 13, 37, 0, 1, F32, F32, F32, F32, 0, 0, 1, CLF_ACT_GELU, 0, 1},
        {2, 5, 7, 19, 1, 1, F32, F16, F16, F32, -1.5f, 0, 0, CLF_ACT_NONE, 1, 1},
    };
    return EACH(r, gemm_one, t);
}

int case_gemm_nn(og_run *r)
{
    static const gcase t[] = {
        {1, 13, 37, 133, 0, 0, F32, F16, F32, F32, 0, 0.5f, 1, CLF_ACT_RELU, 0, 0},
        {2, 9, 5, 7, 1, 0, F16, F32, F16, F16, -1.5f, 0, 1, CLF_ACT_GELU_TANH, 0, 0},
    };
    return EACH(r, gemm_one, t);
}

/* M from 1 to 8 (the GEMV holds M rounded up to 1, 2, 4 or 8 rows), both
 * weight layouts, f16 weights, every epilogue; K crosses the GPU form's
 * 32-way split of 4-vectors and the CPU form's 16-vectors. */
int case_gemv(og_run *r)
{
    static const gcase t[] = {
        {1, 1, 45, 67, 0, 1, F32, F16, F32, F32, 0, 0, 1, CLF_ACT_GELU, 0, 0},
        {1, 2, 13, 130, 1, 1, F32, F32, F32, F32, 0, 0, 0, CLF_ACT_NONE, 0, 0},
        {1, 3, 70, 9, 0, 0, F32, F16, F32, F16, 0, 0, 1, CLF_ACT_TANH, 0, 0},
        {1, 4, 9, 33, 0, 1, F16, F16, F16, F32, 0, 0.5f, 1, CLF_ACT_SILU, 0, 0},
        {2, 5, 11, 29, 0, 0, F32, F32, F32, F32, 2, 0, 0, CLF_ACT_RELU, 0, 0},
        {1, 6, 17, 140, 0, 1, F32, F16, F32, F32, 0, 0, 1, CLF_ACT_GELU_TANH, 0, 0},
        {1, 7, 66, 12, 1, 0, F32, F32, F32, F32, 0, 0, 1, CLF_ACT_NONE, 0, 0},
        {3, 8, 5, 21, 1, 1, F32, F16, F32, F32, 0, 0, 1, CLF_ACT_GELU, 1, 0},
    };
    return EACH(r, gemm_one, t);
}

/* Q8 and Q4 weights (kernels/gemm_common.cl CLF_B_Q8, CLF_B_Q4): rows [1, 1 + N)
 * of a quantised tensor, so codes and scales start past row 0; M 1 and 5
 * take the GEMV, 67 the family's GEMM; K crosses every vector width (and, for
 * Q4, group edges: 33, 67, 130 leave a short last group); Q8 packed too
 * (clf_gemm_pack_b, gemm_common.cl CLF_B_ILV). Reference: the dequantised weights
 * (exact in float64), bound as for f32 B. */
typedef struct qcase {
    int64_t m, n, k;
    clf_dtype da;
    int bias;
    clf_act act;
    clf_dtype wdt; /* CLF_Q8 or CLF_Q4 */
    int packed;    /* Q8: the slice packed (rows interleaved) and the plain tensor freed */
    int norm;      /* M 1, f32 A: A is a LayerNorm of x + a residual (clf_gemm_params.norm),
                    * with beta and the sum, folded into the walking GEMV in the CPU family */
} qcase;

static int quant_one(og_run *r, const void *arg)
{
    const qcase *g = arg;
    char what[160];
    snprintf(what, sizeof what, "gemm %s M%lld N%lld K%lld A %s act %d%s%s",
             clf_dtype_name(g->wdt), (long long)g->m, (long long)g->n, (long long)g->k,
             clf_dtype_name(g->da), (int)g->act, g->packed ? " packed" : "",
             g->norm ? " norm" : "");
    int64_t rows = g->n + 2, as[2] = {g->m, g->k}, cs[2] = {g->m, g->n};
    og_view A, C, bias = {0};
    if (og_pv_make(r, &A, g->da, 2, as, NULL, 3, 5) || og_pv_make(r, &C, F32, 2, cs, NULL, 7, 3))
        return 1;
    float *ha = og_pv_random(r, &A, -1, 1), *hbias = NULL;
    float *w = HOST(r, float, rows * g->k), *wdq = HOST(r, float, rows * g->k);
    if (!ha || !w || !wdq || og_pv_poison(r, &C)) return 1;
    if (g->bias && (og_pv_make(r, &bias, F32, 1, &g->n, NULL, 5, 0) ||
                    !(hbias = og_pv_random(r, &bias, -1, 1))))
        return 1;
    clft_fill_uniform(&r->rng, w, (size_t)(rows * g->k), -1, 1);
    clf_tensor wq, wv;
    TRY(r, clf_tensor_create(r->ctx, g->wdt, 2, (int64_t[]){rows, g->k}, &wq));
    clf_status st = clf_tensor_write_f32(r->ctx, &wq, w, rows * g->k);
    if (st == CLF_OK) st = clf_tensor_read_f32(r->ctx, &wq, wdq, rows * g->k);
    if (st == CLF_OK) st = clf_tensor_slice(&wq, 0, 1, g->n, &wv);
    clf_tensor pk = {0};
    if (st == CLF_OK && g->packed && (st = clf_gemm_pack_b(r->ctx, &wv, &pk)) == CLF_OK) {
        clf_tensor_free(&wq);
        wv = pk;
    }
    clf_gemm_params p = clf_gemm_params_default();
    og_view R, GM, BT, S, Y;
    double *ssum = NULL;
    clf_gemm_norm gn;
    if (g->norm) { /* A's values become x; the product takes y = LayerNorm(x + res) */
        if (og_pv_make(r, &R, F32, 2, as, NULL, 2, 1) || og_pv_make(r, &S, F32, 2, as, NULL, 1, 3) ||
            og_pv_make(r, &Y, F32, 2, as, NULL, 0, 0) ||
            og_pv_make(r, &GM, F32, 1, &g->k, NULL, 4, 0) ||
            og_pv_make(r, &BT, F32, 1, &g->k, NULL, 1, 0) || og_pv_poison(r, &S))
            return 1;
        float *hr = og_pv_random(r, &R, -1, 1), *hg = og_pv_random(r, &GM, 0.5f, 1.5f),
              *hb = og_pv_random(r, &BT, -0.2f, 0.2f), *yf = HOST(r, float, g->k);
        double *y = HOST(r, double, g->k);
        ssum = HOST(r, double, g->k);
        if (!hr || !hg || !hb || !yf || !y || !ssum) return 1;
        clft_ref_norm(0, ha, hr, hg, hb, 1, g->k, 1e-5, y, ssum);
        for (int64_t i = 0; i < g->k; i++) yf[i] = (float)y[i];
        ha = yf;
        gn = (clf_gemm_norm){{CLF_NORM_LAYER, 0.0f, &R.v, &S.v}, &GM.v, &BT.v, &Y.v};
        p.norm = &gn;
    }
    double *want = HOST(r, double, g->m * g->n);
    ref_gemm(1, g->m, g->n, g->k, 0, 1, 1.0, ha, 1, wdq + g->k, 1, 0, NULL, hbias, g->act, want);
    p.trans_b = true, p.act = g->act, p.bias = g->bias ? &bias.v : NULL;
    p.provider = CLF_GEMM_BUILTIN;
    if (st == CLF_OK) st = clf_gemm(r->ctx, &A.v, &wv, &C.v, &p);
    if (st == CLF_OK) st = clf_context_finish(r->ctx);
    clf_tensor_free(&wq);
    clf_tensor_free(&pk);
    TRY(r, st);
    if (g->wdt == CLF_Q4) { /* the int8 x Q4 forms (clf_gemv, clf_gemm_i16), or an f32 form */
        int64_t mn = g->m * g->n;
        float *a8 = HOST(r, float, g->m * g->k), *got = HOST(r, float, mn);
        double *want8 = HOST(r, double, mn);
        if (!a8 || !got || !want8) return 1;
        for (int64_t i = 0; i < g->m; i++) ref_q4_int8_row(ha + i * g->k, g->k, a8 + i * g->k);
        ref_gemm(1, g->m, g->n, g->k, 0, 1, 1.0, a8, 1, wdq + g->k, 1, 0, NULL, hbias, g->act,
                 want8);
        if (og_pv_get(r, &C, got, what)) return 1;
        if (clft_nmse(got, want8, (size_t)mn) < clft_nmse(got, want, (size_t)mn)) want = want8;
    }
    if (g->norm) { /* the sum, exactly; y's f32 rounding may move an int8 code a step */
        float *sg = HOST(r, float, g->k);
        if (!sg || og_pv_get(r, &S, sg, what)) return 1;
        for (int64_t i = 0; i < g->k; i++)
            if (sg[i] != (float)ssum[i]) {
                fprintf(stderr, "%s: sum element %lld: %g, want %g\n", what, (long long)i, sg[i],
                        ssum[i]);
                return 1;
            }
    }
    return og_pv_expect(r, &C, want, g->norm ? 1e-6 : 1e-8, what);
}

int case_gemm_q8(og_run *r)
{
    static const qcase t[] = {
        {1, 45, 67, F32, 1, CLF_ACT_GELU, CLF_Q8, 0, 0},
        {5, 13, 130, F16, 0, CLF_ACT_NONE, CLF_Q8, 0, 0},
        {67, 66, 35, F32, 1, CLF_ACT_SILU, CLF_Q8, 0, 0},
        {1, 45, 67, F32, 1, CLF_ACT_GELU, CLF_Q8, 1, 0},
        {13, 14, 35, F32, 0, CLF_ACT_NONE, CLF_Q8, 1, 0},
    };
    return EACH(r, quant_one, t);
}

/* The integer forms, on the context with CLFORMER_GEMV_I16=2 (portable products): M 1
 * takes clf_gemv's (the CPU family's: int16 x Q8 interleaved, int8 x Q4 with K past the last
 * pair of groups; the GPU family's split-K GEMV has none), M 18 and 19 clf_gemm_i16's (Q8
 * interleaved and plain, Q4), in row blocks of as many rows as the device's local memory
 * holds (3 at Oclgrind's 32 KiB, 1 at 16 KiB), so the quantisation into local memory and
 * its barrier run in every group; K with a tail past the last 16 (Q8) or pair of groups
 * (Q4). */
int case_gemm_i16(og_run *r)
{
    static const qcase t[] = {
        {1, 45, 67, F32, 1, CLF_ACT_GELU, CLF_Q8, 1, 0},
        {19, 14, 35, F16, 0, CLF_ACT_NONE, CLF_Q8, 1, 0},
        {18, 9, 50, F32, 1, CLF_ACT_RELU, CLF_Q8, 0, 0},
        {1, 45, 131, F32, 1, CLF_ACT_GELU, CLF_Q4, 0, 0},
        {1, 150, 131, F32, 1, CLF_ACT_GELU, CLF_Q4, 0, 0}, /* the walking GEMV: 2 groups */
        {19, 13, 130, F32, 1, CLF_ACT_SILU, CLF_Q4, 0, 0},
        {1, 150, 131, F32, 1, CLF_ACT_GELU, CLF_Q4, 0, 1}, /* a norm folded in */
        {1, 45, 67, F32, 0, CLF_ACT_NONE, CLF_Q8, 1, 1},
    };
    return EACH(r, quant_one, t);
}

int case_gemm_q4(og_run *r)
{
    static const qcase t[] = {
        {1, 45, 67, F32, 1, CLF_ACT_GELU, CLF_Q4, 0, 0},
        {1, 150, 67, F32, 1, CLF_ACT_GELU, CLF_Q4, 0, 0}, /* the walking GEMV: 2 groups */
        {5, 13, 130, F16, 0, CLF_ACT_NONE, CLF_Q4, 0, 0},
        {67, 66, 33, F32, 1, CLF_ACT_SILU, CLF_Q4, 0, 0},
        {1, 150, 67, F32, 1, CLF_ACT_GELU, CLF_Q4, 0, 1}, /* a norm folded in */
    };
    return EACH(r, quant_one, t);
}

/* ============================= attention ============================== */

typedef struct acase {
    int64_t b, lq, lk, h, d;
    int causal, pad, indirect;
    clf_dtype dt;
    clf_attn_impl impl;
    int append; /* q_len 1: the last key and value are k_new, v_new, appended by the call */
} acase;

static int attention_one(og_run *r, const void *arg)
{
    const acase *c = arg;
    char what[160];
    snprintf(what, sizeof what, "attention B%lld Lq%lld Lk%lld H%lld D%lld %s causal %d pad %d%s%s",
             (long long)c->b, (long long)c->lq, (long long)c->lk, (long long)c->h, (long long)c->d,
             clf_dtype_name(c->dt), c->causal, c->pad, c->indirect ? " cache_rows" : "",
             c->append ? " append" : "");
    int64_t qs[4] = {c->b, c->lq, c->h, c->d}, ks[4] = {c->b, c->lk, c->h, c->d};
    og_view Q, K, V, O, KL = {0}, RW = {0};
    if (og_pv_make(r, &Q, c->dt, 4, qs, NULL, 3, 4) ||
        og_pv_make(r, &K, c->dt, 4, ks, NULL, 1, 8) ||
        og_pv_make(r, &V, c->dt, 4, ks, NULL, 5, 4) || og_pv_make(r, &O, c->dt, 4, qs, NULL, 2, 4))
        return 1;
    float *q = og_pv_random(r, &Q, -1, 1), *k = og_pv_random(r, &K, -1, 1),
          *v = og_pv_random(r, &V, -1, 1);
    if (!q || !k || !v || og_pv_poison(r, &O)) return 1;
    clf_attention_params p = {.causal = c->causal, .impl = c->impl};
    int32_t *lens = NULL;
    if (c->pad) {
        /* (B): mixed lengths, one 0 (no visible key) when B > 2. */
        float *fl = HOST(r, float, c->b);
        lens = HOST(r, int32_t, c->b);
        for (int64_t b = 0; b < c->b; b++)
            fl[b] = (float)(b == 0   ? c->lk
                            : b == 2 ? 0
                                     : 1 + (int64_t)(clft_next(&r->rng) % (uint64_t)c->lk));
        /* key_lens must be a whole tensor (no offset). */
        if (og_pv_make(r, &KL, I32, 1, &c->b, NULL, 0, 0) || og_pv_set(r, &KL, fl)) return 1;
        for (int64_t b = 0; b < c->b; b++)
            lens[b] = (int32_t)fl[b];
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
        if (og_pv_make(r, &RW, I32, 2, rs, NULL, 3, 2) || og_pv_set(r, &RW, rows)) return 1;
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
    og_view KN, VN;
    float *kn = NULL, *vn = NULL;
    const int64_t row = c->h * c->d, pos = c->lk - 1;
    if (c->append) {
        /* (B, 1, H, D) each; the reference reads them at key pos of every entry, whose old
         * rows are NaN (the call must write them) */
        int64_t ns[4] = {c->b, 1, c->h, c->d};
        if (og_pv_make(r, &KN, c->dt, 4, ns, NULL, 2, 4) ||
            og_pv_make(r, &VN, c->dt, 4, ns, NULL, 6, 0))
            return 1;
        kn = og_pv_random(r, &KN, -1, 1), vn = og_pv_random(r, &VN, -1, 1);
        if (!kn || !vn) return 1;
        float *k2 = HOST(r, float, nk), *v2 = HOST(r, float, nk);
        memcpy(k2, k, (size_t)nk * 4);
        memcpy(v2, v, (size_t)nk * 4);
        for (int64_t b = 0; b < c->b; b++)
            for (int64_t e = 0; e < row; e++) {
                k2[(b * c->lk + pos) * row + e] = NAN;
                v2[(b * c->lk + pos) * row + e] = NAN;
            }
        if (og_pv_set(r, &K, k2) || og_pv_set(r, &V, v2)) return 1;
        for (int64_t b = 0; b < c->b; b++) {
            memcpy(&k2[(b * c->lk + pos) * row], &kn[b * row], (size_t)row * 4);
            memcpy(&v2[(b * c->lk + pos) * row], &vn[b * row], (size_t)row * 4);
        }
        k = k2, v = v2;
        p.k_new = &KN.v, p.v_new = &VN.v, p.append_pos = pos;
    }
    int64_t no = c->b * c->lq * c->h * c->d;
    double *want = HOST(r, double, no);
    clft_ref_attention(c->b, c->lq, c->lk, c->h, c->d, q, k, v, 1.0 / sqrt((double)c->d), c->causal,
                       lens, want, NULL);
    TRY(r, clf_attention(r->ctx, &Q.v, &K.v, &V.v, &O.v, &p));
    if (c->append) { /* the caches, new rows included, hold the reference's keys and values */
        float *kb = HOST(r, float, nk), *vb = HOST(r, float, nk);
        if (og_pv_get(r, &K, kb, what) || og_pv_get(r, &V, vb, what)) return 1;
        for (int64_t i = 0; i < nk; i++)
            if (kb[i] != k[i] || vb[i] != v[i]) {
                fprintf(stderr, "%s: cache element %lld: key %g (want %g), value %g (want %g)\n",
                        what, (long long)i, kb[i], k[i], vb[i], v[i]);
                return 1;
            }
    }
    return og_pv_expect(r, &O, want, c->dt == F16 ? 1e-3 : 5e-6, what);
}

/* Flash: query blocks of 64 (GPU) / 4-row groups (CPU), key tiles of 32 and
 * key chunks; self-attention causal with padding (a batch entry with no key),
 * cross-attention both ways (Lq < Lk causal, Lq > Lk), f16 storage. */
int case_attn_flash(og_run *r)
{
    static const acase t[] = {
        /* b lq lk h d causal pad indirect dtype impl */
        {3, 67, 67, 2, 32, 1, 1, 0, F32, CLF_ATTN_FUSED, 0},
        {1, 9, 41, 3, 32, 1, 0, 0, F16, CLF_ATTN_FUSED, 0},
        {2, 37, 13, 1, 40, 0, 1, 0, F32, CLF_ATTN_FUSED, 0},
    };
    return EACH(r, attention_one, t);
}

/* Split-key decode: one row of 601 keys split across work-groups (uneven
 * splits: how many follows the compute units), a batch with a padding mask
 * (one entry sees no key), then the cache-row table (indirect rows, clamped
 * entries) with causal q_len 2 in f16. The CPU family runs the last four (rows
 * enough for its compute units) through attn_decode_rows, a work-item per
 * row; the two appends (k_new, v_new, the old rows NaN) fold into it there,
 * and run as clf_kv_append before the split pair in the GPU family. */
int case_attn_decode(og_run *r)
{
    static const acase t[] = {
        {1, 1, 601, 1, 32, 0, 0, 0, F32, CLF_ATTN_AUTO, 0},
        {3, 1, 300, 1, 32, 0, 1, 0, F32, CLF_ATTN_DECODE, 0},
        {3, 2, 45, 2, 32, 1, 0, 1, F16, CLF_ATTN_AUTO, 0},
        {3, 1, 19, 2, 32, 1, 1, 0, F16, CLF_ATTN_AUTO, 1}, /* the append folded in (CPU) */
        {2, 1, 7, 3, 40, 0, 0, 0, F32, CLF_ATTN_DECODE, 1},
    };
    return EACH(r, attention_one, t);
}

/* The reference path: scores by GEMM, attn_mask_keys, softmax, GEMM. */
int case_attn_unfused(og_run *r)
{
    static const acase t[] = {{3, 5, 11, 2, 32, 1, 1, 0, F32, CLF_ATTN_UNFUSED, 0}};
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

static int softmax_one(og_run *r, const void *arg)
{
    const scase *c = arg;
    char what[128];
    snprintf(what, sizeof what, "softmax cols %lld %s->%s mask %d causal %d log %d",
             (long long)c->shape[c->ndim - 1], clf_dtype_name(c->dx), clf_dtype_name(c->dy),
             c->mask, c->causal, c->log);
    static const int t1[4] = {0, 1, 3, 2}, t2[3] = {0, 2, 1}; /* innermost stride != 1 */
    const int *perm = c->inner2 ? (c->ndim == 4 ? t1 : t2) : NULL;
    og_view X, Y, M = {0};
    if (og_pv_make(r, &X, c->dx, c->ndim, c->shape, perm, 3, 1) ||
        og_pv_make(r, &Y, c->dy, c->ndim, c->shape, NULL, 1, 3))
        return 1;
    float *x = og_pv_random(r, &X, -4, 4), *m = NULL;
    if (!x || og_pv_poison(r, &Y)) return 1;
    int64_t ms[2] = {c->shape[c->ndim - 2], c->shape[c->ndim - 1]};
    if (c->mask) {
        if (og_pv_make(r, &M, c->dx, 2, ms, NULL, 1, 1)) return 1;
        m = HOST(r, float, ms[0] * ms[1]);
        for (int64_t i = 0; i < ms[0] * ms[1]; i++)
            m[i] =
                i < ms[1] || clft_next(&r->rng) % 5 == 0 ? -INFINITY : clft_uniform(&r->rng, -2, 2);
        if (og_pv_set(r, &M, m)) return 1; /* row 0 fully masked: zeros (log: -inf) */
    }
    int64_t n = clf_tensor_numel(&X.v);
    double *want = HOST(r, double, n);
    clft_ref_softmax(c->ndim, c->shape, x, c->scale == 0 ? 1.0 : c->scale, c->mask ? 2 : 0, ms, m,
                     c->causal, c->log, want);
    clf_softmax_params p = {
        .scale = c->scale, .mask = c->mask ? &M.v : NULL, .causal = c->causal, .log = c->log};
    TRY(r, clf_softmax(r->ctx, &X.v, &Y.v, &p));
    return og_pv_expect(r, &Y, want, c->dx == F16 || c->dy == F16 ? 1e-3 : 1e-7, what);
}

/* Row lengths cross the work-group sizes (CPU 16..128, GPU 32..256). */
int case_softmax_rows(og_run *r)
{
    static const scase t[] = {
        {4, {2, 2, 5, 37}, 1, F32, F16, 1, 0, 0, 0.5f},
        {3, {1, 3, 300}, 1, F16, F32, 0, 1, 1, 0},
    };
    return EACH(r, softmax_one, t);
}

/* Contiguous rows: the row-vector kernel on the CPU family. */
int case_softmax_vec(og_run *r)
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

static int norm_one(og_run *r, const void *arg)
{
    const ncase *c = arg;
    char what[128];
    snprintf(what, sizeof what, "norm %s rows %lld D %lld res %d beta %d sum %d",
             c->rms ? "rms" : "layer", (long long)c->rows, (long long)c->d, c->residual, c->beta,
             c->sum_out);
    static const int tr[2] = {1, 0};
    const int *perm = c->inner2 ? tr : NULL;
    int64_t shape[2] = {c->rows, c->d};
    og_view X, R = {0}, G, Bt = {0}, Y, S = {0};
    if (og_pv_make(r, &X, c->dx, 2, shape, perm, 2, 3) ||
        og_pv_make(r, &G, c->dg, 1, &c->d, NULL, 1, 0) ||
        og_pv_make(r, &Y, c->dy, 2, shape, NULL, 3, 1))
        return 1;
    float *x = og_pv_random(r, &X, -2, 2), *g = og_pv_random(r, &G, 0.5f, 1.5f), *res = NULL,
          *b = NULL;
    if (!x || !g || og_pv_poison(r, &Y)) return 1;
    if (c->residual &&
        (og_pv_make(r, &R, c->dr, 2, shape, NULL, 1, 1) || !(res = og_pv_random(r, &R, -1, 1))))
        return 1;
    if (c->beta &&
        (og_pv_make(r, &Bt, c->dg, 1, &c->d, NULL, 2, 0) || !(b = og_pv_random(r, &Bt, -1, 1))))
        return 1;
    if (c->sum_out && (og_pv_make(r, &S, c->dr, 2, shape, perm, 1, 2) || og_pv_poison(r, &S)))
        return 1;
    int64_t n = c->rows * c->d;
    double *want = HOST(r, double, n), *sum = HOST(r, double, n);
    clft_ref_norm(c->rms, x, res, g, b, c->rows, c->d, 1e-5, want, sum);
    clf_norm_params p = {.type = c->rms ? CLF_NORM_RMS : CLF_NORM_LAYER,
                         .residual = c->residual ? &R.v : NULL,
                         .sum_out = c->sum_out ? &S.v : NULL};
    TRY(r, clf_norm(r->ctx, &X.v, &G.v, c->beta ? &Bt.v : NULL, &Y.v, &p));
    int half = c->dx == F16 || c->dr == F16 || c->dg == F16 || c->dy == F16;
    if (og_pv_expect(r, &Y, want, half ? 1e-3 : 1e-7, what)) return 1;
    return c->sum_out ? og_pv_expect(r, &S, sum, c->dr == F16 ? 1e-3 : 1e-10, "norm sum_out") : 0;
}

/* Strided rows: the work-group kernel (D crosses 128 and 256). */
int case_norm_rows(og_run *r)
{
    static const ncase t[] = {
        {0, 1, 1, 1, 1, 3, 300, F32, F16, F32, F32},
        {1, 1, 0, 0, 1, 5, 37, F16, F32, F16, F16},
        {0, 0, 0, 1, 1, 4, 129, F32, F32, F32, F16},
    };
    return EACH(r, norm_one, t);
}

/* Contiguous rows: the row-vector kernel on the CPU family. */
int case_norm_vec(og_run *r)
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
int case_ew_unary(og_run *r)
{
    int64_t shape[3] = {2, 3, 37};
    static const int tr[3] = {0, 2, 1};
    for (int i = 0; i < 8; i++) {
        int op = i < 6 ? i : -1; /* -1: clf_scale */
        int strided = i == 5 || i == 7;
        clf_dtype dx = i % 2 ? F16 : F32, dy = i % 3 ? F32 : F16;
        og_view X, Y;
        if (og_pv_make(r, &X, dx, 3, shape, strided ? tr : NULL, 3, strided ? 0 : 1) ||
            og_pv_make(r, &Y, dy, 3, shape, NULL, 5, 1))
            return 1;
        float *x = og_pv_random(r, &X, -3, 3);
        if (!x || og_pv_poison(r, &Y)) return 1;
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
        if (og_pv_expect(r, &Y, want, dx == F16 || dy == F16 ? 1e-3 : 1e-7, what)) return 1;
    }
    return 0;
}

/* Residual and bias adds (rows kernel), broadcast over a transposed view
 * (strided kernel), f16 at odd offsets. */
int case_ew_add(og_run *r)
{
    static const int tr[3] = {0, 2, 1};
    int64_t shape[3] = {2, 5, 21}, bshape[2][2] = {{1, 21}, {5, 1}};
    for (int i = 0; i < 4; i++) {
        int strided = i >= 2, bnd = i == 1 ? 3 : 2;
        int64_t *bs = i == 1 ? shape : bshape[i % 2];
        clf_dtype da = i % 2 ? F16 : F32, db = i ? F16 : F32, dy = i == 2 ? F16 : F32;
        og_view A, B, Y;
        if (og_pv_make(r, &A, da, 3, shape, strided ? tr : NULL, 1, strided ? 0 : 3) ||
            og_pv_make(r, &B, db, bnd, bs, NULL, 3, 1) ||
            og_pv_make(r, &Y, dy, 3, shape, NULL, 1, 1))
            return 1;
        float *a = og_pv_random(r, &A, -1, 1), *b = og_pv_random(r, &B, -1, 1);
        if (!a || !b || og_pv_poison(r, &Y)) return 1;
        double *want = HOST(r, double, clf_tensor_numel(&A.v));
        clft_ref_add(3, shape, a, bnd, bs, b, want);
        TRY(r, clf_add(r->ctx, &A.v, &B.v, &Y.v));
        char what[64];
        snprintf(what, sizeof what, "add case %d", i);
        if (og_pv_expect(r, &Y, want, da == F16 || db == F16 || dy == F16 ? 1e-3 : 1e-7, what))
            return 1;
    }
    return 0;
}

/* ============================= embeddings ============================= */

/* packed: the table is gathered from its packed form (clf_gemm_pack_b, a
 * tied output head), V = 11 rows in one partial panel. */
static int embed_one(og_run *r, int pos, int strided, clf_dtype dt, clf_dtype dout, int packed)
{
    const int64_t V = 11, D = 13, B = 2, S = 5, P = 9, off = 2;
    int64_t ts[2] = {V, D}, is[2] = {B, S}, os[3] = {B, S, D}, ps[2] = {P, D};
    static const int tr[3] = {0, 2, 1};
    og_view T, I, O, PT = {0};
    if (og_pv_make(r, &T, dt, 2, ts, NULL, 1, 3) || og_pv_make(r, &I, I32, 2, is, NULL, 2, 1) ||
        og_pv_make(r, &O, dout, 3, os, strided ? tr : NULL, 1, 2))
        return 1;
    float *t = og_pv_random(r, &T, -1, 1), *ids = HOST(r, float, B *S);
    int32_t *iid = HOST(r, int32_t, B * S);
    for (int64_t i = 0; i < B * S; i++)
        iid[i] = (int32_t)(ids[i] = (float)(clft_next(&r->rng) % V));
    if (!t || og_pv_set(r, &I, ids) || og_pv_poison(r, &O)) return 1;
    float *pt = NULL;
    if (pos == CLF_POS_LEARNED &&
        (og_pv_make(r, &PT, dt, 2, ps, NULL, 0, 1) || !(pt = og_pv_random(r, &PT, -1, 1))))
        return 1;
    double *want = HOST(r, double, B *S *D);
    ref_embedding(og_dense(r, t, V * D), V, D, iid, B, S, 1.5, pos,
                  pt ? og_dense(r, pt, P * D) : NULL, off, want);
    clf_embed_params p = {.scale = 1.5f,
                          .positions = (clf_pos_type)pos,
                          .pos_table = pt ? &PT.v : NULL,
                          .pos_offset = off};
    clf_tensor pk = {0};
    if (packed) TRY(r, clf_gemm_pack_b(r->ctx, &T.v, &pk));
    clf_status st = clf_embedding(r->ctx, packed ? &pk : &T.v, &I.v, &O.v, &p);
    if (packed) clf_tensor_free(&pk);
    TRY(r, st);
    return og_pv_expect(r, &O, want, dt == F16 || dout == F16 ? 1e-3 : 1e-7, "embedding");
}

static int posenc_one(og_run *r, int type, int strided, clf_dtype dt)
{
    int64_t shape[2] = {7, 13};
    static const int tr[2] = {1, 0};
    og_view O;
    if (og_pv_make(r, &O, dt, 2, shape, strided ? tr : NULL, 3, 1) || og_pv_poison(r, &O)) return 1;
    double *want = HOST(r, double, 7 * 13);
    ref_positional_encoding(type, 5, 7, 13, want);
    TRY(r, clf_positional_encoding(r->ctx, (clf_pos_type)type, 5, &O.v));
    return og_pv_expect(r, &O, want, dt == F16 ? 1e-3 : 1e-7, "positional_encoding");
}

/* Row-vector kernels (contiguous rows) and strided ones, every position
 * type, and packed f32 and f16 tables. */
int case_embed(og_run *r)
{
    return embed_one(r, CLF_POS_LEARNED, 0, F16, F32, 0) ||
           embed_one(r, CLF_POS_SINUSOIDAL, 0, F32, F16, 0) ||
           embed_one(r, CLF_POS_SINUSOIDAL_CONCAT, 1, F32, F32, 0) ||
           embed_one(r, CLF_POS_NONE, 1, F16, F16, 0) ||
           embed_one(r, CLF_POS_LEARNED, 0, F32, F32, 1) ||
           embed_one(r, CLF_POS_NONE, 0, F16, F32, 1) || posenc_one(r, CLF_POS_SINUSOIDAL, 0, F32) ||
           posenc_one(r, CLF_POS_SINUSOIDAL_CONCAT, 1, F16);
}

/* =========================== argmax / top-k =========================== */

/* x (R, V) with ties and a NaN; k = 0: argmax. col2: column stride 2. */
static int topk_one(og_run *r, int64_t R, int64_t V, int64_t k, int col2, clf_dtype dt)
{
    char what[96];
    snprintf(what, sizeof what, "%s R%lld V%lld k%lld %s%s", k ? "topk" : "argmax", (long long)R,
             (long long)V, (long long)k, clf_dtype_name(dt), col2 ? " strided" : "");
    int64_t shape[2] = {R, V}, kk = k ? k : 1;
    static const int tr[2] = {1, 0};
    og_view X, OV, OI;
    if (og_pv_make(r, &X, dt, 2, shape, col2 ? tr : NULL, 1, 1)) return 1;
    float *x = HOST(r, float, R *V);
    for (int64_t i = 0; i < R * V; i++) /* coarse values: ties */
        x[i] = (float)((int64_t)(clft_next(&r->rng) % 2001) - 1000) / 8.0f;
    if (kk < V) x[V / 2] = NAN; /* never among the k reported */
    if (og_pv_set(r, &X, x)) return 1;
    int64_t os[2] = {R, kk};
    if (og_pv_make(r, &OI, I32, k ? 2 : 1, os, NULL, 2, 1) || og_pv_poison(r, &OI)) return 1;
    double *want = HOST(r, double, R *kk), *wantv = HOST(r, double, R *kk);
    int32_t *wi = HOST(r, int32_t, R * kk);
    if (k) {
        if (og_pv_make(r, &OV, F32, 2, os, NULL, 1, 2) || og_pv_poison(r, &OV)) return 1;
        ref_topk(x, R, V, k, wantv, wi);
        TRY(r, clf_topk(r->ctx, &X.v, k, &OV.v, &OI.v));
    } else {
        ref_argmax(x, R, V, wi);
        TRY(r, clf_argmax(r->ctx, &X.v, &OI.v));
    }
    for (int64_t i = 0; i < R * kk; i++)
        want[i] = wi[i];
    if (og_pv_expect(r, &OI, want, 1e-10, what)) return 1;
    return k ? og_pv_expect(r, &OV, wantv, 1e-10, what) : 0;
}

/* Contiguous rows with small k: the row-vector kernels on the CPU family. */
int case_topk_vec(og_run *r)
{
    return topk_one(r, 5, 37, 0, 0, F16) || topk_one(r, 3, 70, 5, 0, F32) ||
           topk_one(r, 2, 9, 9, 0, F16);
}

/* The work-group kernels on every family (a column stride, k > 32), and
 * one row of 4500 split into chunks of 2048+ with a second, gathering pass. */
int case_topk_rows(og_run *r)
{
    return topk_one(r, 3, 300, 0, 1, F32) || topk_one(r, 2, 100, 40, 0, F16) ||
           topk_one(r, 1, 4500, 0, 1, F16) || topk_one(r, 1, 4500, 7, 1, F32);
}

/* ============================ data movement =========================== */

/* Every dtype pair, contiguous rows (row kernels) and a transpose (element
 * kernels), f16 at odd offsets; then a KV-cache append. */
int case_copy(og_run *r)
{
    static const clf_dtype pairs[5][2] = {
        {F32, F32}, {F16, F16}, {F32, F16}, {F16, F32}, {I32, I32}};
    static const int tr[3] = {1, 0, 2}, tr_in[3] = {0, 2, 1};
    int64_t shape[3] = {3, 4, 19};
    for (int i = 0; i < 10; i++) {
        clf_dtype ds = pairs[i % 5][0], dd = pairs[i % 5][1];
        int strided = i >= 5;
        og_view S, D;
        if (og_pv_make(r, &S, ds, 3, shape, strided ? tr_in : tr, 3, 1) ||
            og_pv_make(r, &D, dd, 3, shape, NULL, 1, 2))
            return 1;
        float *s = HOST(r, float, 3 * 4 * 19);
        for (int64_t j = 0; j < 3 * 4 * 19; j++)
            s[j] = ds == I32 ? (float)((int64_t)(clft_next(&r->rng) % 20001) - 10000)
                             : clft_uniform(&r->rng, -1, 1);
        if (og_pv_set(r, &S, s) || og_pv_poison(r, &D)) return 1;
        double *want = HOST(r, double, 3 * 4 * 19);
        for (int64_t j = 0; j < 3 * 4 * 19; j++)
            want[j] = og_stored(dd, s[j]);
        TRY(r, clf_copy(r->ctx, &S.v, &D.v));
        char what[64];
        snprintf(what, sizeof what, "copy %s->%s%s", clf_dtype_name(ds), clf_dtype_name(dd),
                 strided ? " strided" : "");
        if (og_pv_expect(r, &D, want, 1e-10, what)) return 1;
    }
    /* kv_append: cache (2, 9, 3, 8) f16 gets (2, 4, 3, 8) f32 at position 3. */
    int64_t cs[4] = {2, 9, 3, 8}, ns[4] = {2, 4, 3, 8}, nc = 2 * 9 * 3 * 8;
    og_view C, N;
    if (og_pv_make(r, &C, F16, 4, cs, NULL, 1, 1) || og_pv_make(r, &N, F32, 4, ns, NULL, 3, 1))
        return 1;
    float *c = og_pv_random(r, &C, -1, 1), *n = og_pv_random(r, &N, -1, 1);
    if (!c || !n) return 1;
    double *want = og_dense(r, c, nc), *src = HOST(r, double, 2 * 4 * 3 * 8);
    for (int64_t j = 0; j < 2 * 4 * 3 * 8; j++)
        src[j] = og_stored(F16, n[j]);
    ref_kv_append(want, 2, 9, 3, 8, 3, src, 4);
    TRY(r, clf_kv_append(r->ctx, &C.v, 3, &N.v));
    return og_pv_expect(r, &C, want, 1e-10, "kv_append");
}

/* clf_tensor_fill and fill_uniform (the weight initialiser) on dense and
 * strided views; a uniform fill is checked for its range and spread. */
int case_fill(og_run *r)
{
    static const int tr[2] = {1, 0};
    int64_t shape[2] = {5, 27};
    static const clf_dtype dts[3] = {F32, F16, I32};
    for (int i = 0; i < 10; i++) {
        clf_dtype dt = dts[i % 5 < 3 ? i % 5 : i % 5 - 3];
        int uniform = i % 5 >= 3, strided = i >= 5;
        if (uniform) dt = i % 5 == 3 ? F32 : F16;
        og_view T;
        if (og_pv_make(r, &T, dt, 2, shape, strided ? tr : NULL, 1, strided ? 1 : 0) ||
            og_pv_poison(r, &T))
            return 1;
        float got[5 * 27];
        double want[5 * 27];
        if (uniform) {
            TRY(r, clf_tensor_fill_uniform(r->ctx, &T.v, 99, -0.5f, 0.25f));
            if (og_pv_get(r, &T, got, "fill_uniform")) return 1;
            double mean = 0;
            for (int j = 0; j < 5 * 27; j++) {
                if (!(got[j] >= -0.5f && got[j] <= 0.25f))
                    return og_fail(r, "fill_uniform %s: element %d = %g outside [-0.5, 0.25)",
                                   clf_dtype_name(dt), j, got[j]);
                mean += got[j] / (5 * 27);
            }
            if (fabs(mean + 0.125) > 0.06)
                return og_fail(r, "fill_uniform %s: mean %g, expected about -0.125",
                               clf_dtype_name(dt), mean);
        } else {
            for (int j = 0; j < 5 * 27; j++)
                want[j] = dt == I32 ? -3 : og_stored(dt, -3.3f);
            TRY(r, clf_tensor_fill(r->ctx, &T.v, dt == I32 ? -3.0f : -3.3f));
            if (og_pv_expect(r, &T, want, 1e-10, "fill")) return 1;
        }
    }
    return 0;
}

/* clf_context_selftest: smoke_axpy over 100003 elements. */
int case_selftest(og_run *r)
{
    double err = 0;
    TRY(r, clf_context_selftest(r->ctx, &err));
    return 0;
}
