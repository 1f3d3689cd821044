/*
 * Device tests for clf_attention against the float64 reference of
 * tests/ref/ref_attention.c: every impl (FUSED, DECODE, UNFUSED, AUTO), f32
 * and f16 storage, head dims 32/64/80/128, q_len and kv_len over 1, 7, 13,
 * 127, 128, 300 (self- and cross-attention, q_len > kv_len included), batch
 * 1..3, heads 1..12, causal on/off, a key_lens padding mask with mixed
 * lengths (a length of 0, so whole batch entries see no key, and one past
 * kv_len, which is clamped), and four layouts: separate padded views with
 * offsets, Q/K/V slices of one fused (B, L, 3*H*D) projection, K/V as views
 * of a (B, capacity, H, D) cache with capacity > kv_len (the spare rows hold
 * a sentinel, so reading them shows), and head-major (B, H, L, D) storage.
 * The output view sits in a bigger buffer: NaN inside before the run,
 * sentinels around it checked unchanged after. Also: decode == fused,
 * padding never changes real tokens, 2048 x 2048 fused without a score-sized
 * allocation, error paths, cache indirection (cache_rows) == the direct
 * decode on the gathered cache, bitwise; the K/V append folded into the
 * attention (k_new, v_new) against float64, its cache rows exact, its launch
 * count, and its error paths.
 *
 * Thresholds (NMSE against float64 fed the same, f16-rounded, inputs):
 * 5e-6 f32 (TESTING.md's attention bound; the f32 kernels reach ~1e-14, the
 * bound leaves room for a GEMM-based path whose error grows with head_dim and
 * kv_len), 1e-3 with f16 storage (the output rounding, ~1e-7 typical, plus
 * the unfused path's f32 score matrix). Rows that see no key must be exact
 * zeros, not just small.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ref/ref_attention.h"
#include "ref/ref_strided.h"
#include "runtime/runtime.h"

#define EACH_DEVICE(ctx)                                                                           \
    char specs_[16][32];                                                                           \
    int n_specs_ = clft_devices_or_skip(specs_, 16);                                               \
    for (int d_ = 0; d_ < n_specs_; d_++)                                                          \
        for (clf_context *ctx = clft_context(specs_[d_], NULL); ctx;                               \
             clf_context_free(ctx), ctx = NULL)

#define SEED ((unsigned long long)clft_seed())

enum layout { L_PLAIN, L_QKV, L_CACHE, L_HEADMAJOR };
static const char *LAYOUT_NAME[] = {"plain", "fused-qkv", "kv-cache", "head-major"};
static const char *IMPL_NAME[] = {"AUTO", "FUSED", "DECODE", "UNFUSED"};

typedef struct attn_case {
    int64_t b, lq, lk, h, d;
    int causal;
    int pad;     /* 1: key_lens per batch entry: random 1..lk, 0, lk + 3 (clamped), ... */
    int layout;  /* enum layout; L_QKV needs lq == lk */
    float scale; /* 0 = 1/sqrt(d) */
} attn_case;

/* Not a cross product: each line covers a few of the combinations the header
 * lists. Lq/Lk over 1, 7, 13, 127, 128, 300 (none a multiple of the 32-key
 * tile but 128); heads 1, 2, 3, 4, 5, 8, 12; batch 1..3. */
static const attn_case CASES[] = {
    /*  B   Lq   Lk   H    D  causal pad layout       scale */
    {1, 1, 1, 1, 64, 0, 0, L_PLAIN, 0},          /* the smallest problem */
    {2, 7, 7, 3, 32, 1, 1, L_PLAIN, 0},          /* batch 1 sees no key at all */
    {3, 13, 13, 2, 80, 1, 1, L_QKV, 0},          /* fused QKV, padding, causal */
    {1, 127, 127, 4, 64, 1, 0, L_QKV, 0},        /* prime length over tiles */
    {2, 128, 128, 2, 128, 0, 1, L_HEADMAJOR, 0}, /* exact tiles, head-major */
    {1, 300, 300, 1, 32, 1, 0, L_PLAIN, 0.3f},   /* explicit scale */
    {2, 1, 300, 12, 64, 1, 1, L_CACHE, 0},       /* a decode step on a cache */
    {3, 7, 128, 5, 80, 1, 1, L_CACHE, 0},        /* several new tokens on a cache */
    {2, 300, 13, 2, 64, 1, 1, L_PLAIN, 0},       /* causal, Lq > Lk: early rows see nothing */
    {1, 13, 127, 8, 128, 0, 0, L_HEADMAJOR, 0},  /* cross-attention */
    {3, 127, 7, 3, 32, 0, 1, L_PLAIN, 0},        /* cross-attention, padded encoder */
    {1, 128, 300, 2, 80, 1, 0, L_CACHE, 0},      /* prefill continuing a cache */
    {2, 13, 1, 2, 128, 1, 0, L_PLAIN, 0},        /* one key, causal: rows 0..11 see nothing */
};
#define N_CASES ((int)LEN(CASES))

static double threshold(clf_dtype dt) { return dt == CLF_F16 ? 1e-3 : 5e-6; }

static const char *case_str(const attn_case *c, clf_dtype dt, clf_attn_impl impl, const int32_t *kl,
                            char *buf, size_t size)
{
    size_t n = (size_t)snprintf(
        buf, size, "%s %s B%lld Lq%lld Lk%lld H%lld D%lld causal %d %s scale %g", IMPL_NAME[impl],
        clf_dtype_name(dt), (long long)c->b, (long long)c->lq, (long long)c->lk, (long long)c->h,
        (long long)c->d, c->causal, LAYOUT_NAME[c->layout], c->scale);
    if (kl) {
        n += (size_t)snprintf(buf + n, size - n, " key_lens [");
        for (int64_t b = 0; b < c->b && n < size; b++)
            n += (size_t)snprintf(buf + n, size - n, "%s%d", b ? "," : "", kl[b]);
        if (n < size) snprintf(buf + n, size - n, "]");
    }
    return buf;
}

/* Device tensors of one problem in one layout. Up to 5 buffers: q, k, v, o
 * and (L_QKV) the fused buffer holding q, k and v. */
typedef struct attn_dev {
    pbuf buf[4];
    int n_buf, o_buf;
    clf_tensor q, k, v, o, kl;
    int has_kl;
} attn_dev;

/* A (B, L, H, D) view with storage order perm and padding, in a new pbuf. */
static void make_view(clf_context *ctx, attn_dev *a, clf_dtype dt, int64_t B, int64_t L, int64_t H,
                      int64_t D, int headmajor, int64_t pad, int64_t front, clf_tensor *v)
{
    static const int hm[4] = {0, 2, 1, 3};
    const int64_t shape[4] = {B, L, H, D};
    pbuf_make_view(ctx, dt, 4, shape, headmajor ? hm : NULL, pad, front, &a->buf[a->n_buf++], v);
}

/* Places dense (B, L, H, D) q, k, v into the layout, poisons o (NaN inside,
 * sentinel around) and uploads everything. */
