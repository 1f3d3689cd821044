/*
 * Running a model: encoder passes and decoder steps on the KV cache
 * (clf_model_encode, clf_model_decode). Each pass is one graph run (no host
 * synchronisation). The decoding loops built on them are in generate.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "runtime/runtime.h" /* the contexts' thread guard */

/* A blocking call completes every earlier command (in-order queue), so no
 * host staging is pending any more. */
void clf__model_synced(clf__use *use)
{
    use->enc_pending = use->step_pending = use->mem_pending = false;
}

/* Waits for the queue of ctx (the encoder's or the decoder's: placement.c). */
static clf_status wait_staging(clf__use *use, clf_context *ctx, bool pending)
{
    if (!pending) return CLF_OK;
    CLF_TRY(clf_context_finish(ctx));
    if (ctx == use->ctx)
        clf__model_synced(use);
    else
        use->enc_pending = false;
    return CLF_OK;
}

/* ============================== encoder ============================== */

clf_status clf__run_encoder(clf__use *use, const int32_t *ids, const int32_t *lengths, int64_t B,
                            int64_t S, clf_pooling pooling)
{
    const clf_model *m = use->m;
    clf_context *ctx = use->ctx;
    if (m->cfg.kind == CLF_MODEL_DECODER)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "clf_model_encode: a decoder-only model has no encoder");
    if (!ids) return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_model_encode: NULL ids");
    if (B < 1 || B > use->max_batch || S < 1 || S > use->max_src)
        return clf__error(
            ctx, CLF_ERR_SHAPE,
            "clf_model_encode: B = %lld, S = %lld outside 1..%lld, 1..%lld (max_batch, "
            "max_source_len given at load)",
            (long long)B, (long long)S, (long long)use->max_batch, (long long)use->max_src);
    for (int64_t b = 0; lengths && b < B; b++)
        if (lengths[b] < 1 || lengths[b] > S)
            return clf__error(ctx, CLF_ERR_OUT_OF_RANGE,
                              "clf_model_encode: lengths[%lld] = %d outside 1..%lld", (long long)b,
                              (int)lengths[b], (long long)S);
    CLF_TRY(clf__build_encoder(use));
    CLF_TRY(wait_staging(use, use->ectx, use->enc_pending));
    memcpy(use->h_enc_ids, ids, (size_t)(B * S) * sizeof *ids);
    for (int64_t b = 0; b < B; b++)
        use->h_enc_lens[b] = lengths ? lengths[b] : (int32_t)S;
    clf_graph_binding bind[5] = {
        {use->e_ids, NULL, use->h_enc_ids, (size_t)(B * S) * 4},
        {use->e_lens, NULL, use->h_enc_lens, (size_t)B * 4},
    };
    size_t nb = 2;
    int64_t T = 0; /* real tokens (padding removal) */
    if (use->e_tok) {
        for (int64_t b = 0; b < B; b++) {
            int64_t first = T;
            for (int64_t t = 0; t < S; t++) {
                if (t < use->h_enc_lens[b]) use->h_tok[T] = (int32_t)(b * S + t);
                use->h_untok[b * S + t] = (int32_t)(t < use->h_enc_lens[b] ? T++ : first);
            }
        }
        bind[nb++] = (clf_graph_binding){use->e_tok, NULL, use->h_tok, (size_t)T * 4};
        bind[nb++] = (clf_graph_binding){use->e_untok, NULL, use->h_untok, (size_t)(B * S) * 4};
    }
    if (pooling != CLF_POOL_NONE && use->e_poolw) {
        for (int64_t b = 0; b < B; b++) {
            float *w = use->h_pool + b * S;
            int64_t len = use->h_enc_lens[b];
            for (int64_t t = 0; t < S; t++)
                w[t] = pooling == CLF_POOL_FIRST ? (t == 0 ? 1.0f : 0.0f)
                                                 : (t < len ? 1.0f / (float)len : 0.0f);
        }
        bind[nb++] = (clf_graph_binding){use->e_poolw, NULL, use->h_pool, (size_t)(B * S) * 4};
    }
    clf_graph_run_params rp = {{B, S, T}, 0, bind, nb};
    CLF_TRY(clf_graph_run(use->eg, &rp));
    use->enc_pending = true;
    return CLF_OK;
}

/* Computes the cross K/V of the last encoder run into the cross states for
 * a step graph of batch `beams * B` (indirect: beam search's): with beams > 1
 * the memory rows of source i are repeated for its rows i * beams + j first. */
