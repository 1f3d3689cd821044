/*
 * Multi-device placement at the model level (DESIGN.md: "multi-device is
 * placement, not a fork of the code"): the encoder stack of an
 * encoder-decoder model may run on one context (device) and the decoder on
 * another. The graphs are the same; only the context each is built on
 * differs, and the encoder output (memory) crosses the boundary here:
 *
 *   encoder graph (ectx) -> blocking read into host staging h_mem
 *                        -> non-blocking write into mem_x (ctx) -> cross graph
 *
 * Contexts do not share OpenCL events, so the read is the boundary's one host
 * synchronisation (on ectx, once per encoded source batch); the write is
 * enqueued on ctx's in-order queue ahead of the cross graph, so the decoder
 * side gains none. h_mem must stay unchanged until the write has run:
 * mem_pending says so, and the next boundary copy waits on ctx first (only
 * when no blocking call on ctx came in between).
 */
#include <string.h>

#include "model/model_internal.h"

clf_status clf__placement_setup(clf_model *m, const clf_model_params *p)
{
    clf_context *e = p->encoder_ctx;
    m->ectx = m->ctx;
    if (!e || e == m->ctx) return CLF_OK;
    if (!clf_context_device(e))
        return clf__error(m->ctx, CLF_ERR_INVALID_ARG,
                          "clf_model_load: encoder_ctx is not a valid context");
    if (m->cfg.kind == CLF_MODEL_DECODER)
        return clf__error(m->ctx, CLF_ERR_INVALID_ARG,
                          "clf_model_load: encoder_ctx given for a decoder-only model, which has "
                          "no encoder to place (leave it NULL)");
    m->ectx = e;
    return CLF_OK;
}

clf_status clf__placement_init(clf__use *use)
{
    const clf_model *m = use->m;
    if (use->ectx == use->ctx || m->cfg.kind != CLF_MODEL_ENCODER_DECODER) return CLF_OK;
    int64_t rows = use->max_batch * use->max_src, D = m->cfg.d_model;
    use->h_mem = clf__malloc((size_t)(rows * D) * sizeof *use->h_mem);
    if (!use->h_mem)
        return clf__error(use->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    int64_t sh[2] = {rows, D};
    return clf_tensor_create(use->ctx, CLF_F32, 2, sh, &use->mem_x);
}

clf_status clf__placement_memory(clf__use *use, int64_t rows, clf_tensor *out)
{
    clf_tensor mem;
    CLF_TRY(clf_graph_tensor(use->eg, use->e_hidden, &mem));
    if (use->ectx == use->ctx) {
        *out = mem;
        return CLF_OK;
    }
    int64_t D = use->m->cfg.d_model;
    if (clf_tensor_numel(&mem) != rows * D || !clf_tensor_is_contiguous(&mem) || !use->h_mem)
        return clf__error(use->ctx, CLF_ERR_SHAPE,
                          "placement: the encoder output does not have %lld contiguous rows",
                          (long long)rows);
    if (use->mem_pending) {
        /* The last boundary write may still read h_mem. */
        CLF_TRY(clf_context_finish(use->ctx));
        use->step_pending = use->mem_pending = false;
    }
    size_t bytes = (size_t)(rows * D) * sizeof(float);
    clf_status st = clf_tensor_read(use->ectx, &mem, use->h_mem, bytes, true);
    if (st != CLF_OK)
        return clf__error(use->ctx, st,
                          "placement: encoder output read on the encoder's device: %s",
                          clf_context_last_error(use->ectx));
    use->enc_pending = false; /* the encoder's queue is drained */
    CLF_TRY(clf_tensor_slice(&use->mem_x, 0, 0, rows, out));
    CLF_TRY(clf_tensor_write(use->ctx, out, use->h_mem, bytes, false));
    use->mem_pending = true;
    return CLF_OK;
}