static void attn_dev_make(clf_context *ctx, attn_dev *a, clf_dtype dt, int layout, int64_t B,
                          int64_t Lq, int64_t Lk, int64_t H, int64_t D, const float *q,
                          const float *k, const float *v, const int32_t *key_lens)
{
    memset(a, 0, sizeof *a);
    const int hm = layout == L_HEADMAJOR;
    if (layout == L_QKV) {
        cr_assert_eq(Lq, Lk, "fused QKV layout needs Lq == Lk");
        clf_tensor fused;
        make_view(ctx, a, dt, B, Lq, 1, 3 * H * D, 0, 4, 6, &fused);
        const int64_t st[4] = {fused.stride[0], fused.stride[1], D, 1};
        const int64_t sh[4] = {B, Lq, H, D};
        cr_assert_eq(clf_tensor_view(&fused, 4, sh, st, fused.offset, &a->q), CLF_OK);
        cr_assert_eq(clf_tensor_view(&fused, 4, sh, st, fused.offset + H * D, &a->k), CLF_OK);
        cr_assert_eq(clf_tensor_view(&fused, 4, sh, st, fused.offset + 2 * H * D, &a->v), CLF_OK);
        pbuf_set(&a->buf[0], &a->q, q);
        pbuf_set(&a->buf[0], &a->k, k);
        pbuf_set(&a->buf[0], &a->v, v);
    } else {
        make_view(ctx, a, dt, B, Lq, H, D, hm, 3, 5, &a->q);
        pbuf_set(&a->buf[0], &a->q, q);
        if (layout == L_CACHE) {
            /* Capacity Lk + 9: rows Lk.. hold sentinels, which a kernel
             * reading past kv_len would mix into the result. */
            clf_tensor kc, vc;
            make_view(ctx, a, dt, B, Lk + 9, H, D, 0, 0, 3, &kc);
            make_view(ctx, a, dt, B, Lk + 9, H, D, 0, 2, 1, &vc);
            cr_assert_eq(clf_tensor_slice(&kc, 1, 0, Lk, &a->k), CLF_OK);
            cr_assert_eq(clf_tensor_slice(&vc, 1, 0, Lk, &a->v), CLF_OK);
        } else {
            make_view(ctx, a, dt, B, Lk, H, D, hm, 1, 2, &a->k);
            make_view(ctx, a, dt, B, Lk, H, D, hm, 2, 7, &a->v);
        }
        pbuf_set(&a->buf[1], &a->k, k);
        pbuf_set(&a->buf[2], &a->v, v);
    }
    a->o_buf = a->n_buf;
    make_view(ctx, a, dt, B, Lq, H, D, hm, 5, 4, &a->o);
    const int64_t no = B * Lq * H * D;
    float *nan = malloc((size_t)no * sizeof *nan);
    cr_assert(nan);
    clft_poison(nan, (size_t)no);
    pbuf_set(&a->buf[a->o_buf], &a->o, nan);
    free(nan);
    for (int i = 0; i < a->n_buf; i++)
        pbuf_upload(ctx, &a->buf[i]);
    if (key_lens) {
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 1, &B, &a->kl), CLF_OK);
        cr_assert_eq(clf_tensor_write(ctx, &a->kl, key_lens, (size_t)B * sizeof(int32_t), true),
                     CLF_OK, "%s", clf_context_last_error(ctx));
        a->has_kl = 1;
    }
}

static void attn_dev_free(attn_dev *a)
{
    for (int i = 0; i < a->n_buf; i++)
        pbuf_free(&a->buf[i]);
    if (a->has_kl) clf_tensor_free(&a->kl);
}

/* Runs clf_attention on dense host inputs in the given layout: out (dense
 * B*Lq*H*D) gets the result, every element around the output view (and every
 * input element) must be unchanged. */
static void device_attention(clf_context *ctx, clf_dtype dt, int layout, int64_t B, int64_t Lq,
                             int64_t Lk, int64_t H, int64_t D, const float *q, const float *k,
                             const float *v, const int32_t *key_lens, int causal, float scale,
                             clf_attn_impl impl, float *out, const char *what)
{
    attn_dev a;
    attn_dev_make(ctx, &a, dt, layout, B, Lq, Lk, H, D, q, k, v, key_lens);
    clf_attention_params p = {
        .scale = scale, .causal = causal != 0, .key_lens = key_lens ? &a.kl : NULL, .impl = impl};
    clf_status st = clf_attention(ctx, &a.q, &a.k, &a.v, &a.o, &p);
    cr_assert_eq(st, CLF_OK, "attention %s: %s: %s (seed %llu)", what, clf_status_name(st),
                 clf_context_last_error(ctx), SEED);
    pbuf_fetch(ctx, &a.buf[a.o_buf], &a.o, out, what);
    /* Inputs are read only: their whole buffers must come back as uploaded. */
    const clf_tensor *in_views[] = {&a.q, &a.k, &a.v};
    const float *in_vals[] = {q, k, v};
    const int64_t in_len[] = {Lq, Lk, Lk};
    for (int i = 0; i < 3; i++) {
        pbuf *pb = layout == L_QKV ? &a.buf[0] : &a.buf[i];
        const int64_t n = B * in_len[i] * H * D;
        float *back = malloc((size_t)n * sizeof *back);
        cr_assert(back);
        pbuf_fetch(ctx, pb, in_views[i], back, what);
        cr_assert(memcmp(back, in_vals[i], (size_t)n * sizeof *back) == 0,
                  "attention %s: input %c changed (seed %llu)", what, "qkv"[i], SEED);
        free(back);
    }
    attn_dev_free(&a);
}

/* Random q, k, v (uniform [-1, 1], rounded to dt) and key_lens for case c. */
typedef struct attn_inputs {
    float *q, *k, *v;
    int32_t kl[8];
    int has_kl;
} attn_inputs;

static void inputs_make(const attn_case *c, clf_dtype dt, uint64_t stream, attn_inputs *in)
{
    clft_rng rng = clft_rng_make(clft_seed(), stream);
    const int64_t nq = c->b * c->lq * c->h * c->d, nk = c->b * c->lk * c->h * c->d;
    in->q = malloc((size_t)nq * sizeof(float));
    in->k = malloc((size_t)nk * sizeof(float));
    in->v = malloc((size_t)nk * sizeof(float));
    cr_assert(in->q && in->k && in->v && c->b <= 8);
    random_values(&rng, dt, in->q, nq);
    random_values(&rng, dt, in->k, nk);
    random_values(&rng, dt, in->v, nk);
    in->has_kl = c->pad;
    for (int64_t b = 0; b < c->b; b++) {
        switch (b % 3) {
        case 0: in->kl[b] = 1 + (int32_t)(clft_next(&rng) % (uint64_t)c->lk); break;
        case 1: in->kl[b] = 0; break;                   /* every query of this entry sees nothing */
        default: in->kl[b] = (int32_t)c->lk + 3; break; /* clamped to kv_len */
        }
    }
}

static void inputs_free(attn_inputs *in)
{
    free(in->q);
    free(in->k);
    free(in->v);
}

/* One case, one dtype, one impl against float64. out (optional, dense
 * B*Lq*H*D) keeps the device result. */
static double check_case_within(clf_context *ctx, const attn_case *c, clf_dtype dt,
                                clf_attn_impl impl, uint64_t stream, float *keep, double bound)
{
    attn_inputs in;
    inputs_make(c, dt, stream, &in);
    const int32_t *kl = in.has_kl ? in.kl : NULL;
    char what[400];
    case_str(c, dt, impl, kl, what, sizeof what);
    const int64_t rows = c->b * c->lq * c->h, n = rows * c->d;
    float *out = malloc((size_t)n * sizeof *out);
    double *ref = malloc((size_t)n * sizeof *ref);
    int64_t *vis = malloc((size_t)rows * sizeof *vis);
    cr_assert(out && ref && vis);
    device_attention(ctx, dt, c->layout, c->b, c->lq, c->lk, c->h, c->d, in.q, in.k, in.v, kl,
                     c->causal, c->scale, impl, out, what);
    const double scale = c->scale != 0.0f ? (double)c->scale : 1.0 / sqrt((double)c->d);
    clft_ref_attention(c->b, c->lq, c->lk, c->h, c->d, in.q, in.k, in.v, scale, c->causal, kl, ref,
                       vis);
    const double e = clft_nmse(out, ref, (size_t)n);
    if (bound == 0) bound = threshold(dt);
    cr_assert(e < bound, "attention %s: NMSE %.3g >= %.2g (seed %llu, half math %d)", what, e,
              bound, SEED, clf_context_kernel_profile(ctx)->half_math);
    for (int64_t r = 0; r < rows; r++) {
        if (vis[r]) continue;
        for (int64_t d = 0; d < c->d; d++)
            cr_assert(out[r * c->d + d] == 0.0f,
                      "attention %s: row (b %lld, i %lld, h %lld) sees no key but [%lld] = %g, "
                      "not 0 (seed %llu)",
                      what, (long long)(r / (c->lq * c->h)), (long long)(r / c->h % c->lq),
                      (long long)(r % c->h), (long long)d, out[r * c->d + d], SEED);
    }
    if (keep) memcpy(keep, out, (size_t)n * sizeof *out);
    free(out);
    free(ref);
    free(vis);
    inputs_free(&in);
    return e;
}

