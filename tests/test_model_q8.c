/*
 * Whole models with Q8 weights (model.h weight_dtype CLF_Q8), and Q4 (suite
 * model_q4, same cases and reports, bounds below), against the
 * transformers goldens of tests/golden/hf (random-initialised BERT, GPT-2,
 * Marian) and all-MiniLM-L6-v2 Q8 against the same model in f32.
 *
 * Bounds. The goldens' weights are N(0, 0.02)-like; per-row int8 carries an
 * RMS error of about (max|w| / 127) / sqrt(12), roughly 0.8% of a row's RMS,
 * and that relative error passes through the few layers of these tiny models
 * to the outputs at the same order: measured (PoCL, Intel) relative max-norm
 * errors are printed by each test and sat below 2e-2; the bound is
 * CLFT_Q8_TOL = 5e-2 (f32: 1e-4, test_hf.c). A missing or misplaced scale
 * gives errors of order 1. Greedy ids are reported (how many of the golden's
 * agree), not required: a near-tie in a random model may flip under any
 * rounding. MiniLM: every one of the 60 golden sentences' Q8 embedding has
 * cosine >= 0.999 with the f32 one (issue 16).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/hfgold.h"
#include "common/testutil.h"
#include "model/safetensors.h"

#define CLFT_Q8_TOL 5e-2
/* Q4 (groups of 32 with searched scales, RMS error 8-9% per matrix; in these
 * tiny models a group is a whole row of 32; the output head Q8): measured on
 * PoCL, logits / hidden relative errors 0.16-0.40 (GPT-2 0.25, Marian 0.27,
 * BERT hidden 0.16, pooled 0.40) and MiniLM's minimum cosine 0.901 (the
 * first Q4 quantiser, max / 7: 0.34, 0.38, 0.46 and 0.86). The bounds catch a
 * broken format (a wrong scale or nibble gives errors >= 1) and a return to
 * the old quantiser's MiniLM figure; Q4 accuracy is reported, not promised
 * (issue 16). */
#define CLFT_Q4_TOL 0.6
/* f16 storage of every matrix (model.h): each weight rounded to 11 bits;
 * measured (PoCL, Intel) Marian logits 5.3e-4, BERT hidden 6.9e-4 and pooled
 * 1.9e-3, GPT-2 7e-7 (its golden's weights are bf16, exact in f16). Bound
 * 5e-3: the accuracy table's f16 row (docs/quantisation.md). */
#define CLFT_F16_TOL 5e-3
#define CLFT_Q4_MIN_COS 0.88

#define EACH_DEVICE(spec)                                                                          \
    char specs_[16][32];                                                                           \
    int n_specs_ = clft_devices_or_skip(specs_, 16);                                               \
    for (int d_ = 0; d_ < n_specs_; d_++)                                                          \
        for (const char *spec = specs_[d_]; spec; spec = NULL)

static clf_model *load(clf_context *ctx, const char *path, clf_dtype wt, int64_t mb, int64_t ms,
                       int64_t mt)
{
    clf_model_params p = clf_model_params_default();
    p.weight_dtype = wt;
    p.max_batch = mb, p.max_source_len = ms, p.max_target_len = mt;
    clf_model *m = NULL;
    clf_status s = clf_model_load(ctx, path, &p, &m);
    cr_assert_eq(s, CLF_OK, "clf_model_load(%s, %s): %s", path, clf_dtype_name(wt),
                 clf_context_last_error(ctx));
    return m;
}

/* The Q8 part of the model info: every layer matrix quantised with sane
 * figures, embeddings and head not, fewer bytes than f16. */
/* The weight info of a model loaded with weight type wt (CLF_Q8 or CLF_Q4):
 * each matrix stored by the documented rule (model.h), its error that of
 * the format stored (Q4: within half a step max|w| / 7; Q8: / 127), at least
 * min_q8 matrices in wt. */
