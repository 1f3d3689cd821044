/*
 * The jobs of the load test (tests/load_test.c): MiniLM sentence embeddings
 * and tiny GPT-2 generations (greedy and seeded sampling), each a fixed
 * input whose whole output is serialised into bytes, so that a run on any
 * thread can be compared bitwise with the single-threaded reference.
 */
#ifndef CLF_LOAD_JOBS_H
#define CLF_LOAD_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <clformer/clformer.h>

typedef enum load_kind {
    LOAD_ENCODE = 0, /* MiniLM: tokenise a batch of sentences, pooled embeddings */
    LOAD_GREEDY = 1, /* tiny GPT-2: greedy generation */
    LOAD_SAMPLE = 2, /* tiny GPT-2: seeded temperature / top-k / top-p sampling */
    LOAD_KINDS = 3,
} load_kind;

typedef struct load_job {
    const char *name;
    load_kind kind;
    int first, count;      /* encode: sentences [first, first + count) as one batch */
    int64_t batch, prompt; /* generate: B prompts of `prompt` ids each */
    int64_t max_new;       /* generate: new tokens per prompt */
    bool ignore_eos;
    uint64_t seed;     /* sample: the generation's RNG seed */
    float temperature; /* sample: 0 = 1.0 */
    int top_k;         /* sample: 0 = none */
    float top_p;       /* sample: 0 = 1.0 */
} load_job;

/* The fixed job table and its length. */
extern const load_job load_jobs[];
extern const int load_n_jobs;

/* The name of a kind ("encode", "greedy", "sample"). */
const char *load_kind_name(load_kind k);

/* What one thread needs to run jobs: its own context and models; the
 * tokenizer may be shared (it is immutable and documented thread-safe). */
typedef struct load_models {
    clf_context *ctx;
    clf_model *minilm;
    clf_model *gpt2;
    const clf_tokenizer *tok;
} load_models;

/* Opens a context on device (NULL = the library's default choice) and loads
 * both models into m (m->tok must be set by the caller). On failure prints
 * the library's message prefixed with who and returns its status; whatever
 * was made is freed by load_models_free. */
clf_status load_models_open(load_models *m, const char *device, const char *minilm_dir,
                            const char *gpt2_dir, const char *who);
void load_models_free(load_models *m); /* frees the context and models, not the tokenizer */

/* The most bytes one job's result can take. */
size_t load_result_capacity(void);

/* Runs job j on m and serialises its complete output into out (at least
 * load_result_capacity() bytes), setting *size. Returns the library's
 * status; on failure err (err_size bytes) holds the message. */
clf_status load_job_run(const load_models *m, const load_job *j, unsigned char *out, size_t *size,
                        char *err, size_t err_size);

#endif
