/*
 * Continuous batching (batch.h) and the op features it rests on:
 *   - clf_embedding with per-row positions, clf_kv_append_rows and
 *     clf_kv_append_at (named cache rows), and clf_attention through a
 *     cache-row table over a cache of other rows, against float64
 *     references (odd sizes, poisoned outputs, device-side range errors);
 *   - clf_batch: sequences of different prompt and output lengths joining
 *     at different steps and leaving, each stream identical to
 *     clf_model_generate of its prompt alone (tiny GPT-2 golden, a random
 *     model), greedy and seeded sampling; rows reused and compacted; one
 *     host read per step however many join; bad input.
 * Small shapes: every test runs in about a second per device.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hfgold.h"
#include "common/testutil.h"
#include "ref/ref_attention.h"
#include "ref/ref_embed.h"

#define OK(ctx, expr)                                                                              \
    do {                                                                                           \
        clf_status st_ = (expr);                                                                   \
        cr_assert_eq(st_, CLF_OK, "%s: %s (%s)", #expr, clf_status_name(st_),                      \
                     clf_context_last_error(ctx));                                                 \
    } while (0)

/* ========================= per-row positions ========================= */

/* ids (B, S) with row b at rpos[b]; pos_type 1 (learned, P rows) or 2/3. */
static void embed_rows_case(clf_context *ctx, clft_rng *rng, uint64_t seed, int pos_type,
                            clf_dtype tdt)
{
    enum { B = 3, S = 2, D = 13, V = 11, P = 17 };
    int32_t ids[B * S], rpos[B] = {5, 0, 15}; /* 15 + 1 = P - 1: the table's last row */
    float table[V * D], pos[P * D], out[B * S * D];
    double t64[V * D], p64[P * D], ref[B * S * D];
    clft_fill_uniform(rng, table, V * D, -1, 1);
    clft_fill_uniform(rng, pos, P * D, -1, 1);
    for (int i = 0; i < B * S; i++) ids[i] = (int32_t)(clft_next(rng) % V);
    clf_tensor tt, pt, it, rt, ot;
    int64_t ts[2] = {V, D}, ps[2] = {P, D}, is[2] = {B, S}, rs[1] = {B}, os[3] = {B, S, D};
    OK(ctx, clf_tensor_create(ctx, tdt, 2, ts, &tt));
    OK(ctx, clf_tensor_create(ctx, tdt, 2, ps, &pt));
    OK(ctx, clf_tensor_create(ctx, CLF_I32, 2, is, &it));
    OK(ctx, clf_tensor_create(ctx, CLF_I32, 1, rs, &rt));
    OK(ctx, clf_tensor_create(ctx, CLF_F32, 3, os, &ot));
    OK(ctx, clf_tensor_write_f32(ctx, &tt, table, V * D));
    OK(ctx, clf_tensor_write_f32(ctx, &pt, pos, P * D));
    OK(ctx, clf_tensor_write(ctx, &it, ids, sizeof ids, true));
    OK(ctx, clf_tensor_write(ctx, &rt, rpos, sizeof rpos, true));
    clft_poison(out, B * S * D);
    OK(ctx, clf_tensor_write_f32(ctx, &ot, out, B * S * D));
    OK(ctx, clf_tensor_read_f32(ctx, &tt, table, V * D)); /* the stored (rounded) values */
    OK(ctx, clf_tensor_read_f32(ctx, &pt, pos, P * D));
    clf_embed_params ep = {0.5f, (clf_pos_type)pos_type, &pt, 0, &rt};
    OK(ctx, clf_embedding(ctx, &tt, &it, &ot, &ep));
    OK(ctx, clf_tensor_read_f32(ctx, &ot, out, B * S * D));
    for (int i = 0; i < V * D; i++) t64[i] = table[i];
    for (int i = 0; i < P * D; i++) p64[i] = pos[i];
    for (int b = 0; b < B; b++) /* each row is a batch of one at its own offset */
        ref_embedding(t64, V, D, ids + b * S, 1, S, 0.5, pos_type, p64, rpos[b], ref + b * S * D);
    double e = clft_nmse(out, ref, B * S * D), tol = pos_type == 1 ? 1e-10 : 1e-9;
    cr_assert(e <= tol, "embedding row positions (type %d, %s, B %d S %d D %d): NMSE %.3g > %g "
              "(seed %llu)", pos_type, clf_dtype_name(tdt), B, S, D, e, tol,
              (unsigned long long)seed);

    /* A row past a learned table (or negative): zeros, and the error at the
     * next blocking read names the row. */
    rpos[1] = pos_type == 1 ? P : -3;
    OK(ctx, clf_tensor_write(ctx, &rt, rpos, sizeof rpos, true));
    OK(ctx, clf_embedding(ctx, &tt, &it, &ot, &ep));
    clf_status st = clf_tensor_read_f32(ctx, &ot, out, B * S * D);
    cr_assert_eq(st, CLF_ERR_OUT_OF_RANGE, "a bad row position gave %s", clf_status_name(st));
    cr_assert(strstr(clf_context_last_error(ctx), "row 1"), "message: %s",
              clf_context_last_error(ctx));
    OK(ctx, clf_tensor_read_f32(ctx, &ot, out, B * S * D));
    for (int i = 0; i < S * D; i++)
        cr_assert_eq(out[S * D + i], 0.0f, "the bad row is not zeroed at %d", i);
    clf_tensor *all[5] = {&tt, &pt, &it, &rt, &ot};
    for (int i = 0; i < 5; i++) clf_tensor_free(all[i]);
}

