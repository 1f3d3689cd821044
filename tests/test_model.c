/*
 * Model tests against the PyTorch goldens (tests/golden/README.md, testing
 * level 3): encoder hidden states (post-LN, pre-LN), GPT-style logits and
 * greedy ids, seq2seq memory, teacher-forced logits, greedy and beam-4 ids,
 * n-best; padding invariance; incremental decoding with the KV cache equal
 * to recomputing the prefix; sampling determinism, streaming and abort;
 * no host synchronisation inside a pass; load errors naming the tensor.
 *
 * Error figure: relative max-norm error max|out - ref| / max|ref| over the
 * compared rows (f32 weights).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "model/safetensors.h"

#define EACH_DEVICE(spec)                                                                          \
    char specs_[16][32];                                                                           \
    int n_specs_ = clft_devices_or_skip(specs_, 16);                                               \
    for (int d_ = 0; d_ < n_specs_; d_++)                                                          \
        for (const char *spec = specs_[d_]; spec; spec = NULL)

#define OK(expr)                                                                                   \
    do {                                                                                           \
        clf_status st_ = (expr);                                                                   \
        cr_assert_eq(st_, CLF_OK, "%s: %s (%s)", #expr, clf_status_name(st_),                      \
                     clf_context_last_error(ctx));                                                 \
    } while (0)

#define TOL 1e-4

long clf__alloc_live(void); /* core/alloc.c: host blocks not yet freed */

static const char *golden(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s.safetensors", clft_golden_dir(), name);
    return path[k];
}

static clf__safetensors *open_golden(const char *name)
{
    clf__safetensors *st = NULL;
    char err[256];
    clf_status s = clf__safetensors_open(golden(name), &st, err, sizeof err);
    cr_assert_eq(s, CLF_OK, "%s: %s", golden(name), err);
    return st;
}

static const clf__st_tensor *gt(const clf__safetensors *st, const char *name)
{
    const clf__st_tensor *t = clf__st_find(st, name);
    cr_assert(t, "golden tensor %s missing", name);
    return t;
}

static float *gf(const clf__safetensors *st, const char *name)
{
    const clf__st_tensor *t = gt(st, name);
    float *x = malloc((size_t)t->n_elements * sizeof *x);
    cr_assert_eq(clf__st_tensor_to_f32(t, x), CLF_OK);
    return x;
}

static int32_t *gi(const clf__safetensors *st, const char *name)
{
    const clf__st_tensor *t = gt(st, name);
    int32_t *x = malloc((size_t)t->n_elements * sizeof *x);
    cr_assert_eq(clf__st_tensor_read(t, x), CLF_OK, "%s", clf_context_last_error(NULL));
    return x;
}

/* Relative max-norm error over rows [0, len_b) of each batch entry of a
 * (B, S, W) array. */
static double rel_err(const float *out, const float *ref, int B, int S, int W, const int32_t *lens)
{
    double num = 0, den = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < (lens ? lens[b] : S); t++)
            for (int i = 0; i < W; i++) {
                size_t k = ((size_t)b * S + t) * W + i;
                double d = fabs((double)out[k] - ref[k]);
                if (isnan(out[k])) d = INFINITY;
                num = fmax(num, d);
                den = fmax(den, fabs(ref[k]));
            }
    return num / den;
}

static clf_model *load(clf_context *ctx, const char *name, int64_t mb, int64_t ms, int64_t mt)
{
    clf_model_params p = clf_model_params_default();
    p.max_batch = mb;
    p.max_source_len = ms;
    p.max_target_len = mt;
    clf_model *m = NULL;
    OK(clf_model_load(ctx, golden(name), &p, &m));
    return m;
}

static void print_memory(const clf_model *m, const char *what, int which)
{
    size_t a, s, lb;
    clf_model_memory(m, which, &a, &s, &lb);
    printf("[model] %s graph: arena %zu B, activation sum %zu B, lower bound %zu B\n", what, a, s,
           lb);
}