static void check_case(clf_context *ctx, const attn_case *c, clf_dtype dt, clf_attn_impl impl,
                       uint64_t stream, float *keep)
{
    check_case_within(ctx, c, dt, impl, stream, keep, 0);
}

static void check_all_cases(clf_attn_impl impl)
{
    EACH_DEVICE(ctx)
    {
        for (int dti = 0; dti < 2; dti++)
            for (int ci = 0; ci < N_CASES; ci++)
                check_case(ctx, &CASES[ci], dti ? CLF_F16 : CLF_F32, impl,
                           (uint64_t)(100 * ci + dti), NULL);
    }
}

Test(attention, fused_matches_float64_on_every_shape_layout_and_dtype)
{
    check_all_cases(CLF_ATTN_FUSED);
}

Test(attention, decode_matches_float64_on_every_shape_layout_and_dtype)
{
    check_all_cases(CLF_ATTN_DECODE);
}

Test(attention, auto_matches_float64_on_every_shape_layout_and_dtype)
{
    check_all_cases(CLF_ATTN_AUTO);
}

Test(attention, unfused_matches_float64_on_every_shape_layout_and_dtype)
{
    check_all_cases(CLF_ATTN_UNFUSED);
}

/* Decode-shaped problems, including kv_len 2048 and > 4096 with few rows, so
 * the decode path splits the keys over several work-groups. */
static const attn_case DECODE_CASES[] = {
    {1, 1, 1, 1, 32, 0, 0, L_CACHE, 0},     {1, 1, 2048, 1, 64, 1, 0, L_CACHE, 0},
    {1, 1, 4500, 2, 128, 0, 1, L_CACHE, 0}, {2, 7, 300, 3, 80, 1, 1, L_CACHE, 0},
    {3, 13, 127, 2, 64, 0, 1, L_PLAIN, 0},  {1, 8, 8, 12, 32, 1, 0, L_QKV, 0},
};

Test(attention, decode_gives_the_fused_result)
{
    EACH_DEVICE(ctx)
    {
        for (int dti = 0; dti < 2; dti++)
            for (int ci = 0; ci < (int)LEN(DECODE_CASES); ci++) {
                const attn_case *c = &DECODE_CASES[ci];
                const clf_dtype dt = dti ? CLF_F16 : CLF_F32;
                const int64_t n = c->b * c->lq * c->h * c->d;
                float *of = malloc((size_t)n * sizeof *of), *od = malloc((size_t)n * sizeof *od);
                double *ofd = malloc((size_t)n * sizeof *ofd);
                cr_assert(of && od && ofd);
                const uint64_t stream = (uint64_t)(5000 + 10 * ci + dti); /* same inputs */
                check_case(ctx, c, dt, CLF_ATTN_FUSED, stream, of);
                check_case(ctx, c, dt, CLF_ATTN_DECODE, stream, od);
                for (int64_t i = 0; i < n; i++)
                    ofd[i] = of[i];
                /* Both accumulate in f32 in different orders: ~1e-14 apart in
                 * f32; with f16 output a few elements may round to the
                 * neighbouring half (2^-11 relative). */
                const double e = clft_nmse(od, ofd, (size_t)n), bound = dti ? 1e-6 : 1e-10;
                char what[400];
                cr_assert(e < bound, "attention %s: decode vs fused NMSE %.3g >= %.0e (seed %llu)",
                          case_str(c, dt, CLF_ATTN_DECODE, NULL, what, sizeof what), e, bound,
                          SEED);
                free(of);
                free(od);
                free(ofd);
            }
    }
}

/* A padded batch against each sequence run alone: rows of real tokens must
 * not change. Self-attention (causal and not; queries padded like the keys)
 * and cross-attention (7 decoder queries over a padded encoder output). */
static void check_padding(clf_attn_impl impl)
{
    enum { B = 3, L = 45, H = 3, D = 64, LQX = 7 };
    static const int32_t lens[B] = {L, 17, 1};
    EACH_DEVICE(ctx)
    {
        for (int mode = 0; mode < 3; mode++) /* 0 self, 1 self causal, 2 cross */
            for (int dti = 0; dti < 2; dti++) {
                const clf_dtype dt = dti ? CLF_F16 : CLF_F32;
                const int causal = mode == 1;
                const int64_t lq = mode == 2 ? LQX : L;
                const attn_case c = {B, lq, L, H, D, causal, 0, L_PLAIN, 0};
                attn_inputs in;
                inputs_make(&c, dt, (uint64_t)(6000 + 10 * mode + dti), &in);
                const int64_t n = B * lq * H * D;
                float *ob = malloc((size_t)n * sizeof *ob);
                cr_assert(ob);
                char what[400];
                case_str(&c, dt, impl, lens, what, sizeof what);
                device_attention(ctx, dt, L_PLAIN, B, lq, L, H, D, in.q, in.k, in.v, lens, causal,
                                 0, impl, ob, what);
                for (int b = 0; b < B; b++) {
                    const int64_t nb = lens[b], lqb = mode == 2 ? LQX : nb;
                    const int64_t nq1 = lqb * H * D;
                    float *q1 = in.q + b * lq * H * D, *o1 = malloc((size_t)nq1 * sizeof *o1);
                    float *k1 = in.k + b * (int64_t)L * H * D, *v1 = in.v + b * (int64_t)L * H * D;
                    double *ref1 = malloc((size_t)nq1 * sizeof *ref1);
                    cr_assert(o1 && ref1);
                    char what1[480];
                    snprintf(what1, sizeof what1, "%s: batch entry %d alone (Lq %lld, Lk %lld)",
                             what, b, (long long)lqb, (long long)nb);
                    device_attention(ctx, dt, L_PLAIN, 1, lqb, nb, H, D, q1, k1, v1, NULL, causal,
                                     0, impl, o1, what1);
                    /* The batch's real-token rows (queries 0 .. lqb-1 of entry b)
                     * against the lone run. */
                    for (int64_t i = 0; i < nq1; i++)
                        ref1[i] = o1[i];
                    const double e = clft_nmse(ob + b * lq * H * D, ref1, (size_t)nq1);
                    const double bound = dti ? 1e-6 : 1e-10;
                    cr_assert(e < bound,
                              "attention %s: padded batch vs alone NMSE %.3g >= %.0e "
                              "(seed %llu)",
                              what1, e, bound, SEED);
                    clft_ref_attention(1, lqb, nb, H, D, q1, k1, v1, 1.0 / sqrt((double)D), causal,
                                       NULL, ref1, NULL);
                    const double er = clft_nmse(o1, ref1, (size_t)nq1);
                    cr_assert(er < threshold(dt), "attention %s: NMSE %.3g >= %.0e (seed %llu)",
                              what1, er, threshold(dt), SEED);
                    free(o1);
                    free(ref1);
                }
                free(ob);
                inputs_free(&in);
            }
    }
}