Test(batch, embedding_row_positions_match_the_float64_reference)
{
    uint64_t seed = clft_seed();
    CLFT_EACH_DEVICE(ctx)
    {
        clft_rng rng = clft_rng_make(seed, 1);
        embed_rows_case(ctx, &rng, seed, 1, CLF_F32);
        embed_rows_case(ctx, &rng, seed, 1, CLF_F16);
        embed_rows_case(ctx, &rng, seed, 2, CLF_F32);
        embed_rows_case(ctx, &rng, seed, 3, CLF_F32);
    }
}

/* ========================= per-row KV append ========================= */

/* named 0: clf_kv_append_rows, row b of src (B = 3) into row b of the
 * cache. named 1: clf_kv_append_at, the tokens of a ragged step (B = 5 rows
 * of src) into named rows of a cache of R = 4 rows, two on one row. n
 * positions each; against the float64 reference, every untouched element
 * bit for bit. A position past the capacity, and (named) a row naming cache
 * row R, are not written and the error names them; shapes that disagree
 * are refused on the host. */
static void kv_case(clf_context *ctx, clft_rng *rng, uint64_t seed, clf_dtype cdt, int64_t n,
                    int named)
{
    enum { CAP = 9, H = 2, DH = 13 };
    const int64_t R = named ? 4 : 3, B = named ? 5 : 3;
    int32_t rows[5] = {3, 0, 3, 1, 2}, pos[5] = {0, 2, (int32_t)n, 1, (int32_t)(CAP - n)};
    if (!named) rows[0] = 0, rows[1] = 1, rows[2] = 2, pos[0] = 4, pos[1] = 0, pos[2] = CAP - n;
    const char *op = named ? "kv_append_at" : "kv_append_rows";
    int64_t cs[4] = {R, CAP, H, DH}, ss[4] = {B, n, H, DH}, bs[1] = {B};
    int64_t nc = R * CAP * H * DH, ns = B * n * H * DH;
    float *cache = malloc((size_t)nc * sizeof *cache), *src = malloc((size_t)ns * sizeof *src);
    float *before = malloc((size_t)nc * sizeof *before);
    double *ref = malloc((size_t)nc * sizeof *ref);
    clft_fill_uniform(rng, cache, (size_t)nc, -1, 1);
    clft_fill_uniform(rng, src, (size_t)ns, -1, 1);
    clf_tensor ct, sr, pt, rt;
    OK(ctx, clf_tensor_create(ctx, cdt, 4, cs, &ct));
    OK(ctx, clf_tensor_create(ctx, CLF_F32, 4, ss, &sr));
    OK(ctx, clf_tensor_create(ctx, CLF_I32, 1, bs, &pt));
    OK(ctx, clf_tensor_create(ctx, CLF_I32, 1, bs, &rt));
    OK(ctx, clf_tensor_write_f32(ctx, &ct, cache, nc));
    OK(ctx, clf_tensor_read_f32(ctx, &ct, cache, nc)); /* stored values */
    OK(ctx, clf_tensor_write_f32(ctx, &sr, src, ns));
    OK(ctx, clf_tensor_write(ctx, &pt, pos, (size_t)B * 4, true));
    OK(ctx, clf_tensor_write(ctx, &rt, rows, (size_t)B * 4, true));
    for (int64_t i = 0; i < nc; i++) ref[i] = cache[i];
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < n; t++)
            for (int64_t j = 0; j < H * DH; j++) {
                double v = src[(b * n + t) * H * DH + j];
                if (cdt == CLF_F16) v = (double)(float)v; /* rounding checked by the bound */
                ref[(rows[b] * CAP + pos[b] + t) * H * DH + j] = v;
            }
