/*
 * The encoder families beside BERT against transformers (tests/golden/hf/,
 * made by make_hf_golden.py): random-initialised small RobertaModel (plain,
 * with its pooler), RobertaForSequenceClassification (bf16), XLMRobertaModel
 * as a sentence-transformers folder (mean pooling + Normalize) and
 * DistilBertModel. Hidden states of the real rows of right-padded batches,
 * pooled vectors and logits by relative max-norm error <= 1e-4 (f32). The
 * RoBERTa batches reach the last row of the position table, so positions
 * that do not start at padding_idx + 1 fail.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hfgold.h"
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

/* One golden batch: ids (B, S), lengths (B), the hidden states (B, S, D). */
typedef struct batch {
    clf__safetensors *st;
    int B, S;
    int32_t *ids, *lens;
    float *hidden;
} batch;

static batch open_batch(const char *name)
{
    batch g;
    g.st = clft_hf_golden(name);
    const clf__st_tensor *t = clft_st_tensor(g.st, "input_ids");
    g.B = (int)t->shape[0];
    g.S = (int)t->shape[1];
    g.ids = clft_st_i32(g.st, "input_ids");
    g.lens = clft_st_i32(g.st, "lengths");
    g.hidden = clft_st_f32(g.st, "hidden");
    return g;
}

static void close_batch(batch *g)
{
    free(g->ids);
    free(g->lens);
    free(g->hidden);
    clf__safetensors_free(g->st);
}

/* Encodes the golden batch and checks the real rows' hidden states. */
static void check_hidden(clf_context *ctx, clf_model *m, const batch *g, const char *what)
{
    int64_t D = clf_model_get_config(m)->d_model;
    float *hidden = malloc((size_t)(g->B * g->S * D) * sizeof *hidden);
    clft_poison(hidden, (size_t)(g->B * g->S * D));
    OK(clf_model_encode(m, g->ids, g->lens, g->B, g->S, CLF_POOL_NONE, hidden, NULL, NULL));
    double e = clft_rel_err(hidden, g->hidden, g->B, g->S, (int)D, g->lens);
    printf("[hf] %s: last_hidden_state of %d padded rows (S %d) %.3g (relative error vs "
           "transformers)\n",
           what, g->B, g->S, e);
    cr_assert(e <= CLFT_HF_TOL, "%s hidden %.3g > %g", what, e, CLFT_HF_TOL);
    free(hidden);
}

Test(hf, roberta_hidden_states_and_pooler_match_transformers)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        batch g = open_batch("roberta");
        float *pref = clft_st_f32(g.st, "pooled");
        /* A larger max_source_len is clamped to the 40 - 2 positions. */
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("roberta"), 4, 64, 0);
        const clf_model_info *info = clf_model_get_info(m);
        const clf_model_config *c = clf_model_get_config(m);
        cr_assert_str_eq(info->architecture, "RobertaModel");
        cr_assert_str_eq(info->model_type, "roberta");
        cr_assert_eq(info->pooling, CLF_POOL_FIRST);
        cr_assert(c->pooler && c->embedding_norm && c->pad_id == 1);
        cr_assert_eq(c->position_offset, 2, "positions start at padding_idx + 1");
        cr_assert_eq(clf_model_max_new_tokens(m, 0), 38, "40 rows less the offset 2");
        cr_assert_eq(g.S, 38);
        check_hidden(ctx, m, &g, "RobertaModel");
        int64_t D = c->d_model;
        float *pooled = malloc((size_t)(g.B * D) * sizeof *pooled);
        OK(clf_model_encode(m, g.ids, g.lens, g.B, g.S, CLF_POOL_DEFAULT, NULL, pooled, NULL));
        double e = clft_rel_err(pooled, pref, g.B, 1, (int)D, NULL);
        printf("[hf] RobertaModel: pooler_output %.3g\n", e);
        cr_assert(e <= CLFT_HF_TOL, "pooled %.3g > %g", e, CLFT_HF_TOL);
        free(pooled);
        free(pref);
        clf_model_free(m);
        close_batch(&g);
        clf_context_free(ctx);
    }
}

