/*
 * The load test's jobs: a fixed table of MiniLM encodes (batches of 1 to 8
 * sentences of 1 to 128 tokens, tokenised by the library's WordPiece
 * tokenizer inside the job) and tiny GPT-2 generations (batches of 1 to 4
 * prompts, greedy and seeded sampling), and how one job's complete output is
 * serialised so that two runs compare with memcmp.
 */
#include "load_jobs.h"

#include <stdio.h>
#include <string.h>

enum {
    MAX_BATCH = 8,    /* MiniLM max_batch; the encode batches are at most this */
    MAX_SOURCE = 128, /* MiniLM max_source_len and the tokenizer's max_length */
    MAX_D = 1024,     /* largest d_model the result buffer is sized for */
    GEN_BATCH = 4,    /* GPT-2 max_batch */
    GEN_TARGET = 48,  /* GPT-2 KV capacity: the golden model's 48 positions */
    MAX_NEW = 48,
    RESULT_BYTES = 16 + MAX_BATCH * MAX_SOURCE * 4 + MAX_BATCH * 4 + MAX_BATCH * MAX_D * 4,
};

/* Lengths from one word to past the 128-token limit (the last one is cut
 * there by the tokenizer), ASCII and not, with punctuation, digits and a
 * word that is not in the vocabulary. */
static const char *const sentences[] = {
    "Hello.",
    "The quick brown fox jumps over the lazy dog.",
    "Résumé writing for naïve café owners: a short guide, 2nd edition!",
    "OpenCL kernels run on CPUs, GPUs and accelerators alike.",
    "Is this the real life? Is this just fantasy?",
    "Zxqvbnmplkj wrtyp.",
    "Transformers encode a sentence into one vector by pooling the hidden states of every "
    "token, and sentence-transformers normalise that vector to unit length so that cosine "
    "similarity is a dot product.",
    "東京は日本の首都です。",
    "a",
    "Three thousand, four hundred and twelve (3412) apples were counted on 7 May 2024, "
    "which is more than the 2,900 counted a year before; the orchard's owners put it down "
    "to the mild spring, the new irrigation and, they admit, a good deal of luck. Their "
    "neighbours, who counted fewer apples than ever, blame the same spring for late frosts, "
    "the same irrigation for a lower water table, and luck for nothing at all. Economists "
    "who studied both orchards found that the difference lay mostly in pruning: the first "
    "orchard pruned in late winter, the second in autumn, and trees pruned in autumn had "
    "spent their reserves on regrowth before the cold set in, leaving fewer buds to flower "
    "when spring finally came to the valley.",
};
enum { N_SENTENCES = sizeof sentences / sizeof sentences[0] };

const load_job load_jobs[] = {
    {.name = "encode-1-short", .kind = LOAD_ENCODE, .first = 0, .count = 1},
    {.name = "encode-1-long", .kind = LOAD_ENCODE, .first = 9, .count = 1},
    {.name = "encode-3", .kind = LOAD_ENCODE, .first = 2, .count = 3},
    {.name = "encode-5", .kind = LOAD_ENCODE, .first = 5, .count = 5},
    {.name = "encode-8", .kind = LOAD_ENCODE, .first = 0, .count = 8},
    {.name = "greedy-1x4", .kind = LOAD_GREEDY, .batch = 1, .prompt = 4, .max_new = 20},
    {.name = "greedy-3x7", .kind = LOAD_GREEDY, .batch = 3, .prompt = 7, .max_new = 12},
    {.name = "greedy-2x1",
     .kind = LOAD_GREEDY,
     .batch = 2,
     .prompt = 1,
     .max_new = 40,
     .ignore_eos = true},
    {.name = "sample-1x5",
     .kind = LOAD_SAMPLE,
     .batch = 1,
     .prompt = 5,
     .max_new = 24,
     .seed = 1234,
     .temperature = 0.8f},
    {.name = "sample-4x6",
     .kind = LOAD_SAMPLE,
     .batch = 4,
     .prompt = 6,
     .max_new = 16,
     .seed = 99,
     .temperature = 1.3f,
     .top_k = 20,
     .top_p = 0.9f,
     .ignore_eos = true},
    {.name = "sample-2x3",
     .kind = LOAD_SAMPLE,
     .batch = 2,
     .prompt = 3,
     .max_new = 20,
     .seed = 7,
     .top_p = 0.5f},
};
const int load_n_jobs = sizeof load_jobs / sizeof load_jobs[0];

const char *load_kind_name(load_kind k)
{
    static const char *const names[LOAD_KINDS] = {"encode", "greedy", "sample"};
    return k >= 0 && k < LOAD_KINDS ? names[k] : "?";
}

size_t load_result_capacity(void) { return RESULT_BYTES; }

static clf_status fail(clf_status st, const char *what, char *err, size_t err_size)
{
    snprintf(err, err_size, "%s: %s: %s", what, clf_status_name(st), clf_context_last_error(NULL));
    return st;
}

