/*
 * Random models (clf_model_create_random, clf_model_config_preset) and the
 * model's memory: the arena of each graph of a Transformer-base shaped model
 * against its lower bound, and a soak of 10,000 decoder steps in which host
 * blocks, process RSS and device buffers do not grow.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/testutil.h"

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

long clf__alloc_live(void); /* core/alloc.c: host blocks not yet freed */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static clf_model_config preset(const char *name)
{
    clf_model_config c;
    clf_status s = clf_model_config_preset(name, &c);
    cr_assert_eq(s, CLF_OK, "preset %s: %s", name, clf_context_last_error(NULL));
    return c;
}

/* The tiny encoder-decoder: "tiny" with a one-layer encoder. */
static clf_model_config tiny_seq2seq(void)
{
    clf_model_config c = preset("tiny");
    c.kind = CLF_MODEL_ENCODER_DECODER;
    c.encoder_layers = 1;
    c.encoder_final_norm = true;
    return c;
}

/* ============================ random models ============================ */

Test(model_random, presets_and_unknown_names)
{
    static const char *const names[] = {"bert-base", "transformer-base", "gpt2-small", "tiny"};
    for (int i = 0; i < 4; i++) {
        clf_model_config c = preset(names[i]);
        cr_assert_gt(c.d_model, 0);
        cr_assert_eq(c.d_model % c.n_heads, 0, "%s", names[i]);
    }
    clf_model_config b = preset("bert-base"), t = preset("transformer-base"),
                     g = preset("gpt2-small");
    cr_assert(b.kind == CLF_MODEL_ENCODER && b.encoder_layers == 12 && b.d_model == 768 &&
              b.d_ff == 3072 && b.activation == CLF_ACT_GELU && !b.norm_first &&
              b.positions == CLF_POS_LEARNED && b.max_positions == 512 && b.vocab == 30522);
    cr_assert(t.kind == CLF_MODEL_ENCODER_DECODER && t.encoder_layers == 6 &&
              t.decoder_layers == 6 && t.d_model == 512 && t.n_heads == 8 && t.d_ff == 2048 &&
              t.activation == CLF_ACT_RELU && !t.norm_first &&
              t.positions == CLF_POS_SINUSOIDAL && t.vocab == 32000 && t.encoder_final_norm &&
              t.decoder_final_norm);
    cr_assert(g.kind == CLF_MODEL_DECODER && g.decoder_layers == 12 && g.d_model == 768 &&
              g.activation == CLF_ACT_GELU_TANH && g.norm_first && g.max_positions == 1024 &&
              g.vocab == 50257 && g.tied_embeddings && g.decoder_final_norm);

    clf_model_config c;
    memset(&c, 0x5a, sizeof c);
    cr_assert_eq(clf_model_config_preset("gpt5", &c), CLF_ERR_NOT_FOUND);
    const char *msg = clf_context_last_error(NULL);
    cr_assert(strstr(msg, "gpt5") && strstr(msg, "bert-base") && strstr(msg, "transformer-base") &&
                  strstr(msg, "gpt2-small") && strstr(msg, "tiny"),
              "message: %s", msg);
    cr_assert_eq(clf_model_config_preset(NULL, &c), CLF_ERR_INVALID_ARG);
}

/* Logits of a 2 x 3 prompt at position 0. */
static float *logits_of(clf_context *ctx, clf_model *m, const int32_t *ids)
{
    int64_t V = clf_model_get_config(m)->vocab;
    float *x = malloc((size_t)(6 * V) * sizeof *x);
    clft_poison(x, (size_t)(6 * V));
    OK(clf_model_decode(m, ids, 2, 3, 0, x, NULL));
    for (int64_t i = 0; i < 6 * V; i++)
        cr_assert(isfinite(x[i]), "logit %lld not finite", (long long)i);
    return x;
}