Test(hf, roberta_classifier_from_bf16_matches_transformers_with_labels)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        clf__safetensors *st = clft_hf_golden("roberta_cls");
        enum { B = 4, S = 9, C = 3 };
        int32_t *ids = clft_st_i32(st, "input_ids"), *lens = clft_st_i32(st, "lengths");
        float *lref = clft_st_f32(st, "logits");
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("roberta_cls"), 4, 16, 0);
        const clf_model_info *info = clf_model_get_info(m);
        cr_assert_str_eq(info->architecture, "RobertaForSequenceClassification");
        cr_assert(info->n_labels == C && strcmp(info->labels[1], "neutral") == 0);
        cr_assert(clf_model_get_config(m)->pooler, "the head's dense + tanh is the pooler");
        float logits[B * C];
        OK(clf_model_encode(m, ids, lens, B, S, CLF_POOL_DEFAULT, NULL, NULL, logits));
        double e = clft_rel_err(logits, lref, B, 1, C, NULL);
        printf("[hf] RobertaForSequenceClassification (bf16): logits %.3g\n", e);
        cr_assert(e <= CLFT_HF_TOL, "logits %.3g > %g", e, CLFT_HF_TOL);
        clf_model_free(m);
        free(ids);
        free(lens);
        free(lref);
        clf__safetensors_free(st);
        clf_context_free(ctx);
    }
}

Test(hf, xlm_roberta_sentence_transformers_folder_matches_mean_pooled_normalised)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        batch g = open_batch("xlmr");
        float *eref = clft_st_f32(g.st, "embeddings");
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("xlmr"), 4, 16, 0);
        const clf_model_info *info = clf_model_get_info(m);
        const clf_model_config *c = clf_model_get_config(m);
        cr_assert_str_eq(info->architecture, "XLMRobertaModel");
        cr_assert(info->sentence_transformers && info->pooling == CLF_POOL_MEAN);
        cr_assert(c->normalize && !c->pooler && c->vocab == 250 && c->position_offset == 2);
        check_hidden(ctx, m, &g, "XLMRobertaModel");
        int64_t D = c->d_model;
        float *emb = malloc((size_t)(g.B * D) * sizeof *emb);
        OK(clf_model_encode(m, g.ids, g.lens, g.B, g.S, CLF_POOL_DEFAULT, NULL, emb, NULL));
        double e = clft_rel_err(emb, eref, g.B, 1, (int)D, NULL);
        printf("[hf] XLMRobertaModel sentence-transformers (mean + Normalize): embeddings %.3g\n",
               e);
        cr_assert(e <= CLFT_HF_TOL, "embeddings %.3g > %g", e, CLFT_HF_TOL);
        free(emb);
        free(eref);
        clf_model_free(m);
        close_batch(&g);
        clf_context_free(ctx);
    }
}

Test(hf, distilbert_hidden_states_match_transformers)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        batch g = open_batch("distilbert");
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("distilbert"), 4, 64, 0);
        const clf_model_info *info = clf_model_get_info(m);
        const clf_model_config *c = clf_model_get_config(m);
        cr_assert_str_eq(info->architecture, "DistilBertModel");
        cr_assert_eq(info->pooling, CLF_POOL_NONE, "DistilBertModel has no pooler");
        cr_assert(!c->pooler && c->position_offset == 0 && c->activation == CLF_ACT_RELU);
        cr_assert_eq(clf_model_max_new_tokens(m, 0), 24);
        check_hidden(ctx, m, &g, "DistilBertModel");
        /* The vector `clformer run embed` prints for the golden's text (mean
         * pooling), from the ids DistilBertTokenizer gave it. */
        const clf__st_tensor *t = clft_st_tensor(g.st, "cli_ids");
        int n = (int)t->shape[1];
        int32_t *ids = clft_st_i32(g.st, "cli_ids");
        float *ref = clft_st_f32(g.st, "cli_embedding"), v[32];
        OK(clf_model_encode(m, ids, NULL, 1, n, CLF_POOL_MEAN, NULL, v, NULL));
        double e = clft_rel_err(v, ref, 1, 1, 32, NULL);
        printf("[hf] DistilBertModel: mean-pooled vector of %d ids %.3g\n", n, e);
        cr_assert(e <= CLFT_HF_TOL, "mean-pooled %.3g > %g", e, CLFT_HF_TOL);
        free(ids);
        free(ref);
        clf_model_free(m);
        close_batch(&g);
        clf_context_free(ctx);
    }
}