Test(attention, padding_never_changes_real_tokens)
{
    check_padding(CLF_ATTN_FUSED);
    check_padding(CLF_ATTN_DECODE);
    check_padding(CLF_ATTN_AUTO);
}

Test(attention, unfused_padding_never_changes_real_tokens) { check_padding(CLF_ATTN_UNFUSED); }

/* q_len = kv_len = 2048, 8 heads of 64: the fused path must match float64 and
 * allocate nothing of q_len x kv_len (the score matrix would be 128 MiB). */
Test(attention, fused_2048_matches_float64_without_a_score_matrix)
{
    enum { B = 1, L = 2048, H = 8, D = 64 };
    const int64_t n = (int64_t)B * L * H * D, shape[4] = {B, L, H, D};
    EACH_DEVICE(ctx)
    {
        clft_rng rng = clft_rng_make(clft_seed(), 7000);
        float *q = malloc((size_t)n * sizeof *q), *k = malloc((size_t)n * sizeof *k);
        float *v = malloc((size_t)n * sizeof *v), *out = malloc((size_t)n * sizeof *out);
        double *ref = malloc((size_t)n * sizeof *ref);
        cr_assert(q && k && v && out && ref);
        clft_fill_uniform(&rng, q, (size_t)n, -1.0f, 1.0f);
        clft_fill_uniform(&rng, k, (size_t)n, -1.0f, 1.0f);
        clft_fill_uniform(&rng, v, (size_t)n, -1.0f, 1.0f);
        clft_poison(out, (size_t)n);
        clf_tensor tq, tk, tv, to;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, shape, &tq), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, shape, &tk), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, shape, &tv), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, shape, &to), CLF_OK);
        cr_assert_eq(clf_tensor_write_f32(ctx, &tq, q, n), CLF_OK);
        cr_assert_eq(clf_tensor_write_f32(ctx, &tk, k, n), CLF_OK);
        cr_assert_eq(clf_tensor_write_f32(ctx, &tv, v, n), CLF_OK);
        cr_assert_eq(clf_tensor_write_f32(ctx, &to, out, n), CLF_OK); /* NaN poison */
        clf_attention_params p = {.impl = CLF_ATTN_FUSED};
        cr_assert_eq(clf_attention(ctx, &tq, &tk, &tv, &to, &p), CLF_OK, "%s",
                     clf_context_last_error(ctx));
        cr_assert_eq(clf_tensor_read_f32(ctx, &to, out, n), CLF_OK, "%s",
                     clf_context_last_error(ctx));
        size_t peak = 0, scratch = 0;
        clf_context_memory(ctx, NULL, NULL, &peak);
        clf_context_scratch_bytes(ctx, &scratch);
        const size_t io = 4 * (size_t)n * sizeof(float);
        const size_t scores = (size_t)L * L * H * sizeof(float);
        fprintf(stderr,
                "attention 2048 (B1 L2048 H8 D64 f32 FUSED): peak device bytes %zu + scratch %zu "
                "= %zu; q+k+v+o %zu; a score matrix would be %zu\n",
                peak, scratch, peak + scratch, io, scores);
        cr_assert(peak + scratch < io + ((size_t)1 << 20),
                  "fused attention 2048: peak %zu + scratch %zu bytes >= q+k+v+o %zu + 1 MiB "
                  "(score matrix %zu)",
                  peak, scratch, io, scores);
        clft_ref_attention(B, L, L, H, D, q, k, v, 1.0 / sqrt((double)D), 0, NULL, ref, NULL);
        const double e = clft_nmse(out, ref, (size_t)n);
        cr_assert(e < 5e-6,
                  "attention FUSED f32 B1 Lq2048 Lk2048 H8 D64: NMSE %.3g >= 5e-6 "
                  "(seed %llu)",
                  e, SEED);
        clf_tensor_free(&tq);
        clf_tensor_free(&tk);
        clf_tensor_free(&tv);
        clf_tensor_free(&to);
        free(q);
        free(k);
        free(v);
        free(out);
        free(ref);
    }
}

Test(attention, bad_arguments_return_the_documented_status_naming_the_op)
{
    EACH_DEVICE(ctx)
    {
        clf_tensor q, k, o, kb, kh, obad, k16, qi, q6, k6, o6, kl, kl3, klf, big;
        const int64_t s[4] = {2, 5, 3, 32};
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, s, &q), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 7, 3, 32}, &k), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, s, &o), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){3, 7, 3, 32}, &kb), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 7, 4, 32}, &kh), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 6, 3, 32}, &obad), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F16, 4, (int64_t[]){2, 7, 3, 32}, &k16), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 4, s, &qi), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 5, 3, 6}, &q6), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 7, 3, 6}, &k6), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 5, 3, 6}, &o6), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 1, (int64_t[]){2}, &kl), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 1, (int64_t[]){3}, &kl3), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){2}, &klf), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){2 * 5 * 3 * 32 + 64}, &big),
                     CLF_OK);
        cr_assert_eq(clf_tensor_write(ctx, &kl, (int32_t[]){7, 3}, 8, true), CLF_OK);
        clf_context *other = clft_context(specs_[d_], NULL);
        clf_tensor foreign, foreign_kl;
        cr_assert_eq(clf_tensor_create(other, CLF_F32, 4, (int64_t[]){2, 7, 3, 32}, &foreign),
                     CLF_OK);
        cr_assert_eq(clf_tensor_create(other, CLF_I32, 1, (int64_t[]){2}, &foreign_kl), CLF_OK);