#define APPEND() (named ? clf_kv_append_at(ctx, &ct, &rt, &pt, &sr) : clf_kv_append_rows(ctx, &ct, &pt, &sr))
    OK(ctx, APPEND());
    OK(ctx, clf_tensor_read_f32(ctx, &ct, cache, nc));
    double e = clft_nmse(cache, ref, (size_t)nc), tol = cdt == CLF_F16 ? 1e-6 : 1e-10;
    cr_assert(e <= tol, "%s (%s cache, n %lld): NMSE %.3g > %g (seed %llu)", op,
              clf_dtype_name(cdt), (long long)n, e, tol, (unsigned long long)seed);
    for (int64_t r = 0; r < R; r++)
        for (int64_t p = 0; p < CAP; p++) {
            bool written = false;
            for (int64_t b = 0; b < B; b++)
                written = written || (rows[b] == r && p >= pos[b] && p < pos[b] + n);
            for (int64_t j = 0; !written && j < H * DH; j++) {
                int64_t i = (r * CAP + p) * H * DH + j;
                cr_assert_eq(cache[i], (float)ref[i], "%s wrote row %lld pos %lld", op,
                             (long long)r, (long long)p);
            }
        }
    /* Refused on the device: row 2 of src past the capacity (it writes
     * cache row 3 or 2), then (named) every row naming cache row R. */
    for (int bad = 0; bad < 1 + named; bad++) {
        memcpy(before, cache, (size_t)nc * sizeof *cache);
        int32_t bpos[5], brows[5];
        memcpy(bpos, pos, sizeof bpos);
        memcpy(brows, rows, sizeof brows);
        if (bad == 0) bpos[2] = (int32_t)(CAP - n + 1);
        for (int64_t b = 0; bad == 1 && b < B; b++) brows[b] = (int32_t)R;
        OK(ctx, clf_tensor_write(ctx, &pt, bpos, (size_t)B * 4, true));
        OK(ctx, clf_tensor_write(ctx, &rt, brows, (size_t)B * 4, true));
        OK(ctx, APPEND());
        clf_status st = clf_tensor_read_f32(ctx, &ct, cache, nc);
        cr_assert_eq(st, CLF_ERR_OUT_OF_RANGE, "%s: a bad %s gave %s", op,
                     bad ? "row" : "position", clf_status_name(st));
        cr_assert(strstr(clf_context_last_error(ctx), bad ? "cache row 4" : "row 2"), "message: %s",
                  clf_context_last_error(ctx));
        OK(ctx, clf_tensor_read_f32(ctx, &ct, cache, nc));
        const int64_t row = CAP * H * DH, r2 = rows[2];
        for (int64_t i = 0; i < nc; i++)
            if (bad == 1 || i / row == r2)
                cr_assert_eq(cache[i], before[i], "%s: the refused row was written at %lld", op,
                             (long long)i);
        OK(ctx, clf_tensor_write_f32(ctx, &ct, before, nc));
    }
#undef APPEND
    /* Host-side checks. */
    int64_t badshape[4] = {B, n, H + 1, DH};
    clf_tensor wrong, r3 = rt;
    OK(ctx, clf_tensor_create(ctx, CLF_F32, 4, badshape, &wrong));
    r3.shape[0] = B - 1;
    cr_assert_eq(clf_kv_append_rows(ctx, &ct, &pt, &wrong), CLF_ERR_SHAPE);
    cr_assert_eq(clf_kv_append_rows(ctx, &ct, &sr, &sr), CLF_ERR_DTYPE);
    cr_assert_eq(clf_kv_append_at(ctx, &ct, &r3, &pt, &sr), CLF_ERR_SHAPE);
    clf_tensor *all[] = {&ct, &sr, &pt, &rt, &wrong};
    for (int i = 0; i < 5; i++) clf_tensor_free(all[i]);
    free(cache);
    free(src);
    free(before);
    free(ref);
}

Test(batch, kv_append_rows_matches_the_reference_and_refuses_bad_rows)
{
    uint64_t seed = clft_seed();
    CLFT_EACH_DEVICE(ctx)
    {
        clft_rng rng = clft_rng_make(seed, 2);
        kv_case(ctx, &rng, seed, CLF_F32, 1, 0);
        kv_case(ctx, &rng, seed, CLF_F16, 1, 0);
        kv_case(ctx, &rng, seed, CLF_F32, 3, 0);
    }
}

/* ====================== token steps: named rows ====================== */

Test(batch, kv_append_at_writes_named_rows_and_refuses_bad_ones)
{
    uint64_t seed = clft_seed();
    CLFT_EACH_DEVICE(ctx)
    {
        clft_rng rng = clft_rng_make(seed, 3);
        kv_case(ctx, &rng, seed, CLF_F32, 1, 1);
        kv_case(ctx, &rng, seed, CLF_F16, 1, 1);
        kv_case(ctx, &rng, seed, CLF_F32, 2, 1);
    }
}

/* clf_attention with a cache-row table over a cache of R = 3 rows and
 * T = 7 one-query rows (the tokens of a ragged step, several on one
 * sequence, each with its own key length, 1 to Lk): against the float64
 * reference on the gathered rows, output poisoned first. Head dims 64 and
 * 16. */
