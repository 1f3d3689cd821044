/*
 * Host tests of the logits processors (src/model/logits_proc.c) against an
 * independent float64 reference written from transformers' definitions
 * (n-grams gathered into a list, a set of seen tokens, ...), on random logits
 * and random decoder ids; and of the generation config parser
 * (src/model/gen_config.c): keys, precedence rules and strict errors.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "model/gen_config.h"
#include "model/logits_proc.h"

/* The reference: transformers' processors on one row, in double. ids (n) are
 * the decoder ids, npre of them before the generated ones. */
static void ref_procs(const clf_generate_params *p, int64_t V, int32_t eos, int64_t max_len,
                      const int32_t *ids, int64_t n, int64_t npre, double *x)
{
    if (p->repetition_penalty != 0 && p->repetition_penalty != 1.0f) {
        bool *seen = calloc((size_t)V, 1);
        for (int64_t i = 0; i < n; i++)
            seen[ids[i]] = true;
        for (int64_t v = 0; v < V; v++)
            if (seen[v])
                x[v] = x[v] < 0 ? x[v] * p->repetition_penalty : x[v] / p->repetition_penalty;
        free(seen);
    }
    int k = p->no_repeat_ngram_size;
    if (k > 0 && n >= k) { /* every n-gram seen, keyed by its first k - 1 ids */
        for (int64_t s = 0; s + k <= n; s++)
            if (k == 1 || !memcmp(ids + s, ids + n - (k - 1), (size_t)(k - 1) * sizeof *ids))
                x[ids[s + k - 1]] = -INFINITY;
    }
    const int32_t *seq = p->bad_words_ids;
    for (int64_t w = 0; w < p->n_bad_words; seq += p->bad_words_lengths[w++]) {
        int64_t L = p->bad_words_lengths[w];
        if (L == 1 && seq[0] == eos) continue;
        if (L - 1 <= n && !memcmp(ids + n - (L - 1), seq, (size_t)(L - 1) * sizeof *seq))
            x[seq[L - 1]] = -INFINITY;
    }
    if (n < p->min_length || n - npre < p->min_new_tokens) x[eos] = -INFINITY;
    /* transformers lists ForcedBOS before ForcedEOS and each overwrites the
     * whole row, so where both apply (cur_len 1, max_length 2) EOS wins. */
    int32_t forced = p->force_eos && n == max_len - 1 ? p->forced_eos_token_id
                     : p->force_bos && n == 1         ? p->forced_bos_token_id
                                                      : -1;
    for (int64_t v = 0; forced >= 0 && v < V; v++)
        x[v] = v == forced ? 0 : -INFINITY;
}

Test(logits_proc, processors_match_a_float64_reference_on_random_logits)
{
    uint64_t seed = clft_seed();
    clft_rng r = clft_rng_make(seed, 31);
    static const int64_t Vs[] = {7, 13, 127, 1000};
    int32_t bad[16], bad_lens[6];
    for (int trial = 0; trial < 400; trial++) {
        int64_t V = Vs[trial % 4], n = 1 + (int64_t)(clft_next(&r) % 24), npre = 1 + trial % 3;
        if (npre > n) npre = n;
        int32_t ids[32];
        for (int64_t i = 0; i < n; i++) /* few distinct ids: repeats and n-gram hits */
            ids[i] = (int32_t)(clft_next(&r) % (V < 5 ? V : 5));
        clf_generate_params p = clf_generate_params_default();
        int which = trial % 8; /* 0..6 one processor, 7 all of them */
        if (which == 0 || which == 7)
            p.repetition_penalty = clft_uniform(&r, 0.5f, 2.0f);
        if (which == 1 || which == 7) p.no_repeat_ngram_size = 1 + (int)(clft_next(&r) % 4);
        if (which == 2 || which == 7) {
            int at = 0;
            p.n_bad_words = 6;
            for (int w = 0; w < 6; w++) {
                bad_lens[w] = 1 + w % 3;
                for (int j = 0; j < bad_lens[w]; j++)
                    bad[at++] = (int32_t)(clft_next(&r) % (V < 5 ? V : 5));
            }
            p.bad_words_ids = bad;
            p.bad_words_lengths = bad_lens;
        }
        if (which == 3 || which == 7) p.min_length = 1 + (int64_t)(clft_next(&r) % 20);
        if (which == 4 || which == 7) p.min_new_tokens = 1 + (int64_t)(clft_next(&r) % 10);
        if (which == 5 || which == 7) {
            p.force_bos = true;
            p.forced_bos_token_id = (int32_t)(clft_next(&r) % V);
        }
        int64_t max_len = npre + 1 + (int64_t)(clft_next(&r) % 24);
        if (trial == 7 || trial == 15) { /* both forces at once: cur_len 1, max_length 2 */
            n = npre = 1;
            max_len = 2;
        }
        if (which == 6 || which == 7) {
            p.force_eos = true;
            p.forced_eos_token_id = (int32_t)(clft_next(&r) % V);
        }
        int32_t eos = (int32_t)(clft_next(&r) % V);
        float x[1000];
        double ref[1000];
        clft_fill_uniform(&r, x, (size_t)V, -3, 3);
        for (int64_t v = 0; v < V; v++)
            ref[v] = x[v];
        clf__procs pr;
        cr_assert_eq(clf__procs_init(&pr, &p, V, eos, max_len), CLF_OK);
        cr_assert(pr.on, "trial %d: processor %d enabled", trial, which);
        clf__procs_apply(&pr, ids, npre, ids + npre, n - npre, x);
        clf__procs_free(&pr);
        ref_procs(&p, V, eos, max_len, ids, n, npre, ref);
        for (int64_t v = 0; v < V; v++) {
            bool same = isinf(ref[v]) ? x[v] == ref[v] : fabs(x[v] - ref[v]) <= 1e-6 * fabs(ref[v]);
            cr_assert(same,
                      "seed %llu trial %d (processor %d, V %lld, cur_len %lld): token %lld = %.9g, "
                      "reference %.9g",
                      (unsigned long long)seed, trial, which, (long long)V, (long long)n,
                      (long long)v, (double)x[v], ref[v]);
        }
    }
}