static void encoder_golden(const char *name)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = open_golden(name);
        enum { B = 3, S = 11, D = 64 };
        int32_t *ids = gi(st, "input_ids"), *lens = gi(st, "lengths");
        float *ref = gf(st, "hidden");
        clf_model *m = load(ctx, name, 4, 16, 0);
        float *out = malloc((size_t)B * S * D * sizeof *out);
        clft_poison(out, (size_t)B * S * D);
        OK(clf_model_encode(m, ids, lens, B, S, CLF_POOL_NONE, out, NULL, NULL));
        double e = rel_err(out, ref, B, S, D, lens);
        printf("[model] %s: hidden of real tokens vs PyTorch: relative error %.3g\n", name, e);
        print_memory(m, name, 0);
        cr_assert(e <= TOL, "%s: relative error %.3g > %g", name, e, TOL);

        /* Padding removal (encoder-only models): the layers ran on the real
         * tokens only, so each padded row is a copy of its sequence's first. */
        cr_assert_eq(clf_model_get_config(m)->kind, CLF_MODEL_ENCODER);
        int padded = 0;
        for (int b = 0; b < B; b++)
            for (int t = lens[b]; t < S; t++, padded++)
                cr_assert(!memcmp(out + ((size_t)b * S + t) * D, out + (size_t)b * S * D,
                                  D * sizeof *out),
                          "%s: padded row (%d, %d) is not its sequence's first row", name, b, t);
        cr_assert_gt(padded, 0, "%s: the golden batch has no padding", name);
        /* CLFORMER_PACK_TOKENS=0 (read when the encoder graph is built): every
         * row computed, the real ones as packed. */
        setenv("CLFORMER_PACK_TOKENS", "0", 1);
        clf_model *mu = load(ctx, name, 4, 16, 0);
        float *outu = malloc((size_t)B * S * D * sizeof *outu);
        OK(clf_model_encode(mu, ids, lens, B, S, CLF_POOL_NONE, outu, NULL, NULL));
        unsetenv("CLFORMER_PACK_TOKENS");
        double eu = rel_err(outu, out, B, S, D, lens);
        int copies = 0;
        for (int b = 0; b < B; b++)
            for (int t = lens[b]; t < S; t++)
                copies += !memcmp(outu + ((size_t)b * S + t) * D, outu + (size_t)b * S * D,
                                  D * sizeof *outu);
        printf("[model] %s: unpacked vs packed, real rows: relative difference %.3g\n", name, eu);
        cr_assert(eu <= 1e-5 && copies == 0, "%s: unpacked vs packed %.3g, %d padded copies", name,
                  eu, copies);
        clf_model_free(mu);
        free(outu);

        /* Each sequence alone, unpadded: the same real-token rows. */
        for (int b = 0; b < B; b++) {
            float one[S * D];
            OK(clf_model_encode(m, ids + b * S, &lens[b], 1, lens[b], CLF_POOL_NONE, one, NULL,
                                NULL));
            double ep = rel_err(one, out + (size_t)b * S * D, 1, lens[b], D, NULL);
            double eg = rel_err(one, ref + (size_t)b * S * D, 1, lens[b], D, NULL);
            cr_assert(ep <= 1e-5 && eg <= TOL,
                      "%s: sequence %d alone (length %d) vs padded batch %.3g, vs golden %.3g",
                      name, b, lens[b], ep, eg);
        }
        /* Padding ids changed: real rows unchanged. */
        int32_t ids2[B * S];
        memcpy(ids2, ids, sizeof ids2);
        for (int b = 0; b < B; b++)
            for (int t = lens[b]; t < S; t++)
                ids2[b * S + t] = 7 + t;
        float *out2 = malloc((size_t)B * S * D * sizeof *out2);
        OK(clf_model_encode(m, ids2, lens, B, S, CLF_POOL_NONE, out2, NULL, NULL));
        double ep = rel_err(out2, out, B, S, D, lens);
        cr_assert(ep <= 1e-6, "%s: padding ids changed real rows by %.3g", name, ep);

        /* Pooling: first token and mean over the real tokens. */
        float pooled[B * D];
        OK(clf_model_encode(m, ids, lens, B, S, CLF_POOL_MEAN, NULL, pooled, NULL));
        for (int b = 0; b < B; b++)
            for (int i = 0; i < D; i++) {
                double s = 0;
                for (int t = 0; t < lens[b]; t++)
                    s += out[((size_t)b * S + t) * D + i];
                s /= lens[b];
                cr_assert(fabs(pooled[b * D + i] - s) <= 1e-5 * (1 + fabs(s)),
                          "mean pool [%d,%d] %g vs %g", b, i, pooled[b * D + i], s);
            }
        OK(clf_model_encode(m, ids, lens, B, S, CLF_POOL_FIRST, NULL, pooled, NULL));
        for (int b = 0; b < B; b++)
            for (int i = 0; i < D; i++)
                cr_assert(fabs(pooled[b * D + i] - out[(size_t)b * S * D + i]) <= 1e-6,
                          "first pool [%d,%d]", b, i);
        clf_model_free(m);
        free(out);
        free(out2);
        free(ids);
        free(lens);
        free(ref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

Test(model, encoder_postln_matches_pytorch_and_ignores_padding)
{
    encoder_golden("encoder_postln");
}
Test(model, encoder_preln_matches_pytorch_and_ignores_padding) { encoder_golden("encoder_preln"); }

Test(model, gpt_logits_greedy_and_incremental_decoding_match)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = open_golden("gpt");
        enum { B = 2, S = 8, V = 100, N = 10 };
        int32_t *ids = gi(st, "input_ids"), *gen = gi(st, "generated_ids");
        float *ref = gf(st, "logits");
        clf_model *m = load(ctx, "gpt", 4, 0, 32);
        float *lg = malloc((size_t)B * S * V * sizeof *lg);
        clft_poison(lg, (size_t)B * S * V);
        OK(clf_model_decode(m, ids, B, S, 0, lg, NULL));
        double e = rel_err(lg, ref, B, S, V, NULL);
        printf("[model] gpt: prompt logits vs PyTorch: relative error %.3g\n", e);
        print_memory(m, "gpt step (b = 2)", 1);
        cr_assert(e <= TOL, "gpt logits: relative error %.3g > %g", e, TOL);

        /* Incremental: one token at a time through the cache gives the same
         * logits as the whole prefix at once. */
        float *inc = malloc((size_t)B * S * V * sizeof *inc);
        for (int t = 0; t < S; t++) {
            int32_t step_ids[B] = {ids[t], ids[S + t]};
            float row[B * V];
            OK(clf_model_decode(m, step_ids, B, 1, t, row, NULL));
            for (int b = 0; b < B; b++)
                memcpy(inc + ((size_t)b * S + t) * V, row + b * V, V * sizeof(float));
        }
        double ei = rel_err(inc, lg, B, S, V, NULL);
        printf("[model] gpt: incremental (T = 1 steps) vs whole prefix: relative error %.3g\n", ei);
        cr_assert(ei <= 1e-5, "incremental vs recomputed prefix: %.3g", ei);

        int32_t out_ids[B * N], out_len[B];
        clf_generate_params gp = clf_generate_params_default();
        gp.max_new_tokens = N;
        gp.ignore_eos = true;
        clf_generate_output go = {out_ids, out_len, NULL, NULL, NULL};
        OK(clf_model_generate(m, ids, NULL, B, S, &gp, &go));
        for (int i = 0; i < B * N; i++)
            cr_assert_eq(out_ids[i], gen[i], "gpt greedy: prompt %d token %d: %d, golden %d", i / N,
                         i % N, out_ids[i], gen[i]);
        clf_model_free(m);
        free(lg);
        free(inc);
        free(ids);
        free(gen);
        free(ref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

static void check_ids(const int32_t *got, const int32_t *ref, int n, const char *what, int b)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(got[i], ref[i], "%s: source %d token %d: %d, golden %d", what, b, i, got[i],
                     ref[i]);
}

Test(model, seq2seq_logits_greedy_and_beam_match)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = open_golden("seq2seq");
        enum { B = 2, S = 9, T = 6, V = 120, D = 64, N = 12, K = 4 };
        int32_t *src = gi(st, "src_ids"), *sl = gi(st, "src_lengths"), *tgt = gi(st, "tgt_ids");
        float *mem_ref = gf(st, "memory"), *lref = gf(st, "logits");
        clf_model *m = load(ctx, "seq2seq", 4, 16, 16);
        float mem[B * S * D];
        OK(clf_model_encode(m, src, sl, B, S, CLF_POOL_NONE, mem, NULL, NULL));
        double em = rel_err(mem, mem_ref, B, S, D, sl);
        float *lg = malloc((size_t)B * T * V * sizeof *lg);
        OK(clf_model_decode(m, tgt, B, T, 0, lg, NULL));
        double el = rel_err(lg, lref, B, T, V, NULL);
        printf("[model] seq2seq: memory %.3g, teacher-forced logits %.3g (relative errors vs "
               "PyTorch)\n",
               em, el);
        print_memory(m, "seq2seq encoder", 0);
        print_memory(m, "seq2seq step (b = 2)", 1);
        print_memory(m, "seq2seq cross K/V", 2);
        cr_assert(em <= TOL && el <= TOL, "memory %.3g, logits %.3g > %g", em, el, TOL);

        int32_t ids[B * N], lens[B];
        clf_generate_params gp = clf_generate_params_default();
        gp.max_new_tokens = N;
        clf_generate_output go = {ids, lens, NULL, NULL, NULL};
        OK(clf_model_generate(m, src, sl, B, S, &gp, &go));
        int32_t *gref = gi(st, "greedy_ids"), *glen = gi(st, "greedy_lengths");
        for (int b = 0; b < B; b++) {
            cr_assert_eq(lens[b], glen[b], "greedy length of source %d: %d, golden %d", b, lens[b],
                         glen[b]);
            check_ids(ids + b * N, gref + b * N, N, "greedy", b);
        }

        int32_t nb_ids[B * 2 * N], nb_len[B * 2];
        float nb_sc[B * 2], nb_lp[B * 2];
        gp.strategy = CLF_DECODE_BEAM;
        gp.beam_size = K;
        gp.n_best = 2;
        clf_generate_output bo = {nb_ids, nb_len, nb_sc, nb_lp, NULL};
        OK(clf_model_generate(m, src, sl, B, S, &gp, &bo));
        int32_t *bref = gi(st, "beam_ids"), *nref = gi(st, "nbest_ids"),
                *nlen = gi(st, "nbest_lengths");
        float *nsc = gf(st, "nbest_scores"), *nlp = gf(st, "nbest_logprobs");
        for (int b = 0; b < B; b++) {
            check_ids(nb_ids + b * 2 * N, bref + b * N, N, "beam best", b);
            check_ids(nb_ids + b * 2 * N, nref + b * 2 * N, 2 * N, "beam n-best", b);
            for (int r = 0; r < 2; r++) {
                cr_assert_eq(nb_len[b * 2 + r], nlen[b * 2 + r], "n-best length");
                cr_assert(fabsf(nb_sc[b * 2 + r] - nsc[b * 2 + r]) <= 1e-4f * fabsf(nsc[b * 2 + r]),
                          "n-best score %d/%d: %.6f vs %.6f", b, r, nb_sc[b * 2 + r],
                          nsc[b * 2 + r]);
                cr_assert(fabsf(nb_lp[b * 2 + r] - nlp[b * 2 + r]) <= 1e-4f * fabsf(nlp[b * 2 + r]),
                          "n-best logprob %d/%d: %.6f vs %.6f", b, r, nb_lp[b * 2 + r],
                          nlp[b * 2 + r]);
            }
            printf(
                "[model] seq2seq beam %d: best score %.5f (golden %.5f), 2nd %.5f (golden %.5f)\n",
                b, nb_sc[b * 2], nsc[b * 2], nb_sc[b * 2 + 1], nsc[b * 2 + 1]);
        }
        clf_model_free(m);
        free(lg);
        free(src);
        free(sl);
        free(tgt);
        free(mem_ref);
        free(lref);
        free(gref);
        free(glen);
        free(bref);
        free(nref);
        free(nlen);
        free(nsc);
        free(nlp);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

typedef struct stream {
    int count, abort_after, n0;
    int32_t toks[64]; /* sequence 0's tokens */
} stream;

static void on_token(void *user, int64_t seq, int64_t step, int32_t token)
{
    stream *s = user;
    (void)step;
    if (seq == 0 && s->n0 < 64) s->toks[s->n0++] = token;
    s->count++;
}

static bool should_abort(void *user)
{
    stream *s = user;
    return s->abort_after > 0 && s->count >= s->abort_after;
}

Test(model, sampling_is_reproducible_by_seed_streams_and_aborts)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = open_golden("gpt");
        enum { B = 2, S = 8, N = 12 };
        int32_t *ids = gi(st, "input_ids");
        clf_model *m = load(ctx, "gpt", 4, 0, 32);
        int32_t a[B * N], b[B * N], c[B * N];
        clf_generate_params gp = clf_generate_params_default();
        gp.strategy = CLF_DECODE_SAMPLE;
        gp.max_new_tokens = N;
        gp.ignore_eos = true;
        gp.temperature = 1.5f;
        gp.top_k = 20;
        gp.top_p = 0.95f;
        gp.seed = 1234;
        stream s1 = {0, 0, 0, {0}};
        gp.on_token = on_token;
        gp.user = &s1;
        clf_generate_output o = {a, NULL, NULL, NULL, NULL};
        OK(clf_model_generate(m, ids, NULL, B, S, &gp, &o));
        cr_assert_eq(s1.count, B * N, "streamed %d tokens, expected %d", s1.count, B * N);
        for (int i = 0; i < N; i++)
            cr_assert_eq(s1.toks[i], a[i], "streamed token %d differs", i);
        o.ids = b;
        OK(clf_model_generate(m, ids, NULL, B, S, &gp, &o));
        cr_assert_eq(memcmp(a, b, sizeof a), 0, "same seed, different tokens");
        gp.seed = 99;
        o.ids = c;
        OK(clf_model_generate(m, ids, NULL, B, S, &gp, &o));
        cr_assert_neq(memcmp(a, c, sizeof a), 0, "seeds 1234 and 99 gave the same %d tokens",
                      B * N);
        for (int i = 0; i < B * N; i++)
            cr_assert(c[i] >= 0 && c[i] < 100);

        stream s2 = {0, 6, 0, {0}};
        gp.user = &s2;
        gp.abort = should_abort;
        clf_status r = clf_model_generate(m, ids, NULL, B, S, &gp, &o);
        cr_assert_eq(r, CLF_ERR_ABORTED, "abort: got %s", clf_status_name(r));
        cr_assert_eq(s2.count, 6, "abort after 3 steps of 2 sequences: %d tokens streamed",
                     s2.count);
        cr_assert(strstr(clf_context_last_error(ctx), "abort"), "message: %s",
                  clf_context_last_error(ctx));
        clf_model_free(m);
        free(ids);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

/* One out-of-range clf_generate_params field per case k (model.h states each
 * range): sets it in p and returns the text the message must hold (field
 * and value), or NULL past the last case. */
static const char *bad_generate_param(int k, clf_generate_params *p)
{
    switch (k) {
    case 0: p->temperature = -1; return "temperature -1";
    case 1: p->temperature = NAN; return "temperature nan";
    case 2: p->temperature = INFINITY; return "temperature inf";
    case 3: p->top_k = -7; return "top_k -7";
    case 4: p->strategy = CLF_DECODE_SAMPLE, p->top_p = 7; return "top_p 7";
    case 5: p->top_p = -0.5f; return "top_p -0.5";
    case 6: p->top_p = NAN; return "top_p nan";
    case 7: p->strategy = (clf_decode_strategy)42; return "strategy 42";
    case 8: p->max_new_tokens = -5; return "max_new_tokens -5";
    case 9: p->max_new_tokens = (int64_t)INT32_MAX + 1; return "max_new_tokens 2147483648";
    case 10: p->strategy = CLF_DECODE_BEAM, p->beam_size = -2; return "beam_size -2";
    case 11: p->strategy = CLF_DECODE_BEAM, p->beam_size = 3; return "beam_size 3";
    case 12: p->beam_size = -1; return "beam_size -1"; /* greedy: still never meant */
    case 13: p->n_best = -1; return "n_best -1";
    case 14: p->n_best = 2; return "n_best 2"; /* more than one: beam search only */
    case 15: p->length_alpha = NAN; return "length_alpha nan";
    case 16: p->beam_rule = (clf_beam_rule)9; return "beam_rule 9";
    default: return NULL;
    }
}

/* Issue 13, defect 9: these all returned CLF_OK (or, for beam_size -2,
 * "beam_size 4 > max_batch 2"). */
Test(model, generate_refuses_every_out_of_range_parameter_naming_it)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf_model_config cfg;
        OK(clf_model_config_preset("tiny", &cfg));
        clf_model_params mp = clf_model_params_default();
        mp.max_batch = 2;
        mp.max_target_len = 16;
        clf_model *m = NULL;
        OK(clf_model_create_random(ctx, &cfg, &mp, 7, &m));
        int32_t ids[3] = {5, 9, 11}, out[3 * 8];
        clf_generate_output go = {out, NULL, NULL, NULL, NULL};
        int k = 0;
        for (;; k++) {
            clf_generate_params p = clf_generate_params_default();
            p.max_new_tokens = 4;
            const char *want = bad_generate_param(k, &p);
            if (!want) break;
            clf_status s = clf_model_generate(m, ids, NULL, 1, 3, &p, &go);
            const char *err = clf_context_last_error(ctx);
            cr_assert_eq(s, CLF_ERR_INVALID_ARG, "%s: %s (%s)", want, clf_status_name(s), err);
            cr_assert(strstr(err, want), "%s: message \"%s\" does not name it", want, err);
        }
        printf("[model] generate: %d out-of-range parameters refused, e.g. \"%s\"\n", k,
               clf_context_last_error(ctx));
        /* The edges of each range are accepted. */
        clf_generate_params p = clf_generate_params_default();
        p.strategy = CLF_DECODE_SAMPLE;
        p.max_new_tokens = 8;
        p.top_p = 1;
        p.top_k = 1000;
        p.temperature = 1e-3f;
        p.length_alpha = -2;
        p.n_best = 1;
        OK(clf_model_generate(m, ids, NULL, 1, 3, &p, &go));
        p.strategy = CLF_DECODE_BEAM;
        p.beam_size = 2;
        p.n_best = 2;
        OK(clf_model_generate(m, ids, NULL, 1, 3, &p, &go));
        clf_model_free(m);
        clf_context_free(ctx);
    }
}