static void token_attn_case(clf_context *ctx, clft_rng *rng, uint64_t seed, int64_t D)
{
    enum { R = 3, T = 7, LK = 13, H = 2 };
    const int32_t rows[T] = {2, 0, 2, 1, 0, 2, 1}, lens[T] = {13, 1, 5, 9, 3, 12, 7};
    int64_t nk = R * LK * H * D, nq = T * H * D;
    float *k = malloc((size_t)nk * sizeof *k), *v = malloc((size_t)nk * sizeof *v);
    float *q = malloc((size_t)nq * sizeof *q), *o = malloc((size_t)nq * sizeof *o);
    float *kg = malloc((size_t)(T * LK * H * D) * sizeof *kg);
    float *vg = malloc((size_t)(T * LK * H * D) * sizeof *vg);
    double *ref = malloc((size_t)nq * sizeof *ref);
    int32_t table[T * LK];
    clft_fill_uniform(rng, k, (size_t)nk, -1, 1);
    clft_fill_uniform(rng, v, (size_t)nk, -1, 1);
    clft_fill_uniform(rng, q, (size_t)nq, -1, 1);
    for (int64_t t = 0; t < T; t++) {
        for (int64_t j = 0; j < LK; j++) table[t * LK + j] = rows[t];
        memcpy(kg + t * LK * H * D, k + rows[t] * LK * H * D, (size_t)(LK * H * D) * sizeof *k);
        memcpy(vg + t * LK * H * D, v + rows[t] * LK * H * D, (size_t)(LK * H * D) * sizeof *v);
    }
    double scale = 1.0 / sqrt((double)D);
    clft_ref_attention(T, 1, LK, H, D, q, kg, vg, scale, 0, lens, ref, NULL);
    clf_tensor kt, vt, qt, ot, lt, tt;
    OK(ctx, clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){R, LK, H, D}, &kt));
    OK(ctx, clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){R, LK, H, D}, &vt));
    OK(ctx, clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){T, 1, H, D}, &qt));
    OK(ctx, clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){T, 1, H, D}, &ot));
    OK(ctx, clf_tensor_create(ctx, CLF_I32, 1, (int64_t[]){T}, &lt));
    OK(ctx, clf_tensor_create(ctx, CLF_I32, 2, (int64_t[]){T, LK}, &tt));
    OK(ctx, clf_tensor_write_f32(ctx, &kt, k, nk));
    OK(ctx, clf_tensor_write_f32(ctx, &vt, v, nk));
    OK(ctx, clf_tensor_write_f32(ctx, &qt, q, nq));
    OK(ctx, clf_tensor_fill(ctx, &ot, NAN));
    OK(ctx, clf_tensor_write(ctx, &lt, lens, sizeof lens, true));
    OK(ctx, clf_tensor_write(ctx, &tt, table, sizeof table, true));
    clf_attention_params ap = {.key_lens = &lt, .impl = CLF_ATTN_AUTO, .cache_rows = &tt};
    OK(ctx, clf_attention(ctx, &qt, &kt, &vt, &ot, &ap));
    OK(ctx, clf_tensor_read_f32(ctx, &ot, o, nq));
    double e = clft_nmse(o, ref, (size_t)nq);
    cr_assert(e <= 1e-10, "token attention (D %lld, %d cache rows, %d queries): NMSE %.3g > 1e-10 "
              "(seed %llu)", (long long)D, R, T, e, (unsigned long long)seed);
    /* Without the table, k and v must have q's rows. */
    ap.cache_rows = NULL;
    cr_assert_eq(clf_attention(ctx, &qt, &kt, &vt, &ot, &ap), CLF_ERR_SHAPE);
    clf_tensor *all[] = {&kt, &vt, &qt, &ot, &lt, &tt};
    for (int i = 0; i < 6; i++) clf_tensor_free(all[i]);
    free(k);
    free(v);
    free(q);
    free(o);
    free(kg);
    free(vg);
    free(ref);
}

Test(batch, attention_reads_a_cache_of_other_rows_through_the_table)
{
    uint64_t seed = clft_seed();
    CLFT_EACH_DEVICE(ctx)
    {
        clft_rng rng = clft_rng_make(seed, 4);
        token_attn_case(ctx, &rng, seed, 64);
        token_attn_case(ctx, &rng, seed, 16);
    }
}

/* ============================== clf_batch ============================== */

enum { NSEQ = 16, MAXNEW = 12 };

typedef struct plan {
    int32_t prompt[16];
    int64_t n, max_new, join; /* join: the step before which it is added */
    clf_generate_params p;
    int32_t solo[MAXNEW];
    int64_t solo_len;
    int32_t got[MAXNEW];
    int64_t got_len, seq;
    bool done;
} plan;