static void check_info(const clf_model *m, clf_dtype wt, const char *what, size_t ref_bytes,
                       int min_q8)
{
    const clf_model_info *info = clf_model_get_info(m);
    cr_assert_eq(info->weight_dtype, wt);
    cr_assert(info->n_weight_quant > 0 && info->weight_quant, "%s: no quantised matrix", what);
    double worst = 0;
    int n_q8 = 0, n_heads = 0;
    for (int64_t i = 0; i < info->n_weight_quant; i++) {
        const clf_weight_quant *q = &info->weight_quant[i];
        /* The output head (GPT-2's wte, Marian's tgt_embed, both tied) is Q8 or f16, never
         * Q4; the other embeddings and the pooler are not quantised (model.h). */
        bool head = strcmp(q->name, "wte.weight") == 0 || strcmp(q->name, "tgt_embed.weight") == 0 ||
                    strstr(q->name, "lm_head") != NULL;
        cr_assert(head || (!strstr(q->name, "embed") && !strstr(q->name, "wte") &&
                           !strstr(q->name, "wpe") && !strstr(q->name, "pooler")),
                  "%s: embedding or head %s quantised", what, q->name);
        if (head) {
            cr_assert(q->stored != CLF_Q4, "%s: head %s stored as q4", what, q->name);
            n_heads++;
        }
        /* Q8: each code within half a step of its weight, max error <= 0.5/127 of the max.
         * Q4's searched scales (tensor.h "Q4") may clip a group's extremes, so its bound is
         * a sanity one, 0.25 of the max: a wrong scale or nibble order gives order 1. */
        bool q4 = q->stored == CLF_Q4;
        cr_assert(q->error.rms_rel > 0 && q->error.max_rel <= (q4 ? 0.25 : 0.5 / 127 * 1.001),
                  "%s: %s rms %.3g max %.3g", what, q->name, q->error.rms_rel, q->error.max_rel);
        if (q4) cr_assert(wt == CLF_Q4 && q->error.rms_rel <= 0.12, "%s: %s", what, q->name);
        else
            cr_assert_eq(q->stored, q->error.rms_rel <= 0.01 ? CLF_Q8 : CLF_F16, "%s: %s rms %.3g",
                         what, q->name, q->error.rms_rel);
        n_q8 += q->stored == wt;
        if (q->error.rms_rel > worst) worst = q->error.rms_rel;
    }
    cr_assert(n_q8 >= min_q8, "%s: %d matrices in q8, expected >= %d", what, n_q8, min_q8);
    cr_assert(info->weight_bytes < ref_bytes, "%s: q8 %zu bytes, reference %zu", what,
              info->weight_bytes, ref_bytes);
    printf("[%s] %s: %lld matrices (%d heads), %d stored so, worst RMS relative error %.3g; weights "
           "%zu bytes (the f16 or f32 model: %zu)\n",
           clf_dtype_name(wt), what, (long long)info->n_weight_quant, n_heads, n_q8, worst, info->weight_bytes, ref_bytes);
}

static size_t bytes_of(clf_context *ctx, const char *path, clf_dtype wt)
{
    clf_model *m = load(ctx, path, wt, 8, 16, 24);
    size_t b = clf_model_get_info(m)->weight_bytes;
    clf_model_free(m);
    return b;
}

static int agree(const int32_t *a, const int32_t *b, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += a[i] == b[i];
    return k;
}

/* Greedy generate() ids against the golden's, reported. */
static void report_greedy(clf_context *ctx, clf_model *m, const clf__safetensors *st,
                          const char *what, const int32_t *ids, const int32_t *lens, int B, int S)
{
    enum { N = 12 };
    int32_t out[8 * N];
    int32_t *gref = clft_st_i32(st, "greedy_ids");
    clf_generate_params gp = clf_generate_params_default();
    gp.max_new_tokens = N;
    clf_generate_output go = {out, NULL, NULL, NULL, NULL};
    clf_status s = clf_model_generate(m, ids, lens, B, S, &gp, &go);
    cr_assert_eq(s, CLF_OK, "%s", clf_context_last_error(ctx));
    printf("[greedy] %s: %d of %d agree with transformers (f32)\n", what,
           agree(out, gref, B * N), B * N);
    free(gref);
}

