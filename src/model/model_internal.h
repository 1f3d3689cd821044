/*
 * Internal model layer: the weights of a loaded model (read only after
 * load) and the per-use state that runs on them (clf__use: caches, graphs,
 * staging; the model's default one and each session's). model.c loads
 * (config, name map, upload); use.c makes a state; stack.c builds its
 * graphs; decode.c and generate.c run them (encode, decode, greedy, beam,
 * sampling); session.c is the public face of extra states.
 */
#ifndef CLF_MODEL_INTERNAL_H
#define CLF_MODEL_INTERNAL_H

#include <clformer/clformer.h> /* the model layer sits on every other */

#include "core/core.h"
#include "model/gen_config.h"

typedef struct clf__use clf__use;

/* An nn.MultiheadAttention: in (3D, D) = [Wq; Wk; Wv], in_b (3D) or none. */
typedef struct clf__attn_w {
    clf_tensor w_in;  /* (3D, D) */
    clf_tensor b_in;  /* (3D) or buffer NULL */
    clf_tensor w_out; /* (D, D) */
    clf_tensor b_out; /* (D) or buffer NULL */
} clf__attn_w;

typedef struct clf__layer_w {
    clf__attn_w sa;            /* self-attention */
    clf__attn_w ca;            /* cross-attention (encoder-decoder decoder layers) */
    clf_tensor w1, b1, w2, b2; /* (F, D), (F), (D, F), (D) */
    clf_tensor ng[3], nb[3];   /* norm1..3 gamma, beta (D) */
} clf__layer_w;

/* One compiled decoder step graph for a fixed batch b, with its cross graph
 * (encoder-decoder only). An indirect step (beam search) also takes
 * cache_rows (b, T) i32: the self-attention reads key/value t of row i from
 * cache row cache_rows[i, t] (cache indirection); a plain step reads row i. */
typedef struct clf__step {
    int64_t b;
    bool indirect;
    bool last_only; /* logits (b, V) and argmax (b) of each row's last position (generate) */
    clf_graph *g; /* ids (b, S) at the run position -> logits (b*S, V), argmax (b*S) */
    int32_t ids, src_lens, cache_rows, logits, argmax;
    int32_t positions, key_lens; /* per-row step (continuous batching): (b) i32 inputs, else 0 */
    int32_t last; /* per-row prefill: (b) i32 input, row i's last real position; last_only:
                     (b) i32, i * S + S - 1; else 0;
                     a token step: (S) i32, the rows whose logits are wanted */
    int32_t tok_rows; /* a token step: (B) i32 input, the cache row of each token, else 0 */
    clf_graph *cross; /* memory (b*S, D) -> cross K/V states */
    int32_t memory;
} clf__step;

#define CLF__MAX_STEPS 6

/*
 * Per-use state: everything one stream of work mutates (DESIGN.md "weights
 * once, state per use"). The model's weights are only read through `m`.
 * The model's default state runs on the model's own contexts; a session's
 * on contexts forked from them (clf__context_fork: own queue, kernels,
 * scratch and one-thread guard), so that states on one model run on
 * separate threads at once.
 */
struct clf__use {
    const clf_model *m;
    clf_context *ctx;  /* the decoder's (and everything's when not split) */
    clf_context *ectx; /* the encoder's; == ctx when not split */
    int64_t max_batch, max_src, max_tgt; /* this state's maxima (<= the model's) */

    /* Encoder graph (B, S symbolic). */
    clf_graph *eg;
    int32_t e_ids, e_lens, e_poolw, e_hidden, e_pooled, e_classes;
    /* Padding removal (encoder-only models; 0 when off): the layers run on the
     * T real tokens. e_tok (T): padded row b*S+t of each real token, in order;
     * e_untok (B*S): the real-token index of each padded row (rows past a
     * length take their sequence's first token). */
    int32_t e_tok, e_untok;

    /* Self-attention caches: kv (2 L, max_batch, max_tgt, D): K of layer l at
     * 2l, V at 2l + 1; a batch-b step uses rows 0..b-1 as (b, cap, H, Dh). */
    clf_tensor kv;
    /* Cross K/V: xkv (2 L, max_batch, max_src, D), zero-filled at creation
     * so that masked rows are finite. */
    clf_tensor xkv;
    clf_tensor mem_rep; /* (max_batch * max_src, D): a source repeated per beam */