Test(model_random, weights_are_deterministic_by_seed_and_models_run)
{
    EACH_DEVICE(spec)
    {
        long host0 = clf__alloc_live(), buf0;
        clf_context *ctx = clft_model_context(spec);
        size_t bytes0;
        clf_context_memory(ctx, &buf0, &bytes0, NULL);
        clf_model_config c = preset("tiny");
        clf_model_params p = clf_model_params_default();
        p.max_batch = 4;
        p.max_target_len = 32;
        clf_model *a = NULL, *b = NULL, *o = NULL;
        OK(clf_model_create_random(ctx, &c, &p, 42, &a));
        OK(clf_model_create_random(ctx, &c, &p, 42, &b));
        OK(clf_model_create_random(ctx, &c, &p, 43, &o));
        const int32_t ids[6] = {1, 7, 9, 1, 30, 4};
        float *la = logits_of(ctx, a, ids), *lb = logits_of(ctx, b, ids), *lo = logits_of(ctx, o, ids);
        size_t n = (size_t)(6 * c.vocab);
        cr_assert_eq(memcmp(la, lb, n * sizeof *la), 0, "same seed, different logits");
        double diff = 0, mag = 0;
        for (size_t i = 0; i < n; i++)
            diff = fmax(diff, fabs((double)la[i] - lo[i])), mag = fmax(mag, fabs((double)la[i]));
        cr_assert_gt(diff, 1e-3 * mag, "another seed gives the same logits");
        cr_assert_gt(mag, 1e-3, "logits all ~0");
        printf("[model_random] tiny: max |logit| %.3g, seed 42 vs 43 max diff %.3g\n", mag, diff);
        free(la), free(lb), free(lo);

        /* Greedy generation on a random encoder-decoder. */
        clf_model_config s2s = tiny_seq2seq();
        clf_model *e = NULL;
        p.max_source_len = 8;
        OK(clf_model_create_random(ctx, &s2s, &p, 7, &e));
        const int32_t src[8] = {5, 6, 7, 8, 9, 10, 0, 0};
        const int32_t lens[2] = {4, 2};
        int32_t out_ids[2 * 5];
        clf_generate_params gp = clf_generate_params_default();
        gp.max_new_tokens = 5;
        clf_generate_output go = {out_ids, NULL, NULL, NULL, NULL};
        OK(clf_model_generate(e, src, lens, 2, 4, &gp, &go));
        for (int i = 0; i < 10; i++)
            cr_assert(out_ids[i] >= -1 && out_ids[i] < s2s.vocab);

        /* f16 storage of the same weights. */
        clf_model *h = NULL;
        p.weight_dtype = CLF_F16;
        OK(clf_model_create_random(ctx, &c, &p, 42, &h));
        float *l32 = logits_of(ctx, a, ids), *l16 = logits_of(ctx, h, ids);
        double e16 = 0;
        for (size_t i = 0; i < n; i++)
            e16 = fmax(e16, fabs((double)l32[i] - l16[i]));
        cr_assert_lt(e16, 1e-2 * mag, "f16 weights: max diff %.3g", e16);
        free(l32), free(l16);

        /* A NULL config is an error; a bad config names the problem. */
        clf_model *bad = (clf_model *)&bad;
        cr_assert_eq(clf_model_create_random(ctx, NULL, &p, 1, &bad), CLF_ERR_INVALID_ARG);
        cr_assert_null(bad);
        clf_model_config odd = c;
        odd.n_heads = 3;
        cr_assert_eq(clf_model_create_random(ctx, &odd, &p, 1, &bad), CLF_ERR_BAD_MODEL);
        cr_assert(strstr(clf_context_last_error(ctx), "heads"), "%s",
                  clf_context_last_error(ctx));

        clf_model_free(a), clf_model_free(b), clf_model_free(o), clf_model_free(e),
            clf_model_free(h);
        /* What remains on the device is the context's op scratch; on the
         * host, everything goes with the context (its programs). */
        long buf1;
        size_t bytes1, scratch;
        OK(clf_context_finish(ctx));
        clf_context_memory(ctx, &buf1, &bytes1, NULL);
        clf_context_scratch_bytes(ctx, &scratch);
        cr_assert_leq(bytes1, bytes0 + scratch, "device bytes leaked: %zu -> %zu (scratch %zu)",
                      bytes0, bytes1, scratch);
        clf_context_free(ctx);
        cr_assert_eq(clf__alloc_live(), host0, "host blocks leaked: %ld",
                     clf__alloc_live() - host0);
    }
}

/* ============================ arena figures ============================ */

/* A Transformer-base shaped model (6 + 6 layers, D 512, 8 heads, F 2048,
 * vocab 32000; f16 weights: the figures concern activations) for batch 16
 * and length 128: every graph's arena is at most 1.2x its lower bound (the
 * peak of the bytes live at once). The plans are made at compile: one short
 * encode (B 16, which also compiles the decoder step and the cross graph for
 * b = 16) and one decoder step build every graph. */