Test(model, an_encoder_pass_and_a_decoder_step_do_not_synchronise)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = open_golden("seq2seq");
        int32_t *src = gi(st, "src_ids"), *sl = gi(st, "src_lengths");
        clf_model *m = load(ctx, "seq2seq", 2, 16, 16);
        float mem[2 * 9 * 64];
        int32_t bos[2] = {1, 1}, am[2];
        /* Warm-up: builds and compiles every graph. */
        OK(clf_model_encode(m, src, sl, 2, 9, CLF_POOL_NONE, mem, NULL, NULL));
        OK(clf_model_decode(m, bos, 2, 1, 0, NULL, am));
        long c0 = clf_context_blocking_calls(ctx);
        OK(clf_model_encode(m, src, sl, 2, 9, CLF_POOL_NONE, mem, NULL, NULL));
        long c1 = clf_context_blocking_calls(ctx);
        OK(clf_model_decode(m, bos, 2, 1, 0, NULL, am));
        OK(clf_model_decode(m, am, 2, 1, 1, NULL, am));
        long c2 = clf_context_blocking_calls(ctx);
        printf("[model] blocking calls: encoder pass + cross K/V %ld, two decoder steps %ld (one "
               "result read each)\n",
               c1 - c0, c2 - c1);
        cr_assert_eq(c1 - c0, 1,
                     "encoder pass: %ld blocking calls, expected only the read of hidden", c1 - c0);
        cr_assert_eq(c2 - c1, 2, "two decoder steps: %ld blocking calls, expected one read each",
                     c2 - c1);
        clf_model_free(m);
        free(src);
        free(sl);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

