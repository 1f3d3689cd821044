/*
 * Host-side choice of the next token from a logits row: transformers' logits
 * processors and sampling; see logits_proc.h. The processors follow
 * transformers 5.x generation/logits_process.py, in the order of
 * GenerationMixin._get_logits_processor, on float32 scores as torch does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/logits_proc.h"

/* splitmix64 */
uint64_t clf__rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int clf__cand_cmp(const void *pa, const void *pb)
{
    const clf__cand *a = pa, *b = pb;
    if (a->s != b->s) return a->s > b->s ? -1 : 1;
    if (a->b != b->b) return a->b < b->b ? -1 : 1;
    return (a->v > b->v) - (a->v < b->v);
}

/* log(sum(exp(x))) of a logits row x (V), in double and stable: the
 * log-softmax of token v is x[v] minus this. */
double clf__log_sum_exp(const float *x, int64_t V)
{
    double mx = -INFINITY, sum = 0;
    for (int64_t v = 0; v < V; v++)
        mx = fmax(mx, (double)x[v]);
    for (int64_t v = 0; v < V; v++)
        sum += exp((double)x[v] - mx);
    return mx + log(sum);
}

int32_t clf__sample(const clf_generate_params *p, const float *x, int64_t V, clf__cand *tmp,
                    uint64_t *rng)
{
    double temp = p->temperature > 0 ? p->temperature : 1.0, mx = -INFINITY;
    for (int64_t v = 0; v < V; v++)
        mx = fmax(mx, x[v] / temp);
    for (int64_t v = 0; v < V; v++) {
        tmp[v].s = exp(x[v] / temp - mx);
        tmp[v].b = 0;
        tmp[v].v = (int32_t)v;
    }
    qsort(tmp, (size_t)V, sizeof *tmp, clf__cand_cmp); /* descending, lower id first on ties */
    int64_t n = V;
    if (p->top_k > 0 && p->top_k < n) n = p->top_k;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += tmp[i].s;
    if (p->top_p > 0 && p->top_p < 1) {
        double c = 0;
        for (int64_t i = 0; i < n; i++) {
            c += tmp[i].s / sum;
            if (c >= p->top_p) {
                n = i + 1;
                break;
            }
        }
        sum = 0;
        for (int64_t i = 0; i < n; i++)
            sum += tmp[i].s;
    }
    double u = (double)(clf__rng_next(rng) >> 11) * 0x1.0p-53 * sum, c = 0;
    for (int64_t i = 0; i < n; i++) {
        c += tmp[i].s;
        if (u < c) return tmp[i].v;
    }
    return tmp[n - 1].v;
}

/* ---- processors ---- */

bool clf__procs_enabled(const clf_generate_params *p)
{
    return p->min_length > 0 || p->min_new_tokens > 0 || p->no_repeat_ngram_size > 0 ||
           (p->repetition_penalty != 0 && p->repetition_penalty != 1.0f) || p->force_bos ||
           p->force_eos || p->n_bad_words > 0;
}

clf_status clf__procs_init(clf__procs *pr, const clf_generate_params *p, int64_t V, int32_t eos,
                           int64_t max_len)
{
    memset(pr, 0, sizeof *pr);
    pr->p = p;
    pr->V = V;
    pr->eos = eos;
    pr->max_len = max_len;
    pr->on = clf__procs_enabled(p);
    if (p->repetition_penalty != 0 && p->repetition_penalty != 1.0f) {
        pr->mark = clf__calloc((size_t)V, 1);
        if (!pr->mark)
            return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "clf_model_generate: out of memory");
    }
    return CLF_OK;
}

void clf__procs_free(clf__procs *pr)
{
    clf__free(pr->mark);
    pr->mark = NULL;
}

/* Decoder id i of the two segments. */
#define TOK(i) ((i) < npre ? pre[(i)] : gen[(i)-npre])

/* RepetitionPenaltyLogitsProcessor: each distinct token of the decoder ids
 * once (torch's gather / scatter of the same values). */
static void repetition(const clf__procs *pr, const int32_t *pre, int64_t npre, const int32_t *gen,
                       int64_t n, float *x)
{
    float pen = pr->p->repetition_penalty;
    for (int64_t i = 0; i < n; i++) {
        int32_t t = TOK(i);
        if (t < 0 || t >= pr->V || pr->mark[t]) continue; /* ids past the head: as torch */
        pr->mark[t] = 1;
        x[t] = x[t] < 0 ? x[t] * pen : x[t] / pen;
    }
    for (int64_t i = 0; i < n; i++)
        if (TOK(i) >= 0 && TOK(i) < pr->V) pr->mark[TOK(i)] = 0;
}

/* NoRepeatNGramLogitsProcessor: every window of size k whose first k - 1
 * ids equal the last k - 1 decoder ids bans its last id. */
static void no_repeat(int k, int64_t V, const int32_t *pre, int64_t npre, const int32_t *gen,
                      int64_t n, float *x)
{
    if (n < k) return;
    for (int64_t s = 0; s + k <= n; s++) {
        int64_t j = 0;
        while (j < k - 1 && TOK(s + j) == TOK(n - k + 1 + j))
            j++;
        int32_t t = TOK(s + k - 1);
        if (j == k - 1 && t >= 0 && t < V) x[t] = -INFINITY;
    }
}