clf_status load_models_open(load_models *m, const char *device, const char *minilm_dir,
                            const char *gpt2_dir, const char *who)
{
    char err[1024];
    clf_context_params cp = clf_context_params_default();
    cp.device = device;
    clf_status st = clf_context_create(&cp, &m->ctx);
    if (st != CLF_OK) {
        fail(st, "clf_context_create", err, sizeof err);
        fprintf(stderr, "load_test: %s: %s\n", who, err);
        return st;
    }
    clf_model_params p = clf_model_params_default();
    p.max_batch = MAX_BATCH;
    p.max_source_len = MAX_SOURCE;
    st = clf_model_load(m->ctx, minilm_dir, &p, &m->minilm);
    if (st == CLF_OK) {
        p = clf_model_params_default();
        p.max_batch = GEN_BATCH;
        p.max_target_len = GEN_TARGET;
        st = clf_model_load(m->ctx, gpt2_dir, &p, &m->gpt2);
    }
    if (st != CLF_OK)
        fprintf(stderr, "load_test: %s: clf_model_load (%s): %s: %s\n", who,
                m->minilm ? gpt2_dir : minilm_dir, clf_status_name(st),
                clf_context_last_error(m->ctx));
    else if (clf_model_get_config(m->minilm)->d_model > MAX_D)
        return fprintf(stderr, "load_test: %s: MiniLM d_model above %d\n", who, MAX_D),
               CLF_ERR_UNSUPPORTED;
    return st;
}

void load_models_free(load_models *m)
{
    clf_model_free(m->minilm);
    clf_model_free(m->gpt2);
    clf_context_free(m->ctx);
    m->minilm = m->gpt2 = NULL;
    m->ctx = NULL;
}

/* Appends n bytes to the result. */
static void put(unsigned char *out, size_t *size, const void *p, size_t n)
{
    memcpy(out + *size, p, n);
    *size += n;
}

/* Tokenises the job's sentences as one right-padded batch and encodes it:
 * the result is S, the ids, the lengths and the pooled (normalised) vectors. */
static clf_status run_encode(const load_models *m, const load_job *j, unsigned char *out,
                             size_t *size, char *err, size_t err_size)
{
    int32_t ids[MAX_BATCH * MAX_SOURCE], lengths[MAX_BATCH];
    float pooled[MAX_BATCH * MAX_D];
    const char *texts[MAX_BATCH];
    int64_t n = j->count, S = 0, D = clf_model_get_config(m->minilm)->d_model;
    for (int64_t b = 0; b < n; b++)
        texts[b] = sentences[(j->first + b) % N_SENTENCES];
    clf_status st = clf_tokenizer_encode_batch(m->tok, n, texts, NULL, ids, lengths, &S);
    if (st != CLF_OK) return fail(st, "clf_tokenizer_encode_batch", err, err_size);
    st = clf_model_encode(m->minilm, ids, lengths, n, S, CLF_POOL_DEFAULT, NULL, pooled, NULL);
    if (st != CLF_OK) {
        snprintf(err, err_size, "clf_model_encode: %s: %s", clf_status_name(st),
                 clf_context_last_error(m->ctx));
        return st;
    }
    put(out, size, &S, sizeof S);
    put(out, size, ids, (size_t)(n * S) * sizeof *ids);
    put(out, size, lengths, (size_t)n * sizeof *lengths);
    put(out, size, pooled, (size_t)(n * D) * sizeof *pooled);
    return CLF_OK;
}

/* Generates from B fixed prompts: the result is every output array of
 * clf_model_generate (ids, lengths, scores, log-probabilities, finish). */
static clf_status run_generate(const load_models *m, const load_job *j, unsigned char *out,
                               size_t *size, char *err, size_t err_size)
{
    int32_t prompt[GEN_BATCH * GEN_TARGET], ids[GEN_BATCH * MAX_NEW], lengths[GEN_BATCH];
    float scores[GEN_BATCH], logprobs[GEN_BATCH];
    clf_finish_reason finish[GEN_BATCH];
    int64_t B = j->batch, S = j->prompt;
    int32_t V = (int32_t)clf_model_get_config(m->gpt2)->vocab;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < S; t++)
            prompt[b * S + t] = (int32_t)((17 * b + 31 * t + 5 + j->seed) % (uint64_t)V);
    clf_generate_params gp = clf_generate_params_default();
    gp.strategy = j->kind == LOAD_SAMPLE ? CLF_DECODE_SAMPLE : CLF_DECODE_GREEDY;
    gp.max_new_tokens = j->max_new;
    gp.ignore_eos = j->ignore_eos;
    gp.seed = j->seed;
    gp.temperature = j->temperature;
    gp.top_k = j->top_k;
    gp.top_p = j->top_p;
    clf_generate_output go = {ids, lengths, scores, logprobs, finish};
    clf_status st = clf_model_generate(m->gpt2, prompt, NULL, B, S, &gp, &go);
    if (st != CLF_OK) {
        snprintf(err, err_size, "clf_model_generate: %s: %s", clf_status_name(st),
                 clf_context_last_error(m->ctx));
        return st;
    }
    put(out, size, ids, (size_t)(B * j->max_new) * sizeof *ids);
    put(out, size, lengths, (size_t)B * sizeof *lengths);
    put(out, size, scores, (size_t)B * sizeof *scores);
    put(out, size, logprobs, (size_t)B * sizeof *logprobs);
    put(out, size, finish, (size_t)B * sizeof *finish);
    return CLF_OK;
}

clf_status load_job_run(const load_models *m, const load_job *j, unsigned char *out, size_t *size,
                        char *err, size_t err_size)
{
    *size = 0;
    err[0] = '\0';
    if (j->kind == LOAD_ENCODE) {
        if (j->count < 1 || j->count > MAX_BATCH) return CLF_ERR_INVALID_ARG;
        return run_encode(m, j, out, size, err, err_size);
    }
    if (j->batch < 1 || j->batch > GEN_BATCH || j->max_new > MAX_NEW ||
        j->prompt + j->max_new > GEN_TARGET)
        return CLF_ERR_INVALID_ARG;
    return run_generate(m, j, out, size, err, err_size);
}