#define EXPECT(call, status) expect_error(ctx, (call), (status), "clf_attention", #call)
        clf_attention_params p = {.impl = CLF_ATTN_FUSED};
        EXPECT(clf_attention(ctx, &q, &kb, &kb, &o, &p), CLF_ERR_SHAPE);  /* batch */
        EXPECT(clf_attention(ctx, &q, &kh, &kh, &o, &p), CLF_ERR_SHAPE);  /* heads */
        EXPECT(clf_attention(ctx, &q, &k, &kb, &o, &p), CLF_ERR_SHAPE);   /* v differs from k */
        EXPECT(clf_attention(ctx, &q, &k, &k, &obad, &p), CLF_ERR_SHAPE); /* o */
        EXPECT(clf_attention(ctx, &q, &k16, &k16, &o, &p), CLF_ERR_DTYPE);
        EXPECT(clf_attention(ctx, &q, &k, &k16, &o, &p), CLF_ERR_DTYPE);
        EXPECT(clf_attention(ctx, &qi, &k, &k, &o, &p), CLF_ERR_DTYPE);
        EXPECT(clf_attention(ctx, &q6, &k6, &k6, &o6, &p), CLF_ERR_UNSUPPORTED);
        /* head_dim 264: past the largest supported (256). */
        clf_tensor q264, o264;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){1, 1, 1, 264}, &q264), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){1, 1, 1, 264}, &o264), CLF_OK);
        EXPECT(clf_attention(ctx, &q264, &q264, &q264, &o264, &p), CLF_ERR_UNSUPPORTED);
        clf_tensor_free(&q264);
        clf_tensor_free(&o264);
        EXPECT(clf_attention(ctx, NULL, &k, &k, &o, &p), CLF_ERR_INVALID_ARG);
        EXPECT(clf_attention(ctx, &q, &k, &k, NULL, &p), CLF_ERR_INVALID_ARG);
        EXPECT(clf_attention(ctx, &q, &foreign, &foreign, &o, &p), CLF_ERR_CONTEXT);
        /* Three dimensions instead of four. */
        clf_tensor q3;
        cr_assert_eq(clf_tensor_reshape(&q, 3, (int64_t[]){2, 5, 96}, &q3), CLF_OK);
        EXPECT(clf_attention(ctx, &q3, &k, &k, &o, &p), CLF_ERR_SHAPE);
        /* A head_dim that is not contiguous (stride 2). */
        clf_tensor qs;
        cr_assert_eq(clf_tensor_view(&big, 4, s, (int64_t[]){5 * 3 * 32, 3 * 32, 32, 2}, 0, &qs),
                     CLF_OK, "%s", clf_context_last_error(ctx));
        EXPECT(clf_attention(ctx, &qs, &k, &k, &o, &p), CLF_ERR_SHAPE);
        /* o overlapping q, k or v. */
        clf_tensor qa, oa;
        cr_assert_eq(clf_tensor_view(&big, 4, s, (int64_t[]){5 * 3 * 32, 3 * 32, 32, 1}, 0, &qa),
                     CLF_OK);
        cr_assert_eq(clf_tensor_view(&big, 4, s, (int64_t[]){5 * 3 * 32, 3 * 32, 32, 1}, 32, &oa),
                     CLF_OK);
        EXPECT(clf_attention(ctx, &qa, &k, &k, &oa, &p), CLF_ERR_INVALID_ARG);
        EXPECT(clf_attention(ctx, &q, &k, &k, &q, &p), CLF_ERR_INVALID_ARG);
        /* key_lens: wrong length, wrong dtype, another context. */
        p.key_lens = &kl3;
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_SHAPE);
        clf_tensor kl_off; /* a (2) view at offset 1 of a (3) tensor: not whole */
        cr_assert_eq(clf_tensor_slice(&kl3, 0, 1, 2, &kl_off), CLF_OK);
        p.key_lens = &kl_off;
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_SHAPE);
        p.key_lens = &klf;
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_DTYPE);
        p.key_lens = &foreign_kl;
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_CONTEXT);
        /* An impl value outside the enum. */
        p.key_lens = NULL;
        p.impl = (clf_attn_impl)17;
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_INVALID_ARG);
        cr_assert_eq(clf_attention(NULL, &q, &k, &k, &o, &p), CLF_ERR_INVALID_ARG);
        /* After all that, the good call (NULL params: AUTO, default scale)
         * still works, and with key_lens too. */
        cr_assert_eq(clf_attention(ctx, &q, &k, &k, &o, NULL), CLF_OK, "%s",
                     clf_context_last_error(ctx));
        p = (clf_attention_params){.key_lens = &kl, .causal = true};
        cr_assert_eq(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_OK, "%s",
                     clf_context_last_error(ctx));
        cr_assert_eq(clf_context_finish(ctx), CLF_OK, "%s", clf_context_last_error(ctx));
#undef EXPECT
        clf_tensor_free(&foreign);
        clf_tensor_free(&foreign_kl);
        clf_context_free(other);
        clf_tensor *all[] = {&q,  &k,  &o,  &kb, &kh,  &obad, &k16, &qi,
                             &q6, &k6, &o6, &kl, &kl3, &klf,  &big};
        for (size_t i = 0; i < LEN(all); i++)
            clf_tensor_free(all[i]);
    }
}

/* Cache indirection (beam search): attention through a random cache_rows
 * table equals attention on the cache gathered by that table. The table is a
 * (B, Lk) slice of a (B, capacity) tensor, the caches have spare capacity,
 * a few entries are out of range (clamped to 0 and B-1, as documented). The
 * indirect kernel does the direct one's arithmetic on the same values, so the
 * results must be bitwise equal. f32 and f16, with and without a padding
 * mask, one and several queries; AUTO with Lq > 8 takes the decode path too. */
Test(attention, cache_rows_indirect_decode_equals_direct_decode_on_the_gathered_cache)
{
    static const struct {
        int64_t b, lq, lk, h, d;
        int causal, pad;
        clf_attn_impl impl;
    } C[] = {
        {4, 1, 37, 2, 64, 1, 0, CLF_ATTN_DECODE}, {3, 1, 300, 3, 32, 1, 1, CLF_ATTN_AUTO},
        {2, 3, 20, 2, 80, 1, 1, CLF_ATTN_DECODE}, {3, 13, 29, 1, 64, 1, 0, CLF_ATTN_AUTO},
        {1, 1, 9, 4, 128, 0, 0, CLF_ATTN_DECODE},
    };
    EACH_DEVICE(ctx)
    {
        for (int dti = 0; dti < 2; dti++)
            for (int ci = 0; ci < (int)LEN(C); ci++) {
                const clf_dtype dt = dti ? CLF_F16 : CLF_F32;
                const int64_t B = C[ci].b, Lq = C[ci].lq, Lk = C[ci].lk, H = C[ci].h, D = C[ci].d;
                const int64_t cap = Lk + 5, row = H * D;
                clft_rng r = clft_rng_make(SEED, (uint64_t)(7000 + 10 * ci + dti));
                const size_t nq = (size_t)(B * Lq * row), nc = (size_t)(B * cap * row),
                             ng = (size_t)(B * Lk * row);
                float *q = malloc(nq * sizeof *q), *kc = malloc(nc * sizeof *kc),
                      *vc = malloc(nc * sizeof *vc), *kg = malloc(ng * sizeof *kg),
                      *vg = malloc(ng * sizeof *vg), *o1 = malloc(nq * sizeof *o1),
                      *o2 = malloc(nq * sizeof *o2);
                int32_t *rows = malloc((size_t)(B * cap) * sizeof *rows), kl[4];
                cr_assert(q && kc && vc && kg && vg && o1 && o2 && rows);
                clft_fill_uniform(&r, q, nq, -1, 1);
                clft_fill_uniform(&r, kc, nc, -1, 1);
                clft_fill_uniform(&r, vc, nc, -1, 1);
                for (int64_t i = 0; i < B * cap; i++)
                    rows[i] = (int32_t)(clft_next(&r) % (uint64_t)B);
                rows[0] = -1;                  /* clamped to 0 */
                rows[Lk - 1] = (int32_t)B + 5; /* clamped to B - 1 */
                for (int64_t b = 0; b < B; b++) {
                    kl[b] = (int32_t)(1 + clft_next(&r) % (uint64_t)Lk);
                    for (int64_t j = 0; j < Lk; j++) {
                        int32_t src = rows[b * cap + j];
                        src = src < 0 ? 0 : src >= B ? (int32_t)B - 1 : src;
                        memcpy(kg + (b * Lk + j) * row, kc + (src * cap + j) * row,
                               (size_t)row * sizeof *kg);
                        memcpy(vg + (b * Lk + j) * row, vc + (src * cap + j) * row,
                               (size_t)row * sizeof *vg);
                    }
                }
                clf_tensor tq, tkc, tvc, tkg, tvg, to1, to2, trows, tkl, kv_k, kv_v, rs;
                const int64_t sq[4] = {B, Lq, H, D}, sc[4] = {B, cap, H, D}, sg[4] = {B, Lk, H, D};
                cr_assert_eq(clf_tensor_create(ctx, dt, 4, sq, &tq), CLF_OK);
                cr_assert_eq(clf_tensor_create(ctx, dt, 4, sc, &tkc), CLF_OK);
                cr_assert_eq(clf_tensor_create(ctx, dt, 4, sc, &tvc), CLF_OK);
                cr_assert_eq(clf_tensor_create(ctx, dt, 4, sg, &tkg), CLF_OK);
                cr_assert_eq(clf_tensor_create(ctx, dt, 4, sg, &tvg), CLF_OK);
                cr_assert_eq(clf_tensor_create(ctx, dt, 4, sq, &to1), CLF_OK);
                cr_assert_eq(clf_tensor_create(ctx, dt, 4, sq, &to2), CLF_OK);
                cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, (int64_t[]){B, cap}, &trows),
                             CLF_OK);
                cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 1, (int64_t[]){B}, &tkl), CLF_OK);
                cr_assert_eq(clf_tensor_write_f32(ctx, &tq, q, (int64_t)nq), CLF_OK);
                cr_assert_eq(clf_tensor_write_f32(ctx, &tkc, kc, (int64_t)nc), CLF_OK);
                cr_assert_eq(clf_tensor_write_f32(ctx, &tvc, vc, (int64_t)nc), CLF_OK);
                cr_assert_eq(clf_tensor_write_f32(ctx, &tkg, kg, (int64_t)ng), CLF_OK);
                cr_assert_eq(clf_tensor_write_f32(ctx, &tvg, vg, (int64_t)ng), CLF_OK);
                cr_assert_eq(clf_tensor_write(ctx, &trows, rows, (size_t)(B * cap) * 4, true),
                             CLF_OK);
                cr_assert_eq(clf_tensor_write(ctx, &tkl, kl, (size_t)B * 4, true), CLF_OK);
                cr_assert_eq(clf_tensor_slice(&tkc, 1, 0, Lk, &kv_k), CLF_OK);
                cr_assert_eq(clf_tensor_slice(&tvc, 1, 0, Lk, &kv_v), CLF_OK);
                cr_assert_eq(clf_tensor_slice(&trows, 1, 0, Lk, &rs), CLF_OK);
                clf_attention_params p1 = {.causal = C[ci].causal != 0,
                                           .key_lens = C[ci].pad ? &tkl : NULL,
                                           .impl = C[ci].impl,
                                           .cache_rows = &rs};
                clf_attention_params p2 = p1;
                p2.cache_rows = NULL;
                p2.impl = CLF_ATTN_DECODE;
                cr_assert_eq(clf_attention(ctx, &tq, &kv_k, &kv_v, &to1, &p1), CLF_OK, "%s",
                             clf_context_last_error(ctx));
                cr_assert_eq(clf_attention(ctx, &tq, &tkg, &tvg, &to2, &p2), CLF_OK, "%s",
                             clf_context_last_error(ctx));
                cr_assert_eq(clf_tensor_read_f32(ctx, &to1, o1, (int64_t)nq), CLF_OK);
                cr_assert_eq(clf_tensor_read_f32(ctx, &to2, o2, (int64_t)nq), CLF_OK);
                double mx = 0;
                for (size_t i = 0; i < nq; i++) {
                    cr_assert(o1[i] == o2[i],
                              "cache_rows %s case %d: element %zu: indirect %.9g, direct on the "
                              "gathered cache %.9g (seed %llu)",
                              clf_dtype_name(dt), ci, i, o1[i], o2[i], SEED);
                    mx = fmax(mx, fabs(o1[i]));
                }
                cr_assert(mx > 0, "cache_rows case %d: all zeros", ci);
                clf_tensor *all[] = {&tq, &tkc, &tvc, &tkg, &tvg, &to1, &to2, &trows, &tkl};
                for (size_t i = 0; i < LEN(all); i++)
                    clf_tensor_free(all[i]);
                free(q), free(kc), free(vc), free(kg), free(vg), free(o1), free(o2), free(rows);
            }
    }
}