/* NoBadWordsLogitsProcessor (a SequenceBiasLogitsProcessor of -inf): a lone
 * EOS sequence is dropped; one token bans it; a longer sequence bans its last
 * token where the decoder ids end with the others. */
static void bad_words(const clf__procs *pr, const int32_t *pre, int64_t npre, const int32_t *gen,
                      int64_t n, float *x)
{
    const clf_generate_params *p = pr->p;
    const int32_t *seq = p->bad_words_ids;
    for (int64_t w = 0; w < p->n_bad_words; seq += p->bad_words_lengths[w++]) {
        int64_t L = p->bad_words_lengths[w];
        if (L == 1) {
            if (seq[0] != pr->eos) x[seq[0]] = -INFINITY;
            continue;
        }
        if (L - 1 > n) continue;
        int64_t j = 0;
        while (j < L - 1 && TOK(n - (L - 1) + j) == seq[j])
            j++;
        if (j == L - 1) x[seq[L - 1]] = -INFINITY;
    }
}

/* Forced tokens: every score -inf but token t, which becomes 0. */
static void force(float *x, int64_t V, int32_t t)
{
    for (int64_t v = 0; v < V; v++)
        x[v] = -INFINITY;
    x[t] = 0;
}

void clf__procs_apply(const clf__procs *pr, const int32_t *pre, int64_t npre, const int32_t *gen,
                      int64_t ngen, float *x)
{
    const clf_generate_params *p = pr->p;
    int64_t n = npre + ngen; /* cur_len */
    if (!pr->on) return;
    if (pr->mark) repetition(pr, pre, npre, gen, n, x);
    if (p->no_repeat_ngram_size > 0) no_repeat(p->no_repeat_ngram_size, pr->V, pre, npre, gen, n, x);
    if (p->n_bad_words > 0) bad_words(pr, pre, npre, gen, n, x);
    if (pr->eos >= 0 && n < p->min_length) x[pr->eos] = -INFINITY;
    if (pr->eos >= 0 && ngen < p->min_new_tokens) x[pr->eos] = -INFINITY;
    if (p->force_bos && n == 1) force(x, pr->V, p->forced_bos_token_id);
    if (p->force_eos && n == pr->max_len - 1) force(x, pr->V, p->forced_eos_token_id);
}

clf_status clf__procs_check(clf_context *ctx, int64_t vocab, const clf_generate_params *p)
{
    const char *fn = "clf_model_generate";
    if (p->max_length < 0 || p->max_length > INT32_MAX)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: max_length %lld outside 0..%d (0 = none)",
                          fn, (long long)p->max_length, INT32_MAX);
    if (p->min_length < 0 || p->min_length > INT32_MAX)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: min_length %lld outside 0..%d (0 = off)",
                          fn, (long long)p->min_length, INT32_MAX);
    if (p->min_new_tokens < 0 || p->min_new_tokens > INT32_MAX)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: min_new_tokens %lld outside 0..%d (0 = off)", fn,
                          (long long)p->min_new_tokens, INT32_MAX);
    if (p->no_repeat_ngram_size < 0)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: no_repeat_ngram_size %d must be >= 0 (0 = off)", fn,
                          p->no_repeat_ngram_size);
    if (!(p->repetition_penalty >= 0) || !isfinite(p->repetition_penalty))
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: repetition_penalty %g must be > 0 and finite (0 = 1.0, off)", fn,
                          (double)p->repetition_penalty);
    if (p->force_bos && (p->forced_bos_token_id < 0 || p->forced_bos_token_id >= vocab))
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: forced_bos_token_id %d outside 0..%lld (the vocabulary)", fn,
                          (int)p->forced_bos_token_id, (long long)vocab - 1);
    if (p->force_eos && (p->forced_eos_token_id < 0 || p->forced_eos_token_id >= vocab))
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: forced_eos_token_id %d outside 0..%lld (the vocabulary)", fn,
                          (int)p->forced_eos_token_id, (long long)vocab - 1);
    if ((unsigned)p->early_stopping > CLF_EARLY_STOPPING_NEVER)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: early_stopping %d is not a clf_early_stopping (0 heuristic, 1 on, "
                          "2 never)", fn, (int)p->early_stopping);
    if (p->n_bad_words < 0 || p->n_bad_words > 65536 ||
        (p->n_bad_words > 0 && (!p->bad_words_ids || !p->bad_words_lengths)))
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: n_bad_words %lld outside 0..65536, or NULL bad_words_ids / "
                          "bad_words_lengths", fn, (long long)p->n_bad_words);
    const int32_t *seq = p->bad_words_ids;
    for (int64_t w = 0; w < p->n_bad_words; seq += p->bad_words_lengths[w++]) {
        int32_t L = p->bad_words_lengths[w];
        if (L < 1 || L > 1024)
            return clf__error(ctx, CLF_ERR_INVALID_ARG,
                              "%s: bad_words_lengths[%lld] = %d outside 1..1024", fn, (long long)w,
                              (int)L);
        for (int32_t j = 0; j < L; j++)
            if (seq[j] < 0 || seq[j] >= vocab)
                return clf__error(ctx, CLF_ERR_INVALID_ARG,
                                  "%s: bad_words_ids: sequence %lld, id %d = %d outside 0..%lld",
                                  fn, (long long)w, (int)j, (int)seq[j], (long long)vocab - 1);
    }
    return CLF_OK;
}
