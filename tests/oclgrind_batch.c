/*
 * The oclgrind_ops case of continuous batching's kernels: per-row positions
 * in the embedding kernels (contiguous and strided paths), the per-row KV
 * append (into rows of its own, and into named rows of a larger cache) and
 * a token step's attention (one-query rows reading a cache of other rows
 * through the cache-row table), small shapes with a head width (13) that
 * leaves a remainder after the 8-wide moves, checked against the float64
 * references with sentinels around every view.
 */
#include <math.h>
#include <string.h>

#include "oclgrind_ops.h"
#include "ref/ref_attention.h"
#include "ref/ref_embed.h"

/* ids (3, 2) with rows at positions {4, 0, 6} (+ pos_offset 1); strided: a permuted output. */
static int embed_rows_one(og_run *r, int pos, int strided, clf_dtype dt)
{
    const int64_t V = 11, D = 13, B = 3, S = 2, P = 9;
    int64_t ts[2] = {V, D}, is[2] = {B, S}, os[3] = {B, S, D}, ps[2] = {P, D}, rs[1] = {B};
    static const int tr[3] = {0, 2, 1};
    float rp[3] = {4, 0, 6}; /* 1 + 6 + 1 = P - 1: the table's last row */
    og_view T, I, O, R, PT = {0};
    if (og_pv_make(r, &T, dt, 2, ts, NULL, 1, 3) || og_pv_make(r, &I, I32, 2, is, NULL, 2, 1) ||
        og_pv_make(r, &R, I32, 1, rs, NULL, 3, 0) ||
        og_pv_make(r, &O, F32, 3, os, strided ? tr : NULL, 1, 2))
        return 1;
    float *t = og_pv_random(r, &T, -1, 1), *ids = HOST(r, float, B *S);
    int32_t *iid = HOST(r, int32_t, B * S);
    for (int64_t i = 0; i < B * S; i++)
        iid[i] = (int32_t)(ids[i] = (float)(clft_next(&r->rng) % V));
    if (!t || og_pv_set(r, &I, ids) || og_pv_set(r, &R, rp) || og_pv_poison(r, &O)) return 1;
    float *pt = NULL;
    if (pos == CLF_POS_LEARNED &&
        (og_pv_make(r, &PT, dt, 2, ps, NULL, 0, 1) || !(pt = og_pv_random(r, &PT, -1, 1))))
        return 1;
    double *want = HOST(r, double, B *S *D);
    for (int64_t b = 0; b < B; b++)
        ref_embedding(og_dense(r, t, V * D), V, D, iid + b * S, 1, S, 1.5, pos,
                      pt ? og_dense(r, pt, P * D) : NULL, 1 + (int64_t)rp[b], want + b * S * D);
    clf_embed_params p = {.scale = 1.5f,
                          .positions = (clf_pos_type)pos,
                          .pos_table = pt ? &PT.v : NULL,
                          .pos_offset = 1,
                          .row_positions = &R.v};
    TRY(r, clf_embedding(r->ctx, &T.v, &I.v, &O.v, &p));
    return og_pv_expect(r, &O, want, dt == F16 ? 1e-3 : 1e-7, "embedding row positions");
}

/* cache (3, 9, 2, 13) cdt gets src (3, n, 2, 13) f32 at rows' positions. */
static int kv_rows_one(og_run *r, clf_dtype cdt, int64_t n)
{
    const int64_t B = 3, CAP = 9, H = 2, DH = 13;
    int64_t cs[4] = {B, CAP, H, DH}, ss[4] = {B, n, H, DH}, rs[1] = {B};
    float rp[3] = {2, 0, (float)(CAP - n)};
    og_view C, N, R;
    if (og_pv_make(r, &C, cdt, 4, cs, NULL, 1, 1) || og_pv_make(r, &N, F32, 4, ss, NULL, 3, 1) ||
        og_pv_make(r, &R, I32, 1, rs, NULL, 1, 0))
        return 1;
    float *c = og_pv_random(r, &C, -1, 1), *s = og_pv_random(r, &N, -1, 1);
    if (!c || !s || og_pv_set(r, &R, rp)) return 1;
    double *want = og_dense(r, c, B * CAP * H * DH);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < n; t++)
            for (int64_t j = 0; j < H * DH; j++)
                want[(b * CAP + (int64_t)rp[b] + t) * H * DH + j] =
                    og_stored(cdt, s[(b * n + t) * H * DH + j]);
    TRY(r, clf_kv_append_rows(r->ctx, &C.v, &R.v, &N.v));
    return og_pv_expect(r, &C, want, 1e-10, "kv_append_rows");
}

