/*
 * Host-side choice of the next token from a logits row: transformers'
 * logits processors (repetition penalty, no-repeat n-grams, bad words, min
 * length, min new tokens, forced BOS / EOS, in generate()'s order) and
 * sampling (temperature, top-k, top-p). decode.c calls these on rows it has
 * read back. Pure C (libm), no OpenCL, so the host tests check them against a
 * float64 reference. Not installed.
 */
#ifndef CLF_MODEL_LOGITS_PROC_H
#define CLF_MODEL_LOGITS_PROC_H

#include <stdbool.h>
#include <stdint.h>

#include <clformer/model.h>

/* A (score, row, token) candidate; cand_cmp order: score descending, then
 * row, then token ascending. */
typedef struct clf__cand {
    double s;
    int32_t b, v;
} clf__cand;
int clf__cand_cmp(const void *pa, const void *pb);

/* log(sum(exp(x))) of a row x (V), in double and stable. */
double clf__log_sum_exp(const float *x, int64_t V);

/* splitmix64 */
uint64_t clf__rng_next(uint64_t *s);

/* Samples one token from row x (V) by p's temperature, top_k, top_p; tmp
 * (V) scratch. Tokens at -inf are never drawn. */
int32_t clf__sample(const clf_generate_params *p, const float *x, int64_t V, clf__cand *tmp,
                    uint64_t *rng);

/* The processors of one generate() call. */
typedef struct clf__procs {
    const clf_generate_params *p;
    int64_t V;
    int32_t eos;      /* the model's EOS (min-length bans); -1 = none */
    int64_t max_len;  /* prompt + max_new: forced EOS at cur_len = max_len - 1 */
    uint8_t *mark;    /* (V) zeroed scratch (repetition penalty); NULL when not needed */
    bool on;          /* any processor enabled */
} clf__procs;

/* Whether p enables any processor. */
bool clf__procs_enabled(const clf_generate_params *p);
/* Sets up pr (mark allocated when the repetition penalty is on: free with
 * clf__procs_free). CLF_ERR_OUT_OF_MEMORY on failure. */
clf_status clf__procs_init(clf__procs *pr, const clf_generate_params *p, int64_t V, int32_t eos,
                           int64_t max_len);
void clf__procs_free(clf__procs *pr);

/* Applies the processors to the scores x (V) of one row whose decoder ids
 * are pre (npre: the start token or the prompt) followed by gen (ngen
 * generated), in transformers' order and float arithmetic. */
void clf__procs_apply(const clf__procs *pr, const int32_t *pre, int64_t npre, const int32_t *gen,
                      int64_t ngen, float *x);

/* Range checks of the processor fields of p (model.h): CLF_ERR_INVALID_ARG
 * on ctx naming the field. */
clf_status clf__procs_check(clf_context *ctx, int64_t vocab, const clf_generate_params *p);

#endif