    clf__step steps[CLF__MAX_STEPS];
    int n_steps;
    int last_step; /* index of the last step graph used, -1 = none */

    /* The last encoded batch (encoder-decoder): B, S and source lengths. */
    int64_t enc_B, enc_S;
    int32_t *src_lens; /* (max_batch) */

    /* Host staging of graph inputs: uploads are non-blocking, so their
     * source must stay unchanged until the next blocking call. A call that
     * returns without one sets *_pending, and the next call that would
     * overwrite that staging waits first. */
    int32_t *h_enc_ids;   /* (max_batch * max_src) */
    int32_t *h_enc_lens;  /* (max_batch) */
    float *h_pool;        /* (max_batch * max_src) */
    int32_t *h_tok;       /* (max_batch * max_src): e_tok's indices */
    int32_t *h_untok;     /* (max_batch * max_src): e_untok's */
    int32_t *h_step_ids;  /* (max_batch * max(max_src, max_tgt)) */
    int32_t *h_step_lens; /* (max_batch) */
    int32_t *h_step_rows; /* (max_batch * max_tgt): cache_rows of an indirect step */
    int32_t *h_step_last; /* (max_batch): "last" of a last-only step */
    int32_t *h_iota;      /* (max_batch): 0, 1, ...; never written after init, so uploads
                             from it need no sync (a fed step's "last") */
    bool enc_pending, step_pending;

    /* Placement boundary (ectx != ctx, encoder-decoder): the encoder output
     * staged on the host (max_batch * max_src * D) and its copy on ctx;
     * mem_pending: the non-blocking write from h_mem may not have run yet. */
    float *h_mem;
    clf_tensor mem_x;
    bool mem_pending;
};

struct clf_model {
    clf_context *ctx;  /* the decoder's device (and everything when not split) */
    clf_context *ectx; /* the encoder's device (params.encoder_ctx); == ctx when not split */
    clf_context *wctx; /* where clf__model_own allocates now; NULL = ctx (load) */
    clf_model_config cfg;
    clf_dtype wdtype;
    int64_t max_batch, max_src, max_tgt;
    int64_t head_dim;

    clf_tensor enc_embed, dec_embed;           /* (V, D) */
    clf_tensor enc_pos, dec_pos;               /* (P, D) learned tables or buffer NULL */
    clf_tensor enc_ng, enc_nb, dec_ng, dec_nb; /* final norms (D) */
    clf_tensor out_w, out_b; /* (V, D), (V); out_w may be a copy of dec_embed's struct */
    clf_tensor cls_w, cls_b; /* (C, D), (C) */
    clf_tensor pool_w, pool_b; /* (D, D), (D): the pooler (config.pooler) */
    clf_tensor enc_eng, enc_enb, dec_eng, dec_enb; /* embedding norms (D) (config.embedding_norm) */
    clf__layer_w *enc, *dec;

    clf_model_info info;
    bool from_hf; /* loaded from a HuggingFace folder: HF beam rule by default */
    clf__gen_config gen; /* the folder's generation settings (clf_model_generate_defaults) */
    char *info_strings; /* architecture, model_type, labels: one block */
    const char **labels; /* (n_classes) into info_strings, or NULL */

    clf_weight_quant *quant; /* (n_quant) the Q8 matrices' errors; names owned */
    int64_t n_quant, cap_quant;

    clf_tensor *owned; /* every tensor created at load, freed by clf_model_free */
    int n_owned, cap_owned;

    /* The default per-use state: what clf_model_encode / decode / generate
     * run on (on ctx and ectx themselves, under their one-thread rule).
     * Made at load; sessions (session.c) have their own. */
    clf__use *def;
};

/* model.c: a tensor owned by the model. */
clf_status clf__model_own(clf_model *m, clf_dtype dtype, int ndim, const int64_t *shape,
                          clf_tensor *out);