/* 16 sequences of prompt lengths 1..8 and 2..MAXNEW new tokens, joining at
 * steps 0..5; sample: every third one samples with its own seed. */
static void make_plans(plan *pl, clft_rng *rng, int64_t V, bool sample)
{
    for (int i = 0; i < NSEQ; i++) {
        plan *q = &pl[i];
        memset(q, 0, sizeof *q);
        q->n = 1 + (int64_t)(clft_next(rng) % 8);
        for (int64_t t = 0; t < q->n; t++) q->prompt[t] = (int32_t)(clft_next(rng) % (uint64_t)V);
        q->max_new = 2 + (int64_t)(clft_next(rng) % (MAXNEW - 1));
        q->join = i < 6 ? 0 : (int64_t)(clft_next(rng) % 6);
        q->p = clf_generate_params_default();
        q->p.max_new_tokens = q->max_new;
        q->p.ignore_eos = i % 2 == 0; /* the others may stop at EOS */
        if (sample && i % 3 == 0) {
            q->p.strategy = CLF_DECODE_SAMPLE;
            q->p.seed = clft_next(rng);
            q->p.top_k = 20;
            q->p.temperature = 1.5f;
        }
    }
}

static void solo_runs(clf_context *ctx, clf_model *m, plan *pl)
{
    for (int i = 0; i < NSEQ; i++) {
        int32_t len = 0;
        clf_generate_output o = {pl[i].solo, &len, NULL, NULL, NULL};
        OK(ctx, clf_model_generate(m, pl[i].prompt, NULL, 1, pl[i].n, &pl[i].p, &o));
        pl[i].solo_len = len;
    }
}

/* Runs the plans through one batch of max_rows rows; checks each stream
 * against its solo run. Returns the highest row used. */
static int64_t run_batch(clf_context *ctx, clf_model *m, plan *pl, int64_t max_rows,
                         const char *what, uint64_t seed)
{
    clf_batch_params bp = clf_batch_params_default();
    bp.max_rows = max_rows;
    bp.max_len = 24;
    clf_batch *b = NULL;
    OK(ctx, clf_batch_create(m, &bp, &b));
    clf_batch_token ev[NSEQ];
    int added = 0, top_row = -1;
    for (int64_t step = 0; step < 200; step++) {
        for (int i = 0; i < NSEQ; i++)
            if (!pl[i].seq && !pl[i].done && pl[i].join <= step &&
                clf_batch_live(b) < max_rows) {
                OK(ctx, clf_batch_add(b, pl[i].prompt, pl[i].n, &pl[i].p, &pl[i].seq));
                pl[i].seq++; /* 0 = not added yet */
                added++;
            }
        int64_t n = 0;
        OK(ctx, clf_batch_step(b, ev, NSEQ, &n));
        cr_assert(n <= NSEQ, "%s: %lld tokens in one step", what, (long long)n);
        for (int64_t k = 0; k < n; k++) {
            int i = 0;
            while (i < NSEQ && pl[i].seq - 1 != ev[k].seq) i++;
            cr_assert(i < NSEQ, "%s: unknown sequence %lld", what, (long long)ev[k].seq);
            plan *q = &pl[i];
            cr_assert_eq(ev[k].index, q->got_len, "%s: seq %d token index", what, i);
            q->got[q->got_len++] = ev[k].token;
            if (ev[k].row > top_row) top_row = (int)ev[k].row;
            if (ev[k].finish != CLF_FINISH_NONE) q->done = true;
        }
        if (added == NSEQ && clf_batch_live(b) == 0) break;
    }
    cr_assert_eq(clf_batch_live(b), 0, "%s: sequences never finished", what);
    for (int i = 0; i < NSEQ; i++) {
        plan *q = &pl[i];
        cr_assert(q->done, "%s: seq %d did not finish", what, i);
        bool same = q->got_len == q->solo_len;
        for (int64_t t = 0; same && t < q->got_len; t++) same = q->got[t] == q->solo[t];
        if (!same) {
            char a[256] = "", c[256] = "";
            for (int64_t t = 0; t < q->got_len; t++)
                snprintf(a + strlen(a), sizeof a - strlen(a), " %d", q->got[t]);
            for (int64_t t = 0; t < q->solo_len; t++)
                snprintf(c + strlen(c), sizeof c - strlen(c), " %d", q->solo[t]);
            cr_assert_fail("%s: seq %d (prompt %lld, max_new %lld, %s) batched [%s] vs alone [%s] "
                    "(seed %llu)",
                    what, i, (long long)q->n, (long long)q->max_new,
                    q->p.strategy == CLF_DECODE_SAMPLE ? "sampled" : "greedy", a, c,
                    (unsigned long long)seed);
        }
    }
    clf_batch_free(b);
    return top_row;
}

