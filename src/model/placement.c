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

clf_status clf__placement_init(clf_model *m)
{
    if (CLF__ENC_CTX(m) == m->ctx || m->cfg.kind != CLF_MODEL_ENCODER_DECODER) return CLF_OK;
    int64_t rows = m->max_batch * m->max_src, D = m->cfg.d_model;
    m->h_mem = clf__malloc((size_t)(rows * D) * sizeof *m->h_mem);
    if (!m->h_mem) return clf__error(m->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    int64_t sh[2] = {rows, D};
    return clf__model_own(m, CLF_F32, 2, sh, &m->mem_x);
}

clf_status clf__placement_memory(clf_model *m, int64_t rows, clf_tensor *out)
{
    clf_tensor mem;
    CLF_TRY(clf_graph_tensor(m->eg, m->e_hidden, &mem));
    if (CLF__ENC_CTX(m) == m->ctx) {
        *out = mem;
        return CLF_OK;
    }
    int64_t D = m->cfg.d_model;
    if (clf_tensor_numel(&mem) != rows * D || !clf_tensor_is_contiguous(&mem) || !m->h_mem)
        return clf__error(m->ctx, CLF_ERR_SHAPE,
                          "placement: the encoder output does not have %lld contiguous rows",
                          (long long)rows);
    if (m->mem_pending) {
        /* The last boundary write may still read h_mem. */
        CLF_TRY(clf_context_finish(m->ctx));
        m->step_pending = m->mem_pending = false;
    }
    size_t bytes = (size_t)(rows * D) * sizeof(float);
    clf_status st = clf_tensor_read(m->ectx, &mem, m->h_mem, bytes, true);
    if (st != CLF_OK)
        return clf__error(m->ctx, st, "placement: encoder output read on the encoder's device: %s",
                          clf_context_last_error(m->ectx));
    m->enc_pending = false; /* the encoder's queue is drained */
    CLF_TRY(clf_tensor_slice(&m->mem_x, 0, 0, rows, out));
    CLF_TRY(clf_tensor_write(m->ctx, out, m->h_mem, bytes, false));
    m->mem_pending = true;
    return CLF_OK;
}