/* random.c: the stream and range of the random values of tensor `name` of a
 * model from clf_model_create_random (fan_in: the columns of a matrix, 0 for
 * a vector); the values are made on the device by clf_tensor_fill_uniform. */
void clf__random_tensor(uint64_t seed, const char *name, int ndim, int64_t fan_in, uint64_t *stream,
                        float *lo, float *hi);

/* use.c: the per-use state. use_init allocates the state's caches and host
 * staging on use->ctx for the maxima already set in use (m, ctx, ectx,
 * max_* filled by the caller); use_clear frees what use holds (graphs,
 * tensors, staging), not use itself; it accepts a half-built state. */
clf_status clf__use_init(clf__use *use);
void clf__use_clear(clf__use *use);
/* Device bytes of the state: caches (kv, xkv, mem_rep, mem_x), graph
 * arenas and graph-owned input/output buffers. */
void clf__use_bytes(const clf__use *use, size_t *cache, size_t *arena, size_t *io);

/* The encoder's context at load (ectx unset = ctx, e.g. random models). */
#define CLF__ENC_CTX(m) ((m)->ectx ? (m)->ectx : (m)->ctx)

/* placement.c: the boundary between the encoder's and the decoder's
 * devices. Validates params->encoder_ctx against the config and sets m->ectx. */
clf_status clf__placement_setup(clf_model *m, const clf_model_params *p);
/* Allocates the boundary staging of a state (on use->ctx). */
clf_status clf__placement_init(clf__use *use);
/* The encoder output rows [0, rows) as a tensor on the decoder's context:
 * the encoder graph's own tensor when not split, else copied across. */
clf_status clf__placement_memory(clf__use *use, int64_t rows, clf_tensor *out);

/* stack.c: the graphs of a state, built from the model's weights (use->m)
 * into the state's caches, on the state's contexts. */
clf_status clf__build_encoder(clf__use *use);
/* The step graph (and cross graph) for batch b, plain or indirect (beam
 * search), built and compiled on first use. last_only (decoder-only models):
 * the final norm and the LM head take only each row's last position, so
 * logits are (b, V) and argmax (b) (generate: a prompt of S tokens needs one
 * LM-head row, not S, and no (b S, V) logits buffer). */
clf_status clf__get_step(clf__use *use, int64_t b, bool indirect, bool last_only,
                         clf__step **out);
/* The KV state a decoder step graph is built on: the self-attention cache
 * kv (2L, rows, cap, D), and the largest S of a run. per_row: the graph takes
 * "positions" and "key_lens" (b) i32 inputs, writes row i's K/V at
 * positions[i] and attends to its keys [0, key_lens[i]) (clf_batch), instead
 * of every row at the run position. ctx: the context the graph runs on (NULL
 * = the model's). xkv: the cross K/V states (2L, rows, xcap, D) of an
 * encoder-decoder step (NULL for decoder-only models). last_only (with
 * per_row): the graph also takes "last" (b) i32 and keeps only position
 * last[i] of row i for the final norm and the LM head, so logits are (b, V)
 * and argmax (b): a batched prefill of prompts of different lengths (the
 * other positions' logits are never used, and the LM head is the widest
 * GEMM of a step). */
typedef struct clf__step_state {
    const clf_tensor *kv;
    int64_t rows, cap, max_s;
    bool per_row;
    clf_context *ctx;
    const clf_tensor *xkv;
    int64_t xcap;
    bool last_only;
    int64_t tokens; /* > 0: a token step (batch.c): up to `tokens` rows (graph symbol B),
                       each one token of any sequence, on cache row rows[i] of kv (rows
                       rows), at its own position, attending through cache_rows; the
                       rows `last` (symbol S, up to rows) go on to the LM head */
} clf__step_state;
/* Builds and compiles st->g (st->b set) on state ss: a state's own steps
 * (clf__get_step) and a batch's (batch.c). No cross graph. */
clf_status clf__build_step_graph(const clf_model *m, const clf__step_state *ss, clf__step *st);
/* The view (b, cap, H, Dh) of slot j (2l = K, 2l + 1 = V) of a cache
 * (2L, use->max_batch, cap, D). */
clf_status clf__cache_view(const clf__use *use, const clf_tensor *cache, int j, int64_t b,
                           int64_t cap, clf_tensor *out);