/* Beam search takes max_batch / K sources at once (one step of batch G*K,
 * each source its own hypotheses and cache-row table): every source of a
 * batch gets what it gets alone, under both rules, with padded sources of
 * different lengths, EOS on, and a batch that is not a multiple of G. */
static void beam_batch_vs_alone(clf_context *ctx, clf_model *m, const int32_t *ids,
                                const int32_t *lens, int B, int S, clf_beam_rule rule,
                                const char *what)
{
    enum { K = 4, NB = 2, N = 7 };
    clf_generate_params gp = clf_generate_params_default();
    gp.strategy = CLF_DECODE_BEAM;
    gp.beam_size = K;
    gp.n_best = NB;
    gp.max_new_tokens = N;
    gp.beam_rule = rule;
    int32_t all[8 * NB * N], one[NB * N], all_len[8 * NB], one_len[NB];
    float all_sc[8 * NB], one_sc[NB];
    clf_generate_output go = {all, all_len, all_sc, NULL, NULL};
    OK(clf_model_generate(m, ids, lens, B, S, &gp, &go));
    int ended = 0;
    for (int b = 0; b < B; b++) {
        clf_generate_output g1 = {one, one_len, one_sc, NULL, NULL};
        int32_t len1 = lens ? lens[b] : S;
        OK(clf_model_generate(m, ids + b * S, lens ? &len1 : NULL, 1, S, &gp, &g1));
        for (int r = 0; r < NB; r++) {
            cr_assert_eq(all_len[b * NB + r], one_len[r], "%s: source %d rank %d: length %d, alone %d",
                         what, b, r, all_len[b * NB + r], one_len[r]);
            ended += one_len[r] < N;
            for (int t = 0; t < N; t++)
                cr_assert_eq(all[(b * NB + r) * N + t], one[r * N + t],
                             "%s: source %d rank %d token %d: %d in the batch, %d alone", what, b, r,
                             t, all[(b * NB + r) * N + t], one[r * N + t]);
            cr_assert(all_sc[b * NB + r] == one_sc[r] || fabsf(all_sc[b * NB + r] - one_sc[r]) < 1e-4f,
                      "%s: score %.6f vs %.6f alone",
                      what, all_sc[b * NB + r], one_sc[r]);
        }
    }
    (void)ctx;
    printf("[model_random] %s: %d sources in groups of %lld equal each alone (%d hypotheses ended by EOS)\n",
           what, B, (long long)(12 / K), ended);
}

/* The second token greedy decoding makes for source 1. */
static int32_t early_token(clf_context *ctx, clf_model *m, const int32_t *ids, const int32_t *lens,
                           int S)
{
    int32_t out[5 * 4];
    clf_generate_params gp = clf_generate_params_default();
    gp.max_new_tokens = 4;
    gp.ignore_eos = true;
    clf_generate_output go = {out, NULL, NULL, NULL, NULL};
    OK(clf_model_generate(m, ids, lens, 5, S, &gp, &go));
    return out[1 * 4 + 1];
}

/* Five decoder prompts (3 tokens) and five padded sources (up to 6) */
static const int32_t prompts[5 * 3] = {5, 9, 2, 7, 7, 3, 30, 1, 4, 12, 40, 8, 2, 2, 6};
static const int32_t src[5 * 6] = {5, 6, 7, 8, 9, 10, 11, 3, 4, 0, 0, 0, 20, 21, 0, 0, 0, 0,
                                   8, 8, 8, 8, 8, 0, 31, 0, 0, 0, 0, 0};
static const int32_t lens[5] = {6, 3, 2, 5, 1};

/* The tiny decoder *d (seed 11) and seq2seq *e (seed 12) for max_batch
 * rows, each with EOS = a token greedy decoding makes early for prompts /
 * src (same seed, same weights), so that rows and hypotheses end. */
static void eos_models(clf_context *ctx, int max_batch, clf_model **d, clf_model **e)
{
    clf_model_params p = clf_model_params_default();
    p.max_batch = max_batch;
    p.max_target_len = 16;
    p.max_source_len = 6;
    clf_model_config dc = preset("tiny"), sc = tiny_seq2seq();
    OK(clf_model_create_random(ctx, &dc, &p, 11, d));
    OK(clf_model_create_random(ctx, &sc, &p, 12, e));
    dc.eos_id = early_token(ctx, *d, prompts, NULL, 3);
    sc.eos_id = early_token(ctx, *e, src, lens, 6);
    clf_model_free(*d);
    clf_model_free(*e);
    OK(clf_model_create_random(ctx, &dc, &p, 11, d));
    OK(clf_model_create_random(ctx, &sc, &p, 12, e));
}

