/*
 * clformer continuous batching: many live generations of one decoder-only
 * model advanced together, one token each per step, in one batched step
 * graph (what a server needs to keep the device busy).
 *
 * A batch owns its own KV caches (max_rows rows of max_len positions) and
 * step graphs, built from the model's weights; it never touches the model's
 * own decoding state, so clf_model_generate on the same model still works
 * between batch calls. Sequences join (clf_batch_add) and leave (when they
 * finish, or clf_batch_remove) between steps; a sequence keeps its cache
 * row for life, and a row freed by one that left is reused by the next one
 * that joins. A step is one pass of a token graph over the weights: its
 * rows are tokens (every running sequence's last token, then the prompt ids
 * of joining sequences), each at its own position, writing its K/V into its
 * sequence's cache row (clf_kv_append_at) and attending to that row's keys
 * only (a cache-row table); only a running sequence's token and a prompt's
 * last id go on to the LM head. Running and joining sequences share the
 * pass, with no padding: what a server's continuous batching does.
 *
 * Each sequence's stream is the stream clf_model_generate gives for that
 * prompt alone with the same settings (greedy, or sampling with the same
 * seed), up to float rounding (a batched GEMM instead of a one-row one, a
 * prompt's attention through the one-query kernel instead of the prefill
 * kernel), which can only matter where two tokens' logits tie to ~1e-6.
 *
 * Threads: a batch is used by one thread at a time, the thread that uses its
 * model: every call except clf_batch_params_default and clf_batch_live
 * enters the model's context(s) as the model's calls do, so a second thread
 * gets CLF_ERR_BUSY. The model must outlive the batch.
 *
 * Errors: every call returns a clf_status; clf_context_last_error() of the
 * context the model was loaded on (its decoder context) says why. A call that fails on its
 * arguments changes nothing (no sequence is lost or added).
 *
 * Supported: decoder-only models (GPT-2 family, any position kind).
 * Encoder-decoder models are CLF_ERR_UNSUPPORTED at clf_batch_create (not
 * built yet); beam search inside a batch is CLF_ERR_UNSUPPORTED at
 * clf_batch_add.
 */
#ifndef CLFORMER_BATCH_H
#define CLFORMER_BATCH_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clf_batch clf_batch; /* opaque */

typedef struct clf_batch_params {
    int64_t max_rows; /* sequences live at once, 1..256; 0 = 16 */
    int64_t max_len;  /* cache positions per sequence (prompt + new tokens - 1 must fit);
                         0 = the model's max_target_len */
    int64_t max_step_tokens; /* tokens one step computes (running sequences' tokens plus
                                prompt ids), max_rows..65536; 0 = max(256, max_rows).
                                Sizes the step graph's activations; a longer prompt is
                                prefilled over several steps */
} clf_batch_params;

/* Every field 0 (= its default). */
CLF_API clf_batch_params clf_batch_params_default(void);

/* On success *out owns a new batch of model m (NULL params = defaults);
 * free it with clf_batch_free. Allocates max_rows * max_len * 2 * layers *
 * d_model f32 of cache; the one step graph (activations for
 * max_step_tokens tokens, logits for max_rows) is compiled at the first
 * step. NULL m or out, a field outside its range: CLF_ERR_INVALID_ARG; an
 * encoder-only model: CLF_ERR_INVALID_ARG; an encoder-decoder model:
 * CLF_ERR_UNSUPPORTED. On failure *out is NULL. */
CLF_API clf_status clf_batch_create(clf_model *m, const clf_batch_params *params,
                                    clf_batch **out);

/*
 * Adds a sequence: prompt ids (n) and its settings (NULL = greedy with
 * clf_generate_params_default()). Fields that apply: strategy (GREEDY or
 * SAMPLE), max_new_tokens / max_length, ignore_eos, temperature, top_k,
 * top_p, seed, the logits processors, on_token (called with the sequence's
 * id as `seq` and the token's index as `step`) and user. abort is not
 * polled (a caller stops a sequence with clf_batch_remove). Arrays that p
 * points to (bad words) must stay valid until the sequence has left.
 * The prompt is copied; it is prefilled into the sequence's cache row by the
 * next clf_batch_step (or, beyond the step's token budget, the next few),
 * which reports its first generated token.
 * *seq gets the sequence's id (>= 0, never reused by this batch).
 * Errors, with nothing added: NULL batch, ids or seq, n < 1, an id outside
 * [0, vocab), beam search (CLF_ERR_UNSUPPORTED), a field of p outside its
 * range: CLF_ERR_INVALID_ARG (ids: CLF_ERR_OUT_OF_RANGE); every row taken:
 * CLF_ERR_OUT_OF_RANGE ("the batch is full"); a prompt longer than the
 * model's positions, or n + max_new_tokens - 1 > max_len: CLF_ERR_SHAPE.
 * As clf_model_generate, max_new_tokens is cut to the model's positions
 * (clf_model_max_new_tokens); finish then says CLF_FINISH_POSITIONS.
 */
CLF_API clf_status clf_batch_add(clf_batch *b, const int32_t *ids, int64_t n,
                                 const clf_generate_params *p, int64_t *seq);

/* One new token of a sequence, as reported by clf_batch_step. */
typedef struct clf_batch_token {
    int64_t seq;              /* the id from clf_batch_add */
    int64_t row;              /* the sequence's cache row (0..max_rows-1), the same for
                                 its whole life */
    int64_t index;            /* 0-based index of the token among the sequence's new tokens */
    int32_t token;
    clf_finish_reason finish; /* CLF_FINISH_NONE: it goes on; else this was its last token
                                 (EOS, max_new_tokens or the model's positions) and the
                                 sequence has left, its row free for the next add */
} clf_batch_token;

/*
 * Advances every live sequence by one token, in one pass of the step graph
 * and one host round trip. Running sequences feed their last token; joining
 * ones (added since, in the order added) feed their prompt ids, as many as
 * fit in max_step_tokens after the running ones, and report their first
 * token at the step that feeds their last prompt id (a prompt longer than
 * the budget takes several steps, and reports nothing until then). out
 * (cap) gets one entry per sequence that produced a token, *n_out their
 * count (0 when none is live; then nothing runs). Order: the running
 * sequences by row, then the ones whose prompt completed, in the order
 * they were added.
 * Errors: NULL b, out or n_out, cap smaller than the live sequences:
 * CLF_ERR_INVALID_ARG, nothing run. A device error mid-step is returned as
 * it is; the sequences then keep their state before the step, but the step
 * may have written the cache positions it was about to fill (run it again).
 */
CLF_API clf_status clf_batch_step(clf_batch *b, clf_batch_token *out, int64_t cap,
                                  int64_t *n_out);

/* Removes live sequence seq now (a client that went away); its row is free
 * for the next add. Unknown or finished seq: CLF_ERR_NOT_FOUND. */
CLF_API clf_status clf_batch_remove(clf_batch *b, int64_t seq);

/* Sequences added and not finished or removed (0 for NULL). Any thread that
 * owns b. */
CLF_API int64_t clf_batch_live(const clf_batch *b);

/* Frees the batch (its caches and graphs); NULL is a no-op. */
CLF_API void clf_batch_free(clf_batch *b);

#ifdef __cplusplus
}
#endif
#endif