static void streams_case(clf_context *ctx, clf_model *m, uint64_t seed, bool sample,
                         int64_t max_rows, const char *what)
{
    plan pl[NSEQ];
    clft_rng rng = clft_rng_make(seed, sample ? 4 : 3);
    make_plans(pl, &rng, clf_model_get_config(m)->vocab, sample);
    solo_runs(ctx, m, pl);
    int64_t top = run_batch(ctx, m, pl, max_rows, what, seed);
    cr_assert(top < max_rows, "%s: row %lld >= max_rows", what, (long long)top);
}

Test(batch, greedy_streams_equal_solo_runs_tiny_gpt2_golden)
{
    uint64_t seed = clft_seed();
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("gpt2"), 1, 0, 24);
        streams_case(ctx, m, seed, false, NSEQ, "gpt2 golden greedy, 16 rows");
        /* 5 rows for 16 sequences: later ones wait, rows are reused. */
        streams_case(ctx, m, seed, false, 5, "gpt2 golden greedy, 5 rows");
        clf_model_free(m);
    }
}

Test(batch, greedy_and_sampled_streams_equal_solo_runs_random_model)
{
    uint64_t seed = clft_seed();
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clf_model_config cfg;
        OK(ctx, clf_model_config_preset("tiny", &cfg));
        cfg.positions = CLF_POS_SINUSOIDAL; /* the other position kind */
        clf_model_params mp;
        memset(&mp, 0, sizeof mp);
        mp.max_batch = 1;
        mp.max_target_len = 24;
        clf_model *m = NULL;
        OK(ctx, clf_model_create_random(ctx, &cfg, &mp, seed, &m));
        streams_case(ctx, m, seed, true, NSEQ, "random tiny, greedy + sampled");
        clf_model_free(m);
    }
}

/* A batch of rows x len on m, and greedy settings with max_new tokens
 * (EOS ignored). */
static clf_batch *make_batch(clf_context *ctx, clf_model *m, int64_t rows, int64_t len)
{
    clf_batch_params bp = {rows, len, 0};
    clf_batch *b = NULL;
    OK(ctx, clf_batch_create(m, &bp, &b));
    return b;
}

static clf_generate_params greedy(int64_t max_new)
{
    clf_generate_params p = clf_generate_params_default();
    p.ignore_eos = true;
    p.max_new_tokens = max_new;
    return p;
}

/* A step reads back once, whatever the number of joining prompts: their
 * ids and the running sequences' tokens are one pass of the token graph
 * (before, each joining prompt had a read of its own). The streams stay
 * those of clf_model_generate alone. */
Test(batch, a_step_reads_once_for_all_joining_prompts)
{
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("gpt2"), 1, 0, 24);
        clf_batch *b = make_batch(ctx, m, 8, 16);
        clf_generate_params p = greedy(3);
        /* Prompt lengths 2, 7, 3, 6, 4, 5: two prefill groups or more. */
        int32_t ids[7] = {5, 60, 7, 81, 9, 100, 11};
        int64_t len[6] = {2, 7, 3, 6, 4, 5}, seq[6], n = 0;
        int32_t got[6][3], solo[6][3];
        clf_batch_token ev[8];
        for (int round = 0; round < 2; round++) { /* round 0 builds the graphs */
            int64_t first;
            OK(ctx, clf_batch_add(b, ids, 1, &p, &first));
            OK(ctx, clf_batch_step(b, ev, 8, &n));
            OK(ctx, clf_batch_add(b, ids, 1, &p, &first));
            OK(ctx, clf_batch_step(b, ev, 8, &n));
            for (int i = 0; i < 6; i++) OK(ctx, clf_batch_add(b, ids, len[i], &p, &seq[i]));
            long before = clf_context_blocking_calls(ctx);
            OK(ctx, clf_batch_step(b, ev, 8, &n));
            long reads = clf_context_blocking_calls(ctx) - before;
            cr_assert(n == 8 && (round == 0 || reads <= 2),
                      "6 joining + 2 running: %lld tokens, %ld blocking calls (want <= 2)",
                      (long long)n, reads);
            for (int64_t step = 0; step < 3; step++) {
                if (step) OK(ctx, clf_batch_step(b, ev, 8, &n));
                for (int64_t k = 0; k < n; k++)
                    for (int i = 0; i < 6; i++)
                        if (ev[k].seq == seq[i]) got[i][ev[k].index] = ev[k].token;
            }
        }
        cr_assert_eq(clf_batch_live(b), 0);
        for (int i = 0; i < 6; i++) {
            clf_generate_output o = {solo[i], NULL, NULL, NULL, NULL};
            OK(ctx, clf_model_generate(m, ids, NULL, 1, len[i], &p, &o));
            for (int t = 0; t < 3; t++)
                cr_assert_eq(got[i][t], solo[i][t], "prompt of %lld: token %d batched %d, alone %d",
                             (long long)len[i], t, got[i][t], solo[i][t]);
        }
        clf_batch_free(b);
        clf_model_free(m);
    }
}