static void gpt2_logits_within_bound_of_transformers(clf_dtype wt, double tol)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = clft_hf_golden("gpt2");
        enum { B = 2, S = 8, V = 128 };
        int32_t *ids = clft_st_i32(st, "input_ids");
        float *lref = clft_st_f32(st, "logits"), lg[B * S * V];
        const char *dir = clft_hf_folder("gpt2");
        size_t f16 = bytes_of(ctx, dir, CLF_F16);
        clf_model *m = load(ctx, dir, wt, 8, 0, 24);
        if (wt != CLF_F16) check_info(m, wt, "GPT-2 (tiny)", f16, 8);
        cr_assert_eq(clf_model_decode(m, ids, B, S, 0, lg, NULL), CLF_OK, "%s",
                     clf_context_last_error(ctx));
        double e = clft_rel_err(lg, lref, B, S, V, NULL);
        printf("[%s] %s GPT2LMHeadModel: logits relative error %.3g (bound %g)\n", clf_dtype_name(wt), spec, e,
               tol);
        cr_assert(e <= tol, "logits %.3g > %g", e, tol);
        report_greedy(ctx, m, st, clf_dtype_name(wt), ids, NULL, B, S);
        clf_model_free(m);
        free(ids);
        free(lref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

static void marian_logits_within_bound_of_transformers(clf_dtype wt, double tol)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = clft_hf_golden("marian");
        enum { B = 2, S = 9, T = 6, V = 90 };
        int32_t *src = clft_st_i32(st, "src_ids"), *sl = clft_st_i32(st, "src_lengths"),
                *tgt = clft_st_i32(st, "tgt_ids");
        float *lref = clft_st_f32(st, "logits"), lg[B * T * V];
        const char *dir = clft_hf_folder("marian");
        size_t f16 = bytes_of(ctx, dir, CLF_F16);
        clf_model *m = load(ctx, dir, wt, 8, 16, 16);
        if (wt != CLF_F16) check_info(m, wt, "Marian (tiny)", f16, 20);
        cr_assert_eq(clf_model_encode(m, src, sl, B, S, CLF_POOL_NONE, NULL, NULL, NULL), CLF_OK);
        cr_assert_eq(clf_model_decode(m, tgt, B, T, 0, lg, NULL), CLF_OK);
        double e = clft_rel_err(lg, lref, B, T, V, NULL);
        printf("[%s] MarianMTModel %s: teacher-forced logits relative error %.3g (bound %g)\n", clf_dtype_name(wt),
               spec, e, tol);
        cr_assert(e <= tol, "logits %.3g > %g", e, tol);
        report_greedy(ctx, m, st, clf_dtype_name(wt), src, sl, B, S);
        clf_model_free(m);
        free(src), free(sl), free(tgt), free(lref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

static void bert_hidden_states_within_bound_of_transformers(clf_dtype wt, double tol)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = clft_hf_golden("bert");
        enum { B = 3, S = 11, D = 32 };
        int32_t *ids = clft_st_i32(st, "input_ids"), *lens = clft_st_i32(st, "lengths");
        float *href = clft_st_f32(st, "hidden"), *pref = clft_st_f32(st, "pooled");
        float hidden[B * S * D], pooled[B * D];
        const char *dir = clft_hf_folder("bert");
        size_t f16 = bytes_of(ctx, dir, CLF_F16);
        clf_model *m = load(ctx, dir, wt, 4, 16, 0);
        if (wt != CLF_F16) check_info(m, wt, "BERT (tiny)", f16, 8);
        cr_assert_eq(clf_model_encode(m, ids, lens, B, S, CLF_POOL_DEFAULT, hidden, pooled, NULL),
                     CLF_OK);
        double eh = clft_rel_err(hidden, href, B, S, D, lens), ep = clft_rel_err(pooled, pref, B, 1, D, NULL);
        printf("[%s] %s BertModel: hidden %.3g, pooler_output %.3g (bound %g)\n", clf_dtype_name(wt), spec, eh, ep,
               tol);
        cr_assert(eh <= tol && ep <= tol, "hidden %.3g pooled %.3g", eh, ep);
        clf_model_free(m);
        free(ids), free(lens), free(href), free(pref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

static const char *minilm_dir(void)
{
    static char dir[600];
    const char *env = getenv("CLFORMER_MINILM_DIR");
    if (env && *env) snprintf(dir, sizeof dir, "%s", env);
    else snprintf(dir, sizeof dir, "%s/../../build-logs/models/all-MiniLM-L6-v2", clft_golden_dir());
    return dir;
}

/* The 60 golden sentences' embeddings, batches of 8 padded to their longest. */
static float *embed_all(clf_context *ctx, clf_model *m, const int32_t *ids, const int32_t *lens,
                        int N, int L, int D)
{
    float *emb = malloc((size_t)N * D * sizeof *emb);
    int32_t *batch = malloc((size_t)8 * L * sizeof *batch);
    for (int b0 = 0; b0 < N; b0 += 8) {
        int B = N - b0 < 8 ? N - b0 : 8, S = 1;
        for (int b = 0; b < B; b++) S = lens[b0 + b] > S ? lens[b0 + b] : S;
        for (int b = 0; b < B; b++)
            memcpy(batch + b * S, ids + (size_t)(b0 + b) * L, (size_t)S * sizeof *batch);
        cr_assert_eq(clf_model_encode(m, batch, lens + b0, B, S, CLF_POOL_DEFAULT, NULL,
                                      emb + (size_t)b0 * D, NULL),
                     CLF_OK, "%s", clf_context_last_error(ctx));
    }
    free(batch);
    return emb;
}

static void minilm_cosine(clf_dtype wt, double min_allowed)
{
    const char *dir = minilm_dir();
    char cfg[700];
    snprintf(cfg, sizeof cfg, "%s/model.safetensors", dir);
    struct stat sb;
    cr_assert(stat(cfg, &sb) == 0, "all-MiniLM-L6-v2 not found at %s (tools/fetch-minilm.sh, "
                                   "or CLFORMER_MINILM_DIR)", dir);
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        char gpath[600];
        snprintf(gpath, sizeof gpath, "%s/hf/minilm.safetensors", clft_golden_dir());
        clf__safetensors *st = clft_st_open(gpath);
        const clf__st_tensor *ti = clft_st_tensor(st, "input_ids");
        int N = (int)ti->shape[0], L = (int)ti->shape[1], D = 384;
        int32_t *ids = clft_st_i32(st, "input_ids"), *lens = clft_st_i32(st, "lengths");
        clf_model *mf = load(ctx, dir, CLF_F32, 8, 128, 0);
        size_t f32_bytes = clf_model_get_info(mf)->weight_bytes;
        float *ef = embed_all(ctx, mf, ids, lens, N, L, D);
        clf_model_free(mf);
        clf_model *mq = load(ctx, dir, wt, 8, 128, 0);
        check_info(mq, wt, "all-MiniLM-L6-v2", f32_bytes, 18);
        float *eq = embed_all(ctx, mq, ids, lens, N, L, D);
        double min_cos = 2;
        int worst = -1;
        for (int i = 0; i < N; i++) {
            double dot = 0, na = 0, nb = 0;
            for (int k = 0; k < D; k++) {
                double a = eq[(size_t)i * D + k], r = ef[(size_t)i * D + k];
                dot += a * r, na += a * a, nb += r * r;
            }
            double c = dot / sqrt(na * nb);
            if (isnan(c)) c = -2;
            if (c < min_cos) min_cos = c, worst = i;
        }
        printf("[%s] %s all-MiniLM-L6-v2 vs f32: %d sentences, min cosine %.6f (sentence %d); "
               "weights %zu bytes vs %zu\n",
               clf_dtype_name(wt), spec, N, min_cos, worst, clf_model_get_info(mq)->weight_bytes, f32_bytes);
        cr_assert(min_cos >= min_allowed, "%s: min cosine %.6f < %g (sentence %d)",
                  clf_dtype_name(wt), min_cos, min_allowed, worst);
        clf_model_free(mq);
        free(ef), free(eq), free(ids), free(lens);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

Test(model_q8, gpt2_logits_within_bound_of_transformers)
{
    gpt2_logits_within_bound_of_transformers(CLF_Q8, CLFT_Q8_TOL);
}

Test(model_q8, marian_logits_within_bound_of_transformers)
{
    marian_logits_within_bound_of_transformers(CLF_Q8, CLFT_Q8_TOL);
}

Test(model_q8, bert_hidden_states_within_bound_of_transformers)
{
    bert_hidden_states_within_bound_of_transformers(CLF_Q8, CLFT_Q8_TOL);
}

Test(model_q8, minilm_q8_embeddings_have_cosine_0999_with_f32, .timeout = 600)
{
    minilm_cosine(CLF_Q8, 0.999);
}

Test(model_q4, gpt2_logits_within_bound_of_transformers)
{
    gpt2_logits_within_bound_of_transformers(CLF_Q4, CLFT_Q4_TOL);
}

Test(model_q4, marian_logits_within_bound_of_transformers)
{
    marian_logits_within_bound_of_transformers(CLF_Q4, CLFT_Q4_TOL);
}

Test(model_q4, bert_hidden_states_within_bound_of_transformers)
{
    bert_hidden_states_within_bound_of_transformers(CLF_Q4, CLFT_Q4_TOL);
}

Test(model_q4, minilm_q4_embeddings_cosine_with_f32_reported, .timeout = 600)
{
    minilm_cosine(CLF_Q4, CLFT_Q4_MIN_COS);
}

/* weight_dtype outside f32 / f16 / q8 is refused with CLF_ERR_DTYPE. */
Test(model_f16, gpt2_logits_within_bound_of_transformers)
{
    gpt2_logits_within_bound_of_transformers(CLF_F16, CLFT_F16_TOL);
}

Test(model_f16, marian_logits_within_bound_of_transformers)
{
    marian_logits_within_bound_of_transformers(CLF_F16, CLFT_F16_TOL);
}

Test(model_f16, bert_hidden_states_within_bound_of_transformers)
{
    bert_hidden_states_within_bound_of_transformers(CLF_F16, CLFT_F16_TOL);
}

Test(model_q8, unknown_weight_type_is_refused)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf_model_params p = clf_model_params_default();
        p.weight_dtype = CLF_I32;
        clf_model *m = NULL;
        cr_assert_eq(clf_model_load(ctx, clft_hf_folder("gpt2"), &p, &m), CLF_ERR_DTYPE);
        cr_assert_null(m);
        clf_context_free(ctx);
    }
}