/* Writes dir/name.safetensors: the golden `base` plus classifier.weight
 * (C, D) and classifier.bias (C) with the given values. */
static void with_classifier(const char *base, const char *path, int C, int D, const float *w,
                            const float *bias)
{
    FILE *f = fopen(golden(base), "rb");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    uint64_t hl;
    memcpy(&hl, buf, 8);
    size_t data = (size_t)n - 8 - hl, wb = (size_t)C * D * 4, bb = (size_t)C * 4;
    char *h = malloc(hl + 512);
    memcpy(h, buf + 8, hl);
    size_t e = hl;
    while (h[e - 1] != '}')
        e--;
    e--; /* before the closing brace */
    char extra[400];
    int k = snprintf(
        extra, sizeof extra,
        ",\"classifier.weight\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]},"
        "\"classifier.bias\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}}",
        C, D, data, data + wb, C, data + wb, data + wb + bb);
    memcpy(h + e, extra, (size_t)k);
    uint64_t nl = e + (uint64_t)k;
    f = fopen(path, "wb");
    cr_assert(f);
    fwrite(&nl, 8, 1, f);
    fwrite(h, 1, nl, f);
    fwrite(buf + 8 + hl, 1, data, f);
    fwrite(w, 4, (size_t)C * D, f);
    fwrite(bias, 4, (size_t)C, f);
    fclose(f);
    free(h);
    free(buf);
}