Test(model_random, beam_over_a_batch_equals_each_source_alone)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf_model *d = NULL, *e = NULL;
        eos_models(ctx, 12, &d, &e); /* K = 4: three sources per group, 5 sources = 3 + 2 */
        beam_batch_vs_alone(ctx, d, prompts, NULL, 5, 3, CLF_BEAM_RULE_CLFORMER, "decoder, clformer rule");
        beam_batch_vs_alone(ctx, d, prompts, NULL, 5, 3, CLF_BEAM_RULE_HF, "decoder, HF rule");
        beam_batch_vs_alone(ctx, e, src, lens, 5, 6, CLF_BEAM_RULE_CLFORMER, "seq2seq, clformer rule");
        beam_batch_vs_alone(ctx, e, src, lens, 5, 6, CLF_BEAM_RULE_HF, "seq2seq, HF rule");
        clf_model_free(d);
        clf_model_free(e);
        clf_context_free(ctx);
    }
}

/* Greedy decoding without scores feeds each step its predecessor's argmax on
 * the device and reads the tokens a step behind (generate.c, gen_chained);
 * asking for scores takes the step-by-step loop. Both give the same ids,
 * lengths and finish reasons, with rows ending by EOS at different steps;
 * an abort from the token callback stops the chained loop cleanly, and the
 * model generates the same ids afterwards. */
typedef struct {
    int tokens, abort_at;
} token_count;

static void count_token(void *user, int64_t seq, int64_t step, int32_t token)
{
    (void)seq, (void)step, (void)token;
    ((token_count *)user)->tokens++;
}

static bool abort_after(void *user)
{
    token_count *c = user;
    return c->abort_at > 0 && c->tokens >= c->abort_at;
}

static void chained_vs_stepwise(clf_context *ctx, clf_model *m, const int32_t *ids,
                                const int32_t *lens, int S, const char *what)
{
    enum { B = 5, N = 7 };
    clf_generate_params gp = clf_generate_params_default();
    gp.max_new_tokens = N;
    int32_t a[B * N], b[B * N], la[B], lb[B];
    float sc[B];
    clf_finish_reason fa[B], fb[B];
    for (int i = 0; i < B * N; i++) a[i] = b[i] = -7;
    token_count cnt = {0, 0};
    gp.on_token = count_token;
    gp.user = &cnt;
    clf_generate_output chained = {a, la, NULL, NULL, fa};
    OK(clf_model_generate(m, ids, lens, B, S, &gp, &chained));
    clf_generate_output stepwise = {b, lb, sc, NULL, fb};
    OK(clf_model_generate(m, ids, lens, B, S, &gp, &stepwise));
    int ended = 0, total = 0;
    for (int r = 0; r < B; r++) {
        cr_assert_eq(la[r], lb[r], "%s: row %d length %d chained, %d step by step", what, r, la[r],
                     lb[r]);
        cr_assert_eq(fa[r], fb[r], "%s: row %d finish %d chained, %d step by step", what, r,
                     (int)fa[r], (int)fb[r]);
        ended += fa[r] == CLF_FINISH_EOS;
        total += la[r];
    }
    for (int i = 0; i < B * N; i++)
        cr_assert_eq(a[i], b[i], "%s: row %d token %d: %d chained, %d step by step", what, i / N,
                     i % N, a[i], b[i]);
    cr_assert(ended > 0 && ended < B, "%s: %d of %d rows ended by EOS: the test needs some", what,
              ended, B);
    cr_assert_eq(cnt.tokens, 2 * total, "%s: %d tokens reported for %d generated twice", what,
                 cnt.tokens, total);
    /* Aborted after 3 reported tokens: the ones reported are the run's */
    token_count stop = {0, 3};
    gp.on_token = count_token;
    gp.abort = abort_after;
    gp.user = &stop;
    clf_status st = clf_model_generate(m, ids, lens, B, S, &gp, &chained);
    cr_assert_eq(st, CLF_ERR_ABORTED, "%s: abort gave %s", what, clf_status_name(st));
    cr_assert_geq(stop.tokens, 3, "%s", what);
    gp.abort = NULL;
    gp.on_token = NULL;
    OK(clf_model_generate(m, ids, lens, B, S, &gp, &chained));
    for (int i = 0; i < B * N; i++)
        cr_assert_eq(a[i], b[i], "%s after an abort: row %d token %d: %d, %d before", what, i / N,
                     i % N, a[i], b[i]);
    printf("[model_random] %s: chained greedy = step-by-step greedy (%d of %d rows ended by "
           "EOS), abort after %d tokens\n",
           what, ended, B, stop.tokens);
}