/* model.c: CLF_ERR_INVALID_ARG naming the first field of p outside its
 * range: on the model's context with its max_batch (clf_batch), or on a
 * state's (clf__use_check_generate). */
clf_status clf__check_generate_params(const clf_model *m, const clf_generate_params *p);
clf_status clf__use_check_generate(const clf__use *use, const clf_generate_params *p);

/* decode.c: the passes that generate.c's loops are built on. */
clf_status clf__run_encoder(clf__use *use, const int32_t *ids, const int32_t *lengths, int64_t B,
                            int64_t S, clf_pooling pooling);
/* A blocking call has completed every earlier command: no host staging of
 * the state is pending any more. */
void clf__model_synced(clf__use *use);
/* Cross K/V of the last encoder run for a step graph of batch beams * B
 * (indirect: beam search's), source rows repeated beams times. */
clf_status clf__run_cross(clf__use *use, int64_t B, int64_t S, int64_t beams, bool indirect,
                          const int32_t *lengths);
/* Uploads ids (b, n) and enqueues the step graph at position (no sync);
 * rows: NULL, or beam search's cache-row table (b, max_tgt); last_only: the
 * last-only step (clf__get_step), whose outputs have one row per input row. */
clf_status clf__step_enqueue(clf__use *use, const int32_t *ids, int64_t b, int64_t n,
                             int64_t position, const int32_t *rows, bool last_only,
                             clf__step **out);
/* One token per row fed by the device: runs st (the step graph of batch b
 * that ran last on this state, last-only on a decoder-only model) at
 * position with ids (b, 1) bound to its own argmax of that run (the
 * previous step's tokens), without any host staging or sync: the source
 * lengths and cache rows keep that run's upload, "last" comes from h_iota.
 * Greedy decoding enqueues step t + 1 this way before reading step t. */
clf_status clf__step_enqueue_fed(clf__use *use, clf__step *st, int64_t b, int64_t position);
/* The bodies of clf_model_encode / decode (decode.c) and generate
 * (generate.c) on a state; the callers hold the state's contexts. */
clf_status clf__use_encode(clf__use *use, const int32_t *ids, const int32_t *lengths, int64_t B,
                           int64_t S, clf_pooling pooling, float *hidden, float *pooled,
                           float *classes);
clf_status clf__use_decode(clf__use *use, const int32_t *ids, int64_t b, int64_t n,
                           int64_t position, float *logits, int32_t *argmax);
clf_status clf__use_generate(clf__use *use, const int32_t *ids, const int32_t *lengths, int64_t B,
                             int64_t S, const clf_generate_params *params,
                             const clf_generate_output *out);

/* Q8 and Q4 weights (model_quant.c). quant_prepare: quantises host (rows,
 * cols) into q for the model's weight type (Q4 only when allow_q4: an
 * output head is Q8 even in a Q4 model), chooses q->stored (CLF_Q4,
 * CLF_Q8, or CLF_F16 when the errors are above the limits) and records the matrix for clf_model_info. random_host: the random
 * values (clf_tensor_fill_uniform's of stream, lo, hi) of a (shape[0],
 * shape[1]) matrix on the host (*out malloc'ed). quant_info: fills info's
 * weight fields from the owned tensors (once the weights are loaded, before
 * the caches). */
typedef struct clf__quant_host {
    void *codes;    /* Q8: (rows * cols) int8; Q4: (rows * G * 16) bytes (tensor.h) */
    float *scales;  /* Q8: (rows); Q4: (rows * G) */
    clf_dtype stored; /* CLF_Q4, CLF_Q8 or CLF_F16 */
} clf__quant_host;
clf_status clf__model_quant_prepare(clf_model *m, const char *name, int64_t rows, int64_t cols,
                                    const float *host, bool allow_q4, clf__quant_host *q);
void clf__quant_host_free(clf__quant_host *q);
clf_status clf__model_random_host(clf_model *m, const int64_t *shape, uint64_t stream, float lo,
                                  float hi, float **out);
void clf__model_quant_info(clf_model *m);
void clf__model_quant_free(clf_model *m);

#endif