clf_status clf__run_cross(clf__use *use, int64_t B, int64_t S, int64_t beams, bool indirect,
                          const int32_t *lengths)
{
    int64_t b = B * beams;
    clf__step *st = NULL;
    CLF_TRY(clf__get_step(use, b, indirect, false, &st));
    clf_tensor mem, rep;
    CLF_TRY(clf__placement_memory(use, B * S, &mem)); /* crosses devices when placed apart */
    if (beams > 1) {
        for (int64_t r = 0; r < b; r++) {
            clf_tensor src, dst;
            CLF_TRY(clf_tensor_slice(&mem, 0, (r / beams) * S, S, &src));
            CLF_TRY(clf_tensor_slice(&use->mem_rep, 0, r * S, S, &dst));
            CLF_TRY(clf_copy(use->ctx, &src, &dst));
        }
        CLF_TRY(clf_tensor_slice(&use->mem_rep, 0, 0, b * S, &rep));
        mem = rep;
    }
    clf_graph_binding bind = {st->memory, &mem, NULL, 0};
    clf_graph_run_params rp = {{0, S, 0}, 0, &bind, 1};
    CLF_TRY(clf_graph_run(st->cross, &rp));
    use->enc_B = b;
    use->enc_S = S;
    for (int64_t i = 0; i < b; i++)
        use->src_lens[i] = lengths ? lengths[i / beams] : (int32_t)S;
    return CLF_OK;
}

/* Rows of x (B, D) divided by their L2 norm, as sentence-transformers'
 * Normalize (torch.nn.functional.normalize: the norm clamped to >= 1e-12).
 * On the host: B * D values already read back, less than one GEMM row's work. */
static void l2_normalize(float *x, int64_t B, int64_t D)
{
    for (int64_t b = 0; b < B; b++) {
        float *r = x + b * D;
        double ss = 0;
        for (int64_t i = 0; i < D; i++)
            ss += (double)r[i] * r[i];
        double n = sqrt(ss);
        if (n < 1e-12) n = 1e-12;
        for (int64_t i = 0; i < D; i++)
            r[i] = (float)(r[i] / n);
    }
}

clf_status clf__use_encode(clf__use *use, const int32_t *ids, const int32_t *lengths, int64_t B,
                           int64_t S, clf_pooling pooling, float *hidden, float *pooled,
                           float *classes)
{
    const clf_model *m = use->m;
    clf_context *ctx = use->ctx;
    if ((unsigned)pooling > CLF_POOL_DEFAULT)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_model_encode: unknown pooling %d",
                          (int)pooling);
    if (pooling == CLF_POOL_DEFAULT) pooling = m->info.pooling;
    if (m->cfg.kind == CLF_MODEL_ENCODER && (pooled || classes) && pooling == CLF_POOL_NONE)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "clf_model_encode: pooled or classes asked with no pooling");
    if (classes && !use->e_classes && !m->cls_w.buffer)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "clf_model_encode: the model has no classification head");
    if ((pooled || classes) && m->cfg.kind != CLF_MODEL_ENCODER)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "clf_model_encode: pooling is for encoder-only models");
    /* Build the step graphs before the pass, so that compiling them (which
     * synchronises) does not land between the encoder and the cross graph. */
    clf__step *st = NULL;
    if (m->cfg.kind == CLF_MODEL_ENCODER_DECODER) {
        if (B > use->max_batch)
            return clf__error(ctx, CLF_ERR_SHAPE, "clf_model_encode: B = %lld > max_batch %lld",
                              (long long)B, (long long)use->max_batch);
        if (B >= 1) CLF_TRY(clf__get_step(use, B, false, false, &st));
    }
    CLF_TRY(clf__run_encoder(use, ids, lengths, B, S, pooling));
    if (m->cfg.kind == CLF_MODEL_ENCODER_DECODER)
        CLF_TRY(clf__run_cross(use, B, S, 1, false, lengths));
    int64_t D = m->cfg.d_model;
    if (hidden)
        CLF_TRY(
            clf_graph_read(use->eg, use->e_hidden, hidden, (size_t)(B * S * D) * sizeof(float)));
    if (pooled) {
        CLF_TRY(clf_graph_read(use->eg, use->e_pooled, pooled, (size_t)(B * D) * sizeof(float)));
        if (m->cfg.normalize) l2_normalize(pooled, B, D);
    }
    if (classes)
        CLF_TRY(clf_graph_read(use->eg, use->e_classes, classes,
                               (size_t)(B * m->cfg.n_classes) * sizeof(float)));
    if ((hidden || pooled || classes) && use->ectx == use->ctx) clf__model_synced(use);
    if (hidden || pooled || classes) use->enc_pending = false; /* reads on the encoder's queue */
    return CLF_OK;
}

clf_status clf_model_encode(clf_model *m, const int32_t *ids, const int32_t *lengths, int64_t B,
                            int64_t S, clf_pooling pooling, float *hidden, float *pooled,
                            float *classes)
{
    if (!m) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_model_encode: NULL model");
    CLF__GUARDED2(m->ctx, m->ectx, "clf_model_encode",
                  clf__use_encode(m->def, ids, lengths, B, S, pooling, hidden, pooled, classes));
}

/* ============================== decoder ============================== */

/* Uploads ids (b, n) and runs the step graph at position: no sync. rows:
 * NULL (the plain step), or the cache-row table (b, max_tgt) of beam search,
 * whose first position + n columns go to the indirect step. last_only: the
 * last-only step graph, "last" = i * n + n - 1. */