Test(model_random, chained_greedy_equals_step_by_step_greedy)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf_model *d = NULL, *e = NULL;
        eos_models(ctx, 5, &d, &e);
        chained_vs_stepwise(ctx, d, prompts, NULL, 3, "decoder");
        chained_vs_stepwise(ctx, e, src, lens, 6, "seq2seq");
        clf_model_free(d);
        clf_model_free(e);
        clf_context_free(ctx);
    }
}

Test(model_memory, transformer_base_arenas_are_within_1_2x_of_the_lower_bound, .timeout = 600)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf_model_config c = preset("transformer-base");
        clf_model_params p = clf_model_params_default();
        p.weight_dtype = CLF_F16;
        p.max_batch = 16;
        p.max_source_len = 128;
        p.max_target_len = 128;
        double t0 = now_s();
        clf_model *m = NULL;
        OK(clf_model_create_random(ctx, &c, &p, 1, &m));
        double t1 = now_s();
        enum { B = 16, S = 4 };
        int32_t ids[B * S], lens[B], tgt[B];
        for (int i = 0; i < B * S; i++)
            ids[i] = 3 + (i * 7919) % 31000;
        for (int b = 0; b < B; b++)
            lens[b] = 1 + b % S, tgt[b] = 1;
        OK(clf_model_encode(m, ids, lens, B, S, CLF_POOL_NONE, NULL, NULL, NULL));
        int32_t am[B];
        OK(clf_model_decode(m, tgt, B, 1, 0, NULL, am));
        for (int b = 0; b < B; b++)
            cr_assert(am[b] >= 0 && am[b] < c.vocab);
        double t2 = now_s();
        fprintf(stderr, "[model_memory] transformer-base f16, batch 16, length 128: random weights "
                        "%.2f s, graphs built and run %.2f s\n",
                t1 - t0, t2 - t1);
        static const char *const what[3] = {"encoder pass", "decoder step (b 16)", "cross K/V"};
        for (int w = 0; w < 3; w++) {
            size_t arena, sum, lb;
            clf_model_memory(m, w, &arena, &sum, &lb);
            fprintf(stderr,
                    "[model_memory] %-20s arena %10zu B (%7.2f MiB), activation sum %10zu B "
                    "(%7.2f MiB), lower bound %10zu B (%7.2f MiB): arena / lower bound %.3f\n",
                    what[w], arena, arena / 1048576.0, sum, sum / 1048576.0, lb, lb / 1048576.0,
                    lb ? (double)arena / (double)lb : 0.0);
            cr_assert_gt(lb, 0, "%s: no plan", what[w]);
            cr_assert_leq(arena, lb + lb / 5, "%s: arena %zu B > 1.2 x lower bound %zu B",
                          what[w], arena, lb);
            cr_assert_leq(lb, arena);
            cr_assert_leq(arena, sum);
        }
        clf_model_free(m);
        clf_context_free(ctx);
    }
}

/* ================================= soak ================================= */

typedef struct soak_figures {
    long host_blocks;
    long rss_bytes;
    long dev_buffers;
    size_t dev_bytes;
} soak_figures;

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

static soak_figures figures(clf_context *ctx)
{
    soak_figures s;
    cr_assert_eq(clf_context_finish(ctx), CLF_OK);
    s.host_blocks = clf__alloc_live();
    s.rss_bytes = rss_bytes();
    clf_context_memory(ctx, &s.dev_buffers, &s.dev_bytes, NULL);
    return s;
}

static void print_figures(const char *when, long steps, const soak_figures *s)
{
    fprintf(stderr,
            "[model_memory] soak %-12s %6ld steps: host blocks %ld, RSS %.2f MiB, device buffers "
            "%ld, device bytes %zu\n",
            when, steps, s->host_blocks, s->rss_bytes / 1048576.0, s->dev_buffers, s->dev_bytes);
}

/* Every decoder step polls abort once. */
static bool count_step(void *user)
{
    ++*(long *)user;
    return false;
}