/* The K/V append folded into attention (clf_attention_params k_new, v_new,
 * append_pos): the keys and values of a (B, lk + 5) cache, the n new ones
 * (slices of one (B, n, 2 H D) buffer) written at [pos, pos + n) whose old rows
 * hold NaN (an unwritten one fails), then attention over [0, lk). The output
 * against float64 on the cache with the new rows in place; the new rows read
 * back equal k_new and v_new exactly, every other element of both caches
 * unchanged. Launches, from the profile: one (attn_decode_rows) where the
 * CPU family folds the append (q_len 1, n 1, a short cache), at least three
 * where any family runs clf_kv_append twice first (n 2, impl FUSED or
 * UNFUSED, q_len 3). */
typedef struct append_case {
    int64_t b, lq, n, lk, h, d, back; /* pos = lk - n - back */
    int causal, pad;
    clf_attn_impl impl;
    int fold; /* 1: one launch on the CPU family; 0: three or more everywhere; -1: either */
} append_case;

static void check_append(const char *spec, clf_dtype dt, const append_case *c, uint64_t stream)
{
    clf_context *ctx = clft_context_profiled(spec);
    const int64_t B = c->b, Lq = c->lq, N = c->n, Lk = c->lk, H = c->h, D = c->d, row = H * D;
    const int64_t cap = Lk + 5, pos = Lk - N - c->back;
    char what[200];
    snprintf(what, sizeof what, "append %s %s B%lld Lq%lld n%lld Lk%lld pos %lld H%lld D%lld "
             "causal %d pad %d", IMPL_NAME[c->impl], clf_dtype_name(dt), (long long)B,
             (long long)Lq, (long long)N, (long long)Lk, (long long)pos, (long long)H,
             (long long)D, c->causal, c->pad);
    clft_rng r = clft_rng_make(SEED, stream);
    const int64_t nq = B * Lq * row, nk = B * Lk * row, nn = B * N * row;
    float *q = malloc((size_t)nq * sizeof *q), *k = malloc((size_t)nk * sizeof *k),
          *v = malloc((size_t)nk * sizeof *v), *kn = malloc((size_t)nn * sizeof *kn),
          *vn = malloc((size_t)nn * sizeof *vn), *got = malloc((size_t)nq * sizeof *got);
    double *ref = malloc((size_t)nq * sizeof *ref);
    int32_t kl[4];
    cr_assert(q && k && v && kn && vn && got && ref && B <= 4);
    random_values(&r, dt, q, nq);
    random_values(&r, dt, k, nk);
    random_values(&r, dt, v, nk);
    random_values(&r, dt, kn, nn);
    random_values(&r, dt, vn, nn);
    for (int64_t b = 0; b < B; b++)
        kl[b] = b == 1 ? (int32_t)Lk + 2 : (int32_t)(1 + clft_next(&r) % (uint64_t)Lk);
    /* device: q; the caches (sentinels past lk, NaN in the new rows); k_new and v_new */
    pbuf bq, bk, bv, bn, bo;
    clf_tensor tq, kc, vc, tk, tv, fused, tkn, tvn, to, slot_k, slot_v, tkl;
    pbuf_make_view(ctx, dt, 4, (int64_t[]){B, Lq, H, D}, NULL, 3, 5, &bq, &tq);
    pbuf_make_view(ctx, dt, 4, (int64_t[]){B, cap, H, D}, NULL, 0, 3, &bk, &kc);
    pbuf_make_view(ctx, dt, 4, (int64_t[]){B, cap, H, D}, NULL, 2, 1, &bv, &vc);
    pbuf_make_view(ctx, dt, 4, (int64_t[]){B, N, 1, 2 * row}, NULL, 4, 6, &bn, &fused);
    pbuf_make_view(ctx, dt, 4, (int64_t[]){B, Lq, H, D}, NULL, 5, 4, &bo, &to);
    const int64_t ns[4] = {B, N, H, D}, nst[4] = {fused.stride[0], fused.stride[1], D, 1};
    cr_assert_eq(clf_tensor_view(&fused, 4, ns, nst, fused.offset, &tkn), CLF_OK);
    cr_assert_eq(clf_tensor_view(&fused, 4, ns, nst, fused.offset + row, &tvn), CLF_OK);
    cr_assert_eq(clf_tensor_slice(&kc, 1, 0, Lk, &tk), CLF_OK);
    cr_assert_eq(clf_tensor_slice(&vc, 1, 0, Lk, &tv), CLF_OK);
    cr_assert_eq(clf_tensor_slice(&kc, 1, pos, N, &slot_k), CLF_OK);
    cr_assert_eq(clf_tensor_slice(&vc, 1, pos, N, &slot_v), CLF_OK);
    float *nan = malloc((size_t)(nq > nn ? nq : nn) * sizeof *nan);
    cr_assert(nan);
    clft_poison(nan, (size_t)(nq > nn ? nq : nn));
    pbuf_set(&bq, &tq, q);
    pbuf_set(&bk, &tk, k);
    pbuf_set(&bv, &tv, v);
    pbuf_set(&bk, &slot_k, nan);
    pbuf_set(&bv, &slot_v, nan);
    pbuf_set(&bn, &tkn, kn);
    pbuf_set(&bn, &tvn, vn);
    pbuf_set(&bo, &to, nan);
    pbuf *all[] = {&bq, &bk, &bv, &bn, &bo};
    for (size_t i = 0; i < LEN(all); i++)
        pbuf_upload(ctx, all[i]);
    cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 1, &B, &tkl), CLF_OK);
    cr_assert_eq(clf_tensor_write(ctx, &tkl, kl, (size_t)B * 4, true), CLF_OK);
    clf_profile_record rec[64];
    size_t nrec = 0;
    cr_assert_eq(clf_context_profile(ctx, rec, LEN(rec), &nrec), CLF_OK); /* forget the uploads */
    clf_attention_params p = {.causal = c->causal != 0, .key_lens = c->pad ? &tkl : NULL,
                              .impl = c->impl, .k_new = &tkn, .v_new = &tvn, .append_pos = pos};
    clf_status st = clf_attention(ctx, &tq, &tk, &tv, &to, &p);
    cr_assert_eq(st, CLF_OK, "%s: %s: %s (seed %llu)", what, clf_status_name(st),
                 clf_context_last_error(ctx), SEED);
    cr_assert_eq(clf_context_profile(ctx, rec, LEN(rec), &nrec), CLF_OK);
    bool cpu = clf_context_kernel_profile(ctx)->family == CLF_KERNELS_CPU;
    if (c->fold == 1 && cpu)
        cr_assert(nrec == 1 && strcmp(rec[0].kernel, "attn_decode_rows") == 0,
                  "%s: the CPU family should fold the append: %zu launches, the first %s", what,
                  nrec, nrec ? rec[0].kernel : "-");
    if (c->fold == 0)
        cr_assert(nrec >= 3, "%s: %zu launches, expected the two appends and the attention",
                  what, nrec);
    /* the new rows hold k_new and v_new; nothing else of either cache changed */
    float *back = malloc((size_t)nn * sizeof *back);
    cr_assert(back);
    pbuf_fetch(ctx, &bk, &slot_k, back, what);
    for (int64_t i = 0; i < nn; i++)
        cr_assert(back[i] == kn[i], "%s: new key element %lld: %g, want %g (seed %llu)", what,
                  (long long)i, back[i], kn[i], SEED);
    pbuf_fetch(ctx, &bv, &slot_v, back, what);
    for (int64_t i = 0; i < nn; i++)
        cr_assert(back[i] == vn[i], "%s: new value element %lld: %g, want %g (seed %llu)", what,
                  (long long)i, back[i], vn[i], SEED);
    pbuf_fetch(ctx, &bo, &to, got, what);
    /* the reference: the cache with the new rows in place */
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < N; j++) {
            memcpy(k + (b * Lk + pos + j) * row, kn + (b * N + j) * row, (size_t)row * sizeof *k);
            memcpy(v + (b * Lk + pos + j) * row, vn + (b * N + j) * row, (size_t)row * sizeof *v);
        }
    clft_ref_attention(B, Lq, Lk, H, D, q, k, v, 1.0 / sqrt((double)D), c->causal,
                       c->pad ? kl : NULL, ref, NULL);
    const double e = clft_nmse(got, ref, (size_t)nq);
    cr_assert(e < threshold(dt), "%s: NMSE %.3g >= %.2g (seed %llu)", what, e, threshold(dt),
              SEED);
    for (size_t i = 0; i < LEN(all); i++)
        pbuf_free(all[i]);
    clf_tensor_free(&tkl);
    free(q), free(k), free(v), free(kn), free(vn), free(got), free(ref), free(nan), free(back);
    clf_context_free(ctx);
}

