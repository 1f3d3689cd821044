/* Host tests: clf_tokenizer_encode_pair against the reference libraries'
 * pair encodings (tests/golden/text/pairs.json, made by
 * tests/golden/text/make_pair_golden.py): every tokenizer kind and form,
 * without truncation and with HF's longest_first truncation at 40. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include <clformer/clformer.h>

#include "common/testutil.h"

static json_object *golden(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/text/pairs.json", clft_golden_dir());
    json_object *root = json_object_from_file(path);
    cr_assert_not_null(root, "%s: %s", path, json_util_get_last_err());
    return root;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    cr_assert(json_object_object_get_ex(o, key, &v));
    return json_object_get_string(v);
}

Test(tokenizer_pair, every_kind_frames_and_truncates_pairs_as_the_reference_does)
{
    json_object *root = golden(), *pairs, *cases;
    cr_assert(json_object_object_get_ex(root, "pairs", &pairs));
    cr_assert(json_object_object_get_ex(root, "cases", &cases));
    size_t np = json_object_array_length(pairs), nc = json_object_array_length(cases);
    cr_assert_geq(np, 150);
    for (size_t c = 0; c < nc; c++) {
        json_object *cs = json_object_array_get_idx(cases, c), *ml, *want;
        cr_assert(json_object_object_get_ex(cs, "max_length", &ml));
        cr_assert(json_object_object_get_ex(cs, "ids", &want));
        char path[600];
        snprintf(path, sizeof path, "%s/../../%s", clft_golden_dir(), str(cs, "path"));
        clf_tokenizer_params p = clf_tokenizer_params_default();
        p.max_length = json_object_get_int64(ml);
        clf_tokenizer *tok = NULL;
        cr_assert_eq(clf_tokenizer_load(path, &p, &tok), CLF_OK, "%s: %s", path,
                     clf_context_last_error(NULL));
        int64_t cap = clf_tokenizer_max_length(tok), mismatches = 0;
        int32_t *ids = malloc((size_t)cap * sizeof *ids);
        for (size_t i = 0; i < np; i++) {
            json_object *pr = json_object_array_get_idx(pairs, i);
            const char *a = json_object_get_string(json_object_array_get_idx(pr, 0));
            const char *b = json_object_get_string(json_object_array_get_idx(pr, 1));
            for (int64_t k = 0; k < cap; k++) ids[k] = -7; /* poison */
            int64_t n = -1;
            cr_assert_eq(clf_tokenizer_encode_pair(tok, a, strlen(a), b, strlen(b), ids, cap, &n),
                         CLF_OK, "%s pair %zu: %s", str(cs, "name"), i,
                         clf_context_last_error(NULL));
            json_object *w = json_object_array_get_idx(want, i);
            bool same = (size_t)n == json_object_array_length(w);
            for (int64_t k = 0; same && k < n; k++)
                same = ids[k] == json_object_get_int(json_object_array_get_idx(w, (size_t)k));
            if (!same && mismatches++ < 3)
                cr_log_error("%s max_length %d pair %zu: %lld ids, reference %zu", str(cs, "name"),
                             json_object_get_int(ml), i, (long long)n, json_object_array_length(w));
        }
        printf("[tokenizer_pair] %s (max_length %d): %zu pairs, %lld mismatches\n", str(cs, "name"),
               json_object_get_int(ml), np, (long long)mismatches);
        cr_expect_eq(mismatches, 0, "%s max_length %d", str(cs, "name"), json_object_get_int(ml));
        free(ids);
        clf_tokenizer_free(tok);
    }
    json_object_put(root);
}

Test(tokenizer_pair, bad_arguments_and_small_capacity_are_reported)
{
    char path[600];
    snprintf(path, sizeof path, "%s/bpe/roberta/tokenizer.json", clft_golden_dir());
    clf_tokenizer *tok = NULL;
    cr_assert_eq(clf_tokenizer_load(path, NULL, &tok), CLF_OK, "%s", clf_context_last_error(NULL));
    int32_t ids[8];
    int64_t n = -1;
    cr_assert_eq(clf_tokenizer_encode_pair(tok, "a", 1, "\xff", 1, ids, 8, &n),
                 CLF_ERR_INVALID_ARG);
    cr_assert(strstr(clf_context_last_error(NULL), "text b"), "%s", clf_context_last_error(NULL));
    cr_assert_eq(clf_tokenizer_encode_pair(tok, NULL, 3, "b", 1, ids, 8, &n), CLF_ERR_INVALID_ARG);
    /* <s> hello </s></s> world </s> needs more than 2. */
    cr_assert_eq(clf_tokenizer_encode_pair(tok, "hello", 5, "world", 5, ids, 2, &n),
                 CLF_ERR_OUT_OF_RANGE);
    cr_assert_gt(n, 2, "the length needed");
    clf_tokenizer_free(tok);

    /* A template without "pair": refused, as HF refuses it. */
    char dir[512], file[600];
    clft_tempdir(dir, sizeof dir, "pairtmpl");
    snprintf(file, sizeof file, "%s/tokenizer.json", dir);
    FILE *f = fopen(file, "w");
    fputs("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0], [\"<s>\", 0],"
          " [\"\\u2581a\", -1]]}, \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": "
          "\"\\u2581\", \"prepend_scheme\": \"always\"}, \"decoder\": {\"type\": \"Metaspace\", "
          "\"replacement\": \"\\u2581\", \"prepend_scheme\": \"always\"}, \"post_processor\": "
          "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", "
          "\"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"special_tokens\": "
          "{\"<s>\": {\"id\": \"<s>\", \"ids\": [1], \"tokens\": [\"<s>\"]}}}}",
          f);
    fclose(f);
    cr_assert_eq(clf_tokenizer_load(file, NULL, &tok), CLF_OK, "%s", clf_context_last_error(NULL));
    int32_t one[16];
    cr_assert_eq(clf_tokenizer_encode(tok, "a", 1, one, 16, &n), CLF_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(one[0], 1, "<s> first");
    cr_assert_eq(clf_tokenizer_encode_pair(tok, "a", 1, "a", 1, one, 16, &n), CLF_ERR_UNSUPPORTED);
    cr_assert(strstr(clf_context_last_error(NULL), "pair"), "%s", clf_context_last_error(NULL));
    clf_tokenizer_free(tok);
    clft_rmtree(dir);
}