Test(logits_proc, everything_off_leaves_the_logits_untouched)
{
    clf_generate_params p = clf_generate_params_default();
    p.repetition_penalty = 1.0f; /* 1.0 is off, like 0 */
    cr_assert(!clf__procs_enabled(&p));
    clf__procs pr;
    cr_assert_eq(clf__procs_init(&pr, &p, 4, 0, 10), CLF_OK);
    float x[4] = {1, -2, 3, -4};
    int32_t ids[3] = {0, 1, 2};
    clf__procs_apply(&pr, ids, 1, ids + 1, 2, x);
    cr_assert(x[0] == 1 && x[1] == -2 && x[2] == 3 && x[3] == -4);
}

Test(logits_proc, out_of_range_fields_are_invalid_arguments_naming_them)
{
    static const struct {
        const char *name;
        int field;
    } cases[] = {{"max_length", 0},       {"min_length", 1},   {"min_new_tokens", 2},
                 {"no_repeat_ngram_size", 3}, {"repetition_penalty", 4},
                 {"forced_bos_token_id", 5}, {"forced_eos_token_id", 6},
                 {"early_stopping", 7},   {"n_bad_words", 8},  {"bad_words_lengths", 9},
                 {"bad_words_ids", 10}};
    int32_t bad[2] = {3, 50}, lens0[1] = {0}, lens2[1] = {2};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        clf_generate_params p = clf_generate_params_default();
        switch (cases[i].field) {
        case 0: p.max_length = -1; break;
        case 1: p.min_length = -3; break;
        case 2: p.min_new_tokens = -1; break;
        case 3: p.no_repeat_ngram_size = -2; break;
        case 4: p.repetition_penalty = NAN; break;
        case 5: p.force_bos = true, p.forced_bos_token_id = 10; break;
        case 6: p.force_eos = true, p.forced_eos_token_id = -1; break;
        case 7: p.early_stopping = (clf_early_stopping)3; break;
        case 8: p.n_bad_words = 1; break; /* NULL arrays */
        case 9: p.n_bad_words = 1, p.bad_words_ids = bad, p.bad_words_lengths = lens0; break;
        default: p.n_bad_words = 1, p.bad_words_ids = bad, p.bad_words_lengths = lens2; break;
        }
        cr_assert_eq(clf__procs_check(NULL, 10, &p), CLF_ERR_INVALID_ARG, "%s", cases[i].name);
        const char *msg = clf_context_last_error(NULL);
        cr_assert(strstr(msg, cases[i].name), "%s: message \"%s\"", cases[i].name, msg);
    }
    clf_generate_params ok = clf_generate_params_default();
    cr_assert_eq(clf__procs_check(NULL, 10, &ok), CLF_OK);
}

static clf_status parse(const char *json, bool gen_file, clf__gen_config *g, char *err)
{
    return clf__gen_config_parse(json, strlen(json), gen_file ? "generation_config.json"
                                                              : "config.json",
                                 gen_file, 100, g, err, 300);
}