/* 20 running sequences on 24 rows; one finishes early and the others stay
 * on their rows. Every stream equals its solo run. */
Test(batch, twenty_running_sequences_match_solo_runs)
{
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("gpt2"), 1, 0, 24);
        enum { N = 20, NEW = 4 };
        clf_batch *b = make_batch(ctx, m, 24, 8);
        int32_t ids[N][2], got[N][NEW], solo[N][NEW];
        int64_t seq[N], n = 0;
        clf_batch_token ev[24];
        for (int i = 0; i < N; i++) {
            ids[i][0] = (int32_t)(3 + 5 * i);
            ids[i][1] = (int32_t)(100 - 3 * i);
            clf_generate_params p = greedy(i == 0 ? 2 : NEW);
            OK(ctx, clf_batch_add(b, ids[i], 1 + i % 2, &p, &seq[i]));
        }
        for (int step = 0; step < NEW; step++) {
            OK(ctx, clf_batch_step(b, ev, 24, &n));
            for (int64_t k = 0; k < n; k++)
                for (int i = 0; i < N; i++)
                    if (ev[k].seq == seq[i]) got[i][ev[k].index] = ev[k].token;
        }
        cr_assert_eq(clf_batch_live(b), 0);
        for (int i = 0; i < N; i++) {
            clf_generate_params p = greedy(i == 0 ? 2 : NEW);
            clf_generate_output o = {solo[i], NULL, NULL, NULL, NULL};
            OK(ctx, clf_model_generate(m, ids[i], NULL, 1, 1 + i % 2, &p, &o));
            for (int t = 0; t < (i == 0 ? 2 : NEW); t++)
                cr_assert_eq(got[i][t], solo[i][t], "seq %d token %d: batched %d, alone %d", i, t,
                             got[i][t], solo[i][t]);
        }
        clf_batch_free(b);
        clf_model_free(m);
    }
}

/* A step budget of 4 tokens on 4 rows (max_step_tokens = max_rows): a
 * prompt of 11 ids joining beside 3 running sequences is prefilled one id
 * a step at first (the running ones take 3 of the 4), then faster as they
 * finish; it reports nothing until its last id is in, and the running ones
 * get a token every step meanwhile. Every stream equals its solo run. A
 * budget under max_rows is refused. */
Test(batch, a_prompt_longer_than_the_step_budget_is_prefilled_over_several_steps)
{
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("gpt2"), 1, 0, 24);
        clf_batch_params bp = {4, 16, 3};
        clf_batch *b = NULL;
        cr_assert_eq(clf_batch_create(m, &bp, &b), CLF_ERR_INVALID_ARG, "budget 3 < 4 rows");
        cr_assert_null(b);
        bp.max_step_tokens = 4;
        OK(ctx, clf_batch_create(m, &bp, &b));
        int32_t ids[11] = {5, 60, 7, 81, 9, 100, 11, 3, 42, 17, 8};
        const int64_t len[4] = {2, 1, 3, 11}, news[4] = {4, 2, 3, 3};
        int64_t seq[4] = {-1, -1, -1, -1}, n, first_at = -1;
        int32_t got[4][4], solo[4][4];
        clf_batch_token ev[4];
        for (int i = 0; i < 3; i++) {
            clf_generate_params p = greedy(news[i]);
            OK(ctx, clf_batch_add(b, ids, len[i], &p, &seq[i]));
        }
        /* Step 0 feeds 4 of the 6 prompt ids; then the long prompt joins. */
        for (int64_t step = 0; step == 0 || clf_batch_live(b) > 0; step++) {
            cr_assert(step < 20, "the batch never drained");
            OK(ctx, clf_batch_step(b, ev, 4, &n));
            for (int64_t k = 0; k < n; k++)
                for (int i = 0; i < 4; i++)
                    if (ev[k].seq == seq[i]) {
                        got[i][ev[k].index] = ev[k].token;
                        if (i == 3 && ev[k].index == 0) first_at = step;
                    }
            if (step == 0) {
                clf_generate_params p = greedy(news[3]);
                OK(ctx, clf_batch_add(b, ids, len[3], &p, &seq[3]));
            }
        }
        /* Its 11 ids need at least 3 steps of 4 after it joined (steps 1..). */
        cr_assert(first_at >= 3, "the long prompt's first token came at step %lld",
                  (long long)first_at);
        for (int i = 0; i < 4; i++) {
            clf_generate_params p = greedy(news[i]);
            clf_generate_output o = {solo[i], NULL, NULL, NULL, NULL};
            OK(ctx, clf_model_generate(m, ids, NULL, 1, len[i], &p, &o));
            for (int t = 0; t < news[i]; t++)
                cr_assert_eq(got[i][t], solo[i][t], "seq %d (prompt %lld) token %d: batched %d, "
                             "alone %d", i, (long long)len[i], t, got[i][t], solo[i][t]);
        }
        clf_batch_free(b);
        clf_model_free(m);
    }
}

