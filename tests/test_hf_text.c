/*
 * Text in, text out against transformers (issue 14): the random-initialised
 * folders with real-format tokenizer files in tests/golden/hf/<name>_text (made by
 * make_text_golden.py): gpt2_text (byte-level BPE, vocab.json + merges.txt +
 * tokenizer.json), bart_text (RoBERTa-style BPE, <s> A </s>) and marian_text
 * (source.spm / target.spm / vocab.json). For each stored prompt: the
 * tokenizer's ids = transformers' tokenizer's, and generate() with the
 * folder's generation config (clf_model_generate_defaults; greedy or beam as
 * transformers was asked) gives transformers' generate() ids, whose decoded
 * text (special tokens skipped) is transformers' text.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"

#define OK(expr)                                                                                   \
    do {                                                                                           \
        clf_status st_ = (expr);                                                                   \
        cr_assert_eq(st_, CLF_OK, "%s: %s (%s)", #expr, clf_status_name(st_),                      \
                     clf_context_last_error(ctx));                                                 \
    } while (0)

enum { MAX_IDS = 256 };

/* An int array of JSON into ids; returns its length. */
static int64_t json_ids(json_object *arr, int32_t *ids)
{
    int64_t n = (int64_t)json_object_array_length(arr);
    cr_assert(n <= MAX_IDS);
    for (int64_t i = 0; i < n; i++)
        ids[i] = json_object_get_int(json_object_array_get_idx(arr, (size_t)i));
    return n;
}

static json_object *key(json_object *o, const char *k)
{
    json_object *v = NULL;
    cr_assert(json_object_object_get_ex(o, k, &v), "golden_text.json: no \"%s\"", k);
    return v;
}

/* decode(ids) with special tokens skipped, in a new buffer. */
static char *decode(const clf_tokenizer *tok, const int32_t *ids, int64_t n, size_t *len)
{
    clf_context *ctx = NULL;
    size_t cap = 4096;
    char *text = malloc(cap);
    cr_assert(text);
    OK(clf_tokenizer_decode(tok, ids, n, CLF_DECODE_SKIP_SPECIAL, text, cap, len));
    return text;
}

/* Every prompt of folder name: ids, then `cases` (the golden's case names,
 * each with the strategy and beam width transformers used). */
static void check_folder(const char *name, bool decoder_only, int n_cases, const char *const *cases,
                         const int *beams)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/hf/%s", clft_golden_dir(), name);
    snprintf(path, sizeof path, "%s/golden_text.json", dir);
    json_object *doc = json_object_from_file(path);
    cr_assert(doc, "cannot read %s", path);
    json_object *prompts = key(doc, "prompts");
    clf_context *ctx = NULL;
    clf_tokenizer *tok = NULL;
    OK(clf_tokenizer_load(dir, NULL, &tok));
    char specs[16][32];
    int n_specs = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < n_specs; d++) {
        ctx = clft_model_context(specs[d]);
        clf_model_params mp = clf_model_params_default();
        mp.max_batch = 4;
        mp.max_source_len = 64;
        mp.max_target_len = 64;
        clf_model *m = NULL;
        OK(clf_model_load(ctx, dir, &mp, &m));
        for (size_t p = 0; p < json_object_array_length(prompts); p++) {
            json_object *row = json_object_array_get_idx(prompts, p);
            const char *text = json_object_get_string(key(row, "prompt"));
            int32_t ids[MAX_IDS], ref[MAX_IDS], out[MAX_IDS];
            int64_t n = 0, n_ref = json_ids(key(row, "input_ids"), ref);
            OK(clf_tokenizer_encode(tok, text, strlen(text), ids, MAX_IDS, &n));
            cr_assert(n == n_ref && memcmp(ids, ref, (size_t)n * sizeof *ids) == 0,
                      "%s: the ids of \"%s\" differ from transformers' tokenizer's", name, text);
            for (int c = 0; c < n_cases; c++) {
                json_object *want = key(row, cases[c]);
                clf_generate_params gp;
                OK(clf_model_generate_defaults(m, &gp));
                if (beams[c] == 1) gp.strategy = CLF_DECODE_GREEDY;
                if (beams[c] > 1) gp.strategy = CLF_DECODE_BEAM, gp.beam_size = beams[c];
                int32_t len = 0;
                clf_generate_output go = {out, &len, NULL, NULL, NULL};
                OK(clf_model_generate(m, ids, decoder_only ? NULL : (int32_t[]){(int32_t)n}, 1, n,
                                      &gp, &go));
                int64_t n_want = json_ids(key(want, "ids"), ref);
                printf("[hf_text] %s \"%s\" %s: %d ids (transformers %lld)\n", name, text, cases[c],
                       len, (long long)n_want);
                cr_assert(len == n_want && memcmp(out, ref, (size_t)len * sizeof *out) == 0,
                          "%s \"%s\" %s: generated ids differ from transformers'", name, text,
                          cases[c]);
                /* The text: encoder-decoder decode(new); decoder-only the
                 * pipeline's prompt + decode(prompt + new) past decode(prompt). */
                size_t n_text = 0, n_head = 0;
                char *got;
                if (decoder_only) {
                    int32_t all[2 * MAX_IDS];
                    memcpy(all, ids, (size_t)n * sizeof *all);
                    memcpy(all + n, out, (size_t)len * sizeof *all);
                    char *full = decode(tok, all, n + len, &n_text);
                    char *head = decode(tok, ids, n, &n_head);
                    got = malloc(strlen(text) + n_text + 1);
                    sprintf(got, "%s%s", text, full + (n_head < n_text ? n_head : n_text));
                    free(full);
                    free(head);
                } else {
                    got = decode(tok, out, len, &n_text);
                }
                const char *wtext = json_object_get_string(key(want, "text"));
                cr_assert_str_eq(got, wtext, "%s \"%s\" %s: text differs", name, text, cases[c]);
                free(got);
            }
        }
        clf_model_free(m);
        clf_context_free(ctx);
        ctx = NULL;
    }
    clf_tokenizer_free(tok);
    json_object_put(doc);
}

Test(hf_text, gpt2_text_tokenizer_greedy_and_beam_match_transformers)
{
    static const char *const cases[] = {"default", "beam"};
    check_folder("gpt2_text", true, 2, cases, (const int[]){0, 3});
}

Test(hf_text, bart_text_tokenizer_beam_and_greedy_match_transformers)
{
    static const char *const cases[] = {"default", "greedy"};
    check_folder("bart_text", false, 2, cases, (const int[]){0, 1});
}

/* Needs clf_tokenizer_load to read Marian folders (source.spm, target.spm,
 * vocab.json): fails until it does. */
Test(hf_text, marian_text_tokenizer_beam_and_greedy_match_transformers)
{
    static const char *const cases[] = {"default", "greedy"};
    check_folder("marian_text", false, 2, cases, (const int[]){0, 1});
}
