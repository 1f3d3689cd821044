/*
 * Sessions (include/clformer/session.h): a per-use state (use.c) on forks
 * of the model's contexts, so that sessions of one model run on separate
 * threads at once while the weights stay one read-only copy.
 */
#include <string.h>

#include "model/model_internal.h"
#include "runtime/runtime.h" /* clf__context_fork and the contexts' guard */

struct clf_session {
    clf__use use;      /* use.ctx / use.ectx are the forks below */
    clf_context *ctx;  /* fork of the model's ctx */
    clf_context *ectx; /* fork of the model's encoder context; NULL when not split */
};

clf_session_params clf_session_params_default(void)
{
    clf_session_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* A session maximum: 0 = the model's, else 1..the model's. */
static clf_status pick_max(const char *field, int64_t asked, int64_t model, int64_t *out)
{
    if (asked < 0 || asked > model)
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "clf_session_create: %s %lld outside 0..%lld (0 = the model's; at most "
                          "the model's, given at load)",
                          field, (long long)asked, (long long)model);
    *out = asked ? asked : model;
    return CLF_OK;
}

static clf_status session_init(clf_session *s, const clf_model *m, const clf_session_params *p)
{
    clf__use *use = &s->use;
    use->m = m;
    CLF_TRY(pick_max("max_batch", p->max_batch, m->max_batch, &use->max_batch));
    CLF_TRY(pick_max("max_source_len", p->max_source_len, m->max_src, &use->max_src));
    CLF_TRY(pick_max("max_target_len", p->max_target_len, m->max_tgt, &use->max_tgt));
    CLF_TRY(clf__context_fork(m->ctx, &s->ctx));
    use->ctx = use->ectx = s->ctx;
    if (m->ectx && m->ectx != m->ctx) {
        CLF_TRY(clf__context_fork(m->ectx, &s->ectx));
        use->ectx = s->ectx;
    }
    /* The state's errors go to the fork, which no other thread can see
     * yet: move them to the thread, where the caller looks. */
    clf_status st = clf__use_init(use);
    if (st != CLF_OK)
        clf__error(NULL, st, "clf_session_create: %s", clf_context_last_error(s->ctx));
    return st;
}

clf_status clf_session_create(const clf_model *m, const clf_session_params *params,
                              clf_session **out)
{
    if (out) *out = NULL;
    clf__thread_error_clear();
    if (!m || !out)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_session_create: NULL model or out");
    clf_session_params p = params ? *params : clf_session_params_default();
    clf_session *s = clf__calloc(1, sizeof *s);
    if (!s) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "clf_session_create: out of memory");
    clf_status st = session_init(s, m, &p);
    if (st != CLF_OK) {
        clf_session_free(s);
        return st;
    }
    *out = s;
    return CLF_OK;
}

void clf_session_free(clf_session *s)
{
    if (!s) return;
    clf__use_clear(&s->use);
    clf_context_free(s->ectx);
    clf_context_free(s->ctx);
    clf__free(s);
}

const clf_model *clf_session_model(const clf_session *s) { return s ? s->use.m : NULL; }

const char *clf_session_last_error(const clf_session *s)
{
    return clf_context_last_error(s ? s->ctx : NULL);
}

clf_status clf_session_encode(clf_session *s, const int32_t *ids, const int32_t *lengths, int64_t B,
                              int64_t S, clf_pooling pooling, float *hidden, float *pooled,
                              float *classes)
{
    if (!s) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_session_encode: NULL session");
    CLF__GUARDED2(s->use.ctx, s->use.ectx, "clf_session_encode",
                  clf__use_encode(&s->use, ids, lengths, B, S, pooling, hidden, pooled, classes));
}

clf_status clf_session_decode(clf_session *s, const int32_t *ids, int64_t b, int64_t n,
                              int64_t position, float *logits, int32_t *argmax)
{
    if (!s) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_session_decode: NULL session");
    CLF__GUARDED2(s->use.ctx, s->use.ectx, "clf_session_decode",
                  clf__use_decode(&s->use, ids, b, n, position, logits, argmax));
}

clf_status clf_session_generate(clf_session *s, const int32_t *ids, const int32_t *lengths,
                                int64_t B, int64_t S, const clf_generate_params *params,
                                const clf_generate_output *out)
{
    if (!s) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_session_generate: NULL session");
    CLF__GUARDED2(s->use.ctx, s->use.ectx, "clf_session_generate",
                  clf__use_generate(&s->use, ids, lengths, B, S, params, out));
}

/* Live buffer bytes (clf_buffer_create), scratch and the error word of a
 * fork. */
static void fork_bytes(const clf_context *ctx, size_t *device, size_t *scratch)
{
    if (!ctx) return;
    size_t sc = 0;
    clf_context_scratch_bytes(ctx, &sc);
    *scratch += sc;
    *device += ctx->live_buffer_bytes + sc + (ctx->device_error ? 4 * sizeof(cl_int) : 0);
}

void clf_session_memory(const clf_session *s, clf_session_memory_info *out)
{
    memset(out, 0, sizeof *out);
    if (!s) return;
    const clf__use *u = &s->use;
    clf__use_bytes(u, &out->cache_bytes, &out->arena_bytes, &out->io_bytes);
    fork_bytes(s->ctx, &out->device_bytes, &out->scratch_bytes);
    fork_bytes(s->ectx, &out->device_bytes, &out->scratch_bytes);
    size_t known = out->cache_bytes + out->arena_bytes + out->io_bytes + out->scratch_bytes;
    out->other_bytes = out->device_bytes > known ? out->device_bytes - known : 0;
    size_t B = (size_t)u->max_batch, src = (size_t)u->max_src, tgt = (size_t)u->max_tgt;
    size_t mx = src > tgt ? src : tgt;
    out->host_bytes = 4 * (B + B * src + B + B * src + B * mx + B + B * tgt);
    if (u->h_mem) out->host_bytes += B * src * (size_t)u->m->cfg.d_model * sizeof(float);
}