Test(attention, an_append_folded_into_attention_writes_the_cache_and_attends_to_it)
{
    static const append_case C[] = {
        /* b lq n lk h d back causal pad impl fold */
        {1, 1, 1, 1, 1, 64, 0, 1, 0, CLF_ATTN_AUTO, 1},    /* the first step: the only key */
        {3, 1, 1, 37, 12, 64, 0, 1, 1, CLF_ATTN_AUTO, 1},  /* a batched decode step, padded */
        {2, 1, 1, 23, 5, 80, 4, 0, 0, CLF_ATTN_DECODE, 1}, /* at a position before the last */
        {1, 1, 1, 300, 3, 32, 0, 1, 0, CLF_ATTN_AUTO, -1}, /* a long cache: maybe split */
        {2, 3, 3, 20, 2, 64, 0, 1, 0, CLF_ATTN_AUTO, 0},   /* three new tokens */
        {2, 1, 2, 9, 4, 128, 1, 1, 0, CLF_ATTN_DECODE, 0}, /* two new rows, one query */
        {1, 1, 1, 9, 2, 64, 0, 1, 0, CLF_ATTN_FUSED, 0},
        {2, 1, 1, 7, 3, 32, 0, 0, 1, CLF_ATTN_UNFUSED, 0},
    };
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < n; d++)
        for (int dti = 0; dti < 2; dti++)
            for (int ci = 0; ci < (int)LEN(C); ci++)
                check_append(specs[d], dti ? CLF_F16 : CLF_F32, &C[ci],
                             (uint64_t)(9000 + 10 * ci + dti));
}

Test(attention, bad_append_arguments_are_errors_that_change_nothing)
{
    EACH_DEVICE(ctx)
    {
        clf_tensor q, kc, k, v, o, kn, vn, kn16, kn5, big;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 1, 3, 32}, &q), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 9, 3, 32}, &kc), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 9, 3, 32}, &v), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 1, 3, 32}, &o), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 1, 3, 32}, &kn), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 1, 3, 32}, &vn), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F16, 4, (int64_t[]){2, 1, 3, 32}, &kn16), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 1, 5, 32}, &kn5), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){4096}, &big), CLF_OK);
        cr_assert_eq(clf_tensor_slice(&kc, 1, 0, 7, &k), CLF_OK);
        cr_assert_eq(clf_tensor_fill(ctx, &kc, 1.5f), CLF_OK);
        cr_assert_eq(clf_tensor_fill(ctx, &v, 1.5f), CLF_OK);
        clf_tensor kn_in_k; /* k_new inside the cache it is appended to */
        cr_assert_eq(clf_tensor_slice(&kc, 1, 7, 1, &kn_in_k), CLF_OK);
#define EXPECT(call, status) expect_error(ctx, (call), (status), "clf_attention", #call)
        clf_attention_params p = {.k_new = &kn, .v_new = NULL, .append_pos = 6};
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_INVALID_ARG); /* v_new missing */
        clf_tensor vs;
        cr_assert_eq(clf_tensor_slice(&v, 1, 0, 7, &vs), CLF_OK);
        p.v_new = &vn;
        p.append_pos = 7; /* [7, 8) is past k's 7 keys */
        EXPECT(clf_attention(ctx, &q, &k, &vs, &o, &p), CLF_ERR_OUT_OF_RANGE);
        p.append_pos = -1;
        EXPECT(clf_attention(ctx, &q, &k, &vs, &o, &p), CLF_ERR_OUT_OF_RANGE);
        p.append_pos = 6;
        p.k_new = &kn16;
        EXPECT(clf_attention(ctx, &q, &k, &vs, &o, &p), CLF_ERR_DTYPE);
        p.k_new = &kn5;
        EXPECT(clf_attention(ctx, &q, &k, &vs, &o, &p), CLF_ERR_SHAPE);
        p.k_new = &kn_in_k;
        EXPECT(clf_attention(ctx, &q, &k, &vs, &o, &p), CLF_ERR_INVALID_ARG);
        p.k_new = &kn;
        p.v_new = &o; /* v_new is the output */
        EXPECT(clf_attention(ctx, &q, &k, &vs, &o, &p), CLF_ERR_INVALID_ARG);
