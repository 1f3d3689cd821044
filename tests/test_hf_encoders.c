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

#define OK(expr) CLFT_HF_OK(ctx, expr)

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

/* Encodes the golden batch with the model's own pooling and checks the
 * pooled vectors (B, D) against ref. */
static void check_pooled(clf_context *ctx, clf_model *m, const batch *g, const float *ref,
                         const char *what)
{
    int64_t D = clf_model_get_config(m)->d_model;
    float *pooled = malloc((size_t)(g->B * D) * sizeof *pooled);
    clft_poison(pooled, (size_t)(g->B * D));
    OK(clf_model_encode(m, g->ids, g->lens, g->B, g->S, CLF_POOL_DEFAULT, NULL, pooled, NULL));
    double e = clft_rel_err(pooled, ref, g->B, 1, (int)D, NULL);
    printf("[hf] %s %.3g\n", what, e);
    cr_assert(e <= CLFT_HF_TOL, "%s %.3g > %g", what, e, CLFT_HF_TOL);
    free(pooled);
}

Test(hf, roberta_hidden_states_and_pooler_match_transformers)
{
    CLFT_HF_EACH_DEVICE(ctx)
    {
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
        check_pooled(ctx, m, &g, pref, "RobertaModel: pooler_output");
        free(pref);
        clf_model_free(m);
        close_batch(&g);
    }
}

Test(hf, roberta_classifier_from_bf16_matches_transformers_with_labels)
{
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clft_hf_check_classifier(ctx, "roberta_cls", "RobertaForSequenceClassification",
                                 "bf16; head: dense + tanh on <s>, out_proj");
    }
}

Test(hf, xlm_roberta_sentence_transformers_folder_matches_mean_pooled_normalised)
{
    CLFT_HF_EACH_DEVICE(ctx)
    {
        batch g = open_batch("xlmr");
        float *eref = clft_st_f32(g.st, "embeddings");
        clf_model *m = clft_hf_load(ctx, clft_hf_folder("xlmr"), 4, 16, 0);
        const clf_model_info *info = clf_model_get_info(m);
        const clf_model_config *c = clf_model_get_config(m);
        cr_assert_str_eq(info->architecture, "XLMRobertaModel");
        cr_assert(info->sentence_transformers && info->pooling == CLF_POOL_MEAN);
        cr_assert(c->normalize && !c->pooler && c->vocab == 250 && c->position_offset == 2);
        check_hidden(ctx, m, &g, "XLMRobertaModel");
        check_pooled(ctx, m, &g, eref,
                     "XLMRobertaModel sentence-transformers (mean + Normalize): embeddings");
        free(eref);
        clf_model_free(m);
        close_batch(&g);
    }
}

Test(hf, distilbert_hidden_states_match_transformers)
{
    CLFT_HF_EACH_DEVICE(ctx)
    {
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
    }
}