/* src (4, n, 2, 13) f32 into named rows {2, 0, 2, 1} of a cache (3, 9, 2, 13) cdt. */
static int kv_at_one(og_run *r, clf_dtype cdt, int64_t n)
{
    const int64_t R = 3, B = 4, CAP = 9, H = 2, DH = 13;
    int64_t cs[4] = {R, CAP, H, DH}, ss[4] = {B, n, H, DH}, bs[1] = {B};
    float rp[4] = {0, 3, (float)(CAP - n), 1}, rw[4] = {2, 0, 2, 1};
    og_view C, N, P, W;
    if (og_pv_make(r, &C, cdt, 4, cs, NULL, 1, 1) || og_pv_make(r, &N, F32, 4, ss, NULL, 3, 1) ||
        og_pv_make(r, &P, I32, 1, bs, NULL, 1, 0) || og_pv_make(r, &W, I32, 1, bs, NULL, 2, 0))
        return 1;
    float *c = og_pv_random(r, &C, -1, 1), *s = og_pv_random(r, &N, -1, 1);
    if (!c || !s || og_pv_set(r, &P, rp) || og_pv_set(r, &W, rw)) return 1;
    double *want = og_dense(r, c, R * CAP * H * DH);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < n; t++)
            for (int64_t j = 0; j < H * DH; j++)
                want[((int64_t)rw[b] * CAP + (int64_t)rp[b] + t) * H * DH + j] =
                    og_stored(cdt, s[(b * n + t) * H * DH + j]);
    TRY(r, clf_kv_append_at(r->ctx, &C.v, &W.v, &P.v, &N.v));
    return og_pv_expect(r, &C, want, 1e-10, "kv_append_at");
}

/* q (5, 1, 2, 32) over a cache (3, 11, 2, 32): token t on cache row
 * rows[t] with its own key length, through the (5, 11) table; token 2's
 * row 7 is past the cache and clamped to its last row, 2 (never read out
 * of bounds: the clamp is to the cache's rows, not the queries'). */
static int token_attn_one(og_run *r)
{
    enum { R = 3, T = 5, LK = 11, H = 2, D = 32 };
    int64_t ks[4] = {R, LK, H, D}, qs[4] = {T, 1, H, D}, ls[1] = {T}, ts[2] = {T, LK};
    const int rows[T] = {2, 0, 7, 1, 0};
    float fl[T] = {11, 1, 6, 9, 4};
    int32_t lens[T];
    og_view K, V, Q, O, L, W;
    if (og_pv_make(r, &K, F32, 4, ks, NULL, 1, 0) || og_pv_make(r, &V, F32, 4, ks, NULL, 2, 0) ||
        og_pv_make(r, &Q, F32, 4, qs, NULL, 1, 0) || og_pv_make(r, &O, F32, 4, qs, NULL, 3, 0) ||
        og_pv_make(r, &L, I32, 1, ls, NULL, 0, 0) || og_pv_make(r, &W, I32, 2, ts, NULL, 1, 0))
        return 1;
    float *k = og_pv_random(r, &K, -1, 1), *v = og_pv_random(r, &V, -1, 1);
    float *q = og_pv_random(r, &Q, -1, 1), *tab = HOST(r, float, T *LK);
    float *gk = HOST(r, float, T *LK *H *D), *gv = HOST(r, float, T *LK *H *D);
    if (!k || !v || !q || !tab || !gk || !gv || og_pv_poison(r, &O)) return 1;
    const int64_t row = LK * H * D;
    for (int64_t t = 0; t < T; t++) {
        lens[t] = (int32_t)fl[t];
        const int64_t cr = rows[t] < R ? rows[t] : R - 1;
        for (int64_t j = 0; j < LK; j++) tab[t * LK + j] = (float)rows[t];
        memcpy(gk + t * row, k + cr * row, (size_t)row * sizeof *k);
        memcpy(gv + t * row, v + cr * row, (size_t)row * sizeof *v);
    }
    if (og_pv_set(r, &L, fl) || og_pv_set(r, &W, tab)) return 1;
    double *want = HOST(r, double, T *H *D);
    clft_ref_attention(T, 1, LK, H, D, q, gk, gv, 1.0 / sqrt((double)D), 0, lens, want, NULL);
    clf_attention_params p = {.key_lens = &L.v, .cache_rows = &W.v};
    TRY(r, clf_attention(r->ctx, &Q.v, &K.v, &V.v, &O.v, &p));
    return og_pv_expect(r, &O, want, 5e-6, "token attention");
}

int case_batch_rows(og_run *r)
{
    return embed_rows_one(r, CLF_POS_LEARNED, 0, F16) ||
           embed_rows_one(r, CLF_POS_SINUSOIDAL, 1, F32) || kv_rows_one(r, F32, 1) ||
           kv_rows_one(r, F16, 2) || kv_at_one(r, F32, 1) || kv_at_one(r, F16, 2) ||
           token_attn_one(r);
}