Test(batch, rows_are_reused_and_bad_input_changes_nothing)
{
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("gpt2"), 1, 0, 24);
        clf_batch *b = make_batch(ctx, m, 2, 10);
        clf_generate_params p = greedy(2);
        int32_t ids[12] = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        int64_t s0, s1, s2, n;
        OK(ctx, clf_batch_add(b, ids, 3, &p, &s0));
        p.max_new_tokens = 4;
        OK(ctx, clf_batch_add(b, ids, 2, &p, &s1));
        cr_assert_eq(clf_batch_add(b, ids, 2, &p, &s2), CLF_ERR_OUT_OF_RANGE, "full batch");
        cr_assert(strstr(clf_context_last_error(ctx), "full"), "%s", clf_context_last_error(ctx));
        clf_batch_token ev[2];
        cr_assert_eq(clf_batch_step(b, ev, 1, &n), CLF_ERR_INVALID_ARG, "out too small");
        OK(ctx, clf_batch_step(b, ev, 2, &n));
        cr_assert_eq(n, 2);
        cr_assert(ev[0].seq == s0 && ev[0].row == 0 && ev[1].seq == s1 && ev[1].row == 1);
        OK(ctx, clf_batch_step(b, ev, 2, &n)); /* s0 finishes (2 tokens) */
        cr_assert(n == 2 && ev[0].finish == CLF_FINISH_MAX_NEW && ev[1].finish == CLF_FINISH_NONE);
        cr_assert_eq(clf_batch_live(b), 1);
        /* Bad input: nothing added, the live sequence unharmed. */
        int32_t bad[2] = {3, 128};
        cr_assert_eq(clf_batch_add(b, bad, 2, &p, &s2), CLF_ERR_OUT_OF_RANGE, "id 128");
        cr_assert_eq(clf_batch_add(b, NULL, 2, &p, &s2), CLF_ERR_INVALID_ARG);
        cr_assert_eq(clf_batch_add(b, ids, 0, &p, &s2), CLF_ERR_INVALID_ARG);
        p.max_new_tokens = 8; /* 4 + 8 - 1 = 11 > max_len 10 */
        cr_assert_eq(clf_batch_add(b, ids, 4, &p, &s2), CLF_ERR_SHAPE);
        cr_assert(strstr(clf_context_last_error(ctx), "max_len"), "%s",
                  clf_context_last_error(ctx));
        p.max_new_tokens = 2;
        p.strategy = CLF_DECODE_BEAM;
        cr_assert_eq(clf_batch_add(b, ids, 2, &p, &s2), CLF_ERR_UNSUPPORTED);
        p.strategy = CLF_DECODE_GREEDY;
        p.top_p = 2.0f;
        cr_assert_eq(clf_batch_add(b, ids, 2, &p, &s2), CLF_ERR_INVALID_ARG);
        p.top_p = 0;
        cr_assert_eq(clf_batch_live(b), 1);
        cr_assert_eq(clf_batch_remove(b, s0), CLF_ERR_NOT_FOUND, "s0 already left");
        /* Row 0 is free again: the new s2 takes it, s1 keeps row 1 (a
         * sequence never moves); the running s1 is reported first. */
        OK(ctx, clf_batch_add(b, ids + 4, 3, &p, &s2));
        OK(ctx, clf_batch_step(b, ev, 2, &n));
        cr_assert(n == 2 && ev[0].seq == s1 && ev[0].row == 1 && ev[1].seq == s2 &&
                      ev[1].row == 0,
                  "row reuse: n %lld, s1 row %lld, s2 %lld row %lld", (long long)n,
                  (long long)ev[0].row, (long long)ev[1].seq, (long long)ev[1].row);
        OK(ctx, clf_batch_remove(b, s1));
        cr_assert_eq(clf_batch_live(b), 1);
        clf_batch_free(b);
        /* An encoder-decoder model is refused with a reason. */
        clf_model_config cfg;
        OK(ctx, clf_model_config_preset("transformer-base", &cfg));
        cfg.encoder_layers = cfg.decoder_layers = 1;
        cfg.d_model = 32;
        cfg.n_heads = 2;
        cfg.d_ff = 32;
        cfg.vocab = 40;
        clf_model *ed = NULL;
        OK(ctx, clf_model_create_random(ctx, &cfg, NULL, 1, &ed));
        cr_assert_eq(clf_batch_create(ed, NULL, &b), CLF_ERR_UNSUPPORTED);
        cr_assert_null(b);
        clf_model_free(ed);
        clf_model_free(m);
    }
}
