/*
 * The per-use state of a model (model_internal.h, clf__use): the KV caches,
 * the graphs built on them and the host staging of their inputs. The
 * model's default state (the old clf_model_* calls) and every session
 * (session.c) are one of these; the weights are never copied.
 */
#include <string.h>

#include "model/model_internal.h"

/* A zero-filled f32 tensor of the state (on use->ctx). */
static clf_status zeroed(clf__use *use, int ndim, const int64_t *shape, clf_tensor *out)
{
    CLF_TRY(clf_tensor_create(use->ctx, CLF_F32, ndim, shape, out));
    return clf_tensor_fill(use->ctx, out, 0.0f);
}

clf_status clf__use_init(clf__use *use)
{
    const clf_model *m = use->m;
    const clf_model_config *c = &m->cfg;
    use->last_step = -1;
    size_t B = (size_t)use->max_batch, src = (size_t)use->max_src, tgt = (size_t)use->max_tgt;
    size_t mx = src > tgt ? src : tgt;
    use->src_lens = clf__calloc(B, sizeof *use->src_lens);
    use->h_enc_ids = clf__calloc(B * src, sizeof *use->h_enc_ids);
    use->h_enc_lens = clf__calloc(B, sizeof *use->h_enc_lens);
    use->h_pool = clf__calloc(B * src, sizeof *use->h_pool);
    use->h_tok = clf__calloc(B * src, sizeof *use->h_tok);
    use->h_untok = clf__calloc(B * src, sizeof *use->h_untok);
    use->h_step_ids = clf__calloc(B * mx, sizeof *use->h_step_ids);
    use->h_step_lens = clf__calloc(B, sizeof *use->h_step_lens);
    use->h_step_rows = clf__calloc(B * tgt, sizeof *use->h_step_rows);
    use->h_step_last = clf__calloc(B, sizeof *use->h_step_last);
    use->h_iota = clf__calloc(B, sizeof *use->h_iota);
    for (size_t i = 0; use->h_iota && i < B; i++)
        use->h_iota[i] = (int32_t)i;
    if (!use->src_lens || !use->h_enc_ids || !use->h_enc_lens || !use->h_pool || !use->h_tok ||
        !use->h_untok || !use->h_step_ids ||
        !use->h_step_lens || !use->h_step_rows || !use->h_step_last || !use->h_iota)
        return clf__error(use->ctx, CLF_ERR_OUT_OF_MEMORY, "model state: out of host memory");
    if (c->kind == CLF_MODEL_ENCODER) return CLF_OK;
    int64_t D = c->d_model, L2 = 2 * (int64_t)c->decoder_layers;
    int64_t sh[4] = {L2, use->max_batch, use->max_tgt, D};
    CLF_TRY(zeroed(use, 4, sh, &use->kv));
    if (c->kind == CLF_MODEL_ENCODER_DECODER) {
        int64_t xs[4] = {L2, use->max_batch, use->max_src, D};
        CLF_TRY(zeroed(use, 4, xs, &use->xkv));
        int64_t ms[2] = {use->max_batch * use->max_src, D};
        CLF_TRY(clf_tensor_create(use->ctx, CLF_F32, 2, ms, &use->mem_rep));
    }
    CLF_TRY(clf__placement_init(use));
    return clf_context_finish(use->ctx);
}

void clf__use_clear(clf__use *use)
{
    if (!use) return;
    clf_graph_free(use->eg);
    for (int i = 0; i < use->n_steps; i++) {
        clf_graph_free(use->steps[i].g);
        clf_graph_free(use->steps[i].cross);
    }
    clf_tensor_free(&use->kv);
    clf_tensor_free(&use->xkv);
    clf_tensor_free(&use->mem_rep);
    clf_tensor_free(&use->mem_x);
    clf__free(use->src_lens);
    clf__free(use->h_enc_ids);
    clf__free(use->h_enc_lens);
    clf__free(use->h_pool);
    clf__free(use->h_tok);
    clf__free(use->h_untok);
    clf__free(use->h_step_ids);
    clf__free(use->h_step_lens);
    clf__free(use->h_step_rows);
    clf__free(use->h_step_last);
    clf__free(use->h_iota);
    clf__free(use->h_mem);
    const clf_model *m = use->m;
    memset(use, 0, sizeof *use);
    use->m = m;
}

static void add_graph(const clf_graph *g, size_t *arena, size_t *io)
{
    if (!g) return;
    clf_graph_memory_stats s;
    clf_graph_memory(g, &s);
    *arena += s.arena_bytes;
    *io += s.io_bytes;
}

void clf__use_bytes(const clf__use *use, size_t *cache, size_t *arena, size_t *io)
{
    *cache = clf_tensor_bytes(&use->kv) + clf_tensor_bytes(&use->xkv) +
             clf_tensor_bytes(&use->mem_rep) + clf_tensor_bytes(&use->mem_x);
    *arena = *io = 0;
    add_graph(use->eg, arena, io);
    for (int i = 0; i < use->n_steps; i++) {
        add_graph(use->steps[i].g, arena, io);
        add_graph(use->steps[i].cross, arena, io);
    }
}