/* A classification head on the mean-pooled encoder output (the config
 * given by the caller: n_classes is not in the golden's metadata). */
Test(model, classification_head_on_the_pooled_output)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = open_golden("encoder_preln");
        enum { B = 3, S = 11, D = 64, C = 3 };
        int32_t *ids = gi(st, "input_ids"), *lens = gi(st, "lengths");
        clft_rng r = clft_rng_make(clft_seed(), 31);
        float w[C * D], bias[C];
        clft_fill_uniform(&r, w, C * D, -0.5f, 0.5f);
        clft_fill_uniform(&r, bias, C, -0.5f, 0.5f);
        char dir[512], path[600];
        clft_tempdir(dir, sizeof dir, "model");
        snprintf(path, sizeof path, "%s/cls.safetensors", dir);
        with_classifier("encoder_preln", path, C, D, w, bias);
        clf_model_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.kind = CLF_MODEL_ENCODER;
        cfg.encoder_layers = 2;
        cfg.d_model = D;
        cfg.n_heads = 4;
        cfg.d_ff = 128;
        cfg.activation = CLF_ACT_GELU;
        cfg.norm_first = true;
        cfg.positions = CLF_POS_SINUSOIDAL;
        cfg.vocab = 100;
        cfg.embedding_scale = 8.0f;
        cfg.encoder_final_norm = true;
        cfg.attn_bias = cfg.ffn_bias = cfg.norm_bias = true;
        cfg.pad_id = 0;
        cfg.bos_id = cfg.eos_id = -1;
        cfg.n_classes = C;
        clf_model_params p = clf_model_params_default();
        p.config = &cfg;
        p.max_batch = 4;
        p.max_source_len = 16;
        clf_model *m = NULL;
        OK(clf_model_load(ctx, path, &p, &m));
        float hidden[B * S * D], pooled[B * D], classes[B * C];
        OK(clf_model_encode(m, ids, lens, B, S, CLF_POOL_MEAN, hidden, pooled, classes));
        float *ref = gf(st, "hidden");
        double e = rel_err(hidden, ref, B, S, D, lens);
        cr_assert(e <= TOL, "hidden with a caller config: %.3g", e);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) {
                double s = bias[c];
                for (int i = 0; i < D; i++)
                    s += (double)pooled[b * D + i] * w[c * D + i];
                cr_assert(fabs(classes[b * C + c] - s) <= 1e-5 * (1 + fabs(s)),
                          "class %d of %d: %g vs %g", c, b, classes[b * C + c], s);
            }
        clf_model_free(m);
        clft_rmtree(dir);
        free(ids);
        free(lens);
        free(ref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

/* Decoder-only beam search: width 1 is greedy exactly; width 4 returns its
 * n-best sorted by score, the best at least as likely as greedy's tokens. */
Test(model, gpt_beam_of_width_one_is_greedy_and_width_four_ranks_its_nbest)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = open_golden("gpt");
        enum { B = 2, S = 8, N = 10 };
        int32_t *ids = gi(st, "input_ids"), *gen = gi(st, "generated_ids");
        clf_model *m = load(ctx, "gpt", 4, 0, 32);
        clf_generate_params gp = clf_generate_params_default();
        gp.strategy = CLF_DECODE_BEAM;
        gp.max_new_tokens = N;
        gp.ignore_eos = true;
        gp.beam_size = 1;
        int32_t out[B * 3 * N], lens[B * 3];
        float sc[B * 3], lp[B * 3];
        clf_generate_output go = {out, lens, sc, lp, NULL};
        OK(clf_model_generate(m, ids, NULL, B, S, &gp, &go));
        for (int i = 0; i < B * N; i++)
            cr_assert_eq(out[i], gen[i], "beam 1: prompt %d token %d: %d, greedy %d", i / N, i % N,
                         out[i], gen[i]);
        double greedy_lp[B] = {lp[0], lp[1]};
        gp.beam_size = 4;
        gp.n_best = 3;
        OK(clf_model_generate(m, ids, NULL, B, S, &gp, &go));
        for (int b = 0; b < B; b++) {
            cr_assert(sc[b * 3] >= sc[b * 3 + 1] && sc[b * 3 + 1] >= sc[b * 3 + 2],
                      "n-best not sorted");
            cr_assert_eq(lens[b * 3], N);
            cr_assert(lp[b * 3] >= greedy_lp[b] - 1e-4, "beam 4 best %.5f < greedy %.5f", lp[b * 3],
                      greedy_lp[b]);
            printf("[model] gpt beam 4, prompt %d: best logprob %.4f (greedy %.4f)\n", b, lp[b * 3],
                   greedy_lp[b]);
        }
        clf_model_free(m);
        free(ids);
        free(gen);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

/* f16 storage of matrices and embeddings: logits within f16 rounding of the
 * golden, and the greedy ids (top-1 margin >= 0.10) unchanged. */
Test(model, f16_weights_stay_close_and_keep_the_greedy_ids)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = open_golden("gpt");
        enum { B = 2, S = 8, V = 100, N = 10 };
        int32_t *ids = gi(st, "input_ids"), *gen = gi(st, "generated_ids");
        float *ref = gf(st, "logits");
        clf_model_params p = clf_model_params_default();
        p.weight_dtype = CLF_F16;
        p.max_batch = 2;
        p.max_target_len = 32;
        clf_model *m = NULL;
        OK(clf_model_load(ctx, golden("gpt"), &p, &m));
        float *lg = malloc((size_t)B * S * V * sizeof *lg);
        OK(clf_model_decode(m, ids, B, S, 0, lg, NULL));
        double e = rel_err(lg, ref, B, S, V, NULL);
        printf("[model] gpt with f16 weights: logits relative error %.3g\n", e);
        cr_assert(e <= 1e-2, "f16 logits: relative error %.3g", e);
        int32_t out_ids[B * N];
        clf_generate_params gp = clf_generate_params_default();
        gp.max_new_tokens = N;
        gp.ignore_eos = true;
        clf_generate_output go = {out_ids, NULL, NULL, NULL, NULL};
        OK(clf_model_generate(m, ids, NULL, B, S, &gp, &go));
        for (int i = 0; i < B * N; i++)
            cr_assert_eq(out_ids[i], gen[i], "f16 greedy: prompt %d token %d: %d, golden %d", i / N,
                         i % N, out_ids[i], gen[i]);
        clf_model_free(m);
        free(lg);
        free(ids);
        free(gen);
        free(ref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

Test(model, missing_or_misshaped_weights_are_bad_model_naming_the_tensor)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        /* A copy of gpt with one tensor renamed (same length: offsets stay valid). */
        FILE *f = fopen(golden("gpt"), "rb");
        cr_assert(f);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc((size_t)n);
        cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        uint64_t hl;
        memcpy(&hl, buf, 8);
        char *hit = NULL;
        for (char *p = buf + 8; p + 12 < buf + 8 + hl; p++)
            if (memcmp(p, "\"ln_f.weight\"", 13) == 0) hit = p;
        cr_assert(hit);
        memcpy(hit + 1, "ln_g", 4);
        char dir[512], path[600];
        clft_tempdir(dir, sizeof dir, "model");
        snprintf(path, sizeof path, "%s/renamed.safetensors", dir);
        f = fopen(path, "wb");
        cr_assert_eq(fwrite(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        free(buf);
        clf_model *m = (clf_model *)1;
        long live0 = clf__alloc_live(), bufs0, bufs1;
        size_t bytes0, bytes1;
        clf_context_memory(ctx, &bufs0, &bytes0, NULL);
        clf_status s = clf_model_load(ctx, path, NULL, &m);
        cr_assert_eq(s, CLF_ERR_BAD_MODEL, "%s", clf_status_name(s));
        cr_assert_null(m);
        cr_assert(strstr(clf_context_last_error(ctx), "ln_f.weight"), "message: %s",
                  clf_context_last_error(ctx));

        /* A config whose d_ff disagrees with the file. */
        clf_model_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.kind = CLF_MODEL_DECODER;
        cfg.decoder_layers = 2;
        cfg.d_model = 64;
        cfg.n_heads = 4;
        cfg.d_ff = 96;
        cfg.vocab = 100;
        cfg.positions = CLF_POS_LEARNED;
        cfg.max_positions = 32;
        cfg.norm_first = true;
        cfg.attn_bias = cfg.ffn_bias = cfg.norm_bias = true;
        cfg.tied_embeddings = true;
        cfg.decoder_final_norm = true;
        clf_model_params p = clf_model_params_default();
        p.config = &cfg;
        s = clf_model_load(ctx, golden("gpt"), &p, &m);
        cr_assert_eq(s, CLF_ERR_BAD_MODEL, "%s", clf_status_name(s));
        cr_assert(strstr(clf_context_last_error(ctx), "h.layers.0.linear1.weight") &&
                      strstr(clf_context_last_error(ctx), "(128, 64)"),
                  "message: %s", clf_context_last_error(ctx));
        printf("[model] load errors: %s\n", clf_context_last_error(ctx));
        clf_context_memory(ctx, &bufs1, &bytes1, NULL);
        cr_assert(clf__alloc_live() == live0 && bufs1 == bufs0 && bytes1 == bytes0,
                  "failed loads leaked: %ld host blocks, %ld buffers (%zu bytes)",
                  clf__alloc_live() - live0, bufs1 - bufs0, bytes1 - bytes0);
        /* The same config with the right d_ff loads. */
        cfg.d_ff = 128;
        OK(clf_model_load(ctx, golden("gpt"), &p, &m));
        clf_model_free(m);
        clft_rmtree(dir);
        clf_context_free(ctx);
    }
}