clf_status clf__step_enqueue(clf__use *use, const int32_t *ids, int64_t b, int64_t n,
                             int64_t position, const int32_t *rows, bool last_only,
                             clf__step **out)
{
    const clf_model *m = use->m;
    clf_context *ctx = use->ctx;
    if (m->cfg.kind == CLF_MODEL_ENCODER)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "clf_model_decode: an encoder-only model has no decoder");
    if (!ids) return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_model_decode: NULL ids");
    if (b < 1 || b > use->max_batch || n < 1 || position < 0 || position + n > use->max_tgt)
        return clf__error(
            ctx, CLF_ERR_SHAPE,
            "clf_model_decode: b = %lld, n = %lld at position %lld: need 1 <= b <= %lld "
            "(max_batch) and position + n <= %lld (max_target_len)",
            (long long)b, (long long)n, (long long)position, (long long)use->max_batch,
            (long long)use->max_tgt);
    if (m->cfg.kind == CLF_MODEL_ENCODER_DECODER && b != use->enc_B)
        return clf__error(
            ctx, CLF_ERR_INVALID_ARG,
            "clf_model_decode: batch %lld but the last clf_model_encode() had %lld sources",
            (long long)b, (long long)use->enc_B);
    clf__step *st = NULL;
    CLF_TRY(clf__get_step(use, b, rows != NULL, last_only, &st));
    CLF_TRY(wait_staging(use, use->ctx, use->step_pending));
    memcpy(use->h_step_ids, ids, (size_t)(b * n) * sizeof *ids);
    memcpy(use->h_step_lens, use->src_lens, (size_t)b * sizeof *use->src_lens);
    int64_t T = position + n;
    for (int64_t i = 0; rows && i < b; i++)
        memcpy(use->h_step_rows + i * T, rows + i * use->max_tgt, (size_t)T * sizeof *rows);
    for (int64_t i = 0; i < b; i++)
        use->h_step_last[i] = (int32_t)(i * n + n - 1);
    /* The inputs the graph has (an input id 0: none) */
    clf_graph_binding all[4] = {{st->ids, NULL, use->h_step_ids, (size_t)(b * n) * 4},
                                {st->src_lens, NULL, use->h_step_lens, (size_t)b * 4},
                                {st->cache_rows, NULL, use->h_step_rows, (size_t)(b * T) * 4},
                                {st->last, NULL, use->h_step_last, (size_t)b * 4}},
                       bind[4];
    size_t nb = 0;
    for (int i = 0; i < 4; i++)
        if (i == 0 || all[i].tensor) bind[nb++] = all[i];
    clf_graph_run_params rp = {{0, n, T}, position, bind, nb};
    CLF_TRY(clf_graph_run(st->g, &rp));
    use->step_pending = true;
    *out = st;
    return CLF_OK;
}

clf_status clf__step_enqueue_fed(clf__use *use, clf__step *st, int64_t b, int64_t position)
{
    if (st->indirect || st->b != b || position < 0 || position + 1 > use->max_tgt)
        return clf__error(use->ctx, CLF_ERR_INVALID_ARG,
                          "fed decoder step: b = %lld at position %lld (max_target_len %lld)",
                          (long long)b, (long long)position, (long long)use->max_tgt);
    clf_tensor am, ids;
    CLF_TRY(clf_graph_tensor(st->g, st->argmax, &am));
    CLF_TRY(clf_tensor_reshape(&am, 2, (int64_t[]){b, 1}, &ids));
    clf_graph_binding bind[2] = {{st->ids, &ids, NULL, 0},
                                 {st->last, NULL, use->h_iota, (size_t)b * 4}};
    clf_graph_run_params rp = {{0, 1, position + 1}, position, bind, st->last ? 2 : 1};
    CLF_TRY(clf_graph_run(st->g, &rp));
    use->step_pending = true;
    return CLF_OK;
}

clf_status clf__use_decode(clf__use *use, const int32_t *ids, int64_t b, int64_t n,
                           int64_t position, float *logits, int32_t *argmax)
{
    const clf_model *m = use->m;
    clf__step *st = NULL;
    CLF_TRY(clf__step_enqueue(use, ids, b, n, position, NULL, false, &st));
    if (logits)
        CLF_TRY(clf_graph_read(st->g, st->logits, logits,
                               (size_t)(b * n * m->cfg.vocab) * sizeof(float)));
    if (argmax)
        CLF_TRY(clf_graph_read(st->g, st->argmax, argmax, (size_t)(b * n) * sizeof(int32_t)));
    if (logits || argmax) clf__model_synced(use);
    return CLF_OK;
}

clf_status clf_model_decode(clf_model *m, const int32_t *ids, int64_t b, int64_t n,
                            int64_t position, float *logits, int32_t *argmax)
{
    if (!m) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_model_decode: NULL model");
    CLF__GUARDED2(m->ctx, m->ectx, "clf_model_decode",
                  clf__use_decode(m->def, ids, b, n, position, logits, argmax));
}
