/*
 * clformer sessions: per-use state on a shared, read-only model.
 *
 * A clf_model holds the weights (uploaded once), the config and the info. A
 * session holds what one stream of work mutates: the self-attention KV
 * cache, the cross-attention K/V of the last encoded source, the encoder and
 * decoder-step graphs built on them (with their memory arenas), the host
 * staging of their inputs, and its own in-order command queue(s), kernel
 * objects and device scratch. Any number of sessions share one copy of the
 * weights:
 *
 *   device bytes = the model's weights (once)
 *                + per session: caches + graph arenas + graph inputs/outputs
 *                  + scratch (clf_session_memory gives each figure)
 *
 * Threads: a session is used by one thread at a time (a second thread inside
 * the same session gets CLF_ERR_BUSY, as for a context). Sessions of one
 * model run on separate threads at once, with each other and with the
 * model's own calls (clf_model_encode, decode, generate, which run on the
 * model's default state on its contexts and keep their one-thread rule:
 * model.h). clf_session_create may be called from any thread at any time,
 * also while another thread is inside the model or its context: it only
 * reads what never changes after load. Free every session before its model,
 * and the model before its contexts.
 *
 * How: a session forks the model's context (and params.encoder_ctx's, when
 * the model is placed on two devices): the fork shares the OpenCL context,
 * device and kernel profile, so the weights' buffers are used as they are,
 * and has its own queue, kernel objects (clSetKernelArg on one cl_kernel is
 * not thread-safe), scratch, error text and guard. Programs come from the
 * binary cache (context.h, cache_dir); with the cache off, the first run of
 * each session compiles its kernels again.
 *
 * Results: a session computes exactly what the model's own calls compute
 * for the same inputs (the same graphs and kernels on the same device): the
 * outputs are bitwise equal whichever session, thread or mix of concurrent
 * sessions runs them (tests/test_session.c).
 */
#ifndef CLFORMER_SESSION_H
#define CLFORMER_SESSION_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clf_session clf_session;

typedef struct clf_session_params {
    int64_t max_batch;      /* 0 = the model's max_batch; else 1..that */
    int64_t max_source_len; /* 0 = the model's max_source_len; else 1..that */
    int64_t max_target_len; /* 0 = the model's max_target_len; else 1..that */
} clf_session_params;

/* All zeros: the model's maxima. */
CLF_API clf_session_params clf_session_params_default(void);

/*
 * Makes a session on model m (params NULL = defaults): forks the model's
 * context(s), allocates the KV caches (zero-filled) for the session's
 * maxima and the host staging; the graphs are built and compiled on first
 * use, as the model's. On success *out owns the session; free it with
 * clf_session_free(). On failure *out is NULL and the reason is the calling
 * thread's last error (clf_context_last_error(NULL)).
 * Returns CLF_ERR_INVALID_ARG (NULL m or out, a maximum outside its range),
 * CLF_ERR_DEVICE_MEMORY, CLF_ERR_OUT_OF_MEMORY, CLF_ERR_OPENCL.
 * Any thread, any time (see Threads above).
 */
CLF_API clf_status clf_session_create(const clf_model *m, const clf_session_params *params,
                                      clf_session **out);

/* Waits for the session's queued work and frees it (caches, graphs, queue).
 * NULL is a no-op. Other sessions of the model are unaffected, also while
 * they run on other threads. */
CLF_API void clf_session_free(clf_session *s);

/* The model of a session. */
CLF_API const clf_model *clf_session_model(const clf_session *s);

/* The session's last error on this thread (valid until its next call), or
 * the calling thread's last error for a NULL session. */
CLF_API const char *clf_session_last_error(const clf_session *s);

/* clf_model_encode on the session's state: the same arguments, rules and
 * results (model.h), with B <= the session's max_batch and S <= its
 * max_source_len. */
CLF_API clf_status clf_session_encode(clf_session *s, const int32_t *ids, const int32_t *lengths,
                                      int64_t B, int64_t S, clf_pooling pooling, float *hidden,
                                      float *pooled, float *classes);

/* clf_model_decode on the session's caches (model.h). For an
 * encoder-decoder model, the sources are those of this session's last
 * clf_session_encode. */
CLF_API clf_status clf_session_decode(clf_session *s, const int32_t *ids, int64_t b, int64_t n,
                                      int64_t position, float *logits, int32_t *argmax);

/* clf_model_generate on the session's state (model.h): the same
 * parameters, outputs and results. */
CLF_API clf_status clf_session_generate(clf_session *s, const int32_t *ids,
                                        const int32_t *lengths, int64_t B, int64_t S,
                                        const clf_generate_params *params,
                                        const clf_generate_output *out);

/* Device and host bytes of one session, exact (bytes of the OpenCL
 * allocations it owns). Graphs count once built (after the first pass of
 * each batch size). */
typedef struct clf_session_memory_info {
    size_t cache_bytes;   /* KV cache, cross K/V, beam source copy, placement boundary */
    size_t arena_bytes;   /* the arenas of the session's graphs (activations) */
    size_t io_bytes;      /* the graphs' own input and output buffers */
    size_t scratch_bytes; /* ops' reusable scratch on the session's queue(s) */
    size_t other_bytes;   /* anything else allocated on the session's contexts (the
                             device error word); 0 when only the above */
    size_t device_bytes;  /* all the session's device allocations: the sum of the above */
    size_t host_bytes;    /* host staging of the graph inputs */
} clf_session_memory_info;

/* The session's memory (zeros for NULL s). The model's weights are not
 * counted: clf_model_info.weight_bytes gives them, once for all sessions.
 * Reads counters of the session only: call it from the session's thread. */
CLF_API void clf_session_memory(const clf_session *s, clf_session_memory_info *out);

#ifdef __cplusplus
}
#endif
#endif