#undef EXPECT
        /* nothing was written: the caches still hold 1.5 everywhere */
        float *h = malloc(2 * 9 * 3 * 32 * sizeof *h);
        cr_assert(h);
        cr_assert_eq(clf_tensor_read_f32(ctx, &kc, h, 2 * 9 * 3 * 32), CLF_OK);
        for (int i = 0; i < 2 * 9 * 3 * 32; i++)
            cr_assert(h[i] == 1.5f, "key cache element %d changed to %g", i, h[i]);
        cr_assert_eq(clf_tensor_read_f32(ctx, &v, h, 2 * 9 * 3 * 32), CLF_OK);
        for (int i = 0; i < 2 * 9 * 3 * 32; i++)
            cr_assert(h[i] == 1.5f, "value cache element %d changed to %g", i, h[i]);
        free(h);
        clf_tensor *all[] = {&q, &kc, &v, &o, &kn, &vn, &kn16, &kn5, &big};
        for (size_t i = 0; i < LEN(all); i++)
            clf_tensor_free(all[i]);
    }
}

Test(attention, cache_rows_of_a_wrong_shape_or_dtype_or_impl_are_errors)
{
    EACH_DEVICE(ctx)
    {
        clf_tensor q, k, o, r, r_long, r_batch, r_f32, r_1d, r_wide, r_gap;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 1, 3, 32}, &q), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 7, 3, 32}, &k), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){2, 1, 3, 32}, &o), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, (int64_t[]){2, 7}, &r), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, (int64_t[]){2, 8}, &r_long), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, (int64_t[]){3, 7}, &r_batch), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){2, 7}, &r_f32), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 1, (int64_t[]){14}, &r_1d), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, (int64_t[]){2, 14}, &r_wide), CLF_OK);
        /* (2, 7) with a key stride of 2: the key axis is not contiguous. */
        cr_assert_eq(clf_tensor_view(&r_wide, 2, (int64_t[]){2, 7}, (int64_t[]){14, 2}, 0, &r_gap),
                     CLF_OK);
        cr_assert_eq(clf_tensor_fill(ctx, &r, 1.0f), CLF_OK);
#define EXPECT(call, status) expect_error(ctx, (call), (status), "clf_attention", #call)
        clf_attention_params p = {.impl = CLF_ATTN_DECODE, .cache_rows = &r_long};
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_SHAPE);
        p.cache_rows = &r_batch;
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_SHAPE);
        p.cache_rows = &r_1d;
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_SHAPE);
        p.cache_rows = &r_gap;
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_SHAPE);
        p.cache_rows = &r_f32;
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_DTYPE);
        p.cache_rows = &r;
        p.impl = CLF_ATTN_FUSED;
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_UNSUPPORTED);
        p.impl = CLF_ATTN_UNFUSED;
        EXPECT(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_ERR_UNSUPPORTED);
#undef EXPECT
        p.impl = CLF_ATTN_AUTO;
        cr_assert_eq(clf_attention(ctx, &q, &k, &k, &o, &p), CLF_OK, "%s",
                     clf_context_last_error(ctx));
        cr_assert_eq(clf_context_finish(ctx), CLF_OK, "%s", clf_context_last_error(ctx));
        clf_tensor *all[] = {&q, &k, &o, &r, &r_long, &r_batch, &r_f32, &r_1d, &r_wide};
        for (size_t i = 0; i < LEN(all); i++)
            clf_tensor_free(all[i]);
    }
}

/* Half arithmetic (CLFORMER_HALF_MATH=1, where the device has cl_khr_fp16):
 * attn_flash (GPU family) and the decode pair on f16 tensors, head dim 64
 * (each head dim is a program per impl: ~10 s cold on Intel's CPU runtime
 * under load), in the family CLFORMER_KERNELS picks (the CPU family's fused
 * path has no half variant: only DECODE runs there).
 *
 * Bound. u = 2^-11; a rounding leaves a relative error of variance ~u^2/3.
 * Each output is sum_j w_j v_j with softmax weights w_j: the products p_j v_j
 * are rounded twice (p_j to half, then the product), the output once more
 * (f16 storage): 3 u^2/3 of NMSE when the errors are independent between
 * keys. The scores carry two roundings per q.k term (q to half, the product),
 * a relative score error of ~u sqrt(2/3), which moves each w_j by ln 2 times
 * the base-2 score's error: another 2 u^2/3 (ln 2 sigma)^2 with sigma < 1 (the
 * base-2 score's spread for uniform inputs at these scales). Expected NMSE
 * under 4 u^2/3 = 3.2e-7; the bound is ten times that, 3.2e-6 (the f16 bound of
 * the other attention tests is 1e-3). The half path must show in the
 * programs built (-DATTN_HALF=1). */
static const attn_case HALF_CASES[] = {
    {2, 7, 7, 3, 64, 1, 1, L_PLAIN, 0},
    {2, 1, 300, 12, 64, 1, 1, L_CACHE, 0},
    {1, 13, 127, 8, 64, 0, 0, L_HEADMAJOR, 0},
};

static int attention_programs_with(const clf_context *ctx, const char *what)
{
    int n = 0;
    for (size_t i = 0; i < ctx->n_programs; i++)
        n += strcmp(ctx->programs[i].name, "attention") == 0 && ctx->programs[i].options &&
             strstr(ctx->programs[i].options, what) != NULL;
    return n;
}

Test(attention, half_math_matches_float64_within_f16_bounds, .timeout = 300)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16), ran = 0;
    const double bound = 10 * 4 * ldexp(1.0, -22) / 3;
    cr_assert_eq(setenv("CLFORMER_HALF_MATH", "1", 1), 0);
    for (int d = 0; d < nd; d++) {
        clf_context *ctx = clft_model_context(specs[d]);
        const clf_kernel_profile *pr = clf_context_kernel_profile(ctx);
        if (!pr->limits.fp16) {
            cr_assert_eq(pr->half_math, 0, "%s: half math without cl_khr_fp16", specs[d]);
            cr_log_warn("attention half math: %s (%s) has no cl_khr_fp16: not applicable, not "
                        "tested there", specs[d], ctx->info.name);
            clf_context_free(ctx);
            continue;
        }
        double worst = 0;
        for (int impl = CLF_ATTN_FUSED; impl <= CLF_ATTN_DECODE; impl++) {
            if (impl == CLF_ATTN_FUSED && pr->family != CLF_KERNELS_GPU) continue;
            for (int ci = 0; ci < (int)LEN(HALF_CASES); ci++) {
                double e = check_case_within(ctx, &HALF_CASES[ci], CLF_F16, (clf_attn_impl)impl,
                                             (uint64_t)(700 + ci), NULL, bound);
                if (e > worst) worst = e;
            }
        }
        cr_assert_gt(attention_programs_with(ctx, "-DATTN_HALF=1"), 0, "%s: no program with ATTN_HALF",
                     specs[d]);
        cr_log_info("attention half math: %s %s kernels: worst NMSE %.3g (bound %.2g)", specs[d],
                    clf_kernel_family_name(pr->family), worst, bound);
        ran++;
        clf_context_free(ctx);
    }
    unsetenv("CLFORMER_HALF_MATH");
    if (!ran) cr_skip_test("attention half math: no test device has cl_khr_fp16: not applicable");
}