/* 10,000 decoder steps of greedy and sampled generations on a tiny random
 * decoder-only model and a tiny random encoder-decoder, prompts and sources
 * of varied lengths and contents. The first 32 generations visit every
 * (model, strategy, length) once, so that PoCL's lazy per-launch-shape
 * compiles (driver memory we do not own) happen before the first figures;
 * from there to the end, 10,000 more steps: the live host blocks and device
 * buffers (and bytes) are equal and the process RSS grew by less than 2 MiB. */
Test(model_memory, ten_thousand_decoder_steps_do_not_grow_host_or_device_memory, .timeout = 600)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf_model_config dc = preset("tiny"), sc = tiny_seq2seq();
        clf_model_params p = clf_model_params_default();
        enum { B = 4, MAXS = 8, NEW = 48 };
        p.max_batch = B;
        p.max_source_len = MAXS;
        p.max_target_len = MAXS + NEW;
        clf_model *dm = NULL, *sm = NULL;
        OK(clf_model_create_random(ctx, &dc, &p, 11, &dm));
        OK(clf_model_create_random(ctx, &sc, &p, 12, &sm));
        clft_rng rng = clft_rng_make(clft_seed(), 77);
        int32_t src[B * MAXS], lens[B], out_ids[B * NEW], out_lens[B];
        long steps = 0, gens = 0, steps_at_first = 0;
        enum { WARM_GENS = 2 * 2 * MAXS }; /* model x strategy x source length */
        soak_figures first = {0, 0, 0, 0}, last;
        bool have_first = false;
        double t0 = now_s();
        while (!have_first || steps - steps_at_first < 10000) {
            clf_model *m = gens % 2 ? sm : dm;
            int64_t S = gens < WARM_GENS ? 1 + (gens / 4) % MAXS
                                         : 1 + (int64_t)(clft_next(&rng) % MAXS);
            for (int64_t i = 0; i < B * S; i++)
                src[i] = 3 + (int32_t)(clft_next(&rng) % (uint64_t)(dc.vocab - 3));
            for (int b = 0; b < B; b++) {
                lens[b] = 1 + (int32_t)(clft_next(&rng) % (uint64_t)S);
                for (int64_t t = lens[b]; m == sm && t < S; t++)
                    src[b * S + t] = 0;
            }
            if (m == sm) lens[(int)(clft_next(&rng) % B)] = (int32_t)S;
            clf_generate_params gp = clf_generate_params_default();
            gp.max_new_tokens = NEW;
            gp.ignore_eos = true;
            gp.abort = count_step;
            gp.user = &steps;
            if (gens % 4 >= 2) {
                gp.strategy = CLF_DECODE_SAMPLE;
                gp.top_k = 10;
                gp.seed = (uint64_t)gens;
            }
            clf_generate_output go = {out_ids, out_lens, NULL, NULL, NULL};
            OK(clf_model_generate(m, src, m == sm ? lens : NULL, B, S, &gp, &go));
            gens++;
            if (!have_first && gens == WARM_GENS) {
                first = figures(ctx);
                have_first = true;
                steps_at_first = steps;
                print_figures("after", steps, &first);
            }
        }
        double t1 = now_s();
        last = figures(ctx);
        print_figures("at the end", steps, &last);
        fprintf(stderr,
                "[model_memory] soak: %ld generations, %ld decoder steps after the warm-up, all in "
                "%.1f s (%.2f ms a step); RSS growth %.3f MiB\n",
                gens, steps - steps_at_first, t1 - t0, 1e3 * (t1 - t0) / (double)steps,
                (last.rss_bytes - first.rss_bytes) / 1048576.0);
        cr_assert(have_first);
        cr_assert_eq(last.host_blocks, first.host_blocks, "host blocks grew: %ld -> %ld",
                     first.host_blocks, last.host_blocks);
        cr_assert_eq(last.dev_buffers, first.dev_buffers, "device buffers grew: %ld -> %ld",
                     first.dev_buffers, last.dev_buffers);
        cr_assert_eq(last.dev_bytes, first.dev_bytes, "device bytes grew: %zu -> %zu",
                     first.dev_bytes, last.dev_bytes);
        cr_assert_lt(last.rss_bytes - first.rss_bytes, 2L << 20, "RSS grew by %ld B",
                     last.rss_bytes - first.rss_bytes);
        clf_model_free(dm);
        clf_model_free(sm);
        clf_context_free(ctx);
    }
}