Test(gen_config, a_generation_config_becomes_the_defaults)
{
    clf__gen_config g;
    char err[300];
    cr_assert_eq(parse("{\"num_beams\": 4, \"forced_bos_token_id\": 0, \"forced_eos_token_id\": 2,"
                       "\"bad_words_ids\": [[89], [5, 6]], \"no_repeat_ngram_size\": 3,"
                       "\"min_length\": 6, \"repetition_penalty\": 1.3, \"early_stopping\": "
                       "\"never\", \"length_penalty\": 0.0, \"max_length\": 14,"
                       "\"decoder_start_token_id\": 7, \"eos_token_id\": [2], \"foo\": null}",
                       true, &g, err),
                 CLF_OK, "%s", err);
    const clf_generate_params *p = &g.p;
    cr_assert(p->strategy == CLF_DECODE_BEAM && p->beam_size == 4 && p->beam_rule == CLF_BEAM_RULE_HF);
    cr_assert(p->force_bos && p->forced_bos_token_id == 0 && p->force_eos &&
              p->forced_eos_token_id == 2);
    cr_assert(p->n_bad_words == 2 && p->bad_words_lengths[1] == 2 && p->bad_words_ids[0] == 89 &&
              p->bad_words_ids[2] == 6);
    cr_assert(p->no_repeat_ngram_size == 3 && p->min_length == 6 &&
              fabsf(p->repetition_penalty - 1.3f) < 1e-7f);
    cr_assert(p->early_stopping == CLF_EARLY_STOPPING_NEVER && p->length_alpha > 0 &&
              pow(7.0, p->length_alpha) == 1.0, "length_penalty 0.0: n^alpha must be 1");
    cr_assert(p->max_new_tokens == 0 && p->max_length == 14);
    cr_assert(g.start_id == 7 && g.eos_id == 2);
    clf__gen_config_clear(&g);
    /* config.json: token keys belong to config.json's own parser; global defaults apply. */
    cr_assert_eq(parse("{\"decoder_start_token_id\": 7, \"do_sample\": true}", false, &g, err),
                 CLF_OK, "%s", err);
    cr_assert(g.start_id == -2 && g.p.strategy == CLF_DECODE_SAMPLE && g.p.top_k == 50 &&
              g.p.max_length == 20);
    clf__gen_config_clear(&g);
}

Test(gen_config, wrong_values_are_bad_model_naming_file_and_key)
{
    static const struct {
        const char *json, *key;
        clf_status st;
    } cases[] = {
        {"{\"num_beams\": \"4\"}", "num_beams", CLF_ERR_BAD_MODEL},
        {"{\"num_beams\": 0}", "num_beams", CLF_ERR_BAD_MODEL},
        {"{\"forced_eos_token_id\": 100}", "forced_eos_token_id", CLF_ERR_BAD_MODEL},
        {"{\"bad_words_ids\": [[]]}", "bad_words_ids", CLF_ERR_BAD_MODEL},
        {"{\"bad_words_ids\": [[1, -2]]}", "bad_words_ids[0][1]", CLF_ERR_BAD_MODEL},
        {"{\"bad_words_ids\": [3]}", "bad_words_ids", CLF_ERR_BAD_MODEL},
        {"{\"early_stopping\": \"sometimes\"}", "early_stopping", CLF_ERR_BAD_MODEL},
        {"{\"repetition_penalty\": 0}", "repetition_penalty", CLF_ERR_BAD_MODEL},
        {"{\"min_length\": 1.5}", "min_length", CLF_ERR_BAD_MODEL},
        {"{\"do_sample\": 1}", "do_sample", CLF_ERR_BAD_MODEL},
        {"{\"eos_token_id\": [1, 2]}", "eos_token_id", CLF_ERR_UNSUPPORTED},
        {"[1]", "not an object", CLF_ERR_BAD_MODEL},
        {"{\"top_p\": 0}", "top_p", CLF_ERR_BAD_MODEL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        clf__gen_config g;
        char err[300] = "";
        cr_assert_eq(parse(cases[i].json, true, &g, err), cases[i].st, "%s: %s", cases[i].json,
                     err);
        cr_assert(strstr(err, "generation_config.json") && strstr(err, cases[i].key),
                  "%s: message \"%s\" names neither the file nor %s", cases[i].json, err,
                  cases[i].key);
        cr_assert(g.bad == NULL && g.p.n_bad_words == 0, "cleared on failure");
    }
}
